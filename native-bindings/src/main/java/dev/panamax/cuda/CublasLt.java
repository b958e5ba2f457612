package dev.panamax.cuda;

import dev.panamax.cuda.gen.cublasLt_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Facade over a cuBLASLt handle ({@link cublasLt_h}): matrix products described once
 * ({@link #matmul}), the library's heuristic asked for the algorithms that can run one
 * ({@link Matmul#algorithms}), and the product run with the algorithm of the caller's choice
 * ({@link Matmul#run}). Every call checks its status and throws {@link CudaException} with
 * cuBLASLt's own status name and text. Matrices are column-major, as in {@link Cublas}; element
 * types are {@link Cublas#R_32F}, {@link Cublas#R_16F}, {@link Cublas#R_16BF}, compute types
 * {@link Cublas#COMPUTE_32F} and the like, with F32 scalars from host memory. A handle is created
 * on a thread with a current context and is not thread-safe, nor is a {@link Matmul}.
 */
public final class CublasLt implements AutoCloseable {
    /** Bytes of a {@code cublasLtMatmulHeuristicResult_t}: the 64-byte algorithm, size_t workspace, status, float waves, int[4]. */
    static final long HEURISTIC_RESULT_BYTES = 96;
    /** Bytes of a {@code cublasLtMatmulAlgo_t} (uint64_t data[8]). */
    static final long ALGO_BYTES = 64;

    private final MemorySegment handle;
    private boolean closed;

    private CublasLt(MemorySegment handle) {
        this.handle = handle;
    }

    /** Whether libcublasLt can be found (says nothing about a GPU). */
    public static boolean libraryPresent() {
        return LibraryRef.find("libcublasLt.so", "13", "12").path().isPresent();
    }

    /** Creates a handle in the calling thread's current context. */
    public static CublasLt create() {
        Cuda.require();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ValueLayout.ADDRESS);
            check(cublasLt_h.cublasLtCreate(p), "cublasLtCreate");
            return new CublasLt(p.get(ValueLayout.ADDRESS, 0));
        } catch (LinkageError e) {
            throw new CudaException("cuBLASLt could not be loaded: " + e.getMessage(), e);
        }
    }

    /** {@code NAME: text} for a {@code cublasStatus_t} returned by cuBLASLt. */
    public static String describe(int status) {
        try {
            return Cublas.cString(cublasLt_h.cublasLtGetStatusName(status)) + ": " + Cublas.cString(cublasLt_h.cublasLtGetStatusString(status));
        } catch (Throwable t) {
            return "cublasStatus_t " + status;
        }
    }

    /** Throws {@link CudaException} naming {@code call} unless {@code status} is success. */
    public static void check(int status, String call) {
        if (status != 0) throw new CudaException(call + " failed: " + describe(status), status);
    }

    /** cuBLASLt's version, e.g. 130000 (cublasLtGetVersion). */
    public static long version() {
        try {
            return cublasLt_h.cublasLtGetVersion();
        } catch (LinkageError e) {
            throw new CudaException("cuBLASLt could not be loaded: " + e.getMessage(), e);
        }
    }

    /**
     * Describes the column-major product {@code C = alpha op(A) op(B) + beta C} over {@code batch}
     * matrices (each operand's items {@code stride} elements apart; unused for one matrix), computed
     * in place (cuBLASLt's C and D are one matrix). {@code lda}, {@code ldb} and {@code ldc} are the
     * stored matrices' leading dimensions, as for {@link Cublas#gemmEx}. The descriptors live until
     * the returned object is closed.
     */
    public Matmul matmul(boolean ta, boolean tb, int m, int n, int k, int aType, long lda, long strideA, int bType, long ldb, long strideB,
                         int cType, long ldc, long strideC, int batch, int computeType) {
        if (closed) throw new IllegalStateException("the cuBLASLt handle has been closed");
        if (m <= 0 || n <= 0 || k <= 0 || batch <= 0) {
            throw new IllegalArgumentException("cuBLASLt products need positive sizes, got m " + m + ", n " + n + ", k " + k + ", batch " + batch);
        }
        return new Matmul(ta, tb, m, n, k, aType, lda, strideA, bType, ldb, strideB, cType, ldc, strideC, batch, computeType);
    }

    /**
     * One algorithm the heuristic offered for a {@link Matmul}, best first ({@code rank} 0), with
     * the workspace it needs and its waves (1.0: one full wave of the GPU). Valid while its
     * {@link Matmul} is open.
     */
    public record Algorithm(int rank, MemorySegment descriptor, long workspaceBytes, float waves) {
    }

    /**
     * A described product: its operation and matrix layout descriptors, and the algorithms found
     * for it. Not thread-safe. Close it to destroy the descriptors.
     */
    public final class Matmul implements AutoCloseable {
        private final Arena arena = Arena.ofShared();
        private final MemorySegment scalars = arena.allocate(ValueLayout.JAVA_FLOAT, 2);
        private final MemorySegment desc, aLayout, bLayout, cLayout;
        private final String shape;
        private boolean closedMatmul;

        private Matmul(boolean ta, boolean tb, int m, int n, int k, int aType, long lda, long strideA, int bType, long ldb, long strideB,
                       int cType, long ldc, long strideC, int batch, int computeType) {
            this.shape = (ta ? "T" : "N") + (tb ? "T" : "N") + " m " + m + " n " + n + " k " + k + (batch > 1 ? " batch " + batch : "");
            MemorySegment d = MemorySegment.NULL, la = MemorySegment.NULL, lb = MemorySegment.NULL, lc = MemorySegment.NULL;
            try (Arena a = Arena.ofConfined()) {
                MemorySegment p = a.allocate(ValueLayout.ADDRESS);
                check(cublasLt_h.cublasLtMatmulDescCreate(p, computeType, Cublas.R_32F), "cublasLtMatmulDescCreate");
                d = p.get(ValueLayout.ADDRESS, 0);
                setInt(a, d, cublasLt_h.CUBLASLT_MATMUL_DESC_TRANSA(), ta ? 1 : 0, "TRANSA");
                setInt(a, d, cublasLt_h.CUBLASLT_MATMUL_DESC_TRANSB(), tb ? 1 : 0, "TRANSB");
                la = layout(a, aType, ta ? k : m, ta ? m : k, lda, strideA, batch, "A");
                lb = layout(a, bType, tb ? n : k, tb ? k : n, ldb, strideB, batch, "B");
                lc = layout(a, cType, m, n, ldc, strideC, batch, "C");
            } catch (RuntimeException | Error e) {
                destroy(d, la, lb, lc);
                arena.close();
                throw e;
            }
            this.desc = d;
            this.aLayout = la;
            this.bLayout = lb;
            this.cLayout = lc;
        }

        private static void setInt(Arena a, MemorySegment d, int attr, int value, String name) {
            check(cublasLt_h.cublasLtMatmulDescSetAttribute(d, attr, a.allocateFrom(ValueLayout.JAVA_INT, value), 4),
                    "cublasLtMatmulDescSetAttribute(" + name + ")");
        }

        private static MemorySegment layout(Arena a, int type, long rows, long cols, long ld, long stride, int batch, String which) {
            MemorySegment p = a.allocate(ValueLayout.ADDRESS);
            check(cublasLt_h.cublasLtMatrixLayoutCreate(p, type, rows, cols, ld), "cublasLtMatrixLayoutCreate(" + which + ")");
            MemorySegment l = p.get(ValueLayout.ADDRESS, 0);
            if (batch > 1) {
                try {
                    check(cublasLt_h.cublasLtMatrixLayoutSetAttribute(l, cublasLt_h.CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT(),
                            a.allocateFrom(ValueLayout.JAVA_INT, batch), 4), "cublasLtMatrixLayoutSetAttribute(" + which + " batch count)");
                    check(cublasLt_h.cublasLtMatrixLayoutSetAttribute(l, cublasLt_h.CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET(),
                            a.allocateFrom(ValueLayout.JAVA_LONG, stride), 8), "cublasLtMatrixLayoutSetAttribute(" + which + " batch stride)");
                } catch (RuntimeException e) {
                    cublasLt_h.cublasLtMatrixLayoutDestroy(l);
                    throw e;
                }
            }
            return l;
        }

        /**
         * Up to {@code max} algorithms that cuBLASLt's heuristic offers for this product, best first,
         * each needing at most {@code workspaceBytes} of workspace and taking operands whose addresses
         * are multiples of {@code alignA}, {@code alignB} and {@code alignC} bytes (powers of two; the
         * heuristic otherwise assumes 256). Empty where none applies.
         */
        public List<Algorithm> algorithms(int max, long workspaceBytes, int alignA, int alignB, int alignC) {
            requireOpen();
            if (max <= 0) throw new IllegalArgumentException("max must be positive, got " + max);
            MemorySegment pref = MemorySegment.NULL;
            try (Arena a = Arena.ofConfined()) {
                MemorySegment p = a.allocate(ValueLayout.ADDRESS);
                check(cublasLt_h.cublasLtMatmulPreferenceCreate(p), "cublasLtMatmulPreferenceCreate");
                pref = p.get(ValueLayout.ADDRESS, 0);
                check(cublasLt_h.cublasLtMatmulPreferenceSetAttribute(pref, cublasLt_h.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES(),
                        a.allocateFrom(ValueLayout.JAVA_LONG, workspaceBytes), 8), "cublasLtMatmulPreferenceSetAttribute(max workspace)");
                int[][] alignments = {{cublasLt_h.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES(), alignA}, {cublasLt_h.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES(), alignB},
                        {cublasLt_h.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES(), alignC}, {cublasLt_h.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES(), alignC}};
                for (int[] al : alignments) {
                    check(cublasLt_h.cublasLtMatmulPreferenceSetAttribute(pref, al[0], a.allocateFrom(ValueLayout.JAVA_INT, al[1]), 4),
                            "cublasLtMatmulPreferenceSetAttribute(min alignment)");
                }
                MemorySegment results = a.allocate(HEURISTIC_RESULT_BYTES * max, 8);
                MemorySegment count = a.allocate(ValueLayout.JAVA_INT);
                int status = cublasLt_h.cublasLtMatmulAlgoGetHeuristic(handle, desc, aLayout, bLayout, cLayout, cLayout, pref, max, results, count);
                if (status == 15) return List.of();   // CUBLAS_STATUS_NOT_SUPPORTED: no algorithm for this configuration
                check(status, "cublasLtMatmulAlgoGetHeuristic(" + shape + ")");
                List<Algorithm> out = new ArrayList<>();
                int returned = Math.min(max, count.get(ValueLayout.JAVA_INT, 0));
                for (int i = 0; i < returned; i++) {
                    MemorySegment r = results.asSlice(i * HEURISTIC_RESULT_BYTES, HEURISTIC_RESULT_BYTES);
                    if (r.get(ValueLayout.JAVA_INT, 72) != 0) continue;   // this result's state: not usable
                    MemorySegment algo = arena.allocate(ALGO_BYTES, 8);
                    algo.copyFrom(r.asSlice(0, ALGO_BYTES));
                    out.add(new Algorithm(out.size(), algo, r.get(ValueLayout.JAVA_LONG, 64), r.get(ValueLayout.JAVA_FLOAT, 76)));
                }
                return out;
            } finally {
                if (!pref.equals(MemorySegment.NULL)) cublasLt_h.cublasLtMatmulPreferenceDestroy(pref);
            }
        }

        /**
         * Queues {@code C = alpha op(A) op(B) + beta C} on {@code stream} (the default stream when
         * null) with {@code algorithm} (one of {@link #algorithms}'), using {@code workspaceBytes} of
         * device workspace at {@code workspace}.
         */
        public void run(Algorithm algorithm, float alpha, long a, long b, float beta, long c, long workspace, long workspaceBytes, Cuda.Stream stream) {
            requireOpen();
            if (algorithm.workspaceBytes() > workspaceBytes) {
                throw new IllegalArgumentException("the algorithm needs " + algorithm.workspaceBytes() + " bytes of workspace, given " + workspaceBytes);
            }
            scalars.setAtIndex(ValueLayout.JAVA_FLOAT, 0, alpha);
            scalars.setAtIndex(ValueLayout.JAVA_FLOAT, 1, beta);
            MemorySegment cp = MemorySegment.ofAddress(c);
            check(cublasLt_h.cublasLtMatmul(handle, desc, scalars, MemorySegment.ofAddress(a), aLayout, MemorySegment.ofAddress(b), bLayout,
                    scalars.asSlice(4), cp, cLayout, cp, cLayout, algorithm.descriptor(), MemorySegment.ofAddress(workspace), workspaceBytes,
                    stream == null ? MemorySegment.NULL : stream.handle()), "cublasLtMatmul(" + shape + ")");
        }

        private void requireOpen() {
            if (closedMatmul) throw new IllegalStateException("the cuBLASLt product " + shape + " has been closed");
        }

        /** Destroys the descriptors; the algorithms found become invalid. */
        @Override
        public synchronized void close() {
            if (closedMatmul) return;
            closedMatmul = true;
            try {
                destroy(desc, aLayout, bLayout, cLayout);
            } finally {
                arena.close();
            }
        }

        private static void destroy(MemorySegment desc, MemorySegment... layouts) {
            if (!desc.equals(MemorySegment.NULL)) cublasLt_h.cublasLtMatmulDescDestroy(desc);
            for (MemorySegment l : layouts) if (!l.equals(MemorySegment.NULL)) cublasLt_h.cublasLtMatrixLayoutDestroy(l);
        }
    }

    /** Destroys the handle (its products' descriptors are separate: close them first). */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        check(cublasLt_h.cublasLtDestroy(handle), "cublasLtDestroy");
    }
}
