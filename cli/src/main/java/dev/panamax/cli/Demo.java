package dev.panamax.cli;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Kernels;
import dev.panamax.runtime.Parallel;
import dev.panamax.runtime.ScalarKernels;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.VectorKernels;
import dev.panamax.runtime.io.Checkpoint;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * {@code panamax smoke}: a short end-to-end
 * smoke job: load a reference checkpoint (zero-copy), run its embedding, final norm and LM head
 * over the reference input ids, then time matmul with the vector and scalar kernels and the
 * BF16 matrix-vector path against a memory copy. Timings here are a smoke check; the
 * measurements of record are the JMH benchmarks in {@code bench}.
 */
final class Demo {
    private Demo() {
    }

    static int run(String[] args, PrintStream out) {
        Path model = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--model") && i + 1 < args.length) model = Path.of(args[++i]);
            else throw new Main.UsageException("unknown option " + args[i]);
        }
        if (model == null) model = firstReferenceCase();
        out.println("Panamax smoke job (" + Parallel.threads() + " threads, kernels " + Kernels.active().name() + ")");
        try (Scope scope = Scope.open()) {
            long t0 = System.nanoTime();
            try (Checkpoint ck = Checkpoint.open(model)) {
                long params = 0;
                for (String n : ck.names()) params += ck.info(n).numel();
                out.printf(Locale.ROOT, "loaded %s: %d tensors, %,d parameters, %,d bytes mapped, in %.1f ms%n",
                        model, ck.names().size(), params, ck.mappedBytes(), (System.nanoTime() - t0) / 1e6);
                Tensor emb = ck.tensor("model.embed_tokens.weight");
                Tensor ids = Tensor.arange(DType.I64, Math.min(16, emb.dim(0)));
                Tensor h = Tensor.embedding(emb, ids);
                double eps = ck.config() != null && ck.config().has("rms_norm_eps") ? ck.config().requireDouble("rms_norm_eps") : 1e-6;
                Tensor logits = h.rmsNorm(ck.tensor("model.norm.weight"), eps).matmul(ck.tensor("lm_head.weight").t());
                Tensor next = logits.argmax(-1, false);
                out.printf(Locale.ROOT, "embed -> norm -> lm_head on %d ids: logits %s, argmax of the first 8 = %s%n",
                        ids.numel(), logits.shape(), java.util.Arrays.toString(java.util.Arrays.copyOf(next.toLongArray(), 8)));
            }
            benchmark(out);
        }
        return 0;
    }

    private static Path firstReferenceCase() {
        Path root = Path.of(System.getProperty("panamax.root", ".")).toAbsolutePath().normalize();
        Path ref = root.resolve("../shared/reference/deepseek_v3").normalize();
        if (!Files.isDirectory(ref)) throw new IllegalArgumentException("no reference checkpoints at " + ref + " (pass --model DIR)");
        try (Stream<Path> s = Files.list(ref)) {
            List<Path> cases = s.filter(p -> Files.isRegularFile(p.resolve("config.json"))).sorted().toList();
            if (cases.isEmpty()) throw new IllegalArgumentException("no checkpoint folders under " + ref);
            return cases.getFirst();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot list " + ref + ": " + e.getMessage());
        }
    }

    /** Best of a few timed runs, in seconds. */
    private static double best(int reps, Runnable r) {
        r.run();
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t = System.nanoTime();
            r.run();
            best = Math.min(best, (System.nanoTime() - t) / 1e9);
        }
        return best;
    }

    private static void benchmark(PrintStream out) {
        try (Scope s = Scope.open()) {
            int n = 512;
            Tensor a = Tensor.randn(DType.F32, 1, 1, n, n), b = Tensor.randn(DType.F32, 2, 1, n, n);
            Tensor c = Tensor.zeros(DType.F32, n, n);
            double flops = 2.0 * n * n * n;
            double vec = best(5, () -> a.matmulInto(b, c));
            Kernels old = Kernels.setActive(ScalarKernels.INSTANCE);
            double scalar;
            try {
                scalar = best(1, () -> a.matmulInto(b, c));
            } finally {
                Kernels.setActive(old);
            }
            out.printf(Locale.ROOT, "SGEMM %d^3: %s %.1f GFLOP/s, scalar %.1f GFLOP/s (%.0fx)%n", n,
                    VectorKernels.preferred().name(), flops / vec / 1e9, flops / scalar / 1e9, scalar / vec);
            int rows = 2048, k = 2048;
            Tensor w = Tensor.randn(DType.F32, 3, 0.02, rows, k).to(DType.BF16);
            Tensor x = Tensor.randn(DType.F32, 4, 1, 1, k);
            Tensor y = Tensor.zeros(DType.F32, 1, rows);
            double gemv = best(20, () -> x.matmulInto(w.t(), y));
            Tensor src = Tensor.zeros(DType.U8, 64L << 20), dst = Tensor.zeros(DType.U8, 64L << 20);
            double copy = best(5, () -> dst.copyFrom(src));
            double gemvBw = w.byteSize() / gemv / 1e9, copyBw = 2.0 * src.byteSize() / copy / 1e9;
            out.printf(Locale.ROOT, "BF16 matrix-vector 1x%dx%d: %.1f GB/s of weights; memory copy %.1f GB/s (read+write); ratio %.2f%n",
                    k, rows, gemvBw, copyBw, gemvBw / copyBw);
        }
    }
}
