package dev.panamax.cli;

import dev.panamax.cuda.Cuda;
import dev.panamax.cuda.LibraryRef;
import dev.panamax.cuda.Nvrtc;
import dev.panamax.runtime.Parallel;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;

/**
 * The {@code panamax} command. Subcommands: {@code demo}, {@code grpo}, {@code smoke},
 * {@code inspect PATH}, {@code generate}, {@code serve}, {@code tokenize PATH}, {@code info}.
 * Errors print one line naming the problem and exit with status 1 (2 for usage errors); add
 * {@code --verbose} for the stack trace.
 */
public final class Main {
    private Main() {
    }

    /** Entry point. */
    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** {@link Serve#run}, until the process is stopped. */
    private static int serve(String[] sub, PrintStream out) {
        try {
            return Serve.run(sub, out);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 130;
        }
    }

    /** Runs a command line; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        List<String> a = Arrays.asList(args);
        boolean verbose = a.contains("--verbose") || a.contains("-v");
        String[] rest = a.stream().filter(s -> !s.equals("--verbose") && !s.equals("-v")).toArray(String[]::new);
        if (rest.length == 0 || rest[0].equals("--help") || rest[0].equals("-h") || rest[0].equals("help")) {
            usage(out);
            return rest.length == 0 ? 2 : 0;
        }
        String[] sub = Arrays.copyOfRange(rest, 1, rest.length);
        try {
            return switch (rest[0]) {
                case "inspect" -> Inspect.run(sub, out);
                case "demo" -> GrpoCommand.run(sub, out, true);
                case "grpo" -> GrpoCommand.run(sub, out, false);
                case "smoke" -> Demo.run(sub, out);
                case "generate" -> Generate.run(sub, out);
                case "tokenize" -> Tokenize.run(sub, out);
                case "serve" -> serve(sub, out);
                case "info" -> info(out);
                default -> {
                    err.println("panamax: unknown command \"" + rest[0] + "\" (try panamax --help)");
                    yield 2;
                }
            };
        } catch (UsageException e) {
            err.println("panamax " + rest[0] + ": " + e.getMessage());
            return 2;
        } catch (RuntimeException | OutOfMemoryError e) {
            err.println("panamax " + rest[0] + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            if (verbose) e.printStackTrace(err);
            return 1;
        }
    }

    /** A wrong command line. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }

    private static int info(PrintStream out) {
        out.println("java " + Runtime.version() + ", " + Parallel.threads() + " threads");
        out.println("kernels: " + dev.panamax.runtime.Kernels.active().name());
        LibraryRef driver = LibraryRef.find("libcuda.so", "1"), nvrtc = LibraryRef.find("libnvrtc.so", "13", "12");
        out.println("cuda: " + (Cuda.available() ? "available, " + Cuda.deviceCount() + " device(s)"
                : driver.path().isPresent() ? Cuda.unavailableReason() : "not available"));
        for (int i = 0; i < Cuda.deviceCount(); i++) {
            Cuda.Device dev = Cuda.device(i);
            out.printf(java.util.Locale.ROOT, "  cuda:%d: %s, sm_%d, %d multiprocessors, %.1f GiB%n", i, dev.name(), dev.computeCapability(),
                    dev.multiprocessors(), dev.totalMemory() / (double) (1L << 30));
        }
        out.println("  driver: " + driver.describe());
        out.println("  cublas: " + LibraryRef.find("libcublas.so", "13", "12").describe());
        out.println("  cublasLt: " + LibraryRef.find("libcublasLt.so", "13", "12").describe());
        String nv = !nvrtc.path().isPresent() ? "" : Nvrtc.available()
                ? " (version " + Nvrtc.version()[0] + "." + Nvrtc.version()[1] + ")" : " (" + Nvrtc.unavailableReason() + ")";
        out.println("  nvrtc: " + nvrtc.describe() + nv);
        return 0;
    }

    private static void usage(PrintStream out) {
        out.println("""
                usage: panamax <command> [options] [--verbose]

                commands:
                  demo [--device D]    the main job: R1-Zero in miniature (supervised warm-up, then GRPO on two-digit
                                       addition); prints held-out accuracy before and after GRPO, writes
                                       panamax-out/metrics.jsonl, chart.svg and final/ (a checkpoint)
                  grpo [--steps N --warmup-steps N --prompts P --group-size G --beta B --epsilon E --epsilon-high E
                        --loss-type grpo|bnpo|dr_grpo|dapo
                        --lr LR --top-p P --top-k K --seed S --eval N --out DIR --checkpoint-every N --resume --task addition
                        --device cpu|cuda|cuda:N]
                                       the same trainer with your settings
                  smoke [--model DIR]  short smoke job: load a reference checkpoint, benchmark matmul
                  inspect PATH         list the tensors (name, dtype, shape, bytes) of a safetensors file or checkpoint folder,
                                       and the main fields of its config.json
                  generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3) --max-new-tokens N [--chat --system TEXT
                           --tokenizer PATH --temperature T --top-p P --top-k K --seed S --stop ID,... --naive
                           --device cpu|cuda|cuda:N --kv-cache f32|bf16 --speculative mtp|lookup[:NGRAM:TOKENS]]
                                       generate with a DeepSeek-V3 checkpoint; prints the ids and tokens/s; with a
                                       tokenizer.json, the text first, as it is generated; a text prompt stops at EOS;
                                       --chat lays the prompt out by the checkpoint's chat template (--system adds one);
                                       --speculative drafts with the checkpoint's MTP module or by prompt lookup
                  serve --model DIR [--host H --port P --served-model-name NAME --max-tokens N --max-num-seqs N
                        --device cpu|cuda|cuda:N --kv-cache f32|bf16 --speculative mtp|lookup[:NGRAM:TOKENS]]
                                       an HTTP server with OpenAI's API (/v1/chat/completions, /v1/completions,
                                       /v1/models; streaming, stop strings) for a checkpoint and its tokenizer;
                                       concurrent requests share decode steps, up to --max-num-seqs sequences (8)
                  tokenize PATH [--no-special | --chat | --system S] TEXT | tokenize PATH --decode 1,2,3 [--skip-special]
                                       token ids of TEXT (or the text of ids) by the tokenizer.json at PATH (a file or
                                       a checkpoint folder), as Hugging Face's tokenizers library gives them; --chat
                                       prints TEXT laid out by the chat template first
                  info                 Java version, threads, kernels, CUDA availability

                options:
                  --verbose            print stack traces on errors
                  -Dpanamax.threads=N  (JAVA_OPTS) kernel threads; -Dpanamax.vector=false for the scalar kernels""");
    }
}
