package dev.panamax.runtime;

import java.lang.foreign.MemorySegment;

/**
 * The F32 compute primitives. {@link ScalarKernels} is the specification (plain loops);
 * {@link VectorKernels} must agree with it. Offsets, increments and leading dimensions are in
 * elements, not bytes; all buffers are little-endian. Implementations are stateless and
 * thread-safe. The active implementation is {@link #active()}.
 */
public interface Kernels {
    /** A short name for logs and benchmark labels. */
    String name();

    /** {@code y[yOff + i] = op(x[xOff + i*xInc])} for {@code i < n}. {@code xInc} may be 0 (broadcast). */
    void unary(UnaryOp op, MemorySegment x, long xOff, long xInc, MemorySegment y, long yOff, long n);

    /** {@code y[yOff + i] = op(a[aOff + i*aInc], b[bOff + i*bInc])} for {@code i < n}; increments may be 0. */
    void binary(BinaryOp op, MemorySegment a, long aOff, long aInc, MemorySegment b, long bOff, long bInc,
                MemorySegment y, long yOff, long n);

    /**
     * Reduces the middle axis of a contiguous (outer, r, inner) block:
     * {@code y[o*inner + i] = op over j of x[(o*r + j)*inner + i]}.
     */
    void reduce(ReduceOp op, MemorySegment x, long xOff, long outer, long r, long inner, MemorySegment y, long yOff);

    /** Softmax (or log-softmax) of each contiguous row of length n; a row of all -inf gives NaN as in PyTorch. */
    void softmaxRows(MemorySegment x, long xOff, MemorySegment y, long yOff, long rows, long n, boolean log);

    /** RMSNorm of each contiguous row: {@code y = x / sqrt(mean(x^2) + eps) * w}, w of length n (F32). */
    void rmsNormRows(MemorySegment x, long xOff, MemorySegment w, long wOff, MemorySegment y, long yOff,
                     long rows, long n, float eps);

    /**
     * Rotary embedding on contiguous rows of length {@code 2*half}, interleaved pairs:
     * {@code y[2i] = x[2i] cos_i - x[2i+1] sin_i, y[2i+1] = x[2i] sin_i + x[2i+1] cos_i}, with
     * one contiguous (rows, half) table each for cos and sin.
     */
    void ropeRows(MemorySegment x, long xOff, MemorySegment cos, long cosOff, MemorySegment sin, long sinOff,
                  MemorySegment y, long yOff, long rows, long half);

    /**
     * {@code C (m,n) = A (m,k) . B (k,n)} (plus C's old value when {@code accumulate}). A is F32;
     * B is F32, BF16 or F16 ({@code bType}). {@code ta}: A is stored as (k,m) with leading dim
     * lda; {@code tb}: B is stored as (n,k), as a linear layer's weight is.
     */
    void sgemm(boolean ta, boolean tb, int m, int n, int k,
               MemorySegment a, long aOff, long lda,
               MemorySegment b, long bOff, long ldb, DType bType,
               MemorySegment c, long cOff, long ldc, boolean accumulate);

    /** Matrix-vector product {@code y[j] = sum_i W[j, i] x[i]} for W (n,k) of type F32, BF16 or F16 with row stride ldw. */
    void gemv(DType wType, int n, int k, MemorySegment w, long wOff, long ldw, MemorySegment x, long xOff,
              MemorySegment y, long yOff);

    /**
     * Dequantises {@code n} contiguous FP8 codes of type {@code fp8} ({@link DType#F8_E4M3} or
     * {@link DType#F8_E5M2}) with one scale: {@code y[yOff + i] = fp8(q[qOff + i]) * scale},
     * multiplied in F32 and stored in {@code out} (F32, BF16 or F16; rounded to nearest even).
     * {@code qOff} is in bytes (FP8 elements), {@code yOff} in elements of {@code out}.
     */
    void dequantizeFp8(DType fp8, MemorySegment q, long qOff, float scale, DType out, MemorySegment y, long yOff, long n);

    /**
     * The kernels ops use: {@link VectorKernels} with the preferred species, or
     * {@link ScalarKernels} when the system property {@code panamax.vector} is {@code false}
     * (or set by {@link #setActive}).
     */
    static Kernels active() {
        return Backend.active;
    }

    /** Replaces the active kernels (for tests and debugging); returns the previous ones. */
    static Kernels setActive(Kernels k) {
        Kernels old = Backend.active;
        Backend.active = java.util.Objects.requireNonNull(k);
        return old;
    }

    /** Holder of the process-wide choice. */
    final class Backend {
        static volatile Kernels active = "false".equalsIgnoreCase(System.getProperty("panamax.vector", "true"))
                ? ScalarKernels.INSTANCE : VectorKernels.preferred();

        private Backend() {
        }
    }
}
