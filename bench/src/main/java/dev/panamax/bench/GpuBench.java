package dev.panamax.bench;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Functional;
import dev.panamax.runtime.Tensor;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The GPU hot paths (they need an NVIDIA GPU; without one every trial fails at setup with the
 * reason), each with its baseline in the same run:
 * <ul>
 *   <li>{@code gemm}: square F32 and BF16 matmul (4096, 8192) through {@link Tensor#matmulInto} on
 *       the GPU (cuBLAS Sgemm; GemmEx with BF16 inputs, F32 accumulation and a BF16 output, as
 *       torch computes a BF16 product; with {@code -p gemm=lt,tune} also through cuBLASLt). The anchor is
 *       {@code torch.matmul} on the same GPU, timed by {@code bench/gpu/torch_matmul.py}, which
 *       {@code bench/gpu/run.sh} runs beside this;</li>
 *   <li>{@code mlaDecode}: the absorbed-MLA decode kernel ({@link Functional#latentAttentionDecode})
 *       over an F32 or BF16 cache of latent 512 + rope 64, batch 64 and 128, 1024 to 8192
 *       positions, 16 and 128 heads, against {@code deviceCopy}, a device-to-device copy of 1 GiB
 *       that gives the bandwidth bound ({@link Ratios} counts the cache's bytes, and those with the
 *       queries and outputs as FlashMLA's benchmark does; a BF16 cache takes the tensor-core kernels on sm_80 and
 *       later, an F32 cache the exact F32 kernel);</li>
 *   <li>{@code batchedMatmul}: attention-shaped products (8 x 16 items of (512 x 192) times
 *       (192 x 512), keys transposed in place, F32 and BF16) as one strided-batched cuBLAS call,
 *       against {@code perItemMatmul}, the same products one call per item;</li>
 *   <li>whole-model decode, GPU versus CPU: {@link DeepSeekBench#decodeToken} with
 *       {@code -p device=cuda,cpu -p dtype=BF16 -p kvCache=F32,BF16} (the V2-Lite-shaped model after a 256-token
 *       prefill), run by {@code bench/gpu/run.sh} in the same invocation.</li>
 * </ul>
 * Every timed invocation waits for the GPU at its end, so the time is the GPU's, not the
 * launch's; {@code gemm}, {@code mlaDecode} and {@code deviceCopy} queue {@link #REPEAT} launches per wait,
 * and also time them by CUDA events, as the GPU sees them ({@link GpuTime}).
 * {@link Ratios} turns the JSON result into TFLOP/s, GB/s and the ratios of bench/RESULTS.md.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class GpuBench {
    static final Device GPU = Device.cuda();

    /** The GPU, or a clear failure of the trial naming why it cannot be used. */
    static Device gpu() {
        String why = GPU.unavailableReason();
        if (why != null) throw new IllegalStateException("GpuBench needs a CUDA GPU: " + why);
        return GPU;
    }

    /**
     * A trial's GPU state: {@code make} runs inside a new long-lived scope (closed at the trial's
     * teardown), and the GPU finishes its work before the first measurement.
     */
    static dev.panamax.runtime.Scope onGpu(String name, java.util.function.Consumer<Device> make) {
        Device d = gpu();
        dev.panamax.runtime.Scope scope = dev.panamax.runtime.Scope.longLived(name);
        try (var e = scope.enter()) {
            make.accept(d);
        }
        GPU.synchronize();
        return scope;
    }

    /**
     * Seeded A, B and C (n, n) of a dtype, all on the GPU, and how the product runs: the
     * {@code panamax.cuda.gemm} property's value ({@code cublas}, the default; {@code lt}: cuBLASLt
     * with its heuristic's first algorithm; {@code tune}: the fastest of cuBLAS and cuBLASLt's
     * algorithms for the shape, timed in the first warm-up call).
     */
    @State(Scope.Benchmark)
    public static class Gemm {
        @Param({"F32", "BF16"})
        public String dtype;
        @Param({"4096", "8192"})
        public int n;
        @Param({"cublas"})
        public String gemm;
        dev.panamax.runtime.Scope scope;
        Tensor a, b, c;

        @Setup(Level.Trial)
        public void setup() {
            System.setProperty("panamax.cuda.gemm", gemm);
            DType dt = DType.valueOf(dtype);
            scope = onGpu("gemm", d -> {
                a = Tensor.placed(Tensor.randn(DType.F32, 1, 1, n, n), d, dt);
                b = Tensor.placed(Tensor.randn(DType.F32, 2, 1, n, n), d, dt);
                c = Tensor.zeros(d, dt, n, n);   // BF16 x BF16 -> BF16, as torch.matmul does
            });
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            scope.close();
            System.clearProperty("panamax.cuda.gemm");
        }
    }

    /** {@code c = a b} on the GPU, waited for. */
    private static Tensor product(Tensor a, Tensor b, Tensor c) {
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            a.matmulInto(b, c);
        }
        GPU.synchronize();
        return c;
    }

    /**
     * Launches per timed invocation of {@link #gemm}, {@link #mlaDecode} and {@link #deviceCopy},
     * waited for once at the end: the GPU's throughput with its queue kept full, as the torch anchor
     * times it (CUDA events around back-to-back products) and as a decode step issues its layers.
     * One launch per wait would add the host's round trip (about 10 us) to a 25 us decode call.
     */
    static final int REPEAT = 8;

    /**
     * The GPU's own time over the {@link #REPEAT} launches of an invocation, as FlashMLA's benchmark
     * and the torch anchor time theirs (CUDA events, not the host's clock), summed over an iteration's
     * invocations: JMH reports both counters' sums as secondary results, and {@link Ratios} divides
     * one by the other. The events enclose launches 2 to {@link #REPEAT}: the start is recorded after
     * the first launch, while the GPU is busy with it, so that neither the host's preparing the first
     * launch on an idle GPU nor its wait at the end is counted, as they are, once an invocation, in
     * the JMH score.
     */
    @AuxCounters(AuxCounters.Type.EVENTS)
    @State(Scope.Thread)
    public static class GpuTime {
        /** Nanoseconds the GPU took over the timed launches. */
        public long gpuNanos;
        /** The launches timed. */
        public long gpuLaunches;

        @Setup(Level.Iteration)
        public void reset() {
            gpuNanos = 0;
            gpuLaunches = 0;
        }

        /**
         * Queues {@code launch} {@link #REPEAT} times and waits for the GPU, adding the GPU's time over
         * all but the first (see the class comment).
         */
        void queue(Runnable launch) {
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                launch.run();
                try (Device.Event start = GPU.record()) {
                    for (int i = 1; i < REPEAT; i++) launch.run();
                    try (Device.Event end = GPU.record()) {
                        gpuNanos += Math.round(end.millisSince(start) * 1e6);   // waits for the GPU
                        gpuLaunches += REPEAT - 1;
                    }
                }
            }
        }
    }

    @Benchmark
    @OperationsPerInvocation(REPEAT)
    public Tensor gemm(Gemm g, GpuTime t) {
        t.queue(() -> g.a.matmulInto(g.b, g.c));
        return g.c;
    }

    /** A filled latent cache and the queries of one decode step, on the GPU. */
    @State(Scope.Benchmark)
    public static class Decode {
        @Param({"64", "128"})
        public int batch;
        @Param({"1024", "4096", "8192"})
        public int len;
        @Param({"16", "128"})
        public int heads;
        @Param({"F32", "BF16"})
        public String cache;
        /**
         * The MLA decode kernel ({@code -Dpanamax.cuda.mlaKernel}): {@code auto} (the default choice),
         * {@code scalar} (the CUDA-core kernels), {@code tune} (the fastest of them all for the shape, timed
         * in the first warm-up call; the log names it and each candidate's time) or a tensor-core kernel of mla_decode.cu for the
         * cache's type, e.g. {@code -p mla=mla_decode_tc16,mla_decode_ks16} over a BF16 cache or
         * {@code -p mla=scalar,mla_decode_tc16_f32} over an F32 one (a kernel for the other type runs as auto).
         */
        @Param({"auto"})
        public String mla;
        /**
         * How the splits of a decode merge ({@code -Dpanamax.cuda.mlaMerge}): {@code auto} (the default:
         * a second kernel, but that {@code mla=tune} times both ways), {@code kernel} or {@code tail} (the
         * decode kernel's last block of each sequence merges them, where it can), e.g. {@code -p merge=kernel,tail}.
         */
        @Param({"auto"})
        public String merge;
        /**
         * How many splits of the sequence a decode runs ({@code -Dpanamax.cuda.mlaSplits}): {@code auto}
         * (the default: one wave of blocks) or a number, e.g. {@code -p splits=auto,1} (at batch 64 and 16
         * heads auto takes two, each block half the positions, then merges them).
         */
        @Param({"auto"})
        public String splits;
        /**
         * Programmatic dependent launch ({@code -Dpanamax.cuda.pdl}): {@code off} (the default) or
         * {@code on}, where each decode kernel (and its merge) may be scheduled while the one before
         * it finishes, e.g. {@code -p pdl=off,on}. The copy it is set against is unchanged.
         */
        @Param({"off"})
        public String pdl;
        static final String KERNEL_PROPERTY = "panamax.cuda.mlaKernel", MERGE_PROPERTY = "panamax.cuda.mlaMerge", SPLITS_PROPERTY = "panamax.cuda.mlaSplits",
                PDL_PROPERTY = "panamax.cuda.pdl";
        static final int LATENT = 512, ROPE = 64;
        dev.panamax.runtime.Scope scope;
        Tensor q, latent, kRope;

        @Setup(Level.Trial)
        public void setup() {
            System.setProperty(KERNEL_PROPERTY, mla);
            System.setProperty(MERGE_PROPERTY, merge);
            System.setProperty(SPLITS_PROPERTY, splits);
            System.setProperty(PDL_PROPERTY, pdl);
            scope = onGpu("mla", d -> {
                q = Tensor.placed(Tensor.randn(DType.F32, 1, 1, batch, heads, LATENT + ROPE), d, DType.F32);
                // the cache is filled on the GPU (a host tensor of 128 x 8192 x 512 floats would be 2 GiB)
                latent = Tensor.zeros(d, DType.valueOf(cache), batch, len, LATENT);
                kRope = Tensor.zeros(d, DType.valueOf(cache), batch, len, ROPE);
                try (Autograd.NoGrad ng = Autograd.noGrad(); dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open()) {
                    Tensor pos = Tensor.arange(DType.F32, len).to(d).view(1, len, 1);
                    latent.copyFrom(pos.mul(1e-3).tanh());
                    kRope.copyFrom(pos.mul(-2e-3).sigmoid());
                }
            });
        }

        /** Bytes of cache one step reads. */
        long cacheBytes() {
            return (long) batch * len * (LATENT + ROPE) * DType.valueOf(cache).byteSize();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            scope.close();
            System.clearProperty(KERNEL_PROPERTY);
            System.clearProperty(MERGE_PROPERTY);
            System.clearProperty(SPLITS_PROPERTY);
            System.clearProperty(PDL_PROPERTY);
        }
    }

    @Benchmark
    @OperationsPerInvocation(REPEAT)
    public float mlaDecode(Decode s, GpuTime t) {
        try (dev.panamax.runtime.Scope step = dev.panamax.runtime.Scope.open()) {
            t.queue(() -> Functional.latentAttentionDecode(s.q, s.latent, s.kRope, s.len, 1 / Math.sqrt(192)));
            return 0;
        }
    }

    /** Attention-shaped operands: queries (B*H, T, D), keys (B*H, T, D) and F32 scores (B*H, T, T) on the GPU. */
    @State(Scope.Benchmark)
    public static class Batched {
        static final int ITEMS = 8 * 16, T = 512, D = 192;
        @Param({"F32", "BF16"})
        public String dtype;
        /** How the products run, as {@link Gemm#gemm}. */
        @Param({"cublas"})
        public String gemm;
        dev.panamax.runtime.Scope scope;
        Tensor q, kT, scores;

        @Setup(Level.Trial)
        public void setup() {
            System.setProperty("panamax.cuda.gemm", gemm);
            DType dt = DType.valueOf(dtype);
            scope = onGpu("batched", d -> {
                q = Tensor.placed(Tensor.randn(DType.F32, 3, 1, ITEMS, T, D), d, dt);
                kT = Tensor.placed(Tensor.randn(DType.F32, 4, 1, ITEMS, T, D), d, dt).transpose(-1, -2);
                scores = Tensor.zeros(d, DType.F32, ITEMS, T, T);
            });
        }

        /** Floating-point operations of all the items. */
        static double flops() {
            return 2.0 * ITEMS * T * T * D;
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            scope.close();
            System.clearProperty("panamax.cuda.gemm");
        }
    }

    @Benchmark
    public Tensor batchedMatmul(Batched b) {
        return product(b.q, b.kT, b.scores);
    }

    /** The baseline of {@link #batchedMatmul}: the same products, one cuBLAS call per item. */
    @Benchmark
    public Tensor perItemMatmul(Batched b) {
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            for (int i = 0; i < Batched.ITEMS; i++) b.q.narrow(0, i, 1).matmulInto(b.kT.narrow(0, i, 1), b.scores.narrow(0, i, 1));
        }
        GPU.synchronize();
        return b.scores;
    }

    /** Two 1 GiB device buffers. */
    @State(Scope.Benchmark)
    public static class Copy {
        static final long BYTES = 1L << 30;
        dev.panamax.runtime.Scope scope;
        Tensor src, dst;

        @Setup(Level.Trial)
        public void setup() {
            scope = onGpu("copy", d -> {
                src = Tensor.zeros(d, DType.U8, BYTES);
                dst = Tensor.zeros(d, DType.U8, BYTES);
            });
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            scope.close();
        }
    }

    @Benchmark
    @OperationsPerInvocation(REPEAT)
    public Tensor deviceCopy(Copy c, GpuTime t) {
        t.queue(() -> c.dst.copyFrom(c.src));
        return c.dst;
    }
}
