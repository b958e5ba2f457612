package dev.panamax.runtime.gpu;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The warpgroup products and named barriers of mla_decode.cu have two paths: inline PTX for the
 * GPU, and a call of the CUDA simulator's model of the same instruction ({@code __pmx_wgmma_bf16_ss}
 * / {@code _rs}, {@code __pmx_bar_sync} / {@code _arrive}). The simulator checks the kernels
 * through the second, so it must pass what the first names: for a product the same shape, A in
 * shared memory or in registers as the PTX has it, the same {@code scale-d}, {@code imm-scale-a/b}
 * and {@code imm-trans-a/b} (written in the PTX or passed to it as immediate operands, {@code "n"(TA)}),
 * and as many accumulator registers as the shape gives a thread; for a
 * barrier the same wait or arrival, barrier and count.
 */
class WgmmaPathsAgreeTest {
    private static final Pattern FUNCTION = Pattern.compile("__device__ __forceinline__ void (wgmma_\\w+)\\(([^)]*)\\) \\{(.*?)\\n}\\n", Pattern.DOTALL);
    private static final Pattern PTX = Pattern.compile(
            "wgmma\\.mma_async\\.sync\\.aligned\\.m64n(\\d+)k16\\.f32\\.bf16\\.bf16 \\{[^}]*}, (\\{[^}]*}|%\\d+), %\\d+, ([^;]*);");
    private static final Pattern CALL = Pattern.compile("__pmx_wgmma_bf16_(ss|rs)\\(d, (\\d+), ([^;]*)\\);");

    /** The wgmma wrappers of mla_decode.cu: name, parameters, body. */
    static List<String[]> wrappers(String source) {
        List<String[]> found = new ArrayList<>();
        Matcher m = FUNCTION.matcher(source);
        while (m.find()) found.add(new String[]{m.group(1), m.group(2), m.group(3)});
        return found;
    }

    /** An operand of the asm statement: its constraint and its expression (one level of parentheses inside). */
    private static final Pattern OPERAND = Pattern.compile("\"([^\"]*)\"\\(([^()]*(?:\\([^()]*\\)[^()]*)*)\\)");

    /**
     * The PTX's operand {@code token}: itself, or for {@code %k} where operand k is an immediate
     * ({@code "n"(X)}), X, as the simulator call names it.
     */
    private static String immediate(String token, List<String[]> operands) {
        if (!token.matches("%\\d+")) return token;
        int k = Integer.parseInt(token.substring(1));
        return k < operands.size() && operands.get(k)[0].equals("n") ? operands.get(k)[1] : token;
    }

    /** Differences between a wrapper's PTX and its simulator call, empty when they agree. */
    static List<String> disagreements(String name, String body) {
        List<String> wrong = new ArrayList<>();
        Matcher ptx = PTX.matcher(body), call = CALL.matcher(body);
        if (!ptx.find() || !call.find()) return List.of(name + ": no wgmma PTX or no simulator call");
        List<String[]> operands = new ArrayList<>();   // the asm statement's outputs, then its inputs, as %0, %1, ... number them
        Matcher op = OPERAND.matcher(body.substring(ptx.end(), call.start()));
        while (op.find()) operands.add(new String[]{op.group(1), op.group(2)});
        int n = Integer.parseInt(ptx.group(1));
        if (Integer.parseInt(call.group(2)) != n) wrong.add(name + ": the PTX is m64n" + n + "k16, the simulator call n " + call.group(2));
        boolean aInRegisters = ptx.group(2).startsWith("{");
        if (aInRegisters != call.group(1).equals("rs")) wrong.add(name + ": A is " + (aInRegisters ? "in registers" : "in shared memory") + " in the PTX, not in the call");
        // the PTX's scale-d, imm-scale-a, imm-scale-b[, imm-trans-a], imm-trans-b against the call's after A and B
        List<String> imm = List.of(ptx.group(3).split(",\\s*")).stream().map(t -> immediate(t, operands)).toList();
        List<String> args = List.of(call.group(3).split(",\\s*"));
        List<String> callImm = args.subList(2, args.size());
        if (imm.size() != callImm.size()) wrong.add(name + ": " + imm.size() + " operands after B in the PTX, " + callImm.size() + " in the call");
        else {
            for (int i = 1; i < imm.size(); i++)
                if (!imm.get(i).equals(callImm.get(i))) wrong.add(name + ": operand " + (i + 1) + " after B is " + imm.get(i) + " in the PTX, " + callImm.get(i) + " in the call");
            String scaleD = imm.getFirst();
            if (scaleD.equals("p")) {
                // a predicate set from an operand: p = (operand == 0), so the call must pass 0 where that operand is true
                Matcher setp = Pattern.compile("setp\\.eq\\.u32 p, %(\\d+), 0").matcher(body);
                Matcher inputs = Pattern.compile(":\\s*\"l\"\\(a\\), \"l\"\\(b\\), \"r\"\\(\\(unsigned int\\) (\\w+)\\)[,)]").matcher(body);
                if (!setp.find() || !inputs.find()) wrong.add(name + ": scale-d is a predicate, but not set from a flag the simulator call could use");
                else if (!callImm.getFirst().equals(inputs.group(1) + " ? 0 : 1"))
                    wrong.add(name + ": scale-d is (" + inputs.group(1) + " == 0) in the PTX, " + callImm.getFirst() + " in the call");
            } else if (!scaleD.equals(callImm.getFirst())) wrong.add(name + ": scale-d is " + scaleD + " in the PTX, " + callImm.getFirst() + " in the call");
        }
        long outputs = Pattern.compile("\"\\+f\"\\(d\\[\\d+]\\)").matcher(body).results().count();
        if (outputs != n / 2) wrong.add(name + ": " + outputs + " accumulator registers in the PTX, m64n" + n + "k16 gives a thread " + n / 2);
        return wrong;
    }

