package dev.panamax.cli;

import dev.panamax.moe.Mla;
import dev.panamax.moe.MultiTokenPredictor;
import dev.panamax.moe.Speculation;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;

import java.util.Locale;

/**
 * How a checkpoint decodes, the options {@code generate} and {@code serve} share: {@code --device
 * cpu|cuda|cuda:N}, {@code --kv-cache f32|bf16}, {@code --naive} (MLA's naive path) and
 * {@code --speculative mtp|lookup[:NGRAM:TOKENS]}.
 */
final class Decoding {
    Device device = Device.CPU;
    DType cache = DType.F32;
    Mla.Path path = Mla.ABSORBED;
    String speculative;   // mtp, lookup:NGRAM:TOKENS, or null

    /** Takes flag {@code a} if it is one of these; returns whether it was. */
    boolean flag(String a) {
        if (!a.equals("--naive")) return false;
        path = Mla.NAIVE;
        return true;
    }

    /**
     * Takes option {@code a} with value {@code v} if it is one of these; returns whether it was.
     *
     * @throws IllegalArgumentException for a value it does not take
     */
    boolean option(String a, String v) {
        switch (a) {
            case "--device" -> device = Device.parse(v);
            case "--kv-cache" -> cache = switch (v.toLowerCase(Locale.ROOT)) {
                case "f32" -> DType.F32;
                case "bf16" -> DType.BF16;
                default -> throw new IllegalArgumentException("f32 or bf16, got " + v);
            };
            case "--speculative" -> speculative = speculative(v);
            default -> {
                return false;
            }
        }
        return true;
    }

    /** Throws, saying why, when the device cannot be used here. */
    void checkDevice() {
        String why = device.unavailableReason();
        if (why != null) throw new IllegalArgumentException("--device " + device + ": " + why);
    }

    /** {@code mtp}, or {@code lookup[:NGRAM:TOKENS]} as {@code lookup:NGRAM:TOKENS} (3 and 4 by default). */
    static String speculative(String v) {
        if (v.equals("mtp")) return v;
        String[] parts = v.split(":", -1);
        if (parts[0].equals("lookup") && parts.length == 1) return "lookup:3:4";
        if (parts[0].equals("lookup") && parts.length == 3) {
            Speculation.promptLookup(Integer.parseInt(parts[1]), Integer.parseInt(parts[2]));   // validates
            return v;
        }
        throw new IllegalArgumentException("mtp, lookup or lookup:NGRAM:TOKENS, got " + v);
    }

    /** The drafter {@link #speculative} names: the MTP module given, or prompt lookup. */
    Speculation speculation(MultiTokenPredictor mtp) {
        if (speculative.equals("mtp")) return Speculation.mtp(mtp);
        String[] parts = speculative.split(":");
        return Speculation.promptLookup(Integer.parseInt(parts[1]), Integer.parseInt(parts[2]));
    }
}
