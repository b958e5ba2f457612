package dev.panamax.runtime;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.panamax.runtime.Elem.getD;
import static dev.panamax.runtime.Elem.getF;
import static dev.panamax.runtime.Elem.setD;
import static dev.panamax.runtime.Elem.setF;

/**
 * The specification of every kernel: plain single-threaded loops with no tricks. Vector and GPU
 * kernels are tested against these. The F64 twins ({@code ...D} methods) back F64 tensors, which
 * exist for gradient checks. Select these kernels for a whole run with
 * {@code -Dpanamax.vector=false}.
 */
public final class ScalarKernels implements Kernels {
    /** The single instance. */
    public static final ScalarKernels INSTANCE = new ScalarKernels();

    private ScalarKernels() {
    }

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void unary(UnaryOp op, MemorySegment x, long xOff, long xInc, MemorySegment y, long yOff, long n) {
        for (long i = 0; i < n; i++) setF(y, yOff + i, op.apply(getF(x, xOff + i * xInc)));
    }

    @Override
    public void binary(BinaryOp op, MemorySegment a, long aOff, long aInc, MemorySegment b, long bOff, long bInc,
                       MemorySegment y, long yOff, long n) {
        for (long i = 0; i < n; i++) {
            setF(y, yOff + i, op.apply(getF(a, aOff + i * aInc), getF(b, bOff + i * bInc)));
        }
    }

    @Override
    public void reduce(ReduceOp op, MemorySegment x, long xOff, long outer, long r, long inner, MemorySegment y, long yOff) {
        for (long o = 0; o < outer; o++) {
            for (long i = 0; i < inner; i++) {
                float acc = op == ReduceOp.SUM ? 0f : Float.NEGATIVE_INFINITY;
                for (long j = 0; j < r; j++) {
                    float v = getF(x, xOff + (o * r + j) * inner + i);
                    acc = op == ReduceOp.SUM ? acc + v : Math.max(acc, v);
                }
                setF(y, yOff + o * inner + i, acc);
            }
        }
    }

    @Override
    public void softmaxRows(MemorySegment x, long xOff, MemorySegment y, long yOff, long rows, long n, boolean log) {
        for (long row = 0; row < rows; row++) {
            long xo = xOff + row * n;
            long yo = yOff + row * n;
            float max = Float.NEGATIVE_INFINITY;
            for (long i = 0; i < n; i++) max = Math.max(max, getF(x, xo + i));
            float sum = 0f;
            for (long i = 0; i < n; i++) sum += (float) Math.exp(getF(x, xo + i) - max);
            if (log) {
                float logSum = (float) Math.log(sum);
                for (long i = 0; i < n; i++) setF(y, yo + i, (getF(x, xo + i) - max) - logSum);
            } else {
                float inv = 1f / sum;
                for (long i = 0; i < n; i++) setF(y, yo + i, (float) Math.exp(getF(x, xo + i) - max) * inv);
            }
        }
    }

    @Override
    public void rmsNormRows(MemorySegment x, long xOff, MemorySegment w, long wOff, MemorySegment y, long yOff,
                            long rows, long n, float eps) {
        for (long row = 0; row < rows; row++) {
            long xo = xOff + row * n;
            long yo = yOff + row * n;
            float ss = 0f;
            for (long i = 0; i < n; i++) {
                float v = getF(x, xo + i);
                ss += v * v;
            }
            float inv = (float) (1.0 / Math.sqrt(ss / n + eps));
            for (long i = 0; i < n; i++) setF(y, yo + i, getF(x, xo + i) * inv * getF(w, wOff + i));
        }
    }

    @Override
    public void ropeRows(MemorySegment x, long xOff, MemorySegment cos, long cosOff, MemorySegment sin, long sinOff,
                         MemorySegment y, long yOff, long rows, long half) {
        for (long row = 0; row < rows; row++) {
            for (long i = 0; i < half; i++) {
                float c = getF(cos, cosOff + row * half + i);
                float s = getF(sin, sinOff + row * half + i);
                long p = row * 2 * half + 2 * i;
                float x0 = getF(x, xOff + p);
                float x1 = getF(x, xOff + p + 1);
                setF(y, yOff + p, x0 * c - x1 * s);
                setF(y, yOff + p + 1, x0 * s + x1 * c);
            }
        }
    }

    @Override
    public void sgemm(boolean ta, boolean tb, int m, int n, int k,
                      MemorySegment a, long aOff, long lda,
                      MemorySegment b, long bOff, long ldb, DType bType,
                      MemorySegment c, long cOff, long ldc, boolean accumulate) {
        // i-k-j order: the inner loop is an axpy over a row of C
        for (int i = 0; i < m; i++) {
            long cr = cOff + (long) i * ldc;
            if (!accumulate) {
                for (int j = 0; j < n; j++) setF(c, cr + j, 0f);
            }
            for (int p = 0; p < k; p++) {
                float av = getF(a, aOff + (ta ? (long) p * lda + i : (long) i * lda + p));
                if (bType == DType.F32 && !tb) {
                    long br = bOff + (long) p * ldb;
                    for (int j = 0; j < n; j++) setF(c, cr + j, getF(c, cr + j) + av * getF(b, br + j));
                } else {
                    for (int j = 0; j < n; j++) {
                        long bi = bOff + (tb ? (long) j * ldb + p : (long) p * ldb + j);
                        setF(c, cr + j, getF(c, cr + j) + av * (float) Elem.get(b, bType, bi));
                    }
                }
            }
        }
    }

