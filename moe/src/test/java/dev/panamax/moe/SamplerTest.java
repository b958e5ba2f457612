package dev.panamax.moe;

import dev.panamax.runtime.Device;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link Sampler#sample} (primitive keys, the top k selected by a heap) draws the tokens of
 * {@link Sampler#sampleReference} (a boxed sort of every token), seed for seed, over logits with
 * ties, signed zeros, infinities and NaN, at every kind of cut. A batch of rows drawn where the
 * logits are gives, row for row, what drawing each row alone gives, on the host and on a device.
 */
class SamplerTest {
    /** The device of the device paths: the emulated one here, a GPU in {@link SamplerOnGpuTest}. */
    Device device() {
        return Device.EMULATED;
    }

    /** Logits on a coarse grid (many ties), with special values sprinkled in when asked. */
    private static float[] logits(Random r, int v, boolean special) {
        float[] x = new float[v];
        for (int i = 0; i < v; i++) x[i] = Math.round(r.nextGaussian() * 4) / 2f;
        if (special) {
            float[] odd = {0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, Float.MIN_VALUE, -Float.MIN_VALUE};
            for (float f : odd) x[r.nextInt(v)] = f;
        }
        return x;
    }

    @Test
    void drawsTheReferenceTokensSeedForSeed() {
        Random r = new Random(5);
        int cases = 0;
        for (int v : new int[]{1, 7, 300, 5000}) {
            for (double temperature : new double[]{0, 0.7, 1, 1.5}) {
                for (int topK : new int[]{0, 1, 5, 50, v}) {
                    for (double topP : new double[]{1, 0.9, 0.5}) {
                        Sampler fast = Sampler.of(temperature, topK, topP, 11), ref = Sampler.of(temperature, topK, topP, 11);
                        for (int row = 0; row < 12; row++) {
                            float[] x = logits(r, v, row % 4 == 3 && temperature > 0 && row != 11);
                            assertThat(fast.sample(x)).as("V %d, T %s, top-k %d, top-p %s, row %d", v, temperature, topK, topP, row)
                                    .isEqualTo(ref.sampleReference(x));
                            cases++;
                        }
                    }
                }
            }
        }
        assertThat(cases).isEqualTo(4 * 4 * 5 * 3 * 12);
    }

    @Test
    void aBatchDrawsWhatEachRowDrawsAloneOnTheHostAndOnADevice() {
        Random r = new Random(17);
        int rows = 6, v = 700;
        float[] all = new float[rows * v];
        for (int i = 0; i < rows; i++) System.arraycopy(logits(r, v, i == 2), 0, all, i * v, v);
        boolean[] done = {false, true, false, false, true, false};
        for (double temperature : new double[]{0, 1.2}) {
            for (int topK : new int[]{0, 40}) {
                for (double topP : new double[]{1, 0.8}) {
                    String as = String.format("T %s, top-k %d, top-p %s", temperature, topK, topP);
                    Sampler alone = Sampler.of(temperature, topK, topP, 3);
                    long[] want = new long[rows];
                    for (int i = 0; i < rows; i++) {
                        boolean byIds = temperature == 0 || (topK == 0 && topP == 1);
                        if (byIds) {   // the batch's key, the stream's first long: row i takes the uniform of row i
                            long key = new java.util.SplittableRandom(3).nextLong();
                            want[i] = dev.panamax.runtime.Functional.sampleRows(Tensor.of(all, rows, v), temperature, key).toLongArray()[i];
                        } else if (!done[i]) {
                            want[i] = alone.sample(Arrays.copyOfRange(all, i * v, (i + 1) * v));
                        }
                        if (done[i]) want[i] = -1;
                    }
                    for (Device d : new Device[]{Device.CPU, device()}) {
                        try (Scope s = Scope.open()) {
                            long[] got = Sampler.of(temperature, topK, topP, 3).sample(Tensor.of(all, rows, 1, v).to(d), done);
                            assertThat(got).as("%s on %s", as, d).containsExactly(want);
                        }
                    }
                }
            }
        }
        assertThatThrownBy(() -> Sampler.greedy().sample(Tensor.of(all, rows, v), new boolean[2])).hasMessageContaining("6 rows");
    }

    @Test
    void topPAloneOnADeviceCutsTheNucleusFromTheLeadingCandidates() {
        Random r = new Random(23);
        int rows = 5, v = 5000;   // more tokens than the candidates read back
        float[] all = new float[rows * v];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < v; j++) all[i * v + j] = (float) (r.nextGaussian() * (i == 3 ? 0.05 : 5));   // row 3 flat: its nucleus reaches past them
        }
        for (int j : new int[]{10, 20, 4000}) all[v + j] = 40f;   // row 1: three tokens tie at the top
        boolean[] done = {false, false, true, false, false};
        for (double temperature : new double[]{0.7, 1.3}) {
            for (double topP : new double[]{0.5, 0.95}) {
                for (int topK : new int[]{0, v, 7000}) {   // top-k of V or more keeps every token
                    Sampler alone = Sampler.of(temperature, topK, topP, 9);
                    long[] want = new long[rows];
                    for (int i = 0; i < rows; i++) want[i] = done[i] ? -1 : alone.sample(Arrays.copyOfRange(all, i * v, (i + 1) * v));
                    try (Scope s = Scope.open()) {
                        long[] got = Sampler.of(temperature, topK, topP, 9).sample(Tensor.of(all, rows, v).to(device()), done);
                        assertThat(got).as("T %s, top-p %s, top-k %d", temperature, topP, topK).containsExactly(want);
                    }
                }
            }
        }
    }

    @Test
    void theDevicesTopKIsRankedAsTheHostRanksIt() {
        // -0.0 (id 1) and 0.0 (id 3) weigh the same; the device lists them by id, the host ranks 0.0 first
        float[] x = {-30f, -0f, -30f, 0f, -30f, -30f};
        for (long seed = 0; seed < 20; seed++) {
            long want = Sampler.of(1.0, 2, 1.0, seed).sample(x);
            try (Scope s = Scope.open()) {
                long[] got = Sampler.of(1.0, 2, 1.0, seed).sample(Tensor.of(x, 1, 6).to(device()), null);
                assertThat(got).as("seed %d", seed).containsExactly(want);
            }
        }
    }

    @Test
    void keysRankAsTheComparisonDoes() {
        float[] x = {1f, Float.NaN, -0f, 0f, Float.NEGATIVE_INFINITY, 1f, Float.POSITIVE_INFINITY, -Float.MIN_VALUE, -2.5f, Float.MIN_VALUE};
        Integer[] boxed = new Integer[x.length];
        for (int i = 0; i < x.length; i++) boxed[i] = i;
        Arrays.sort(boxed, (a, b) -> Float.compare(x[b], x[a]) != 0 ? Float.compare(x[b], x[a]) : Integer.compare(a, b));
        for (int keep : new int[]{x.length, 1, 2}) {   // 1 takes the heap (1 x 8 < 10), the whole array takes the sort
            long[] keys = Sampler.ranked(x, keep);
            for (int i = 0; i < keep; i++) assertThat((int) keys[i]).as("rank %d of %d kept", i, keep).isEqualTo(boxed[i]);
        }
        // NaN first, then +inf, ..., 0.0 before -0.0, and the two 1.0s by id
        assertThat(boxed).containsExactly(1, 6, 0, 5, 9, 3, 2, 7, 8, 4);
    }

    @Test
    void theRadixRankingOfALargeVocabularyIsTheSortedKeys() {
        Random r = new Random(9);
        for (int v : new int[]{Sampler.RADIX_FROM, 70_001}) {
            float[] x = logits(r, v, true);
            for (int i = 0; i < v; i += 97) x[i] = Float.intBitsToFloat(r.nextInt());   // every bit pattern, NaNs included
            long[] want = new long[v];
            for (int i = 0; i < v; i++) want[i] = Sampler.rankKey(x[i], i);
            java.util.Arrays.sort(want);
            assertThat(Sampler.ranked(x, v)).as("V %d", v).containsExactly(want);
        }
    }
}
