package dev.panamax.runtime;

import java.lang.foreign.MemorySegment;

/**
 * The categorical draw of {@link Functional#sampleRows}: its scalar specification, which is also
 * the host path (rows in parallel), and the counter-based uniforms that the CUDA kernel
 * ({@code sample_rows_f32} in reduce.cu) computes the same way.
 */
final class Sampling {
    private Sampling() {
    }

    /** SplittableRandom's golden gamma: the step between the seeds of consecutive draws. */
    private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;

    /**
     * Row {@code row}'s uniform in [0, 1): the {@code (row + 1)}-th {@code nextDouble()} of
     * {@code new java.util.SplittableRandom(key)}, computed without the generator (its seed after
     * {@code row + 1} steps, through its mixing function), so that a kernel can compute it too.
     */
    static double uniform(long key, long row) {
        long z = key + (row + 1) * GOLDEN_GAMMA;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        z ^= z >>> 31;
        return (z >>> 11) * 0x1.0p-53;
    }

    /**
     * A token's weight {@code exp((v - m) / temperature)} in double, 0 for a NaN logit (and for
     * -infinity); the largest logit m has weight 1.
     */
    static double weight(float v, float m, double temperature) {
        double p = Math.exp(((double) v - m) / temperature);
        return p == p ? p : 0;
    }

    /**
     * The token of the {@code n} F32 logits at element {@code off} of {@code x}, drawn with the
     * uniform {@code u}; see {@link Functional#sampleRows} for the rule.
     */
    static long drawRow(MemorySegment x, long off, long n, double temperature, double u) {
        float m = max(x, off, n);
        if (temperature == 0 || Float.isInfinite(m)) {
            for (long j = 0; j < n; j++) if (Elem.getF(x, off + j) == m) return j;
            return 0;   // every logit NaN
        }
        double[] p = new double[Math.toIntExact(n)];
        double total = 0;
        for (int j = 0; j < p.length; j++) total += p[j] = weight(Elem.getF(x, off + j), m, temperature);
        double target = u * total, cum = 0;
        long last = 0;
        for (int j = 0; j < p.length; j++) {
            if (p[j] > 0) {
                cum += p[j];
                last = j;
                if (cum > target) return j;
            }
        }
        return last;   // u * total rounded up to the total
    }

    /** The largest of the n F32 logits at element off of x that is not NaN (-infinity when none is). */
    private static float max(MemorySegment x, long off, long n) {
        float m = Float.NEGATIVE_INFINITY;
        for (long j = 0; j < n; j++) {
            float v = Elem.getF(x, off + j);
            if (v > m) m = v;   // NaN never
        }
        return m;
    }

    /**
     * The sum of the {@link #weight}s of the n F32 logits at element off of x, in id order, m their
     * largest that is not NaN: {@link Functional#softmaxDenominators}' specification for one row.
     */
    static double total(MemorySegment x, long off, long n, double temperature) {
        float m = max(x, off, n);
        double total = 0;
        for (long j = 0; j < n; j++) total += weight(Elem.getF(x, off + j), m, temperature);
        return total;
    }

    /** The host path: row r of the (rows, n) contiguous F32 logits x into out[r] (I64). */
    static void drawRows(Tensor x, Tensor out, long rows, long n, double temperature, long key) {
        Parallel.forRange(rows, 1, (lo, hi) -> {
            for (long r = lo; r < hi; r++) {
                Elem.setLong(out.storage, DType.I64, out.offset + r, drawRow(x.storage, x.offset + r * n, n, temperature, uniform(key, r)));
            }
        });
    }
}
