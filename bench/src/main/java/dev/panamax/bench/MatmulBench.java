package dev.panamax.bench;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Parallel;
import dev.panamax.runtime.ScalarKernels;
import dev.panamax.runtime.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The matmul hot path, with its baselines in the same run:
 * <ul>
 *   <li>square F32 SGEMM (512, 1024, 2048) on 1 and 2 threads: ours ({@code sgemm}) versus
 *       OpenBLAS {@code cblas_sgemm} through FFM ({@code sgemmOpenBlas}, same thread count) and,
 *       at 512, our scalar specification kernel ({@code sgemmScalar});</li>
 *   <li>decode-shaped matrix-vector products {@code 1 x K x N} with (N, K) weights in BF16
 *       ({@code gemvBf16}), F16 ({@code gemvF16}) and F32 ({@code gemvF32}), against OpenBLAS
 *       {@code cblas_sgemv} on F32 weights, the scalar kernel, and a plain multi-threaded memory
 *       copy ({@code copy}) that gives the bandwidth bound.</li>
 * </ul>
 * Trap avoided: every benchmark writes into a preallocated output, so no allocation or scope
 * work is timed; inputs are built once per trial from a fixed seed. {@link Ratios} turns the JSON
 * result into GFLOP/s, GB/s and the ratios recorded in bench/RESULTS.md.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class MatmulBench {

    /** Seeded A and B and a zero C, all (n, n) F32, in a scope of their own closed after the trial. */
    public abstract static class SquareOperands {
        dev.panamax.runtime.Scope scope;
        Tensor a, b, c;

        void allocate(int n) {
            scope = dev.panamax.runtime.Scope.longLived("bench");
            try (var e = scope.enter()) {
                a = Tensor.randn(DType.F32, 1, 1, n, n);
                b = Tensor.randn(DType.F32, 2, 1, n, n);
                c = Tensor.zeros(DType.F32, n, n);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            scope.close();
        }
    }

    /** Square SGEMM operands. */
    @State(Scope.Benchmark)
    public static class Sgemm extends SquareOperands {
        @Param({"512", "1024", "2048"})
        public int n;
        @Param({"1", "2"})
        public int threads;

        @Setup(Level.Trial)
        public void setup() {
            Parallel.setThreads(threads);
            if (OpenBlas.available()) OpenBlas.setThreads(threads);
            allocate(n);
        }
    }

    /** SGEMM with the scalar specification kernel (one size; it is slow). */
    @State(Scope.Benchmark)
    public static class SgemmScalar extends SquareOperands {
        @Param({"512"})
        public int n;

        @Setup(Level.Trial)
        public void setup() {
            allocate(n);
        }
    }

    @Benchmark
    public Tensor sgemm(Sgemm s) {
        return s.a.matmulInto(s.b, s.c);
    }

    @Benchmark
    public Tensor sgemmOpenBlas(Sgemm s) {
        OpenBlas.require();
        OpenBlas.sgemm(s.n, s.n, s.n, s.a.segment(), s.b.segment(), false, s.c.segment());
        return s.c;
    }

    @Benchmark
    public Tensor sgemmScalar(SgemmScalar s) {
        ScalarKernels.INSTANCE.sgemm(false, false, s.n, s.n, s.n, s.a.segment(), 0, s.n, s.b.segment(), 0, s.n, DType.F32,
                s.c.segment(), 0, s.n, false);
        return s.c;
    }

    /** Decode-shaped products: one activation row times (N, K) weights. */
    @State(Scope.Benchmark)
    public static class Gemv {
        /** K x N: hidden to hidden, hidden to an MLP's width, a wide input to hidden. */
        @Param({"2048x2048", "2048x10944", "7168x2048"})
        public String shape;
        @Param({"1", "2"})
        public int threads;
        int k, n;
        dev.panamax.runtime.Scope scope;
        Tensor x, wBf16, wF16, wF32, y;

        @Setup(Level.Trial)
        public void setup() {
            Parallel.setThreads(threads);
            if (OpenBlas.available()) OpenBlas.setThreads(threads);
            String[] p = shape.split("x");
            k = Integer.parseInt(p[0]);
            n = Integer.parseInt(p[1]);
            scope = dev.panamax.runtime.Scope.longLived("bench");
            try (var e = scope.enter()) {
                x = Tensor.randn(DType.F32, 1, 1, 1, k);
                wF32 = Tensor.randn(DType.F32, 2, 0.02, n, k);
                wBf16 = wF32.to(DType.BF16);
                wF16 = wF32.to(DType.F16);
                y = Tensor.zeros(DType.F32, 1, n);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            scope.close();
        }
    }

    @Benchmark
    public Tensor gemvBf16(Gemv s) {
        return s.x.matmulInto(s.wBf16.t(), s.y);
    }

    @Benchmark
    public Tensor gemvF16(Gemv s) {
        return s.x.matmulInto(s.wF16.t(), s.y);
    }

    @Benchmark
    public Tensor gemvF32(Gemv s) {
        return s.x.matmulInto(s.wF32.t(), s.y);
    }

    @Benchmark
    public Tensor sgemvOpenBlas(Gemv s) {
        OpenBlas.require();
        OpenBlas.sgemv(s.n, s.k, s.wF32.segment(), s.x.segment(), s.y.segment());
        return s.y;
    }

    /** The scalar specification kernel on BF16 weights (single-threaded by definition). */
    @Benchmark
    public Tensor gemvBf16Scalar(GemvScalar s) {
        ScalarKernels.INSTANCE.gemv(DType.BF16, s.n, s.k, s.w.segment(), 0, s.k, s.x.segment(), 0, s.y.segment(), 0);
        return s.y;
    }

    /** Scalar gemv operands (largest decode shape only). */
    @State(Scope.Benchmark)
    public static class GemvScalar {
        @Param({"7168x2048"})
        public String shape;
        int k, n;
        dev.panamax.runtime.Scope scope;
        Tensor x, w, y;

        @Setup(Level.Trial)
        public void setup() {
            String[] p = shape.split("x");
            k = Integer.parseInt(p[0]);
            n = Integer.parseInt(p[1]);
            scope = dev.panamax.runtime.Scope.longLived("bench");
            try (var e = scope.enter()) {
                x = Tensor.randn(DType.F32, 1, 1, 1, k);
                w = Tensor.randn(DType.F32, 2, 0.02, n, k).to(DType.BF16);
                y = Tensor.zeros(DType.F32, 1, n);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            scope.close();
        }
    }

    /** Memory-copy bandwidth baseline: 64 MiB copied, split over the threads. */
    @State(Scope.Benchmark)
    public static class Copy {
        @Param({"1", "2"})
        public int threads;
        dev.panamax.runtime.Scope scope;
        Tensor src, dst;

        @Setup(Level.Trial)
        public void setup() {
            Parallel.setThreads(threads);
            scope = dev.panamax.runtime.Scope.longLived("bench");
            try (var e = scope.enter()) {
                src = Tensor.uniform(DType.F32, 3, -1, 1, 16L << 20);
                dst = Tensor.zeros(DType.F32, 16L << 20);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            scope.close();
        }
    }

    /** Copies {@code src} to {@code dst}: {@link Ratios} counts 2 x 64 MiB moved (read + write). */
    @Benchmark
    public Tensor copy(Copy s) {
        long bytes = s.src.byteSize();
        Parallel.forRange(s.threads, 1, (t0, t1) -> {
            for (long t = t0; t < t1; t++) {
                long from = bytes * t / s.threads, to = bytes * (t + 1) / s.threads;
                java.lang.foreign.MemorySegment.copy(s.src.segment(), from, s.dst.segment(), from, to - from);
            }
        });
        return s.dst;
    }
}
