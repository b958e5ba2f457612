package dev.panamax.moe;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Scope;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Generator}'s pipelined decode loop (tokens drawn and fed on the device, read after the
 * next step is queued) against its plain loop (each step's tokens read before the next step),
 * which is the specification: the same tokens for every row, with rows that stop at different
 * steps, a batch that stops early, prompt lengths run as separate batches, stop ids outside the
 * vocabulary, and the sampler's stream left where the plain loop leaves it. On the emulated
 * device here, on a GPU in {@link PipelinedGenerationOnGpuTest}.
 */
class PipelinedGenerationTest {
    /** The device the model runs on. */
    Device device() {
        return Device.EMULATED;
    }

    private static final List<long[]> PROMPTS = List.of(new long[]{3, 14, 15, 92, 65}, new long[]{7, 7, 1, 200, 31},
            new long[]{2, 71, 82, 81, 8}, new long[]{9, 9});

    /**
     * The completions in one mode, the sampler's next draws after them, and each batch's cache:
     * its length and every layer's latent rows, which hold what every step computed, the rows of
     * finished sequences included.
     */
    private record Run(List<long[]> completions, long tokens, int[] after, List<Cached> caches) {
    }

    /** A batch's cache as generation left it: its length, batch and capacity, and each layer's latent buffer (B, capacity, Lkv). */
    private record Cached(int length, int batch, int capacity, float[][] latents) {
    }

    private static Run run(DeepSeekModel m, boolean pipelined, int maxNew, Set<Long> stop, Supplier<Sampler> samplers, Mla.Path path) {
        String was = System.getProperty(Generator.PIPELINE_PROPERTY);
        System.setProperty(Generator.PIPELINE_PROPERTY, Boolean.toString(pipelined));
        try {
            Sampler s = samplers.get();
            List<Cached> caches = new ArrayList<>();
            Generator.Result r = Generator.generate(m, PROMPTS, maxNew, stop, s, path, DType.F32, cache -> {
                float[][] layers = new float[m.config().numHiddenLayers()][];
                for (int l = 0; l < layers.length; l++) layers[l] = cache.latentBuffer(l).toFloatArray();
                caches.add(new Cached(cache.length(), cache.batch(), cache.maxLength(), layers));
            });
            float[] probe = {0.5f, 1f, 0.25f, 2f, 1.5f, 0f};
            int[] after = new int[4];
            for (int i = 0; i < after.length; i++) after[i] = s.sample(probe);
            return new Run(r.completions(), r.tokens(), after, caches);
        } finally {
            if (was == null) System.clearProperty(Generator.PIPELINE_PROPERTY);
            else System.setProperty(Generator.PIPELINE_PROPERTY, was);
        }
    }

    private static void assertSame(Run plain, Run pipelined, String what) {
        assertThat(pipelined.tokens()).as(what + ": tokens").isEqualTo(plain.tokens());
        for (int i = 0; i < plain.completions().size(); i++) {
            assertThat(pipelined.completions().get(i)).as(what + ": prompt " + i).containsExactly(plain.completions().get(i));
        }
        assertThat(pipelined.after()).as(what + ": the sampler's stream after generation").containsExactly(plain.after());
        // every step computed what the plain loop's did, for finished rows too (fed their stop token again); the
        // pipelined loop may have run one step more, dropped
        assertThat(pipelined.caches()).hasSameSizeAs(plain.caches());
        for (int b = 0; b < plain.caches().size(); b++) {
            Cached p = plain.caches().get(b), q = pipelined.caches().get(b);
            int len = p.length();
            assertThat(q.length()).as(what + ": batch " + b + "'s cache length").isBetween(len, len + 1);
            for (int l = 0; l < p.latents().length; l++) {
                float[] want = p.latents()[l], got = q.latents()[l];
                int rowLen = want.length / p.batch(), per = rowLen / p.capacity();
                for (int r = 0; r < p.batch(); r++) {
                    for (int i = 0; i < len * per; i++) {
                        if (Float.floatToIntBits(got[r * rowLen + i]) != Float.floatToIntBits(want[r * rowLen + i])) {
                            throw new AssertionError(what + ": batch " + b + " row " + r + " layer " + l + " cached latent at position " + i / per
                                    + " differs: " + got[r * rowLen + i] + " against the plain loop's " + want[r * rowLen + i]);
                        }
                    }
                }
            }
        }
    }

    @Test
    void thePipelinedLoopGivesThePlainLoopsTokensAndLeavesTheSamplersStreamWhereItDoes() throws Exception {
        try (Scope scope = Scope.open(); DeepSeekModel m = DeepSeekModel.load(GenerationTest.firstCase(), false, device())) {
            long v = m.config().vocabSize();
            List<Supplier<Sampler>> samplers = List.of(Sampler::greedy, () -> Sampler.of(1.0, 0, 1.0, 3), () -> Sampler.of(0.7, 0, 1.0, 11));
            for (int si = 0; si < samplers.size(); si++) {
                Supplier<Sampler> sampler = samplers.get(si);
                for (Mla.Path path : new Mla.Path[]{Mla.ABSORBED, Mla.NAIVE}) {   // with a decode graph, and without
                    Run free = run(m, false, 8, Set.of(), sampler, path);
                    assertSame(free, run(m, true, 8, Set.of(), sampler, path), "sampler " + si + " " + path + ", no stop ids");
                    // rows that stop at different steps (row 0 at step 2, row 1 at step 5 at the latest), and ids no row can draw
                    List<long[]> c = free.completions();
                    Set<Long> some = Set.of(c.get(0)[2], c.get(1)[5], -1L, v + 5);
                    Run plain = run(m, false, 8, some, sampler, path);
                    assertThat(plain.completions().get(0)).as("row 0 stops early").hasSizeLessThanOrEqualTo(3);
                    assertSame(plain, run(m, true, 8, some, sampler, path), "sampler " + si + " " + path + ", stop ids " + some);
                    // every row of the first batch stops by step 1: the step queued meanwhile is dropped, and the
                    // second batch (prompt length 2) draws from the stream after it
                    Set<Long> early = new HashSet<>();
                    for (int r = 0; r < 3; r++) early.add(c.get(r)[1]);
                    plain = run(m, false, 8, early, sampler, path);
                    for (int r = 0; r < 3; r++) assertThat(plain.completions().get(r)).as("row %d stops by step 1", r).hasSizeLessThanOrEqualTo(2);
                    assertSame(plain, run(m, true, 8, early, sampler, path), "sampler " + si + " " + path + ", stop ids " + early);
                    // one token, and none
                    assertSame(run(m, false, 1, some, sampler, path), run(m, true, 1, some, sampler, path), "sampler " + si + ", one token");
                    Run none = run(m, true, 0, some, sampler, path);
                    assertThat(none.tokens()).isZero();
                    assertSame(run(m, false, 0, some, sampler, path), none, "sampler " + si + ", no token");
                }
            }
        }
    }
}