    @Override
    public void dequantizeFp8(DType fp8, MemorySegment q, long qOff, float scale, DType out, MemorySegment y, long yOff, long n) {
        for (long i = 0; i < n; i++) Elem.set(y, out, yOff + i, Fp8.toFloat(q.get(ValueLayout.JAVA_BYTE, qOff + i), fp8) * scale);
    }

    @Override
    public void gemv(DType wType, int n, int k, MemorySegment w, long wOff, long ldw, MemorySegment x, long xOff,
                     MemorySegment y, long yOff) {
        for (int j = 0; j < n; j++) {
            float acc = 0f;
            long wr = wOff + (long) j * ldw;
            for (int i = 0; i < k; i++) acc += (float) Elem.get(w, wType, wr + i) * getF(x, xOff + i);
            setF(y, yOff + j, acc);
        }
    }

    // ---- F64 twins --------------------------------------------------------------------------

    /** F64 {@link #unary}. */
    public static void unaryD(UnaryOp op, MemorySegment x, long xOff, long xInc, MemorySegment y, long yOff, long n) {
        for (long i = 0; i < n; i++) setD(y, yOff + i, op.apply(getD(x, xOff + i * xInc)));
    }

    /** F64 {@link #binary}. */
    public static void binaryD(BinaryOp op, MemorySegment a, long aOff, long aInc, MemorySegment b, long bOff, long bInc,
                               MemorySegment y, long yOff, long n) {
        for (long i = 0; i < n; i++) setD(y, yOff + i, op.apply(getD(a, aOff + i * aInc), getD(b, bOff + i * bInc)));
    }

    /** F64 {@link #reduce}. */
    public static void reduceD(ReduceOp op, MemorySegment x, long xOff, long outer, long r, long inner, MemorySegment y, long yOff) {
        for (long o = 0; o < outer; o++) {
            for (long i = 0; i < inner; i++) {
                double acc = op == ReduceOp.SUM ? 0.0 : Double.NEGATIVE_INFINITY;
                for (long j = 0; j < r; j++) {
                    double v = getD(x, xOff + (o * r + j) * inner + i);
                    acc = op == ReduceOp.SUM ? acc + v : Math.max(acc, v);
                }
                setD(y, yOff + o * inner + i, acc);
            }
        }
    }

    /** F64 {@link #softmaxRows}. */
    public static void softmaxRowsD(MemorySegment x, long xOff, MemorySegment y, long yOff, long rows, long n, boolean log) {
        for (long row = 0; row < rows; row++) {
            long xo = xOff + row * n;
            long yo = yOff + row * n;
            double max = Double.NEGATIVE_INFINITY;
            for (long i = 0; i < n; i++) max = Math.max(max, getD(x, xo + i));
            double sum = 0;
            for (long i = 0; i < n; i++) sum += Math.exp(getD(x, xo + i) - max);
            double logSum = Math.log(sum);
            for (long i = 0; i < n; i++) {
                double v = (getD(x, xo + i) - max) - logSum;
                setD(y, yo + i, log ? v : Math.exp(getD(x, xo + i) - max) / sum);
            }
        }
    }

    /** F64 {@link #rmsNormRows}. */
    public static void rmsNormRowsD(MemorySegment x, long xOff, MemorySegment w, long wOff, MemorySegment y, long yOff,
                                    long rows, long n, double eps) {
        for (long row = 0; row < rows; row++) {
            double ss = 0;
            for (long i = 0; i < n; i++) {
                double v = getD(x, xOff + row * n + i);
                ss += v * v;
            }
            double inv = 1.0 / Math.sqrt(ss / n + eps);
            for (long i = 0; i < n; i++) setD(y, yOff + row * n + i, getD(x, xOff + row * n + i) * inv * getD(w, wOff + i));
        }
    }

    /** F64 {@link #ropeRows}. */
    public static void ropeRowsD(MemorySegment x, long xOff, MemorySegment cos, long cosOff, MemorySegment sin, long sinOff,
                                 MemorySegment y, long yOff, long rows, long half) {
        for (long row = 0; row < rows; row++) {
            for (long i = 0; i < half; i++) {
                double c = getD(cos, cosOff + row * half + i);
                double s = getD(sin, sinOff + row * half + i);
                long p = row * 2 * half + 2 * i;
                double x0 = getD(x, xOff + p);
                double x1 = getD(x, xOff + p + 1);
                setD(y, yOff + p, x0 * c - x1 * s);
                setD(y, yOff + p + 1, x0 * s + x1 * c);
            }
        }
    }

    /** F64 matrix product with the layout conventions of {@link #sgemm} (B is F64). */
    public static void dgemm(boolean ta, boolean tb, int m, int n, int k,
                             MemorySegment a, long aOff, long lda, MemorySegment b, long bOff, long ldb,
                             MemorySegment c, long cOff, long ldc, boolean accumulate) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = accumulate ? getD(c, cOff + (long) i * ldc + j) : 0.0;
                for (int p = 0; p < k; p++) {
                    double av = getD(a, aOff + (ta ? (long) p * lda + i : (long) i * lda + p));
                    double bv = getD(b, bOff + (tb ? (long) j * ldb + p : (long) p * ldb + j));
                    acc += av * bv;
                }
                setD(c, cOff + (long) i * ldc + j, acc);
            }
        }
    }
}
