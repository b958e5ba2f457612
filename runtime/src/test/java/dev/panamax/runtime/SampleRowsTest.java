package dev.panamax.runtime;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link Functional#sampleRows} on the host: its uniforms are the JDK's SplittableRandom stream,
 * the inverse transform walks the ids in order, the draws follow softmax(logits / temperature)
 * (a chi-square test), and NaN, infinities, temperature 0 and bad arguments behave as documented.
 */
class SampleRowsTest {
    @Test
    void eachRowsUniformIsTheNextDoubleOfSplittableRandom() {
        for (long key : new long[]{0, 1, -1, 42, Long.MIN_VALUE, 0x9e3779b97f4a7c15L}) {
            SplittableRandom r = new SplittableRandom(key);
            for (long row = 0; row < 200; row++) assertThat(Sampling.uniform(key, row)).as("key %d row %d", key, row).isEqualTo(r.nextDouble());
        }
    }

    @Test
    void theInverseTransformWalksTheIdsInOrder() {
        // weights 1 : 2 : 5 (the largest logit weighs 1, so they are 0.2 : 0.4 : 1), ids in order
        float[] x = {(float) Math.log(1), (float) Math.log(2), (float) Math.log(5)};
        int rows = 500;
        float[] all = new float[rows * 3];
        for (int r = 0; r < rows; r++) System.arraycopy(x, 0, all, r * 3, 3);
        long key = 77;
        long[] got = Functional.sampleRows(Tensor.of(all, rows, 3), 1.0, key).toLongArray();
        SplittableRandom u = new SplittableRandom(key);
        int[] seen = new int[3];
        for (int r = 0; r < rows; r++) {
            double at = u.nextDouble() * 8;
            long want = at < 1 ? 0 : at < 3 ? 1 : 2;
            assertThat(got[r]).as("row %d, u * 8 = %s", r, at).isEqualTo(want);
            seen[(int) want]++;
        }
        assertThat(seen).doesNotContain(0);
    }

    @Test
    void drawsFollowTheSoftmaxAtTheTemperature() {
        float[] x = {0.3f, -1.2f, 2.0f, 0.0f, 1.1f, -0.4f, Float.NEGATIVE_INFINITY, 0.9f};
        int rows = 40_000, v = x.length;
        float[] all = new float[rows * v];
        for (int r = 0; r < rows; r++) System.arraycopy(x, 0, all, r * v, v);
        Tensor logits = Tensor.of(all, rows, v);
        for (double t : new double[]{0.5, 1.0, 2.5}) {
            long[] got = Functional.sampleRows(logits, t, 2024).toLongArray();
            double[] p = new double[v];
            double z = 0;
            for (int j = 0; j < v; j++) z += p[j] = Math.exp(x[j] / t);
            long[] count = new long[v];
            for (long tok : got) count[(int) tok]++;
            assertThat(count[6]).as("a -inf logit is never drawn").isZero();
            double chi2 = 0;
            for (int j = 0; j < v; j++) {
                if (p[j] == 0) continue;
                double e = rows * p[j] / z;
                chi2 += (count[j] - e) * (count[j] - e) / e;
            }
            // 6 degrees of freedom: P(chi2 > 27.9) = 1e-4
            assertThat(chi2).as("chi-square at temperature %s, counts %s", t, java.util.Arrays.toString(count)).isLessThan(27.9);
        }
    }

