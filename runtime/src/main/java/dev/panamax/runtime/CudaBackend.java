package dev.panamax.runtime;

import dev.panamax.cuda.Cublas;
import dev.panamax.cuda.Cuda;
import dev.panamax.runtime.gpu.GpuDevice;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@link DeviceBackend} of one CUDA GPU: device memory from the {@link GpuDevice}'s caching
 * allocator, matrix products through cuBLAS (column-major, so a row-major {@code C = A B} is
 * issued as {@code C^T = B^T A^T}), everything else through Panamax's kernels (NVRTC-compiled
 * {@code .cu} resources), all queued on the device's one stream. Opened once per ordinal, on the
 * first tensor moved to it, and kept for the life of the JVM.
 */
final class CudaBackend implements DeviceBackend {
    private static final ConcurrentHashMap<Integer, CudaBackend> OPEN = new ConcurrentHashMap<>();
    private static final int THREADS = 256;
    /** Rows of the left operand up to which 16-bit weights go through gemv.cu rather than widening plus Sgemm. */
    static final int GEMV_ROWS = 8;
    /** The most dims above 1 of common.cuh's Broadcast structs: int ndim (padded to 8), then size and 2 or 3 strides of 8 i64 each. */
    private static final int MAX_DIMS = 8;

    private final Device device;
    private final GpuDevice gpu;
    private final CublasProducts products;
    private final java.util.concurrent.atomic.LongAdder downloads = new java.util.concurrent.atomic.LongAdder();

    private CudaBackend(Device device, GpuDevice gpu) {
        this.device = device;
        this.gpu = gpu;
        this.products = new CublasProducts(gpu, this);
    }

    /**
     * The backend of CUDA device {@code ordinal}, opening it on first use.
     *
     * @throws IllegalStateException saying why when CUDA or that device is not available
     */
    static CudaBackend get(int ordinal) {
        CudaBackend b = OPEN.get(ordinal);
        if (b != null) return b;
        synchronized (OPEN) {
            b = OPEN.get(ordinal);
            if (b == null) {
                Device d = Device.cuda(ordinal);
                String why = d.unavailableReason();
                if (why != null) throw new IllegalStateException("cannot use " + d + ": " + why);
                b = new CudaBackend(d, GpuDevice.open(ordinal));
                OPEN.put(ordinal, b);
            }
            return b;
        }
    }

    /** The opened GPU (for benchmarks and tests that time or inspect it). */
    GpuDevice gpu() {
        return gpu;
    }

    /** Copies to the host so far (each one a wait for the stream): tests hold a path to none. */
    long downloads() {
        return downloads.sum();
    }

    /** How this GPU's cuBLAS-shaped products run (for tests: the choices {@link CublasProducts#TUNE} kept). */
    CublasProducts products() {
        return products;
    }

    @Override
    public Device device() {
        return device;
    }

    // ---- memory ---------------------------------------------------------------------------

    @Override
    public long allocate(long bytes) {
        gpu.makeCurrent();
        return gpu.allocator().allocate(Math.max(bytes, 1));
    }

    @Override
    public void release(long pointer) {
        gpu.allocator().release(pointer);
    }

    @Override
    public void zero(long pointer, long bytes) {
        if (bytes == 0) return;
        gpu.makeCurrent();
        Cuda.memset(pointer, (byte) 0, bytes, gpu.stream());
    }

    @Override
    public void upload(MemorySegment src, long dst, long bytes) {
        gpu.upload(src, dst, bytes);
    }

    @Override
    public void download(long src, MemorySegment dst, long bytes) {
        if (bytes == 0) return;
        gpu.checkNotCapturing("a copy to the host");
        downloads.increment();
        gpu.makeCurrent();
        Cuda.copyToHost(dst, src, bytes, gpu.stream());
        gpu.synchronize();
    }

    @Override
    public PendingDownload downloadLater(long src, long bytes) {
        if (bytes == 0) return null;
        GpuDevice.Readback r = gpu.downloadLater(src, bytes);
        if (r == null) return null;
        downloads.increment();
        return new PendingDownload() {
            @Override
            public void read(MemorySegment dst) {
                r.read(dst);
            }

            @Override
            public void close() {
                r.close();
            }
        };
    }

    @Override
    public void synchronize() {
        gpu.makeCurrent();
        gpu.synchronize();
    }

    /**
     * A CUDA event recorded on the stream; not while a graph is being captured (an event between
     * a graph's nodes would time nothing the replays do).
     */
    @Override
    public Mark mark() {
        gpu.makeCurrent();
        gpu.checkNotCapturing("recording a timing event");
        Cuda.Event e = Cuda.Event.create();
        try {
            e.record(gpu.stream());
        } catch (RuntimeException x) {
            e.close();
            throw x;
        }
        return new CudaMark(gpu, e);
    }

    /** A CUDA event recorded on {@code gpu}'s stream. */
    private record CudaMark(GpuDevice gpu, Cuda.Event event) implements Mark {
        @Override
        public double millisSince(Mark start) {
            if (!(start instanceof CudaMark c) || c.gpu != gpu) throw new IllegalArgumentException("the start event was recorded by another backend of the device");
            gpu.makeCurrent();
            event.synchronize();
            return event.millisSince(c.event);
        }

        @Override
        public void close() {
            gpu.makeCurrent();
            event.close();
        }
    }

    @Override
    public Replayable captureGraph(Runnable body) {
        GpuDevice.Captured c = gpu.capture(body);
        return new Replayable() {
            @Override
            public void replay() {
                c.replay();
            }

            @Override
            public long nodes() {
                return c.nodes();
            }

            @Override
            public void close() {
                c.close();
            }
        };
    }

    // ---- helpers --------------------------------------------------------------------------

    /** Device address of element {@code elem} (relative to the tensor's offset) of {@code t}. */
    private static long at(Tensor t, long elem) {
        return t.devicePointer + (t.offset + elem) * t.dtype.byteSize();
    }

    private static int grid(long n) {
        return (int) Math.max(1, Math.min((n + THREADS - 1) / THREADS, 1 << 20));
    }

    /**
     * Launches {@code f} on the device's stream, with programmatic stream serialization where
     * {@link #PDL_PROPERTY} asks for it and the GPU has it (compute capability 9.0 and later): every
     * kernel of ours waits for the kernel before it as its first statement ({@code pmx_grid_begin}).
     */
    private void start(Cuda.Function f, int[] grid, int[] block, int sharedBytes, Object... args) {
        if (programmaticLaunches()) {
            f.launchProgrammatic(grid, block, sharedBytes, gpu.stream(), args);
            programmatic.increment();
        } else {
            f.launch(grid, block, sharedBytes, gpu.stream(), args);
        }
    }

    /** Kernels launched with programmatic stream serialization (tests: that {@link #PDL_PROPERTY} took effect). */
    private final java.util.concurrent.atomic.LongAdder programmatic = new java.util.concurrent.atomic.LongAdder();

    long programmaticLaunchCount() {
        return programmatic.sum();
    }

    /**
     * Whether kernels are launched with programmatic stream serialization (programmatic dependent
     * launch): {@code off} (the default until a GPU has timed it: bench/RESULTS.md, session 33) or
     * {@code on}, which takes effect on compute capability 9.0 and later (H100, H200). A kernel may
     * then be scheduled while the one before it on the stream finishes; it waits for that one's end
     * before it touches memory. Read on every launch.
     */
    static final String PDL_PROPERTY = "panamax.cuda.pdl";

    /** Whether {@link #PDL_PROPERTY} is {@code on} and the GPU has programmatic launches; IllegalArgumentException for a value it does not know. */
    boolean programmaticLaunches() {
        String v = System.getProperty(PDL_PROPERTY, "off");
        return switch (v) {
            case "off" -> false;
            case "on" -> gpu.limits().computeCapability() >= 90;
            default -> throw new IllegalArgumentException(PDL_PROPERTY + "=" + v + ": expected off or on");
        };
    }

    private void launch(String file, String kernel, long n, Object... args) {
        if (n == 0) return;
        gpu.makeCurrent();
        start(gpu.modules().function(file, kernel), new int[]{grid(n), 1, 1}, new int[]{THREADS, 1, 1}, 0, args);
    }

    private void launchRows(String file, String kernel, long rows, int threads, Object... args) {
        if (rows == 0) return;
        if (rows > Integer.MAX_VALUE) throw new IllegalArgumentException(kernel + ": " + rows + " rows exceed one grid");
        gpu.makeCurrent();
        start(gpu.modules().function(file, kernel), new int[]{(int) rows, 1, 1}, new int[]{threads, 1, 1}, 0, args);
    }

    /**
     * reduce.cu's SAMPLE_THREADS: sample_rows_f32 takes at most this many threads a row (its
     * __launch_bounds__; with more, its registers would not fit).
     */
    static final int SAMPLE_THREADS = 512;

    /** Threads per row for row kernels: a power of two, 32 to 1024 (common.cuh's ROW_THREADS). */
    private static int rowThreads(long n) {
        int t = 32;
        while (t < 1024 && t < n) t <<= 1;
        return t;
    }

    /** Element type code of copy_strided / fill_strided. */
    static int typeCode(DType t) {
        return switch (t) {
            case F32 -> 0;
            case BF16 -> 1;
            case F16 -> 2;
            case I32 -> 3;
            case I64 -> 4;
            case U8 -> 5;
            case I8 -> 6;
            case F64 -> throw new UnsupportedOperationException("F64 tensors are not supported on CUDA devices (use F32)");
            case F8_E4M3, F8_E5M2 -> throw Tensor.fp8OnDevice(t, "a CUDA device");   // Tensor.outputOn refuses them first
        };
    }

    /**
     * common.cuh's Broadcast struct (two stride arrays) or Broadcast3 (three) for an iteration over
     * {@code dims} with those strides (a null array: all 0); size-1 dims are dropped so that any rank
     * fits when at most 8 dims are larger.
     */
    private static MemorySegment geometry(Arena arena, long[] dims, long[]... strides) {
        MemorySegment g = arena.allocate(8 + (1L + strides.length) * MAX_DIMS * 8, 8);
        int nd = 0;
        for (int d = 0; d < dims.length; d++) {
            if (dims[d] == 1) continue;
            if (nd == MAX_DIMS) throw new UnsupportedOperationException("CUDA elementwise ops take at most " + MAX_DIMS + " non-unit dims, got " + java.util.Arrays.toString(dims));
            g.setAtIndex(ValueLayout.JAVA_LONG, 1 + nd, dims[d]);
            for (int k = 0; k < strides.length; k++) {
                g.setAtIndex(ValueLayout.JAVA_LONG, 1 + (k + 1L) * MAX_DIMS + nd, strides[k] == null ? 0 : strides[k][d]);
            }
            nd++;
        }
        g.set(ValueLayout.JAVA_INT, 0, nd);
        return g;
    }

    private static void requireF32(Tensor t, String op) {
        if (t.dtype != DType.F32) throw new UnsupportedOperationException(op + " on CUDA needs F32, got " + t.dtype);
    }

    /** A contiguous I64 copy of {@code index} in device memory, to release after use. */
    private long indexOnDevice(Tensor index) {
        long n = index.numel();
        long p = allocate(n * 8);
        if (index.backend == null) {
            Tensor h = index.dtype == DType.I64 && index.isContiguous() ? index : index.to(DType.I64);
            upload(h.host().asSlice(h.offset * 8, n * 8), p, n * 8);
        } else {
            Tensor dst = new Tensor(MemorySegment.NULL, this, p, DType.I64, Shape.of(index.dims()), 0, null);
            copy(index, dst);
        }
        return p;
    }

