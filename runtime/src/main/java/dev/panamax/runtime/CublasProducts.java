package dev.panamax.runtime;

import dev.panamax.cuda.Cublas;
import dev.panamax.cuda.CublasLt;
import dev.panamax.runtime.gpu.GpuDevice;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * How {@link CudaBackend} runs the products it gives to NVIDIA's libraries (one matrix, or a strided
 * batch): through cuBLAS ({@code cublasSgemm}, {@code cublasGemmEx},
 * {@code cublasGemmStridedBatchedEx}), or through cuBLASLt with an algorithm chosen for the shape,
 * as {@link #PROPERTY} says. Where cuBLASLt pays is a question for the GPU at hand: its heuristic
 * offers several algorithms per shape, and {@link #TUNE} times them against cuBLAS on the first
 * product of each shape, as PyTorch's TunableOp does, and keeps the fastest.
 */
final class CublasProducts {
    /**
     * System property: {@code cublas} (the default) runs every product through cuBLAS; {@code lt}
     * through cuBLASLt with its heuristic's first algorithm; {@code tune}: the fastest of cuBLAS and
     * cuBLASLt's first {@link #TUNE_ALGORITHMS} algorithms, timed on the first product of each
     * shape (inside a graph capture, which cannot be timed, an untuned shape runs cuBLAS). Read on
     * every product.
     */
    static final String PROPERTY = "panamax.cuda.gemm";
    static final String CUBLAS = "cublas", LT = "lt", TUNE = "tune";
    /** Algorithms of cuBLASLt's heuristic that {@link #TUNE} times beside cuBLAS. */
    static final int TUNE_ALGORITHMS = 8;
    /** Timed runs of each candidate when tuning, after one untimed (the fastest counts). */
    static final int TUNE_ROUNDS = 3;
    /** Shapes kept (each a few small host descriptors); past it new shapes run cuBLAS. */
    static final int MAX_PLANS = 4096;

    /**
     * A column-major product as cuBLAS takes it: {@code C = op(A) op(B) + beta C} over {@code batch}
     * items {@code stride*} elements apart, at device addresses {@code a}, {@code b}, {@code c}.
     */
    record Product(boolean ta, boolean tb, int m, int n, int k, long a, int aType, int lda, long strideA,
                   long b, int bType, int ldb, long strideB, long c, int cType, int ldc, long strideC, int batch, float beta) {
        /** The product with its result written at {@code c} instead. */
        Product into(long c) {
            return new Product(ta, tb, m, n, k, a, aType, lda, strideA, b, bType, ldb, strideB, c, cType, ldc, strideC, batch, beta);
        }

        /** Bytes from C's first element to past its last. */
        long cBytes(int cElementBytes) {
            return ((long) (batch - 1) * strideC + (long) (n - 1) * ldc + m) * cElementBytes;
        }
    }

    /**
     * What a choice is kept by: the product without its addresses, but with the alignment of each
     * (cuBLASLt's algorithms may need more than a view's offset gives), and the mode that chose.
     */
    record Shape(String mode, boolean ta, boolean tb, int m, int n, int k, int aType, int lda, long strideA, int bType, int ldb, long strideB,
                 int cType, int ldc, long strideC, int batch, int alignA, int alignB, int alignC) {
        static Shape of(String mode, Product p) {
            return new Shape(mode, p.ta, p.tb, p.m, p.n, p.k, p.aType, p.lda, p.batch > 1 ? p.strideA : 0, p.bType, p.ldb, p.batch > 1 ? p.strideB : 0,
                    p.cType, p.ldc, p.batch > 1 ? p.strideC : 0, p.batch, alignment(p.a), alignment(p.b), alignment(p.c));
        }

        @Override
        public String toString() {
            return (ta ? "T" : "N") + (tb ? "T" : "N") + " m " + m + " n " + n + " k " + k + (batch > 1 ? " batch " + batch : "")
                    + " " + typeName(aType) + " x " + typeName(bType) + " -> " + typeName(cType) + " ld " + lda + "/" + ldb + "/" + ldc + " aligned " + alignA + "/" + alignB + "/" + alignC;
        }
    }

    private static String typeName(int cudaDataType) {
        return cudaDataType == Cublas.R_32F ? "F32" : cudaDataType == Cublas.R_16BF ? "BF16" : cudaDataType == Cublas.R_16F ? "F16" : "type " + cudaDataType;
    }

    /** The largest power of two up to 256 that divides {@code address}. */
    static int alignment(long address) {
        return (int) Math.min(256, Long.lowestOneBit(address | 256));
    }

    /** A shape's choice: cuBLAS where {@code algorithm} is null, else that cuBLASLt algorithm of {@code matmul}. */
    record Plan(CublasLt.Matmul matmul, CublasLt.Algorithm algorithm) {
        static final Plan CUBLAS_PLAN = new Plan(null, null);
    }

    private final GpuDevice gpu;
    private final CudaBackend backend;
    private final Map<Shape, Plan> plans = new HashMap<>();
    private boolean warnedFull;

    CublasProducts(GpuDevice gpu, CudaBackend backend) {
        this.gpu = gpu;
        this.backend = backend;
    }

    /** The mode {@link #PROPERTY} names now. */
    static String mode() {
        String mode = System.getProperty(PROPERTY, CUBLAS);
        if (!mode.equals(CUBLAS) && !mode.equals(LT) && !mode.equals(TUNE)) {
            throw new IllegalArgumentException(PROPERTY + "=" + mode + ": expected " + CUBLAS + ", " + LT + " or " + TUNE);
        }
        return mode;
    }

    /** Queues {@code p} on the device's stream as {@link #PROPERTY} says. The caller has made the context current. */
    void run(Product p) {
        String mode = mode();
        Plan plan = mode.equals(CUBLAS) || !ltTakes(p) ? Plan.CUBLAS_PLAN : plan(mode, p);
        if (plan.algorithm() == null) {
            cublas(p);
        } else {
            lt(plan.matmul(), plan.algorithm(), p);
        }
    }

    /** Shapes with a choice kept. */
    synchronized int plans() {
        return plans.size();
    }

    /**
     * Whether cuBLASLt may take {@code p}: a non-empty product, and in a batch no operand shared by
     * every item (a zero stride, which cuBLAS's strided-batched call takes).
     */
    private static boolean ltTakes(Product p) {
        if (p.m <= 0 || p.n <= 0 || p.k <= 0 || p.batch <= 0) return false;
        return p.batch == 1 || (p.strideA != 0 && p.strideB != 0 && p.strideC != 0);
    }

    private synchronized Plan plan(String mode, Product p) {
        Shape shape = Shape.of(mode, p);
        Plan plan = plans.get(shape);
        if (plan != null) return plan;
        if (mode.equals(TUNE) && gpu.capturing()) return Plan.CUBLAS_PLAN;   // not timed inside a capture, nor kept
        if (plans.size() >= MAX_PLANS) {
            if (!warnedFull) {
                warnedFull = true;
                CudaBackend.TUNING_LOG.log(System.Logger.Level.WARNING, () -> PROPERTY + "=" + mode + ": " + MAX_PLANS + " shapes chosen for; new shapes run cuBLAS");
            }
            return Plan.CUBLAS_PLAN;
        }
        CublasLt.Matmul matmul = gpu.cublasLt().matmul(p.ta, p.tb, p.m, p.n, p.k, p.aType, p.lda, p.strideA, p.bType, p.ldb, p.strideB,
                p.cType, p.ldc, p.strideC, p.batch, Cublas.COMPUTE_32F);
        try {
            List<CublasLt.Algorithm> algorithms = matmul.algorithms(mode.equals(TUNE) ? TUNE_ALGORITHMS : 1, gpu.cublasWorkspaceBytes(),
                    shape.alignA(), shape.alignB(), shape.alignC());
            plan = algorithms.isEmpty() ? Plan.CUBLAS_PLAN
                    : mode.equals(LT) ? new Plan(matmul, algorithms.get(0)) : tune(shape, p, matmul, algorithms);
        } catch (RuntimeException | Error e) {
            matmul.close();
            throw e;
        }
        if (plan.matmul() != matmul) matmul.close();
        plans.put(shape, plan);
        return plan;
    }

    /** Times cuBLAS and each algorithm on {@code p}'s operands, writing into a scratch copy of C; logs every time and returns the fastest's plan. */
    private Plan tune(Shape shape, Product p, CublasLt.Matmul matmul, List<CublasLt.Algorithm> algorithms) {
        long scratch = backend.allocate(p.cBytes(p.cType == Cublas.R_32F ? 4 : 2));
        double[] best;
        try {
            Product s = p.into(scratch);
            best = gpu.time(1 + algorithms.size(), TUNE_ROUNDS, i -> {
                if (i == 0) cublas(s);
                else lt(matmul, algorithms.get(i - 1), s);
            });
        } finally {
            backend.release(scratch);
        }
        List<String> names = new ArrayList<>();
        names.add(CUBLAS);
        for (CublasLt.Algorithm a : algorithms) names.add("lt#" + a.rank());
        int fastest = CudaBackend.fastest(best);
        CudaBackend.TUNING_LOG.log(System.Logger.Level.INFO, () -> PROPERTY + "=" + TUNE + " on " + gpu.device().name() + ", " + shape + ": " + names.get(fastest)
                + " (microseconds a product: " + CudaBackend.times(names, best) + ")");
        return fastest == 0 ? Plan.CUBLAS_PLAN : new Plan(matmul, algorithms.get(fastest - 1));
    }

    private void lt(CublasLt.Matmul matmul, CublasLt.Algorithm algorithm, Product p) {
        matmul.run(algorithm, 1f, p.a, p.b, p.beta, p.c, gpu.cublasWorkspace(), gpu.cublasWorkspaceBytes(), gpu.stream());
    }

    /**
     * {@code p} through cuBLAS: one F32 matrix by {@code cublasSgemm}, one 16-bit by
     * {@code cublasGemmEx}, a batch by {@code cublasGemmStridedBatchedEx}; F32 compute without TF32
     * (the handle's default math mode), so F32 products are cublasSgemm's.
     */
    private void cublas(Product p) {
        Cublas cublas = gpu.cublas();
        boolean f32 = p.aType == Cublas.R_32F && p.bType == Cublas.R_32F && p.cType == Cublas.R_32F;
        if (p.batch == 1 && f32) {
            cublas.sgemm(p.ta, p.tb, p.m, p.n, p.k, 1f, p.a, p.lda, p.b, p.ldb, p.beta, p.c, p.ldc);
        } else if (p.batch == 1) {
            cublas.gemmEx(p.ta, p.tb, p.m, p.n, p.k, 1f, p.a, p.aType, p.lda, p.b, p.bType, p.ldb, p.beta, p.c, p.cType, p.ldc, Cublas.COMPUTE_32F);
        } else {
            cublas.gemmStridedBatchedEx(p.ta, p.tb, p.m, p.n, p.k, 1f, p.a, p.aType, p.lda, p.strideA, p.b, p.bType, p.ldb, p.strideB,
                    p.beta, p.c, p.cType, p.ldc, p.strideC, p.batch, Cublas.COMPUTE_32F);
        }
    }
}