    @Test
    void eachWgmmaWrapperPassesTheSimulatorWhatItsPtxNames() {
        List<String[]> found = wrappers(CudaSources.source("mla_decode.cu"));
        assertThat(found).extracting(w -> w[0]).containsExactlyInAnyOrder("wgmma_m64n16_ss", "wgmma_m64n32_ss", "wgmma_m64n256_rs", "wgmma_m64n64_ss",
                "wgmma_m64n256_ss");
        for (String[] w : found) assertThat(disagreements(w[0], w[2])).as(w[0]).isEmpty();
    }

    private static final Pattern NAMED = Pattern.compile(
            "template <int ID> __device__ __forceinline__ void (named_\\w+)\\(int count\\) \\{\\n#ifdef __CUDA_ARCH__\\n\\s*asm volatile\\(\"bar\\.(\\w+) %0, %1;\" :: \"n\"\\(ID\\), \"r\"\\(count\\)[^\\n]*\\n#else\\n\\s*__pmx_bar_(\\w+)\\(ID, count\\);");

    /** The named-barrier wrappers of mla_decode.cu: name, the PTX's bar.* form, the simulator's __pmx_bar_* form. */
    static List<String[]> namedBarrierWrappers(String source) {
        List<String[]> found = new ArrayList<>();
        Matcher m = NAMED.matcher(source);
        while (m.find()) found.add(new String[]{m.group(1), m.group(2), m.group(3)});
        return found;
    }

    /**
     * Each named-barrier wrapper waits (bar.sync) or only arrives (bar.arrive) on both paths alike,
     * with the same barrier and count: the simulator's hand-offs between warpgroups prove nothing
     * about a GPU where the two differ.
     */
    @Test
    void eachNamedBarrierWrapperDoesOnTheSimulatorWhatItsPtxDoes() {
        List<String[]> found = namedBarrierWrappers(CudaSources.source("mla_decode.cu"));
        assertThat(found).extracting(w -> w[0]).containsExactlyInAnyOrder("named_sync", "named_arrive");
        for (String[] w : found) {
            assertThat(w[1]).as(w[0] + "'s PTX").isEqualTo(w[0].substring("named_".length()));
            assertThat(w[2]).as(w[0] + "'s simulator call").isEqualTo(w[1]);
        }
        String swapped = CudaSources.source("mla_decode.cu").replace("__pmx_bar_arrive(ID, count);", "__pmx_bar_sync(ID, count);");
        assertThat(namedBarrierWrappers(swapped)).filteredOn(w -> !w[1].equals(w[2])).extracting(w -> w[0]).containsExactly("named_arrive");
    }

    @Test
    void aWrapperWhosePathsDifferIsCaught() {
        String body = wrappers(CudaSources.source("mla_decode.cu")).stream().filter(w -> w[0].equals("wgmma_m64n32_ss")).findFirst().orElseThrow()[2];
        assertThat(disagreements("n", body.replace("__pmx_wgmma_bf16_ss(d, 32,", "__pmx_wgmma_bf16_ss(d, 64,"))).singleElement().asString().contains("n 64");
        assertThat(disagreements("trans", body.replace("\"n\"(TA), \"n\"(TB)", "\"n\"(TA), \"n\"(TA)"))).singleElement().asString().contains("operand 5");
        String literal = wrappers(CudaSources.source("mla_decode.cu")).stream().filter(w -> w[0].equals("wgmma_m64n64_ss")).findFirst().orElseThrow()[2];
        assertThat(disagreements("trans", literal.replace("p, 1, 1, 0, 0;", "p, 1, 1, 0, 1;"))).singleElement().asString().contains("operand 5");
        assertThat(disagreements("scale", body.replace("first ? 0 : 1", "first ? 1 : 0"))).singleElement().asString().contains("scale-d");
        assertThat(disagreements("kind", body.replace("__pmx_wgmma_bf16_ss(d, 32, a, b,", "__pmx_wgmma_bf16_rs(d, 32, a, b,"))).isNotEmpty();
        // one output fewer also renumbers the immediates after it: those show as well
        assertThat(disagreements("regs", body.replace("\"+f\"(d[15]) :", ":"))).anySatisfy(w -> assertThat(w).contains("15 accumulator registers"));
    }
}
