package dev.panamax.cuda;

import dev.panamax.cuda.gen.cublas_api_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * Facade over a cuBLAS handle ({@link cublas_api_h}). Every call checks its status and throws
 * {@link CudaException} with cuBLAS's own status name and text. cuBLAS is column-major, as here:
 * to multiply row-major matrices, swap the operands ({@code C^T = B^T A^T}). Scalars
 * {@code alpha} and {@code beta} are passed from host memory. A handle is not thread-safe; it is
 * created on a thread with a current context (see {@link Cuda.Context#makeCurrent()}).
 */
public final class Cublas implements AutoCloseable {
    /** cuBLAS element types ({@code cudaDataType}). */
    public static final int R_32F = cublas_api_h.CUDA_R_32F(), R_16F = cublas_api_h.CUDA_R_16F(), R_16BF = cublas_api_h.CUDA_R_16BF();
    /** Compute types ({@code cublasComputeType_t}): F32, F32 without reduced-precision shortcuts, F32 allowing TF32 tensor cores. */
    public static final int COMPUTE_32F = cublas_api_h.CUBLAS_COMPUTE_32F(), COMPUTE_32F_PEDANTIC = cublas_api_h.CUBLAS_COMPUTE_32F_PEDANTIC(),
            COMPUTE_32F_FAST_TF32 = cublas_api_h.CUBLAS_COMPUTE_32F_FAST_TF32();
    /** Math modes ({@code cublasMath_t}). */
    public static final int DEFAULT_MATH = cublas_api_h.CUBLAS_DEFAULT_MATH(), PEDANTIC_MATH = cublas_api_h.CUBLAS_PEDANTIC_MATH(),
            TF32_TENSOR_OP_MATH = cublas_api_h.CUBLAS_TF32_TENSOR_OP_MATH();

    private final MemorySegment handle;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment scalars = arena.allocate(ValueLayout.JAVA_FLOAT, 2);
    private boolean closed;

    private Cublas(MemorySegment handle) {
        this.handle = handle;
    }

    /** Whether libcublas can be found (says nothing about a GPU). */
    public static boolean libraryPresent() {
        return LibraryRef.find("libcublas.so", "13", "12").path().isPresent();
    }

    /** Creates a handle in the calling thread's current context. */
    public static Cublas create() {
        Cuda.require();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ValueLayout.ADDRESS);
            check(cublas_api_h.cublasCreate_v2(p), "cublasCreate");
            return new Cublas(p.get(ValueLayout.ADDRESS, 0));
        } catch (LinkageError e) {
            throw new CudaException("cuBLAS could not be loaded: " + e.getMessage(), e);
        }
    }

    /** {@code NAME: text} for a {@code cublasStatus_t}. */
    public static String describe(int status) {
        try {
            return cString(cublas_api_h.cublasGetStatusName(status)) + ": " + cString(cublas_api_h.cublasGetStatusString(status));
        } catch (Throwable t) {
            return "cublasStatus_t " + status;
        }
    }

    /** A C string the library returned (its own static text), or "?" for NULL. */
    static String cString(MemorySegment s) {
        return s.equals(MemorySegment.NULL) ? "?" : s.reinterpret(4096).getString(0, StandardCharsets.UTF_8);
    }

    /** Throws {@link CudaException} naming {@code call} unless {@code status} is success. */
    public static void check(int status, String call) {
        if (status != 0) throw new CudaException(call + " failed: " + describe(status), status);
    }

    /** cuBLAS's version, e.g. 130000. */
    public int version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ValueLayout.JAVA_INT);
            check(cublas_api_h.cublasGetVersion_v2(handle, v), "cublasGetVersion");
            return v.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /** Queues this handle's work on {@code stream} (the default stream when null). */
    public void setStream(Cuda.Stream stream) {
        check(cublas_api_h.cublasSetStream_v2(handle, stream == null ? MemorySegment.NULL : stream.handle()), "cublasSetStream");
    }

    /** Gives cuBLAS {@code bytes} of device workspace at {@code devicePointer}. */
    public void setWorkspace(long devicePointer, long bytes) {
        check(cublas_api_h.cublasSetWorkspace_v2(handle, MemorySegment.ofAddress(devicePointer), bytes), "cublasSetWorkspace");
    }

    /** Sets the math mode ({@link #DEFAULT_MATH}, {@link #PEDANTIC_MATH}, {@link #TF32_TENSOR_OP_MATH}). */
    public void setMathMode(int mode) {
        check(cublas_api_h.cublasSetMathMode(handle, mode), "cublasSetMathMode");
    }

    private MemorySegment alphaBeta(float alpha, float beta) {
        scalars.setAtIndex(ValueLayout.JAVA_FLOAT, 0, alpha);
        scalars.setAtIndex(ValueLayout.JAVA_FLOAT, 1, beta);
        return scalars;
    }

    private static int op(boolean transpose) {
        return transpose ? cublas_api_h.CUBLAS_OP_T() : cublas_api_h.CUBLAS_OP_N();
    }

    /** Column-major {@code C = alpha op(A) op(B) + beta C} in F32 ({@code cublasSgemm}). */
    public void sgemm(boolean ta, boolean tb, int m, int n, int k, float alpha, long a, int lda, long b, int ldb,
                      float beta, long c, int ldc) {
        MemorySegment s = alphaBeta(alpha, beta);
        check(cublas_api_h.cublasSgemm_v2(handle, op(ta), op(tb), m, n, k, s, MemorySegment.ofAddress(a), lda,
                MemorySegment.ofAddress(b), ldb, s.asSlice(4), MemorySegment.ofAddress(c), ldc), "cublasSgemm");
    }

    /**
     * Column-major {@code C = alpha op(A) op(B) + beta C} with element types {@code aType},
     * {@code bType}, {@code cType} ({@link #R_32F}, {@link #R_16F}, {@link #R_16BF}) and F32
     * scalars ({@code cublasGemmEx}).
     */
    public void gemmEx(boolean ta, boolean tb, int m, int n, int k, float alpha, long a, int aType, int lda,
                       long b, int bType, int ldb, float beta, long c, int cType, int ldc, int computeType) {
        MemorySegment s = alphaBeta(alpha, beta);
        check(cublas_api_h.cublasGemmEx(handle, op(ta), op(tb), m, n, k, s, MemorySegment.ofAddress(a), aType, lda,
                MemorySegment.ofAddress(b), bType, ldb, s.asSlice(4), MemorySegment.ofAddress(c), cType, ldc, computeType,
                cublas_api_h.CUBLAS_GEMM_DEFAULT()), "cublasGemmEx");
    }

    /** {@link #gemmEx} over {@code batch} matrices at fixed element strides ({@code cublasGemmStridedBatchedEx}). */
    public void gemmStridedBatchedEx(boolean ta, boolean tb, int m, int n, int k, float alpha,
                                     long a, int aType, int lda, long strideA, long b, int bType, int ldb, long strideB,
                                     float beta, long c, int cType, int ldc, long strideC, int batch, int computeType) {
        MemorySegment s = alphaBeta(alpha, beta);
        check(cublas_api_h.cublasGemmStridedBatchedEx(handle, op(ta), op(tb), m, n, k, s, MemorySegment.ofAddress(a), aType, lda, strideA,
                MemorySegment.ofAddress(b), bType, ldb, strideB, s.asSlice(4), MemorySegment.ofAddress(c), cType, ldc, strideC,
                batch, computeType, cublas_api_h.CUBLAS_GEMM_DEFAULT()), "cublasGemmStridedBatchedEx");
    }

    /**
     * Whether this libcublas has {@code cublasGemmGroupedBatchedEx} (cuBLAS 12.5 and later); when
     * it does not, {@link #gemmGroupedBatchedEx} throws and callers issue one product per group.
     */
    public static boolean groupedGemmAvailable() {
        return GroupedGemm.AVAILABLE;
    }

    private static final class GroupedGemm {
        static final boolean AVAILABLE = probe();

        private static boolean probe() {
            try {
                return !cublas_api_h.cublasGemmGroupedBatchedEx$address().equals(MemorySegment.NULL);
            } catch (LinkageError e) {
                return false;
            }
        }
    }

    /**
     * {@code groups} column-major products in one call ({@code cublasGemmGroupedBatchedEx}, one
     * problem per group): {@code C_g = alpha op(A_g) op(B_g) + beta C_g}, sized {@code m[g]},
     * {@code n[g]}, {@code k[g]} with leading dimensions {@code lda[g]}, {@code ldb[g]},
     * {@code ldc[g]}. {@code aArray}, {@code bArray} and {@code cArray} are device addresses of
     * arrays of {@code groups} device pointers. cuBLAS takes A, B and C of one type (F32, or BF16
     * or F16 with C of the same type) with F32 compute.
     */
    public void gemmGroupedBatchedEx(boolean ta, boolean tb, int[] m, int[] n, int[] k, float alpha,
                                     long aArray, int aType, int[] lda, long bArray, int bType, int[] ldb,
                                     float beta, long cArray, int cType, int[] ldc, int computeType) {
        int groups = m.length;
        for (int[] v : new int[][]{n, k, lda, ldb, ldc}) {
            if (v.length != groups) throw new IllegalArgumentException("cublasGemmGroupedBatchedEx: every size array needs " + groups + " entries");
        }
        if (!groupedGemmAvailable()) {
            throw new CudaException("cublasGemmGroupedBatchedEx is not in this cuBLAS (it needs 12.5 or later): " + LibraryRef.find("libcublas.so", "13", "12").describe());
        }
        try (Arena a = Arena.ofConfined()) {
            int[] ops = new int[groups], opsB = new int[groups], ones = new int[groups];
            java.util.Arrays.fill(ops, op(ta));
            java.util.Arrays.fill(opsB, op(tb));
            java.util.Arrays.fill(ones, 1);
            float[] alphas = new float[groups], betas = new float[groups];
            java.util.Arrays.fill(alphas, alpha);
            java.util.Arrays.fill(betas, beta);
            check(cublas_api_h.cublasGemmGroupedBatchedEx(handle, ints(a, ops), ints(a, opsB), ints(a, m), ints(a, n), ints(a, k),
                    a.allocateFrom(ValueLayout.JAVA_FLOAT, alphas), MemorySegment.ofAddress(aArray), aType, ints(a, lda),
                    MemorySegment.ofAddress(bArray), bType, ints(a, ldb), a.allocateFrom(ValueLayout.JAVA_FLOAT, betas),
                    MemorySegment.ofAddress(cArray), cType, ints(a, ldc), groups, ints(a, ones), computeType), "cublasGemmGroupedBatchedEx");
        }
    }

    private static MemorySegment ints(Arena a, int[] v) {
        return a.allocateFrom(ValueLayout.JAVA_INT, v);
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            check(cublas_api_h.cublasDestroy_v2(handle), "cublasDestroy");
        } finally {
            arena.close();
        }
    }
}
