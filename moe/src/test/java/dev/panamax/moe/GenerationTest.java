package dev.panamax.moe;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Samplers, cached generation against full recomputation, stop tokens, batching; expert-bias balancing. */
class GenerationTest {
    static Path firstCase() throws Exception {
        try (Stream<Path> s = Files.list(DeepSeekReferenceTest.casesRoot())) {
            return s.filter(d -> Files.isRegularFile(d.resolve("config.json"))).sorted().findFirst().orElseThrow();
        }
    }

    @Test
    void samplersAreSeededAndRespectTopKAndTopP() {
        float[] logits = {1f, 3f, 2f, 0f, 2.5f};
        assertThat(Sampler.greedy().sample(logits)).isEqualTo(1);
        assertThat(Sampler.of(1.0, 1, 1.0, 5).sample(logits)).isEqualTo(1);
        assertThat(Sampler.of(1.0, 0, 1e-6, 5).sample(logits)).isEqualTo(1);
        Sampler a = Sampler.of(0.8, 0, 1.0, 42), b = Sampler.of(0.8, 0, 1.0, 42);
        for (int i = 0; i < 50; i++) assertThat(a.sample(logits)).isEqualTo(b.sample(logits));
        // frequencies follow softmax(logits / T) restricted to the top 3
        Sampler s = Sampler.of(1.0, 3, 1.0, 7);
        int[] counts = new int[5];
        int n = 200_000;
        for (int i = 0; i < n; i++) counts[s.sample(logits)]++;
        double z = Math.exp(3) + Math.exp(2.5) + Math.exp(2);
        assertThat(counts[0] + counts[3]).isZero();
        assertThat(counts[1] / (double) n).isCloseTo(Math.exp(3) / z, org.assertj.core.data.Offset.offset(0.01));
        assertThat(counts[4] / (double) n).isCloseTo(Math.exp(2.5) / z, org.assertj.core.data.Offset.offset(0.01));
        // top-p 0.6: the smallest prefix reaching 0.6 of the full distribution is {1, 4}
        Sampler p = Sampler.of(1.0, 0, 0.6, 9);
        for (int i = 0; i < 2000; i++) assertThat(p.sample(logits)).isIn(1, 4);
    }

    @Test
    void cachedGreedyGenerationMatchesFullRecomputationAndStops() throws Exception {
        try (Scope scope = Scope.open(); DeepSeekModel m = DeepSeekModel.load(firstCase(), false)) {
            long[] prompt = {3, 14, 15, 92, 65};
            Generator.Result r = Generator.generate(m, List.of(prompt), 6, Set.of(), Sampler.greedy(), Mla.ABSORBED);
            long[] got = r.completions().getFirst();
            assertThat(got).hasSize(6);
            long[] seq = java.util.Arrays.copyOf(prompt, prompt.length + 6);
            for (int j = 0; j < 6; j++) {
                int len = prompt.length + j;
                float[] logits = m.forward(Tensor.ofLongs(java.util.Arrays.copyOf(seq, len), 1, len), 0, null, Mla.NAIVE, true, null).toFloatArray();
                int best = 0;
                for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
                assertThat(got[j]).as("token %d", j).isEqualTo(best);
                seq[len] = best;
            }
            // a stop token ends the sequence and is kept
            Generator.Result stopped = Generator.generate(m, List.of(prompt), 6, Set.of(got[2]), Sampler.greedy(), Mla.ABSORBED);
            assertThat(stopped.completions().getFirst()).containsExactly(got[0], got[1], got[2]);
            // several sequences at once (two share a length and run as one batch) give the same tokens as alone
            long[] other = {7, 7, 1, 200, 31};
            Generator.Result batch = Generator.generate(m, List.of(prompt, other, new long[]{9, 9}), 6, Set.of(), Sampler.greedy(), Mla.NAIVE);
            assertThat(batch.completions().get(0)).containsExactly(got);
            assertThat(batch.completions().get(1)).containsExactly(Generator.generate(m, List.of(other), 6, Set.of(), Sampler.greedy(), Mla.NAIVE).completions().getFirst());
            assertThat(batch.tokens()).isEqualTo(18);
        }
    }

    @Test
    void auxLossFreeBalancingMovesTheBiasTowardsEvenLoad() {
        DeepSeekConfig cfg = ModelPathsAgreeTest.config("noaux_tc", "sigmoid", 4, 2, 1, false);
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.random(cfg, 3, DType.F32)) {
            Tensor ids = Tensor.ofLongs(new long[]{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 2, 6);
            m.forward(ids, 0, null, Mla.NAIVE, false, null);
            long[] load = m.expertLoads().get(1);
            assertThat(java.util.Arrays.stream(load).sum()).isEqualTo(12L * cfg.numExpertsPerTok());
            Tensor bias = m.layers()[1].moe().gate().bias;
            float[] before = bias.toFloatArray();
            m.updateRoutingBias(1e-3);
            float[] after = bias.toFloatArray();
            double mean = 12.0 * cfg.numExpertsPerTok() / cfg.nRoutedExperts();
            for (int i = 0; i < load.length; i++) {
                assertThat((double) after[i] - before[i]).as("expert %d load %d", i, load[i]).isCloseTo(1e-3 * Math.signum(mean - load[i]), org.assertj.core.data.Offset.offset(1e-7));
            }
        }
    }
}