    @Test
    void greedyAndNonFiniteRows() {
        float nan = Float.NaN, inf = Float.POSITIVE_INFINITY;
        float[][] rows = {
                {1, 3, 3, nan},          // greedy: the lowest id of the maximum
                {nan, nan, nan, nan},    // no logit: 0
                {nan, -inf, 2, 2},       // a NaN first is skipped
                {0, inf, 5, inf},        // an infinite maximum: greedy at any temperature
                {-inf, -inf, -inf, -inf},
                {nan, -inf, nan, -inf},
        };
        long[] greedy = {1, 0, 2, 1, 0, 1};
        float[] all = new float[rows.length * 4];
        for (int r = 0; r < rows.length; r++) System.arraycopy(rows[r], 0, all, r * 4, 4);
        Tensor logits = Tensor.of(all, rows.length, 4);
        assertThat(Functional.sampleRows(logits, 0, 9).toLongArray()).containsExactly(greedy);
        long[] warm = Functional.sampleRows(logits, 1.0, 9).toLongArray();
        for (int r : new int[]{1, 3, 4, 5}) assertThat(warm[r]).as("row %d", r).isEqualTo(greedy[r]);
        // at a temperature, NaN and -inf logits are never drawn
        for (long key = 0; key < 300; key++) {
            long[] t = Functional.sampleRows(logits, 3.0, key).toLongArray();
            assertThat(t[0]).isBetween(0L, 2L);
            assertThat(t[2]).isBetween(2L, 3L);
        }
    }

    @Test
    void theSoftmaxDenominatorIsTheSumOfTheWeights() {
        // weights 1 : 2 : 5 at temperature 1 (the largest weighs 1: 0.2 + 0.4 + 1), squared at 1/2, NaN weighing nothing
        float[] x = {(float) Math.log(1), (float) Math.log(2), Float.NaN, (float) Math.log(5), Float.NEGATIVE_INFINITY};
        Tensor t = Tensor.of(x, 1, 5);
        assertThat(Functional.softmaxDenominators(t, 1.0)[0]).isCloseTo(1.6, org.assertj.core.data.Offset.offset(1e-7));
        assertThat(Functional.softmaxDenominators(t, 0.5)[0]).isCloseTo(1 + 0.04 + 0.16, org.assertj.core.data.Offset.offset(1e-7));
        // every row of the leading dims, each its own maximum; a row without a finite maximum sums NaN weights to 0
        float nan = Float.NaN, inf = Float.POSITIVE_INFINITY;
        Tensor rows = Tensor.of(new float[]{0, 0, 0, 7, 7, 7, nan, nan, nan, inf, 1, 2}, 2, 2, 3);
        assertThat(Functional.softmaxDenominators(rows, 2.0)).containsExactly(3, 3, 0, 0);
        assertThatThrownBy(() -> Functional.softmaxDenominators(t, 0)).hasMessageContaining("temperature");
        assertThatThrownBy(() -> Functional.softmaxDenominators(Tensor.zeros(DType.F32, 2, 0), 1)).hasMessageContaining("V > 0");
    }

    @Test
    void keepsTheLeadingDimsAndChecksItsArguments() {
        Tensor x = Tensor.randn(DType.F32, 3, 1.0, 2, 3, 5);
        Tensor t = Functional.sampleRows(x, 1.0, 1);
        assertThat(t.dtype()).isEqualTo(DType.I64);
        assertThat(t.dims()).containsExactly(2, 3);
        assertThat(Functional.sampleRows(Tensor.of(new float[]{0, 9, 1}, 3), 0, 1).dims()).isEmpty();
        assertThat(Functional.sampleRows(Tensor.of(new float[]{0, 9, 1}, 3), 0, 1).toLongArray()).containsExactly(1);
        assertThat(Functional.sampleRows(x.to(DType.BF16), 0, 1).toLongArray()).containsExactly(Functional.sampleRows(x.to(DType.BF16).to(DType.F32), 0, 1).toLongArray());
        assertThatThrownBy(() -> Functional.sampleRows(x, -1, 1)).hasMessageContaining("temperature");
        assertThatThrownBy(() -> Functional.sampleRows(x, Double.NaN, 1)).hasMessageContaining("temperature");
        assertThatThrownBy(() -> Functional.sampleRows(x, Double.POSITIVE_INFINITY, 1)).hasMessageContaining("temperature");
        assertThatThrownBy(() -> Functional.sampleRows(Tensor.zeros(DType.F32, 2, 0), 1, 1)).hasMessageContaining("V > 0");
        assertThatThrownBy(() -> Functional.sampleRows(Tensor.zeros(DType.F32), 1, 1)).hasMessageContaining("V > 0");
    }
}