    // ---- ops ------------------------------------------------------------------------------

    @Override
    public void copy(Tensor src, Tensor dst) {
        long n = dst.numel();
        if (n == 0) return;
        if (src.dtype == dst.dtype && src.isContiguous() && dst.isContiguous() && src.numel() == n) {
            // a plain block: the copy engine's device-to-device memcpy
            gpu.makeCurrent();
            Cuda.copyOnDevice(at(dst, 0), at(src, 0), n * dst.dtype.byteSize(), gpu.stream());
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = geometry(a, dst.dims(), src.shape.strides(), dst.shape.strides());
            launch("elementwise.cu", "copy_strided", n, typeCode(src.dtype), at(src, 0), typeCode(dst.dtype), at(dst, 0), g, n);
        }
    }

    @Override
    public void fill(Tensor dst, double v) {
        long n = dst.numel();
        if (n == 0) return;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = geometry(a, dst.dims(), null, dst.shape.strides());
            launch("elementwise.cu", "fill_strided", n, typeCode(dst.dtype), at(dst, 0), g, v, n);
        }
    }

    @Override
    public void unary(UnaryOp op, Tensor a, Tensor out) {
        requireF32(a, "unary " + op);
        long n = out.numel();
        launch("elementwise.cu", "unary_f32", n, unaryCode(op), at(a, 0), at(out, 0), n);
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor gy, Tensor gx) {
        long n = gx.numel();
        launch("elementwise.cu", "unary_backward_f32", n, unaryCode(op), at(x, 0), at(y, 0), at(gy, 0), at(gx, 0), n);
    }

    /** elementwise.cu's U_* codes. */
    static int unaryCode(UnaryOp op) {
        return switch (op) {
            case NEG -> 0;
            case EXP -> 1;
            case LOG -> 2;
            case SQRT -> 3;
            case RSQRT -> 4;
            case SIGMOID -> 5;
            case SILU -> 6;
            case TANH -> 7;
            case ABS -> 8;
            case RELU -> 9;
            case SQUARE -> 10;
            case RECIPROCAL -> 11;
        };
    }

    /** elementwise.cu's B_* codes. */
    static int binaryCode(BinaryOp op) {
        return switch (op) {
            case ADD -> 0;
            case SUB -> 1;
            case MUL -> 2;
            case DIV -> 3;
            case MAX -> 4;
            case MIN -> 5;
            case POW -> 6;
        };
    }

    @Override
    public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        requireF32(a, "binary " + op);
        requireF32(b, "binary " + op);
        long n = out.numel();
        if (n == 0) return;
        try (Arena ar = Arena.ofConfined()) {
            MemorySegment g = geometry(ar, out.dims(), a.shape.strides(), b.shape.strides());
            launch("elementwise.cu", "binary_f32", n, binaryCode(op), at(a, 0), at(b, 0), at(out, 0), g, n);
        }
    }

    @Override
    public void maxMinBackward(BinaryOp op, Tensor a, Tensor b, Tensor gy, Tensor ga, Tensor gb) {
        if (op != BinaryOp.MAX && op != BinaryOp.MIN) throw new IllegalArgumentException("maxMinBackward takes MAX or MIN, got " + op);
        requireF32(a, "the backward of " + op);
        requireF32(b, "the backward of " + op);
        long n = gy.numel();
        if (n == 0 || (ga == null && gb == null)) return;
        try (Arena ar = Arena.ofConfined()) {
            MemorySegment g = geometry(ar, gy.dims(), a.shape.strides(), b.shape.strides());
            launch("elementwise.cu", "max_min_backward_f32", n, binaryCode(op), at(a, 0), at(b, 0), at(gy, 0),
                    ga == null ? 0L : at(ga, 0), gb == null ? 0L : at(gb, 0), g, n);
        }
    }

    @Override
    public void softmaxRows(Tensor x, Tensor out, long rows, long n, boolean log) {
        launchRows("reduce.cu", "softmax_rows_f32", rows, rowThreads(n), at(x, 0), at(out, 0), Math.toIntExact(n), log ? 1 : 0);
    }

    @Override
    public void softmaxBackwardRows(Tensor y, Tensor gy, Tensor gx, long rows, long n, boolean log) {
        launchRows("reduce.cu", "softmax_backward_rows_f32", rows, rowThreads(n), at(y, 0), at(gy, 0), at(gx, 0), Math.toIntExact(n), log ? 1 : 0);
    }

    @Override
    public void rmsNormBackwardRows(Tensor x, Tensor w, Tensor gy, Tensor gx, Tensor gw, long rows, long n, double eps) {
        launchRows("reduce.cu", "rmsnorm_backward_f32", rows, rowThreads(n), at(x, 0), at(w, 0), at(gy, 0), at(gx, 0),
                gw == null ? 0L : at(gw, 0), Math.toIntExact(n), (float) eps);
    }

    @Override
    public void swiglu(Tensor gate, Tensor up, Tensor out, long n) {
        launch("elementwise.cu", "swiglu_f32", n, at(gate, 0), at(up, 0), at(out, 0), n);
    }

    @Override
    public void swigluBackward(Tensor gate, Tensor up, Tensor gy, Tensor gGate, Tensor gUp, long n) {
        launch("elementwise.cu", "swiglu_backward_f32", n, at(gate, 0), at(up, 0), at(gy, 0), at(gGate, 0), at(gUp, 0), n);
    }

    @Override
    public void addRmsNormRows(Tensor x, Tensor d, Tensor w, Tensor h, Tensor out, long rows, long n, double eps) {
        launchRows("reduce.cu", "add_rmsnorm_f32", rows, rowThreads(n), at(x, 0), at(d, 0), at(w, 0), at(h, 0), at(out, 0), Math.toIntExact(n), (float) eps);
    }

    @Override
    public void rmsNormRows(Tensor x, Tensor w, Tensor out, long rows, long n, double eps) {
        if (rows == 0) return;
        long rstd = allocate(rows * 4);
        try {
            launchRows("reduce.cu", "rmsnorm_f32", rows, rowThreads(n), at(x, 0), at(w, 0), at(out, 0), rstd, Math.toIntExact(n), (float) eps);
        } finally {
            release(rstd);
        }
    }

    @Override
    public void crossEntropyRows(Tensor logits, Tensor targets, Tensor loss, Tensor lse, long rows, long cols, long ignoreIndex) {
        launchRows("reduce.cu", "cross_entropy_f32", rows, rowThreads(cols), at(logits, 0), at(targets, 0), at(loss, 0), at(lse, 0),
                Math.toIntExact(cols), ignoreIndex);
    }

    @Override
    public void crossEntropyBackwardRows(Tensor logits, Tensor targets, Tensor lse, Tensor gloss, Tensor glogits, long rows, long cols,
                                         long ignoreIndex, double scale) {
        launchRows("reduce.cu", "cross_entropy_backward_f32", rows, rowThreads(cols), at(logits, 0), at(targets, 0), at(lse, 0),
                at(gloss, 0), at(glogits, 0), Math.toIntExact(cols), ignoreIndex, (float) scale);
    }

    @Override
    public void ropeRows(Tensor x, long ldx, Tensor cos, Tensor sin, long rep, long tableRows, Tensor out, long rows, long half) {
        launch("rope.cu", "rope_rows_f32", rows * half, at(x, 0), ldx, at(cos, 0), at(sin, 0), rep, tableRows, at(out, 0), rows, half);
    }

    @Override
    public void latentKvRows(Tensor kv, long ldkv, Tensor w, double eps, Tensor cos, Tensor sin, Tensor latent, long latentSeqStride,
                             Tensor kRope, long kRopeSeqStride, Tensor pos, long rows, long perSeq, long tableRows, long n, long half) {
        if (latent.dtype != kRope.dtype || (latent.dtype != DType.F32 && latent.dtype != DType.BF16))
            throw new UnsupportedOperationException("latent KV rows into an F32 or BF16 cache, got " + latent.dtype + " and " + kRope.dtype);
        // as many threads as rmsnorm_f32 has for the row, so that the sums meet in the same order
        launchRows("rope.cu", "latent_kv_rows_" + typeSuffix(latent.dtype), rows, rowThreads(n), at(kv, 0), ldkv, at(w, 0), (float) eps,
                at(cos, 0), at(sin, 0), at(latent, 0), latentSeqStride, at(kRope, 0), kRopeSeqStride, pos == null ? 0L : at(pos, 0), Math.toIntExact(perSeq),
                Math.toIntExact(tableRows), Math.toIntExact(n), Math.toIntExact(half));
    }

    @Override
    public void reduceRows(ReduceOp op, Tensor x, Tensor out, long rows, long n) {
        int cols = Math.toIntExact(n);
        if (op == ReduceOp.SUM) {
            launchRows("reduce.cu", "sum_rows_f32", rows, rowThreads(n), at(x, 0), at(out, 0), cols);
            return;
        }
        launchRows("reduce.cu", "argmax_rows_f32", rows, rowThreads(n), at(x, 0), at(out, 0), 0L, cols);
    }

    @Override
    public void topkRows(Tensor x, Tensor vals, Tensor idx, long rows, long n, int k, boolean largest) {
        launchRows("reduce.cu", "topk_rows_f32", rows, rowThreads(n), at(x, 0), at(vals, 0), at(idx, 0), Math.toIntExact(n), k, largest ? 1 : 0);
    }

    @Override
    public void argmaxRows(Tensor x, Tensor out, long rows, long n) {
        launchRows("reduce.cu", "argmax_rows_f32", rows, rowThreads(n), at(x, 0), 0L, at(out, 0), Math.toIntExact(n));
    }

    @Override
    public void sampleRows(Tensor logits, Tensor out, long rows, long n, double temperature, long key) {
        launchRows("reduce.cu", "sample_rows_f32", rows, Math.min(rowThreads(n), SAMPLE_THREADS), at(logits, 0), at(out, 0), Math.toIntExact(n), temperature, key);
    }

    @Override
    public void softmaxTotalRows(Tensor logits, Tensor out, long rows, long n, double temperature) {
        launchRows("reduce.cu", "softmax_total_rows_f32", rows, rowThreads(n), at(logits, 0), at(out, 0), Math.toIntExact(n), temperature);
    }

    @Override
    public void gemm(boolean ta, boolean tb, int m, int n, int k, Tensor a, long aOff, long lda, Tensor b, long bOff, long ldb,
                     Tensor c, long cOff, long ldc, boolean accumulate) {
        if (c.dtype != DType.F32 && (a.dtype != c.dtype || b.dtype != c.dtype)) {
            throw new UnsupportedOperationException("matmul on CUDA writes F32, or the type of two BF16 or F16 operands; got " + a.dtype + " x " + b.dtype + " -> " + c.dtype);
        }
        gpu.makeCurrent();
        long ces = c.dtype.byteSize(), cp = c.devicePointer + cOff * ces;
        if (k == 0) {
            if (!accumulate) for (int i = 0; i < m; i++) Cuda.memset(cp + (long) i * ldc * ces, (byte) 0, (long) n * ces, gpu.stream());
            return;
        }
        if (a.dtype != DType.F32) {
            if (a.dtype != b.dtype || (a.dtype != DType.BF16 && a.dtype != DType.F16)) {
                throw new UnsupportedOperationException("matmul on CUDA takes an F32 left operand, or two of BF16 or F16; got " + a.dtype + " and " + b.dtype);
            }
            int type = cublasType(a.dtype);
            products.run(new CublasProducts.Product(tb, ta, n, m, k, b.devicePointer + bOff * 2, type, (int) Math.max(1, ldb), 0,
                    a.devicePointer + aOff * 2, type, (int) Math.max(1, lda), 0, cp, c.dtype == DType.F32 ? Cublas.R_32F : type, (int) Math.max(1, ldc), 0,
                    1, accumulate ? 1f : 0f));
            return;
        }
        long ap = a.devicePointer + aOff * 4;
        if (b.dtype != DType.F32 && !ta && m <= GEMV_ROWS) {
            // decode: a few rows against 16-bit weights, read once in their own dtype
            gemv16(tb, m, n, k, a, aOff, lda, 0, b, bOff, ldb, 0, c, cOff, ldc, 0, 1, accumulate);
            return;
        }
        long bp;
        long widened = 0;
        long ldbF = ldb;
        if (b.dtype == DType.F32) {
            bp = b.devicePointer + bOff * 4;
        } else {
            // BF16/F16 weights: widen this operand to F32 so that the product is the CPU's F32 product
            // (cuBLAS takes 16-bit inputs only when both operands are 16-bit)
            long rows = tb ? n : k, cols = tb ? k : n;
            widened = widen(b, bOff, 1, 0, rows, cols, ldb);
            bp = widened;
            ldbF = cols;
        }
        try {
            // row-major C (m x n) is column-major C^T (n x m): C^T = op(B)^T op(A)^T
            products.run(new CublasProducts.Product(tb, ta, n, m, k, bp, Cublas.R_32F, (int) Math.max(1, ldbF), 0, ap, Cublas.R_32F, (int) Math.max(1, lda), 0,
                    cp, Cublas.R_32F, (int) Math.max(1, ldc), 0, 1, accumulate ? 1f : 0f));
        } finally {
            if (widened != 0) release(widened);
        }
    }

    /**
     * {@code batch} items of {@code rows x cols} 16-bit values (row stride ld, items {@code stride}
     * apart from element offset {@code off}) widened into a new contiguous F32 block, which the
     * caller releases.
     */
    private long widen(Tensor b, long off, long batch, long stride, long rows, long cols, long ld) {
        long widened = allocate(batch * rows * cols * 4);
        Tensor src = new Tensor(MemorySegment.NULL, this, b.devicePointer, b.dtype,
                Shape.strided(new long[]{batch, rows, cols}, new long[]{stride, ld, 1}), off, null);
        copy(src, new Tensor(MemorySegment.NULL, this, widened, DType.F32, Shape.of(batch, rows, cols), 0, null));
        return widened;
    }

    /** Items of one gemv.cu launch (its grid's y dimension). */
    private static final int GEMV_MAX_ITEMS = 65535;

    /**
     * {@code batch} products of at most {@link #GEMV_ROWS} F32 rows against 16-bit weights in
     * gemv.cu: {@code (n, k)} rows (tb) or a {@code (k, n)} matrix, items {@code sa}, {@code sb},
     * {@code sc} elements apart (sb 0 shares one weight); one launch per {@link #GEMV_MAX_ITEMS} items.
     * The callers have made the context current.
     */
    private void gemv16(boolean tb, int m, int n, int k, Tensor a, long aOff, long lda, long sa, Tensor b, long bOff, long ldb, long sb,
                        Tensor c, long cOff, long ldc, long sc, long batch, boolean accumulate) {
        if (m == 0 || n == 0 || batch == 0) return;   // nothing to write (and no empty grid to launch)
        String kernel = (tb ? "gemv_" : "gemvn_") + (b.dtype == DType.BF16 ? "bf16" : "f16");
        Cuda.Function f = gpu.modules().function("gemv.cu", kernel);
        // gemv_*: one warp per output column; gemvn_*: GEMVN_COLS (64) columns per block of THREADS
        int blocks = tb ? warpBlocks(n) : (n + 63) / 64;
        for (long i = 0; i < batch; i += GEMV_MAX_ITEMS) {
            int items = (int) Math.min(GEMV_MAX_ITEMS, batch - i);
            start(f, new int[]{blocks, items, 1}, new int[]{THREADS, 1, 1}, 0,
                    a.devicePointer + (aOff + i * sa) * 4, lda, sa, b.devicePointer + (bOff + i * sb) * b.dtype.byteSize(), ldb, sb,
                    c.devicePointer + (cOff + i * sc) * 4, ldc, sc, m, n, k, accumulate ? 1 : 0);
        }
    }

    @Override
    public void gemmBatched(boolean ta, boolean tb, int m, int n, int k, Tensor a, long aOff, long lda, long strideA,
                            Tensor b, long bOff, long ldb, long strideB, Tensor c, long cOff, long ldc, long strideC,
                            long batch, boolean accumulate) {
        boolean f32 = a.dtype == DType.F32 && b.dtype == DType.F32;
        boolean sixteen = a.dtype == b.dtype && (a.dtype == DType.BF16 || a.dtype == DType.F16);
        boolean wideBySixteen = a.dtype == DType.F32 && (b.dtype == DType.BF16 || b.dtype == DType.F16) && c.dtype == DType.F32;
        if (k == 0 || batch > Integer.MAX_VALUE || !(f32 || sixteen || wideBySixteen)) {
            // nothing to multiply, or operands only the per-item path takes
            DeviceBackend.super.gemmBatched(ta, tb, m, n, k, a, aOff, lda, strideA, b, bOff, ldb, strideB, c, cOff, ldc, strideC, batch, accumulate);
            return;
        }
        if (c.dtype != DType.F32 && c.dtype != a.dtype) {
            throw new UnsupportedOperationException("matmul on CUDA writes F32, or the type of two BF16 or F16 operands; got " + a.dtype + " x " + b.dtype + " -> " + c.dtype);
        }
        gpu.makeCurrent();
        if (wideBySixteen && !ta && m <= GEMV_ROWS) {
            // a few rows per item against 16-bit weights (the absorbed MLA's per-head products at
            // decode): every item in one gemv.cu launch, the weights read in their own dtype
            gemv16(tb, m, n, k, a, aOff, lda, strideA, b, bOff, ldb, strideB, c, cOff, ldc, strideC, batch, accumulate);
            return;
        }
        long bp = b.devicePointer + bOff * b.dtype.byteSize(), ldbF = ldb, strideBF = strideB, widened = 0;
        int type = cublasType(a.dtype);
        if (wideBySixteen) {
            // F32 against 16-bit weights: every item's weight widened to F32 in one copy (one item
            // when all share it), then one F32 batched product, as the CPU computes it
            long rows = tb ? n : k, cols = tb ? k : n;
            widened = widen(b, bOff, strideB == 0 ? 1 : batch, strideB, rows, cols, ldb);
            bp = widened;
            ldbF = cols;
            strideBF = strideB == 0 ? 0 : rows * cols;
        }
        long es = a.dtype.byteSize();
        try {
            // row-major C_i (m x n) is column-major C_i^T: C_i^T = op(B_i)^T op(A_i)^T, as in gemm
            products.run(new CublasProducts.Product(tb, ta, n, m, k, bp, type, (int) Math.max(1, ldbF), strideBF,
                    a.devicePointer + aOff * es, type, (int) Math.max(1, lda), strideA, c.devicePointer + cOff * c.dtype.byteSize(),
                    c.dtype == DType.F32 ? Cublas.R_32F : type, (int) Math.max(1, ldc), strideC, (int) batch, accumulate ? 1f : 0f));
        } finally {
            if (widened != 0) release(widened);
        }
    }

    /** cuBLAS's element type of an F32, BF16 or F16 operand. */
    private static int cublasType(DType dt) {
        return dt == DType.F32 ? Cublas.R_32F : dt == DType.BF16 ? Cublas.R_16BF : Cublas.R_16F;
    }

    /** Groups per launch of gemv.cu's grouped kernels (GEMV_GROUPS there). */
    static final int GEMV_GROUPS = 32;
    /**
     * The most rows of a group that the grouped gemv takes (in blocks of {@link #GEMV_ROWS}): up
     * to 4 reads of a 16-bit weight (8 bytes an element) against widening it to F32 for cuBLAS
     * (2 read, 4 written, 4 read again) and a second launch.
     */
    static final int GEMV_GROUPED_MAX_ROWS = 4 * GEMV_ROWS;

    /**
     * The experts' products in as few calls as the operands allow: F32 rows against 16-bit weights
     * (weights transposed) in grouped gemv.cu launches of up to {@link #GEMV_GROUPS} blocks of at
     * most {@link #GEMV_ROWS} rows each, for every group of at most {@link #GEMV_GROUPED_MAX_ROWS}
     * rows (decode, and prefill over many experts), larger groups one product each; operands of one
     * type (F32, or 16-bit into their own type) in one {@code cublasGemmGroupedBatchedEx};
     * anything else one product each.
     */
    @Override
    public void gemmGrouped(boolean ta, boolean tb, long lda, long ldb, long ldc, List<GemmItem> items, boolean accumulate) {
        List<GemmItem> work = new ArrayList<>(items.size());
        for (GemmItem it : items) if (it.m() > 0 && it.n() > 0) work.add(it);
        if (work.isEmpty()) return;
        GemmItem first = work.getFirst();
        DType at = first.a().dtype, bt = first.b().dtype, ct = first.c().dtype;
        boolean sameTypes = true, sameNk = true, small = true, positiveK = true;
        for (GemmItem it : work) {
            sameTypes &= it.a().dtype == at && it.b().dtype == bt && it.c().dtype == ct;
            sameNk &= it.n() == first.n() && it.k() == first.k();
            small &= it.m() <= GEMV_ROWS;
            positiveK &= it.k() > 0;
        }
        if (sameTypes && positiveK && sameNk && at == DType.F32 && ct == DType.F32 && (bt == DType.BF16 || bt == DType.F16) && !ta && tb
                && (work.size() > 1 || !small)) {
            // F32 rows against 16-bit weights: groups of up to GEMV_GROUPED_MAX_ROWS rows go to the
            // grouped gemv in blocks of GEMV_ROWS (each block reads its expert's weights once more,
            // which is still less than widening them to F32 for cuBLAS); larger groups one product each
            List<GemmItem> blocks = new ArrayList<>(), large = new ArrayList<>();
            for (GemmItem it : work) {
                if (it.m() > GEMV_GROUPED_MAX_ROWS) {
                    large.add(it);
                    continue;
                }
                for (int r = 0; r < it.m(); r += GEMV_ROWS) {
                    blocks.add(new GemmItem(Math.min(GEMV_ROWS, it.m() - r), it.n(), it.k(), it.a(), it.aOff() + r * lda, it.b(), it.bOff(),
                            it.c(), it.cOff() + r * ldc));
                }
            }
            if (!blocks.isEmpty()) gemvGrouped(blocks, lda, ldb, ldc, accumulate);
            if (!large.isEmpty()) DeviceBackend.super.gemmGrouped(ta, tb, lda, ldb, ldc, large, accumulate);
            return;
        }
        if (work.size() > 1 && sameTypes && positiveK) {
            boolean oneType = at == bt && bt == ct && (at == DType.F32 || at == DType.BF16 || at == DType.F16);
            if (oneType && Cublas.groupedGemmAvailable()) {
                cublasGrouped(ta, tb, lda, ldb, ldc, work, accumulate);
                return;
            }
        }
        DeviceBackend.super.gemmGrouped(ta, tb, lda, ldb, ldc, work, accumulate);
    }

    private void gemvGrouped(List<GemmItem> work, long lda, long ldb, long ldc, boolean accumulate) {
        gpu.makeCurrent();
        GemmItem first = work.getFirst();
        String kernel = first.b().dtype == DType.BF16 ? "gemv_bf16_grouped" : "gemv_f16_grouped";
        Cuda.Function f = gpu.modules().function("gemv.cu", kernel);
        try (Arena a = Arena.ofConfined()) {
            // struct GemvGroups: x, w and y pointers (GEMV_GROUPS each), then the row counts
            MemorySegment groups = a.allocate(GEMV_GROUPS * 3L * 8 + GEMV_GROUPS * 4L, 8);
            for (int from = 0; from < work.size(); from += GEMV_GROUPS) {
                int count = Math.min(GEMV_GROUPS, work.size() - from);
                groups.fill((byte) 0);
                for (int g = 0; g < count; g++) {
                    GemmItem it = work.get(from + g);
                    groups.setAtIndex(ValueLayout.JAVA_LONG, g, it.a().devicePointer + it.aOff() * 4);
                    groups.setAtIndex(ValueLayout.JAVA_LONG, GEMV_GROUPS + g, it.b().devicePointer + it.bOff() * 2);
                    groups.setAtIndex(ValueLayout.JAVA_LONG, 2L * GEMV_GROUPS + g, it.c().devicePointer + it.cOff() * 4);
                    groups.setAtIndex(ValueLayout.JAVA_INT, 6L * GEMV_GROUPS + g, it.m());
                }
                start(f, new int[]{warpBlocks(first.n()), count, 1}, new int[]{THREADS, 1, 1}, 0,
                        groups, lda, ldb, ldc, first.n(), first.k(), accumulate ? 1 : 0);
            }
        }
    }

    private void cublasGrouped(boolean ta, boolean tb, long lda, long ldb, long ldc, List<GemmItem> work, boolean accumulate) {
        gpu.makeCurrent();
        int groups = work.size();
        DType dt = work.getFirst().a().dtype;
        int type = cublasType(dt);
        long es = dt.byteSize();
        int[] m = new int[groups], n = new int[groups], k = new int[groups];
        int[] ldA = new int[groups], ldB = new int[groups], ldC = new int[groups];
        long table = allocate(3L * groups * 8);
        try (Arena a = Arena.ofConfined()) {
            // row-major C_g (m x n) is column-major C_g^T = op(B_g)^T op(A_g)^T, as in gemm: cuBLAS's A
            // array holds our b operands, its B array our a operands
            MemorySegment pointers = a.allocate(ValueLayout.JAVA_LONG, 3L * groups);
            for (int g = 0; g < groups; g++) {
                GemmItem it = work.get(g);
                m[g] = it.n();
                n[g] = it.m();
                k[g] = it.k();
                ldA[g] = (int) Math.max(1, ldb);
                ldB[g] = (int) Math.max(1, lda);
                ldC[g] = (int) Math.max(1, ldc);
                pointers.setAtIndex(ValueLayout.JAVA_LONG, g, it.b().devicePointer + it.bOff() * es);
                pointers.setAtIndex(ValueLayout.JAVA_LONG, groups + g, it.a().devicePointer + it.aOff() * es);
                pointers.setAtIndex(ValueLayout.JAVA_LONG, 2L * groups + g, it.c().devicePointer + it.cOff() * es);
            }
            upload(pointers, table, 3L * groups * 8);
            gpu.cublas().gemmGroupedBatchedEx(tb, ta, m, n, k, 1f, table, type, ldA, table + groups * 8L, type, ldB,
                    accumulate ? 1f : 0f, table + 2L * groups * 8, type, ldC, Cublas.COMPUTE_32F);
        } finally {
            release(table);
        }
    }

    @Override
    public void moeGate(Tensor logits, Tensor bias, Tensor idx, Tensor w, long tokens, int experts, Functional.GateSpec spec) {
        launchRows("moe.cu", "gate_topk_f32", tokens, 32, at(logits, 0), bias == null ? 0L : at(bias, 0), at(idx, 0), at(w, 0),
                experts, spec.topk(), spec.groups(), spec.topkGroups(), spec.sigmoid() ? 1 : 0, spec.normalize() ? 1 : 0,
                (float) spec.scale());
    }

    @Override
    public void moeGateBackward(Tensor logits, Tensor idx, Tensor gw, Tensor glogits, long tokens, int experts, Functional.GateSpec spec) {
        launch("moe.cu", "gate_topk_backward_f32", tokens, at(logits, 0), at(idx, 0), at(gw, 0), at(glogits, 0),
                Math.toIntExact(tokens), experts, spec.topk(), spec.sigmoid() ? 1 : 0, spec.normalize() ? 1 : 0, (float) spec.scale());
    }

    @Override
    public void moeUnpermute(Tensor y, Tensor pos, Tensor w, Tensor out, long tokens, long k, long dim) {
        if (tokens * dim == 0) return;
        try (DeviceIndex p = new DeviceIndex(pos, true)) {
            launch("moe.cu", "moe_unpermute_f32", tokens * dim, at(y, 0), p.pointer, at(w, 0), at(out, 0), tokens, Math.toIntExact(k), dim);
        }
    }

    @Override
    public void moeUnpermuteBackward(Tensor y, Tensor pos, Tensor w, Tensor gout, Tensor gy, Tensor gw, long tokens, long k, long dim) {
        if (tokens == 0) return;
        try (DeviceIndex p = new DeviceIndex(pos, true)) {
            launchRows("moe.cu", "moe_unpermute_backward_f32", tokens, rowThreads(dim), at(y, 0), p.pointer, at(w, 0), at(gout, 0), at(gy, 0),
                    at(gw, 0), Math.toIntExact(k), dim);
        }
    }

    @Override
    public void gemvSwiglu(Tensor x, Tensor w1, Tensor w3, Tensor h, long m, long n, long k) {
        if (m == 0 || n == 0) return;
        launchWarpPerColumn("gemv_swiglu_" + typeSuffix(w1.dtype), (int) n, 1, at(x, 0), k, at(w1, 0), at(w3, 0), k, at(h, 0), n, (int) m, (int) n, (int) k);
    }

    /** Blocks of {@link #THREADS} threads for one warp per column of n (gemv.cu's layout). */
    private static int warpBlocks(int n) {
        return (n + THREADS / 32 - 1) / (THREADS / 32);
    }

    /** Launches a gemv.cu kernel with one warp per column of n, over {@code rows} grid rows. */
    private void launchWarpPerColumn(String kernel, int n, int rows, Object... args) {
        gpu.makeCurrent();
        start(gpu.modules().function("gemv.cu", kernel), new int[]{warpBlocks(n), rows, 1}, new int[]{THREADS, 1, 1}, 0, args);
    }

    /** The suffix of gemv.cu's kernels for weights of an F32, BF16 or F16 type. */
    private static String typeSuffix(DType weights) {
        return weights == DType.BF16 ? "bf16" : weights == DType.F16 ? "f16" : "f32";
    }

    /** Threads of moe.cu's moe_route_plan (one block). */
    private static final int PLAN_THREADS = 256;

    /**
     * The routed experts from a routing on the device, in four launches and no host round trip:
     * moe.cu's moe_route_plan groups the pairs by expert (its plan is 2 + 2E + pairs ints, see
     * common.cuh), gemv.cu's moe_gemv_swiglu_* and moe_gemv_down_* run every expert used (one
     * grid row each, at most min(pairs, E) rows), and moe_combine_f32 weights the pairs onto their
     * tokens and adds base.
     */
    @Override
    public void moeExperts(Tensor x, Tensor chosen, Tensor w, Tensor base, Tensor out, Tensor[] gate, Tensor[] up, Tensor[] down, Tensor table,
                           long tokens, int k) {
        long pairs = tokens * k;
        if (pairs == 0) return;
        int experts = gate.length, inner = Math.toIntExact(gate[0].dim(0)), c = Math.toIntExact(gate[0].dim(1));
        // scratch, returned after the queued launches that use it: the plan, then h (pairs, inner) and y (pairs, c)
        long plan = allocate((2L * experts + 2 + pairs) * 4), h = allocate(pairs * inner * 4), y = allocate(pairs * c * 4);
        try {
            gpu.makeCurrent();
            start(gpu.modules().function("moe.cu", "moe_route_plan"), new int[]{1, 1, 1}, new int[]{PLAN_THREADS, 1, 1}, 0,
                    at(chosen, 0), (int) pairs, experts, plan);
            String type = typeSuffix(gate[0].dtype);
            int groups = (int) Math.min(pairs, experts);
            long tp = at(table, 0);
            launchWarpPerColumn("moe_gemv_swiglu_" + type, inner, groups, at(x, 0), (long) c, k, plan, experts, tp, tp + experts * 8L, (long) c,
                    h, (long) inner, inner, c);
            launchWarpPerColumn("moe_gemv_down_" + type, c, groups, h, (long) inner, plan, experts, tp + 2L * experts * 8, (long) inner,
                    y, (long) c, c, inner);
            launch("moe.cu", "moe_combine_f32", tokens * c, y, at(chosen, 0), experts, at(w, 0), base == null ? 0L : at(base, 0), at(out, 0),
                    tokens, k, (long) c);
        } finally {
            release(plan);
            release(h);
            release(y);
        }
    }

    /** Launches an embedding.cu kernel whose second argument is {@code index} as I64 device memory. */
    private void launchWithIndex(String kernel, long n, Tensor first, Tensor index, Tensor out, Object... sizes) {
        if (n == 0) return;
        try (DeviceIndex idx = new DeviceIndex(index, true)) {
            Object[] args = new Object[3 + sizes.length];
            args[0] = at(first, 0);
            args[1] = idx.pointer;
            args[2] = at(out, 0);
            System.arraycopy(sizes, 0, args, 3, sizes.length);
            launch("embedding.cu", kernel, n, args);
        }
    }

    @Override
    public void indexSelectRows(Tensor x, Tensor index, Tensor out, long n, long dim, long rows) {
        String kernel = switch (x.dtype) {
            case F32 -> "index_select_rows_f32";
            case BF16 -> "index_select_rows_bf16";
            case F16 -> "index_select_rows_f16";
            default -> throw new UnsupportedOperationException("row gather of " + x.dtype + " on CUDA (F32, BF16 or F16)");
        };
        launchWithIndex(kernel, n * dim, x, index, out, n, dim, rows);
    }

    @Override
    public void indexAddRows(Tensor src, Tensor index, Tensor out, long n, long dim, long rows) {
        launchWithIndex("index_add_rows_f32", n * dim, src, index, out, n, dim, rows);
    }

    /**
     * An I64 index in device memory: a device I64 tensor read where it is (if {@code contiguous},
     * only a contiguous one), else a contiguous copy (an upload of a host index), released by close.
     */
    private final class DeviceIndex implements AutoCloseable {
        final long pointer;
        final long[] strides;
        private final boolean owned;

        DeviceIndex(Tensor index, boolean contiguous) {
            owned = index.backend != CudaBackend.this || index.dtype != DType.I64 || contiguous && !index.isContiguous();
            pointer = owned ? indexOnDevice(index) : at(index, 0);
            strides = owned ? Shape.of(index.dims()).strides() : index.shape.strides();
        }

        @Override
        public void close() {
            if (owned) release(pointer);
        }
    }

    /** x's strides with dim d's set to 0: the part of an offset that an index along d does not decide. */
    private static long[] stridesBesides(Tensor x, int d) {
        long[] s = x.shape.strides();
        s[d] = 0;
        return s;
    }

    @Override
    public void gather(Tensor x, int d, Tensor index, Tensor out) {
        long n = out.numel();
        if (n == 0) return;
        long fill = switch (x.dtype) {   // what an index out of range gives: NaN, or 0 for integers
            case F32 -> Float.floatToRawIntBits(Float.NaN);
            case BF16 -> 0x7fc0;
            case F16 -> 0x7e00;
            default -> 0;
        };
        try (DeviceIndex idx = new DeviceIndex(index, false); Arena ar = Arena.ofConfined()) {
            MemorySegment g = geometry(ar, index.dims(), stridesBesides(x, d), idx.strides);
            launch("embedding.cu", "gather_strided", n, x.dtype.byteSize(), at(x, 0), idx.pointer, at(out, 0), g,
                    x.shape.stride(d), x.dim(d), fill, n);
        }
    }

    @Override
    public void scatterAdd(Tensor src, int d, Tensor index, Tensor out) {
        requireF32(src, "scatterAdd");
        requireF32(out, "scatterAdd");
        long k = index.dim(d);
        if (index.numel() == 0) return;
        long[] lines = index.dims();
        lines[d] = 1;
        try (DeviceIndex idx = new DeviceIndex(index, false); Arena ar = Arena.ofConfined()) {
            MemorySegment g = geometry(ar, lines, out.shape.strides(), idx.strides, src.shape.strides());
            launch("embedding.cu", "scatter_add_strided_f32", index.numel() / k, at(src, 0), idx.pointer, at(out, 0), g,
                    out.shape.stride(d), out.dim(d), idx.strides[d], src.shape.stride(d), k, index.numel() / k);   // a thread a line
        }
    }

    @Override
    public void where(Tensor cond, Tensor a, Tensor b, Tensor out) {
        long n = out.numel();
        if (n == 0) return;
        try (Arena ar = Arena.ofConfined()) {
            MemorySegment g = geometry(ar, out.dims(), cond.shape.strides(), a.shape.strides(), b.shape.strides());
            launch("elementwise.cu", "where_strided", n, typeCode(cond.dtype), at(cond, 0), typeCode(a.dtype), at(a, 0),
                    typeCode(b.dtype), at(b, 0), typeCode(out.dtype), at(out, 0), g, n);
        }
    }

    @Override
    public void adamw(Tensor w, Tensor g, Tensor m, Tensor v, long n, OptimizerKernels.AdamWStep s) {
        launch("optim.cu", "adamw_f32", n, at(w, 0), at(g, 0), at(m, 0), at(v, 0), n, s.decay(), s.beta1(), s.oneMinusBeta1(),
                s.beta2(), s.oneMinusBeta2(), s.stepSize(), s.bc2Sqrt(), s.eps());
    }

    @Override
    public void sgd(Tensor w, Tensor g, Tensor buf, long n, OptimizerKernels.SgdStep s) {
        launch("optim.cu", "sgd_f32", n, at(w, 0), at(g, 0), buf == null ? 0L : at(buf, 0), n, s.lr(), s.momentum(),
                s.oneMinusDampening(), s.weightDecay(), s.nesterov() ? 1 : 0, s.first() ? 1 : 0);
    }

    /** mla_decode.cu's limits: heads per block, latent width and latent + rope width of its shared tiles. */
    static final int MLA_HEADS_PER_BLOCK = 8, MLA_MAX_R = 512, MLA_MAX_D = 576;
    /** mla_decode.cu's tensor-core kernels: positions per cache tile, and the padding of each shared row (BF16 elements). */
    static final int MLA_TILE = 32, MLA_PAD = 8;

    /** The longest ring of cache tiles (F32: half tiles) the ring kernels take (MLA_RING_MAX in mla_decode.cu). */
    static final int MLA_RING_MAX = 6;

    /**
     * The dynamic shared memory of mla_decode_tc16/tc64 ({@code stages} 2) and tc16r (a ring of
     * {@code stages} tiles), and with {@code f32Cache} of mla_decode_tc16_f32/tc32_f32 ({@code stages}
     * 2 F32 half tiles in flight) and tc16r_f32 (a ring of {@code stages} of them) (mla_tc_smem_bytes in mla_decode.cu).
     */
    static int mlaTensorCoreSharedBytes(int headsPerBlock, int d, int warpsPerMTile, boolean f32Cache, int stages) {
        int parts = f32Cache ? 2 : 1;
        return (f32Cache ? stages * 2 * MLA_TILE * d : 0) + 2 * (parts * headsPerBlock + (f32Cache ? 2 : stages) * MLA_TILE) * (d + MLA_PAD)
                + 2 * parts * headsPerBlock * (MLA_TILE + MLA_PAD) + 2 * 4 * warpsPerMTile * headsPerBlock;
    }

    /**
     * The dynamic shared memory of mla_decode_ks16/ks32/ks64 ({@code stages} 2) and ks16r (a ring of
     * {@code stages}) (mla_ks_smem_bytes in mla_decode.cu): the cache tiles and each warp's partial scores.
     */
    static int mlaSplitKSharedBytes(int mTiles, int warpsPerMTile, int d, int stages) {
        return 2 * stages * MLA_TILE * (d + MLA_PAD) + mTiles * warpsPerMTile * 32 * 16 * 4;
    }

    /**
     * The dynamic shared memory of mla_decode_wg64 ({@code stages} 2) and wg64r (a ring of
     * {@code stages}) (mla_wg_smem_bytes in mla_decode.cu): 64 query rows, the cache tiles, partial scores.
     */
    static int mlaWarpgroupSharedBytes(int d, int stages) {
        return 2 * (64 + stages * MLA_TILE) * d + 256 * 16 * 4;
    }

    /** Positions a cache tile of mla_decode_wg64s (MLA_TS in mla_decode.cu). */
    static final int MLA_SPLIT_TILE = 64;

    /**
     * The dynamic shared memory of mla_decode_wg64s (mla_wgs_smem_bytes in mla_decode.cu): 64 query
     * rows, two cache tiles of {@link #MLA_SPLIT_TILE} positions, the weights (64 x {@link #MLA_SPLIT_TILE} BF16),
     * 64 rescale factors and 64 sums; 229,888 bytes at latent 512 + rope 64.
     */
    static int mlaWarpgroupSplitSharedBytes(int d) {
        return 2 * (64 + 2 * MLA_SPLIT_TILE) * d + 2 * 64 * MLA_SPLIT_TILE + 2 * 64 * 4;
    }

    /**
     * Rows a cache tile of mla_decode_wt16/wt32/wt64 and wt16_f32/wt32_f32 (MLA_TT in mla_decode.cu): the 64 rows of
     * their products, 64 positions over a BF16 cache, 32 over an F32 one (each position's high and low BF16 parts).
     */
    static final int MLA_TRANSPOSED_TILE = 64;

    /**
     * The dynamic shared memory of mla_decode_wt16/wt32/wt64 and, with {@code f32Cache}, of wt16_f32/wt32_f32
     * (mla_wt_smem_bytes in mla_decode.cu): the queries of a block's {@code headsPerBlock} heads, two cache
     * tiles of {@link #MLA_TRANSPOSED_TILE} rows, the weights ({@link #MLA_TRANSPOSED_TILE} x heads, BF16) and
     * two sets of four warps' column maxima for each 16 or 32 heads' consumer warpgroup, the queries and
     * the weights twice (high and low parts) over an F32 cache; at latent 512 + rope 64 168,448 bytes (wt16),
     * 189,440 (wt32), 231,424 (wt64, 1,024 under an H100's 227 KiB), 188,928 (wt16_f32) and 230,400 (wt32_f32).
     */
    static int mlaWarpgroupTransposedSharedBytes(int headsPerBlock, int d, boolean f32Cache) {
        int parts = f32Cache ? 2 : 1;
        return 2 * (parts * headsPerBlock + 2 * MLA_TRANSPOSED_TILE) * d + parts * 2 * MLA_TRANSPOSED_TILE * headsPerBlock + 2 * 4 * headsPerBlock * 4;
    }

    /**
     * How a tensor-core MLA kernel divides the work: {@code TC} splits the score product over
     * positions (mma.sync), {@code KS} over k with the queries in registers (mma.sync),
     * {@code WG} over k between two warpgroups (wgmma, sm_90a only, latent 512 + rope 64 only),
     * {@code WG_SPLIT} FlashMLA's division (wgmma): one warpgroup takes the whole scores and the
     * softmax and hands the weights to the other through shared memory, each multiplies them into
     * half the latent columns; {@code WG_TRANSPOSED} (wgmma) puts a tile's 64 positions (over an
     * F32 cache 32, each as its high and low BF16 rows) on the products' rows and a consumer
     * warpgroup's 16 or 32 heads on their columns, one or two consumers multiplying (each with its own
     * heads) and one warpgroup loading.
     */
    enum MlaKind { TC, KS, WG, WG_SPLIT, WG_TRANSPOSED }

    /**
     * A tensor-core MLA decode kernel of mla_decode.cu: its name, m-tiles of 16 heads and warps per
     * m-tile (for wt16, wt32 and wt64, which have no m-tiles, the same products: 16, 32 or 64 heads a block, 256, 256 or 384
     * threads; wt16_f32 and wt32_f32 as wt16 and wt32), its kind, how many of its blocks an SM holds at latent 512 + rope 64 on sm_90 (from its
     * shared memory and, for ks32, ks64 and wg64, its registers: 172, 255 and 184 a
     * thread, by ptxas), whether it reads an F32 cache (its products split into BF16 parts) or a
     * BF16 one, and whether its loads go round a ring of as many buffers as the GPU's shared memory
     * holds (3 to {@link #MLA_RING_MAX}; tc16r, ks16r and wg64r: tiles, tc16r_f32: F32 half tiles) instead of two.
     */
    record MlaKernel(String name, int mTiles, int warpsPerMTile, MlaKind kind, int blocksPerSm, boolean f32Cache, boolean ring) {
        MlaKernel(String name, int mTiles, int warpsPerMTile, MlaKind kind, int blocksPerSm) {
            this(name, mTiles, warpsPerMTile, kind, blocksPerSm, false, false);
        }

        /** A ring kernel (one block an SM: the ring takes the shared memory). */
        static MlaKernel ring(String name, int mTiles, int warpsPerMTile, MlaKind kind, boolean f32Cache) {
            return new MlaKernel(name, mTiles, warpsPerMTile, kind, 1, f32Cache, true);
        }

        int headsPerBlock() {
            return 16 * mTiles;
        }

        /**
         * Whether it can merge its splits in its tail ({@link #MLA_MERGE_PROPERTY}): every kind but the
         * k-split kernels, two of which (ks16, ks64) spill registers with the tail compiled in.
         */
        boolean mergesInItsTail() {
            return kind != MlaKind.KS;
        }

        int threads() {
            return 32 * mTiles * warpsPerMTile;
        }

        /** Its dynamic shared memory at latent + rope width d on a GPU that allows a block sharedLimit bytes (a ring kernel takes all it can use). */
        int sharedBytes(int d, int sharedLimit) {
            return sharedBytesWith(d, ring ? ringStages(d, sharedLimit) : 2);
        }

        /** Its dynamic shared memory at latent + rope width d with a ring of {@code stages} (tiles, over an F32 cache half tiles; 2 but for the ring kernels). */
        private int sharedBytesWith(int d, int stages) {
            return switch (kind) {
                case TC -> mlaTensorCoreSharedBytes(headsPerBlock(), d, warpsPerMTile, f32Cache, stages);
                case KS -> mlaSplitKSharedBytes(mTiles, warpsPerMTile, d, stages);
                case WG -> mlaWarpgroupSharedBytes(d, stages);
                case WG_SPLIT -> mlaWarpgroupSplitSharedBytes(d);
                case WG_TRANSPOSED -> mlaWarpgroupTransposedSharedBytes(headsPerBlock(), d, f32Cache);
            };
        }

        /** Whether this kernel takes a cache of this type, latent r + rope p, on a GPU of this compute capability and opt-in shared memory. */
        boolean applies(DType cache, int r, int p, int computeCapability, int sharedLimit) {
            if (f32Cache != (cache == DType.F32)) return false;
            boolean warpgroups = kind == MlaKind.WG || kind == MlaKind.WG_SPLIT || kind == MlaKind.WG_TRANSPOSED;
            if (warpgroups && (computeCapability != 90 || r != 512 || p != 64)) return false;
            if (ring && ringStages(r + p, sharedLimit) < 3) return false;   // a ring of two is the kernel without one
            return sharedBytes(r + p, sharedLimit) <= sharedLimit;
        }

        /** The ring's tiles: as many as sharedLimit holds beyond the rest, at most {@link #MLA_RING_MAX} (the kernel derives the same from its shared bytes). */
        private int ringStages(int d, int sharedLimit) {
            int rest = sharedBytesWith(d, 0);
            int unit = f32Cache || kind == MlaKind.WG ? 2 * MLA_TILE * d : 2 * MLA_TILE * (d + MLA_PAD);   // an F32 half tile, an unpadded (swizzled) BF16 tile, a padded one
            return Math.clamp((sharedLimit - rest) / unit, 0, MLA_RING_MAX);
        }
    }

    /**
     * The default kernels ({@link #tensorCoreMla}): over a BF16 cache wg64s where it applies (sm_90, latent 512 + rope 64),
     * else tc64 above 16 heads and tc16; over an F32 cache tc32_f32, else tc16_f32. On an H100 (session 27) wg64s was the
     * fastest over a BF16 cache at every shape GpuBench times (even with tc16 at 16 heads and 8192 positions): 1.05-1.49x
     * tc16 at 16 heads and 1.84-1.96x tc64 at 128. tc32_f32 was the fastest over an F32 cache, 1.10-1.18x tc16_f32 at 16
     * heads (bench/RESULTS.md).
     */
    private static final MlaKernel MLA_WG64S = new MlaKernel("mla_decode_wg64s", 4, 2, MlaKind.WG_SPLIT, 1),
            MLA_TC16 = new MlaKernel("mla_decode_tc16", 1, 4, MlaKind.TC, 2),
            MLA_TC64 = new MlaKernel("mla_decode_tc64", 4, 2, MlaKind.TC, 1),
            MLA_TC16_F32 = new MlaKernel("mla_decode_tc16_f32", 1, 4, MlaKind.TC, 1, true, false),
            MLA_TC32_F32 = new MlaKernel("mla_decode_tc32_f32", 2, 4, MlaKind.TC, 1, true, false);

    /** Auto's kernels in the order it tries them: over an F32 cache; over a BF16 one at up to 16 heads; above 16. */
    private static final List<MlaKernel> MLA_DEFAULTS_F32 = List.of(MLA_TC32_F32, MLA_TC16_F32),
            MLA_DEFAULTS_BF16 = List.of(MLA_WG64S, MLA_TC16), MLA_DEFAULTS_BF16_WIDE = List.of(MLA_WG64S, MLA_TC64, MLA_TC16);

    static final List<MlaKernel> MLA_KERNELS = List.of(MLA_TC16, MLA_TC64, MLA_TC16_F32, MLA_TC32_F32,
            MlaKernel.ring("mla_decode_tc16r", 1, 4, MlaKind.TC, false), MlaKernel.ring("mla_decode_tc16r_f32", 1, 4, MlaKind.TC, true),
            new MlaKernel("mla_decode_ks16", 1, 4, MlaKind.KS, 2), MlaKernel.ring("mla_decode_ks16r", 1, 4, MlaKind.KS, false), new MlaKernel("mla_decode_ks32", 2, 4, MlaKind.KS, 1),
            new MlaKernel("mla_decode_ks64", 4, 2, MlaKind.KS, 1), new MlaKernel("mla_decode_wg64", 4, 2, MlaKind.WG, 1),
            MlaKernel.ring("mla_decode_wg64r", 4, 2, MlaKind.WG, false), MLA_WG64S,
            new MlaKernel("mla_decode_wt16", 1, 8, MlaKind.WG_TRANSPOSED, 1), new MlaKernel("mla_decode_wt32", 2, 4, MlaKind.WG_TRANSPOSED, 1),
            new MlaKernel("mla_decode_wt64", 4, 3, MlaKind.WG_TRANSPOSED, 1),
            new MlaKernel("mla_decode_wt16_f32", 1, 8, MlaKind.WG_TRANSPOSED, 1, true, false),
            new MlaKernel("mla_decode_wt32_f32", 2, 4, MlaKind.WG_TRANSPOSED, 1, true, false));

    /**
     * System property naming the tensor-core MLA decode kernel to use where it applies (one of
     * {@link #MLA_KERNELS}' names; a kernel for the other cache type does not apply), {@code auto},
     * the default (over a BF16 cache wg64s on sm_90, else tc16, or tc64 above 16 heads; over an F32 cache tc32_f32, else
     * tc16_f32), {@code scalar}: the CUDA-core kernels
     * mla_decode_f32/bf16 that run where no tensor-core kernel applies, or {@code tune}: the
     * fastest on this GPU of every kernel that applies (and whose result agrees with the CUDA-core
     * one's) and the CUDA-core one, where the decode splits its sequence each kernel that can merge in its tail
     * also with that merge ({@link #MLA_MERGE_PROPERTY} auto), timed on the first call of each shape ({@link #mlaTuned}). For comparing the kernels on a GPU (GpuBench's
     * {@code mla} parameter); read on every call.
     */
    static final String MLA_KERNEL_PROPERTY = "panamax.cuda.mlaKernel";

    /** {@link #MLA_KERNEL_PROPERTY}'s value for the CUDA-core kernels. */
    static final String MLA_SCALAR = "scalar";

    /** {@link #MLA_KERNEL_PROPERTY}'s value that times the kernels and keeps the fastest for each shape. */
    static final String MLA_TUNE = "tune";

    /**
     * Where {@link #MLA_TUNE} and {@link CublasProducts#TUNE} report each choice, with every candidate's
     * time (INFO: once a shape, only when asked for).
     */
    static final System.Logger TUNING_LOG = System.getLogger("dev.panamax.runtime.cuda.tuning");

    /** Timed launches of each candidate when tuning, after one untimed (the fastest counts). */
    private static final int MLA_TUNE_ROUNDS = 3;

    /**
     * What {@link #MLA_TUNE} compares a decode by: the cache's type, batch, heads, latent and rope
     * widths, and the length (the most, with device positions) rounded up to a power of two.
     */
    record MlaShape(DType cache, int batch, int heads, int r, int p, int lengthLog2) {
        static MlaShape of(DType cache, int batch, int heads, int r, int p, long len) {
            return new MlaShape(cache, batch, heads, r, p, 64 - Long.numberOfLeadingZeros(Math.max(1, len) - 1));
        }
    }

    /** The run ({@link MlaRun#name}) {@link #MLA_TUNE} measured fastest for each shape; {@link #MLA_SCALAR} for the CUDA-core kernel. */
    private final ConcurrentHashMap<MlaShape, String> mlaTuned = new ConcurrentHashMap<>();

    /** Each candidate's time when {@link #MLA_TUNE} timed a shape: microseconds a decode by run name, in the order timed. */
    private final ConcurrentHashMap<MlaShape, Map<String, Double>> mlaTuneTimes = new ConcurrentHashMap<>();

    /** The run tuning chose for {@code shape} ({@link MlaRun#name}: {@link #MLA_SCALAR} for the CUDA-core kernel), or null where it has not been tuned. */
    String mlaTuned(MlaShape shape) {
        return mlaTuned.get(shape);
    }

    /** The candidates tuning timed for {@code shape}, each with its microseconds a decode (for tests); null where it has not timed it. */
    Map<String, Double> mlaTuneTimes(MlaShape shape) {
        return mlaTuneTimes.get(shape);
    }

    /** Sets the choice for {@code shape} as if tuning had made it (for tests: on the simulator tuning picks the CUDA-core kernel). */
    void mlaTuned(MlaShape shape, String kernel) {
        mlaTuned.put(shape, kernel);
    }

    /**
     * System property fixing how many splits of the sequence an MLA decode runs (each split a block
     * per head block and sequence, merged by mla_decode_combine; one split writes its output in
     * place), at most one per cache tile; unset or {@code auto}, the default, picks one wave of
     * blocks. For tuning and for tests that need many tiles in one split; read on every call.
     */
    static final String MLA_SPLITS_PROPERTY = "panamax.cuda.mlaSplits";

    /**
     * System property choosing how a tensor-core MLA decode of several splits merges them:
     * {@code kernel}: mla_decode_combine, a second kernel over every head; {@code auto} (the default):
     * the same, but that under {@link #MLA_TUNE} both ways are timed; {@code tail}: the
     * decode kernel's own tail, where the last block of each sequence and head block to finish merges
     * that block's heads (mla_tail_merge in mla_decode.cu), so that no second kernel runs. The tail
     * takes kernels but the k-split ones ({@link MlaKernel#mergesInItsTail}), at most {@link #MLA_TAIL_SPLITS} splits, {@link #MLA_TAIL_COUNTERS} sequences times head
     * blocks, and a decode outside a graph capture first (which makes its counters); elsewhere the
     * kernel merges. Read on every call. The tail is not yet timed on a GPU (bench/RESULTS.md, session 31).
     */
    static final String MLA_MERGE_PROPERTY = "panamax.cuda.mlaMerge";

    /** The most splits mla_tail_merge merges (MLA_TAIL_SPLITS in mla_decode.cu: its shared factors are sized for them). */
    static final int MLA_TAIL_SPLITS = 8;

    /** Counters of the tail merge, one a sequence and head block of a decode. */
    static final int MLA_TAIL_COUNTERS = 1 << 14;

    /** {@link #MLA_MERGE_PROPERTY}'s value: auto, kernel or tail; IllegalArgumentException for a value it does not know. */
    static String mlaMerge() {
        String v = System.getProperty(MLA_MERGE_PROPERTY, "auto").strip();
        return switch (v) {
            case "auto", "kernel", "tail" -> v;
            default -> throw new IllegalArgumentException(MLA_MERGE_PROPERTY + "=" + v + ": expected auto, kernel or tail");
        };
    }

    /**
     * How an MLA decode runs: a tensor-core kernel (null: the CUDA-core one) and whether its tail
     * merges the splits where its launch has several and it can ({@link #MLA_MERGE_PROPERTY}); named
     * as {@link #mlaTuned} keeps it: the kernel's name ({@link #MLA_SCALAR} for the CUDA-core one),
     * then {@link #TAIL} for the tail merge.
     */
    record MlaRun(MlaKernel kernel, boolean tail) {
        /** What ends the name of a run whose tail merges. */
        static final String TAIL = "+tail";

        String name() {
            return (kernel == null ? MLA_SCALAR : kernel.name()) + (tail ? TAIL : "");
        }

        /** The run {@code name} names; IllegalArgumentException where its kernel is none of {@link #MLA_KERNELS}. */
        static MlaRun named(String name) {
            boolean tail = name.endsWith(TAIL);
            String kernel = tail ? name.substring(0, name.length() - TAIL.length()) : name;
            return new MlaRun(kernel.equals(MLA_SCALAR) ? null : mlaKernel(kernel), tail);
        }
    }

    /**
     * The tail merge's counters ({@link #MLA_TAIL_COUNTERS} words of device memory, zero between
     * launches: the last block of each merge sets its own back), made and zeroed on the stream on
     * first use and kept, like the backend, for the life of the JVM (outside the caching allocator,
     * whose live bytes tests watch); 0 where they are not made yet and a graph is being captured (its
     * replays would need them to outlive it, and a capture cannot make them).
     */
    private long mlaTailCounters() {
        long c = mlaTailCounters;
        if (c != 0 || gpu.capturing()) return c;
        synchronized (this) {
            if (mlaTailCounters == 0) {
                gpu.makeCurrent();
                long p = Cuda.malloc(4L * MLA_TAIL_COUNTERS);
                Cuda.memset(p, (byte) 0, 4L * MLA_TAIL_COUNTERS, gpu.stream());   // before any launch queued after it
                mlaTailCounters = p;
            }
            return mlaTailCounters;
        }
    }

    private volatile long mlaTailCounters;

    /** Tensor-core MLA decodes whose tail merged their splits (tests: that {@link #MLA_MERGE_PROPERTY} took effect). */
    private final java.util.concurrent.atomic.LongAdder mlaTailMerges = new java.util.concurrent.atomic.LongAdder();

    long mlaTailMerges() {
        return mlaTailMerges.sum();
    }

    /** The split count {@link #MLA_SPLITS_PROPERTY} fixes for a sequence of {@code len} positions, or 0 for auto. */
    static int mlaSplits(long len) {
        String v = System.getProperty(MLA_SPLITS_PROPERTY, "auto");
        if (v.equals("auto")) return 0;
        int n;
        try {
            n = Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            n = 0;
        }
        if (n < 1) throw new IllegalArgumentException(MLA_SPLITS_PROPERTY + "=" + v + ": expected auto or a positive number of splits");
        return (int) Math.min(n, Math.max(1, Math.ceilDiv(len, MLA_TILE)));
    }

    static MlaKernel mlaKernel(String name) {
        for (MlaKernel k : MLA_KERNELS) if (k.name().equals(name)) return k;
        throw new IllegalArgumentException(MLA_KERNEL_PROPERTY + "=" + name + " names no MLA decode kernel; known: auto, " + MLA_TUNE + ", " + MLA_SCALAR + ", "
                + mlaKernelNames());
    }

    /** The names of {@link #MLA_KERNELS}, comma-separated (for the messages that list them). */
    private static String mlaKernelNames() {
        return MLA_KERNELS.stream().map(MlaKernel::name).collect(java.util.stream.Collectors.joining(", "));
    }

    /**
     * The tensor-core kernel for this MLA decode: the one {@code named} ({@link #MLA_KERNEL_PROPERTY}'s
     * value, not {@link #MLA_TUNE}) names where it applies, else the first default that applies ({@link #MLA_WG64S}): over a BF16 cache
     * wg64s, then tc64 for more than 16 heads, then tc16; over an F32 cache tc32_f32, then tc16_f32; null where none does (other widths, unaligned rows, a GPU
     * before sm_80, too little shared memory: over an F32 cache tc16_f32 needs 185 KiB at latent 512 + rope 64)
     * or {@code named} is {@code scalar}, and mla_decode_f32/bf16 run.
     */
    private MlaKernel tensorCoreMla(Tensor latent, Tensor kRope, int h, int r, int p, String named) {
        if (!tensorCoresMayApply(latent, kRope, r, p) || named.equals(MLA_SCALAR)) return null;
        if (!named.equals("auto")) {
            MlaKernel k = mlaKernel(named);
            if (appliesHere(k, latent.dtype, r, p)) return k;
        }
        List<MlaKernel> defaults = latent.dtype == DType.F32 ? MLA_DEFAULTS_F32 : h > 16 ? MLA_DEFAULTS_BF16_WIDE : MLA_DEFAULTS_BF16;
        for (MlaKernel k : defaults) if (appliesHere(k, latent.dtype, r, p)) return k;
        return null;
    }

    /**
     * Whether kernel k takes this cache type, latent r and rope p on this GPU (its compute capability and opt-in shared memory), and
     * {@link #MLA_EXCLUDE_PROPERTY} does not name it.
     */
    private boolean appliesHere(MlaKernel k, DType cache, int r, int p) {
        return k.applies(cache, r, p, gpu.limits().computeCapability(), gpu.limits().sharedPerBlockOptIn()) && !mlaExcluded().contains(k.name());
    }

    /**
     * System property naming MLA decode kernels that must not run (comma-separated names of
     * {@link #MLA_KERNELS}), e.g. one that fails on this GPU: {@code auto} and {@code tune} pass
     * over them (auto to its next default, and to the CUDA-core kernel where none is left), and {@link #MLA_KERNEL_PROPERTY}
     * naming one runs auto's choice. {@code gpu/verify.sh tests} runs each kernel on its own first and
     * runs the rest of the suite with those that failed named here. Read on every call.
     */
    static final String MLA_EXCLUDE_PROPERTY = "panamax.cuda.mlaExclude";

    /** The kernels {@link #MLA_EXCLUDE_PROPERTY} names; IllegalArgumentException for a name that is not a tensor-core MLA kernel. */
    static Set<String> mlaExcluded() {
        String v = System.getProperty(MLA_EXCLUDE_PROPERTY, "");
        if (v.isBlank()) return Set.of();
        Set<String> names = new HashSet<>();
        for (String n : v.split(",")) {
            n = n.strip();
            if (n.isEmpty()) continue;
            String name = n;
            if (MLA_KERNELS.stream().noneMatch(k -> k.name().equals(name)))
                throw new IllegalArgumentException(MLA_EXCLUDE_PROPERTY + "=" + v + ": " + n + " names no tensor-core MLA decode kernel; known: " + mlaKernelNames());
            names.add(n);
        }
        return names;
    }

    /** What every tensor-core MLA kernel needs: an F32 or BF16 cache, latent a multiple of 64 and rope of 16, 16-byte aligned rows, sm_80 or later. */
    private boolean tensorCoresMayApply(Tensor latent, Tensor kRope, int r, int p) {
        if ((latent.dtype != DType.BF16 && latent.dtype != DType.F32) || r % 64 != 0 || p % 16 != 0) return false;
        if (at(latent, 0) % 16 != 0 || at(kRope, 0) % 16 != 0) return false;   // cp.async moves aligned 16-byte chunks
        return gpu.limits().computeCapability() >= 80;   // mma.sync with BF16 operands, cp.async
    }

    /**
     * How this MLA decode runs: the kernel {@link #tensorCoreMla} says with the merge
     * {@link #MLA_MERGE_PROPERTY} asks for, or under {@link #MLA_TUNE} the run measured fastest for
     * its shape, measured now (each candidate timed with CUDA events on these very operands, all but
     * the last run's results overwritten) where it has not been: every kernel that applies, and, where
     * the property is auto and the decode splits its sequence, each kernel that can merge in its tail
     * both ways. A graph being captured cannot be timed: there a shape not yet tuned runs auto's choice.
     */
    private MlaRun chooseMla(Tensor qLatent, Tensor qRope, Tensor latent, Tensor kRope, Tensor out, long len, Tensor positions, double scale) {
        int b = Math.toIntExact(qLatent.dim(0)), h = Math.toIntExact(qLatent.dim(1));
        int r = Math.toIntExact(latent.dim(2)), p = Math.toIntExact(kRope.dim(2));
        String named = System.getProperty(MLA_KERNEL_PROPERTY, "auto"), merge = mlaMerge();
        // the kernel a name (or auto) picks, with the merge the property asks for
        java.util.function.Function<String, MlaRun> picked = name -> new MlaRun(tensorCoreMla(latent, kRope, h, r, p, name), merge.equals("tail"));
        if (!named.equals(MLA_TUNE)) return picked.apply(named);
        MlaShape shape = MlaShape.of(latent.dtype, b, h, r, p, len);
        String tuned = mlaTuned.get(shape);
        if (tuned == null && gpu.capturing()) return picked.apply("auto");
        if (tuned == null) {
            List<MlaRun> candidates = new ArrayList<>();
            candidates.add(new MlaRun(null, false));   // the CUDA-core kernel applies to every decode that reaches here
            if (tensorCoresMayApply(latent, kRope, r, p)) {
                for (MlaKernel k : MLA_KERNELS) {
                    if (!appliesHere(k, latent.dtype, r, p)) continue;
                    int headBlocks = mlaHeadBlocks(k, h);
                    boolean tail = !merge.equals("kernel") && mergesInTail(k, mlaSplitCount(k, b, headBlocks, len), b, headBlocks, out);
                    if (!(tail && merge.equals("tail"))) candidates.add(new MlaRun(k, false));
                    if (tail) candidates.add(new MlaRun(k, true));
                }
            }
            if (candidates.size() == 1) return candidates.getFirst();   // nothing to compare (not kept: tuning is for what runs on tensor cores)
            tuned = tuneMla(shape, candidates, qLatent, qRope, latent, kRope, out, len, positions, scale);
        }
        MlaRun run = MlaRun.named(tuned);
        if (!merge.equals("auto")) run = new MlaRun(run.kernel(), merge.equals("tail"));   // a merge the property fixes holds, whatever was tuned
        // the shape does not fix the rows' alignment: a view of the cache at an odd offset takes the CUDA-core kernel
        if (run.kernel() == null || !tensorCoresMayApply(latent, kRope, r, p)) return new MlaRun(null, false);
        return mlaExcluded().contains(run.kernel().name()) ? picked.apply("auto") : run;   // excluded since it was tuned
    }

    /**
     * Times each candidate (the first: the CUDA-core kernel) whose result on these operands
     * agrees with the CUDA-core kernel's ({@link #agreeing}), one untimed launch and
     * then the fastest of {@link #MLA_TUNE_ROUNDS} between CUDA events, keeps the fastest for
     * {@code shape} and logs it with every time; returns the kept name (another thread's where it tuned first).
     */
    private String tuneMla(MlaShape shape, List<MlaRun> offered, Tensor qLatent, Tensor qRope, Tensor latent, Tensor kRope, Tensor out, long len,
                           Tensor positions, double scale) {
        List<MlaRun> candidates = agreeing(shape, offered, qLatent, qRope, latent, kRope, out, len, positions, scale);
        double[] best = gpu.time(candidates.size(), MLA_TUNE_ROUNDS,
                i -> launchMla(candidates.get(i), qLatent, qRope, latent, kRope, out, len, positions, scale));
        List<String> names = candidates.stream().map(MlaRun::name).toList();
        Map<String, Double> timed = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) timed.put(names.get(i), best[i] * 1e3);
        mlaTuneTimes.putIfAbsent(shape, java.util.Collections.unmodifiableMap(timed));
        String kept = mlaTuned.computeIfAbsent(shape, s -> names.get(fastest(best)));
        TUNING_LOG.log(System.Logger.Level.INFO, () -> MLA_KERNEL_PROPERTY + "=" + MLA_TUNE + " on " + gpu.device().name() + ", " + shape + ": "
                + kept + " (microseconds a decode: " + times(names, best) + ")");
        return kept;
    }

    /**
     * The candidates (the first is the CUDA-core kernel) whose result on these operands agrees
     * with the CUDA-core kernel's ({@link #mlaDisagreement}): tuning must not keep a tensor-core
     * kernel for being fast where it is wrong on this GPU. Each one left out is logged at WARNING
     * with what was wrong. Where the CUDA-core result is not finite there is nothing to judge by, and
     * every candidate stays.
     */
    private List<MlaRun> agreeing(MlaShape shape, List<MlaRun> candidates, Tensor qLatent, Tensor qRope, Tensor latent, Tensor kRope, Tensor out,
                                  long len, Tensor positions, double scale) {
        launchMla(candidates.getFirst(), qLatent, qRope, latent, kRope, out, len, positions, scale);
        float[] want = out.toFloatArray();
        for (float v : want) if (!Float.isFinite(v)) return candidates;
        List<MlaRun> kept = new ArrayList<>();
        kept.add(candidates.getFirst());
        for (MlaRun k : candidates.subList(1, candidates.size())) {
            Cuda.memset(at(out, 0), (byte) 0xFF, out.numel() * Float.BYTES, gpu.stream());   // NaN: what a kernel leaves unwritten disagrees
            launchMla(k, qLatent, qRope, latent, kRope, out, len, positions, scale);
            String wrong = mlaDisagreement(want, out.toFloatArray());
            if (wrong == null) kept.add(k);
            else TUNING_LOG.log(System.Logger.Level.WARNING, () -> MLA_KERNEL_PROPERTY + "=" + MLA_TUNE + " on " + gpu.device().name() + ", " + shape + ": "
                    + k.name() + " left out, its result disagrees with the CUDA-core kernel's: " + wrong);
        }
        return kept;
    }

    /**
     * Why {@code got} is not the MLA decode {@code want} (the CUDA-core kernel's, finite) up to what
     * the tensor-core kernels round (queries and weights to BF16 over a BF16 cache: errors of a few
     * 2^-9 of the outputs), or null where it is: a non-finite output, an error beyond a quarter of
     * the largest output, or an rms error beyond 1/16 of the outputs' rms. Meant to catch a wrong
     * layout or pipeline (errors the size of the outputs), not the last bits.
     */
    static String mlaDisagreement(float[] want, float[] got) {
        if (got.length != want.length) return got.length + " outputs for " + want.length;
        double largest = 0, squares = 0, worst = 0, errSquares = 0;
        for (int i = 0; i < want.length; i++) {
            if (!Float.isFinite(got[i])) return "output " + i + " is " + got[i];
            double err = Math.abs((double) got[i] - want[i]);
            largest = Math.max(largest, Math.abs(want[i]));
            squares += (double) want[i] * want[i];
            worst = Math.max(worst, err);
            errSquares += err * err;
        }
        if (worst > largest / 4 + 1e-6) return "an error of " + (float) worst + " against outputs up to " + (float) largest;
        double rms = Math.sqrt(squares / Math.max(1, want.length)), errRms = Math.sqrt(errSquares / Math.max(1, want.length));
        if (errRms > rms / 16 + 1e-7) return "an rms error of " + (float) errRms + " against an rms output of " + (float) rms;
        return null;
    }

    /** The index of the smallest time (the first of equals). */
    static int fastest(double[] millis) {
        int fastest = 0;
        for (int i = 1; i < millis.length; i++) if (millis[i] < millis[fastest]) fastest = i;
        return fastest;
    }

    /** {@code name microseconds, ...} for a tuning log line. */
    static String times(List<String> names, double[] millis) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < millis.length; i++) {
            out.append(i == 0 ? "" : ", ").append(names.get(i)).append(String.format(java.util.Locale.ROOT, " %.1f", millis[i] * 1e3));
        }
        return out.toString();
    }

    /** Elements from one head row of an MLA query part (B,H,W) to the next, counting on across batches (with one head, a batch's). */
    private static long headStride(Tensor q) {
        return q.dim(1) == 1 ? q.shape.stride(0) : q.shape.stride(1);
    }

    @Override
    public void mlaDecode(Tensor qLatent, Tensor qRope, Tensor latent, Tensor kRope, Tensor out, long len, Tensor positions, double scale) {
        int b = Math.toIntExact(qLatent.dim(0)), h = Math.toIntExact(qLatent.dim(1));
        int r = Math.toIntExact(latent.dim(2)), p = Math.toIntExact(kRope.dim(2));
        if (r > MLA_MAX_R || r + p > MLA_MAX_D) throw new UnsupportedOperationException("the MLA decode kernel takes a latent of at most " + MLA_MAX_R + " and latent + rope of at most " + MLA_MAX_D + ", got " + r + " + " + p);
        if (latent.dtype != kRope.dtype || (latent.dtype != DType.F32 && latent.dtype != DType.BF16)) throw new UnsupportedOperationException("MLA decode needs an F32 or BF16 cache, got " + latent.dtype + " and " + kRope.dtype);
        if (b == 0 || h == 0) return;
        gpu.makeCurrent();
        launchMla(chooseMla(qLatent, qRope, latent, kRope, out, len, positions, scale), qLatent, qRope, latent, kRope, out, len, positions, scale);
    }

    /** The blocks of heads an MLA decode of h heads with tensor-core kernel tc (null: the CUDA-core one) launches a sequence and split. */
    private static int mlaHeadBlocks(MlaKernel tc, int h) {
        return Math.ceilDiv(h, tc != null ? tc.headsPerBlock() : MLA_HEADS_PER_BLOCK);
    }

    /**
     * How many splits of the sequence an MLA decode with tensor-core kernel tc (null: the CUDA-core
     * one) runs: as {@link #MLA_SPLITS_PROPERTY} fixes, else one wave of resident blocks (the CUDA-core
     * kernel: enough blocks to fill the GPU twice over), each split over at least 64 positions.
     */
    private int mlaSplitCount(MlaKernel tc, int b, int headBlocks, long len) {
        int splits = mlaSplits(len);   // 0 unless the property fixes it
        if (splits != 0) return splits;
        long want = tc != null ? (long) gpu.limits().multiprocessors() * tc.blocksPerSm() / ((long) headBlocks * b)
                : Math.ceilDiv(2L * gpu.limits().multiprocessors(), (long) headBlocks * b);
        return (int) Math.max(1, Math.min(want, Math.ceilDiv(len, 64)));
    }

    /**
     * Whether tensor-core kernel tc can merge a launch of {@code splits} splits in its tail: it has
     * one ({@link MlaKernel#mergesInItsTail}), there is more than one split and at most
     * {@link #MLA_TAIL_SPLITS}, a counter for each sequence and head block, and the output is 16-byte
     * aligned (the tail's stores are 16 bytes wide).
     */
    private static boolean mergesInTail(MlaKernel tc, int splits, int b, int headBlocks, Tensor out) {
        return tc != null && tc.mergesInItsTail() && splits > 1 && splits <= MLA_TAIL_SPLITS && (long) b * headBlocks <= MLA_TAIL_COUNTERS
                && at(out, 0) % 16 == 0;
    }

    /**
     * Queues the MLA decode as {@code run} says: its tensor-core kernel, or the CUDA-core one where it
     * has none; where it splits the sequence, then the combine, unless the run's tail merges.
     */
    private void launchMla(MlaRun run, Tensor qLatent, Tensor qRope, Tensor latent, Tensor kRope, Tensor out, long len, Tensor positions, double scale) {
        MlaKernel tc = run.kernel();
        int b = Math.toIntExact(qLatent.dim(0)), h = Math.toIntExact(qLatent.dim(1));
        int r = Math.toIntExact(latent.dim(2)), p = Math.toIntExact(kRope.dim(2));
        int maxLen = Math.toIntExact(latent.shape.stride(0) / r);
        int headBlocks = mlaHeadBlocks(tc, h);
        int splits = mlaSplitCount(tc, b, headBlocks, len);
        boolean direct = tc != null && splits == 1;   // the tensor-core kernel normalises in place when nothing needs combining
        // or its tail merges the splits, where the run asks and it can
        long counters = run.tail() && mergesInTail(tc, splits, b, headBlocks, out) ? mlaTailCounters() : 0L;
        long parts = direct ? 0 : (long) b * splits * h;
        long o = direct ? 0 : allocate(parts * r * 4), m = direct ? 0 : allocate(parts * 4), l = direct ? 0 : allocate(parts * 4);
        // every sequence's length, or (positions in device memory) 1 + each one's position: lens = positions, len0 = 1
        long lens = positions == null ? 0L : at(positions, 0);
        int len0 = positions == null ? Math.toIntExact(len) : 1;
        try {
            if (tc != null) {
                Cuda.Function f = gpu.modules().function("mla_decode.cu", tc.name());
                int shared = tc.sharedBytes(r + p, gpu.limits().sharedPerBlockOptIn());
                f.setMaxDynamicSharedMemory(shared);
                // the head blocks of one split are neighbours in launch order, so they read its cache tiles from L2
                start(f, new int[]{headBlocks, splits, b}, new int[]{tc.threads(), 1, 1}, shared,
                        at(qLatent, 0), headStride(qLatent), at(qRope, 0), headStride(qRope), at(latent, 0), at(kRope, 0), lens, len0,
                        o, m, l, direct ? at(out, 0) : 0L, h, maxLen, r, p, (float) scale, shared, counters != 0 ? at(out, 0) : 0L, counters);
            } else {
                String kernel = latent.dtype == DType.F32 ? "mla_decode_f32" : "mla_decode_bf16";
                start(gpu.modules().function("mla_decode.cu", kernel), new int[]{splits, headBlocks, b}, new int[]{256, 1, 1}, 0,
                        at(qLatent, 0), headStride(qLatent), at(qRope, 0), headStride(qRope), at(latent, 0), at(kRope, 0), lens, len0,
                        o, m, l, h, maxLen, r, p, (float) scale);
            }
            if (counters != 0) mlaTailMerges.increment();
            else if (!direct) {
                start(gpu.modules().function("mla_decode.cu", "mla_decode_combine"), new int[]{h, b, 1}, new int[]{256, 1, 1}, 0,
                        o, m, l, at(out, 0), splits, h, r, lens, len0);
            }
        } finally {
            if (!direct) {
                release(o);
                release(m);
                release(l);
            }
        }
    }
}
