package dev.panamax.moe;

import dev.panamax.runtime.Scope;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * {@link Scoring} against a log-softmax written out here over the logits of one whole forward pass
 * (no cache, every position), whatever the chunking; and the property evaluation harnesses rely on:
 * a greedy completion's tokens are each the top-1 of their position.
 */
class ScoringTest {
    static Path firstCase() throws Exception {
        try (var s = Files.list(DeepSeekReferenceTest.casesRoot())) {
            return s.filter(Files::isDirectory).sorted().findFirst().orElseThrow();
        }
    }

    @Test
    void logprobsAreTheLogSoftmaxOfTheWholeSequencesLogitsInAnyChunks() throws Exception {
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(firstCase(), false)) {
            int v = m.config().vocabSize(), n = 23;
            long[] ids = new Random(5).longs(n, 0, v).toArray();
            float[] logits = m.forward(dev.panamax.runtime.Tensor.ofLongs(ids, 1, n), 0, null, Mla.ABSORBED, false, null).toFloatArray();
            for (Mla.Path path : List.of(Mla.ABSORBED, Mla.NAIVE)) {
                for (int chunk : new int[]{1, 4, 7, 256}) {
                    for (int from : new int[]{0, 1, 9, 22, 23}) {
                        List<Scoring.Token> got = Scoring.score(m, ids, from, 5, path, chunk);
                        assertThat(got).hasSize(n - from);
                        for (int i = 0; i < got.size(); i++) {
                            int p = from + i;
                            Scoring.Token t = got.get(i);
                            assertThat(t.id()).isEqualTo(ids[p]);
                            if (p == 0) {
                                assertThat(t.logprob()).isNaN();
                                assertThat(t.topIds()).isEmpty();
                                continue;
                            }
                            double[] row = new double[v];   // the logits that predict ids[p]
                            for (int j = 0; j < v; j++) row[j] = logits[(p - 1) * v + j];
                            double max = java.util.Arrays.stream(row).max().orElseThrow(), sum = 0;
                            for (double x : row) sum += Math.exp(x - max);
                            double lse = max + Math.log(sum);
                            String at = path + " chunk " + chunk + " from " + from + " position " + p;
                            assertThat(t.logprob()).as(at).isCloseTo(row[(int) ids[p]] - lse, within(1e-4));
                            int[] order = IntStream.range(0, v).boxed().sorted(Comparator.comparingDouble((Integer j) -> -row[j]).thenComparing(j -> j))
                                    .mapToInt(Integer::intValue).limit(5).toArray();
                            assertThat(t.topIds()).as(at).containsExactly(IntStream.of(order).asLongStream().toArray());
                            for (int k = 0; k < 5; k++) assertThat(t.topLogprobs()[k]).as(at).isCloseTo(row[order[k]] - lse, within(1e-4));
                        }
                    }
                }
            }
            // every token's probability, summed: 1
            Scoring.Token all = Scoring.score(m, ids, 5, v, Mla.ABSORBED).getFirst();
            assertThat(all.topIds()).hasSize(v).doesNotHaveDuplicates();
            assertThat(java.util.Arrays.stream(all.topLogprobs()).map(Math::exp).sum()).isCloseTo(1.0, within(1e-9));
            assertThat(Scoring.score(m, ids, 5, 0, Mla.ABSORBED).getFirst().topIds()).isEmpty();
        }
    }

    @Test
    void aGreedyCompletionIsTheTop1AtEveryPosition() throws Exception {
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(firstCase(), false)) {
            long[] prompt = {3, 14, 15, 92, 65};
            long[] completion = Generator.generate(m, List.of(prompt), 12, Set.of(), Sampler.greedy(), Mla.ABSORBED).completions().getFirst();
            long[] all = java.util.stream.LongStream.concat(java.util.Arrays.stream(prompt), java.util.Arrays.stream(completion)).toArray();
            List<Scoring.Token> scored = Scoring.score(m, all, prompt.length, 1, Mla.ABSORBED);
            for (int i = 0; i < completion.length; i++) {
                assertThat(scored.get(i).topIds()).as("token " + i).containsExactly(completion[i]);
                assertThat(scored.get(i).logprob()).isEqualTo(scored.get(i).topLogprobs()[0]).isNegative();
            }
        }
    }

    @Test
    void badArgumentsAreRefused() throws Exception {
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(firstCase(), false)) {
            int v = m.config().vocabSize(), max = m.config().maxPositionEmbeddings();
            assertThatThrownBy(() -> Scoring.score(m, new long[0], 0, 1, Mla.ABSORBED)).hasMessageContaining("no ids");
            assertThatThrownBy(() -> Scoring.score(m, new long[]{1, v}, 0, 1, Mla.ABSORBED)).hasMessageContaining("id " + v + " at 1 is outside the vocabulary");
            assertThatThrownBy(() -> Scoring.score(m, new long[]{1, 2}, 3, 1, Mla.ABSORBED)).hasMessageContaining("from must be in 0..2");
            assertThatThrownBy(() -> Scoring.score(m, new long[]{1, 2}, 0, -1, Mla.ABSORBED)).hasMessageContaining("top must be >= 0");
            assertThatThrownBy(() -> Scoring.score(m, new long[max + 1], 0, 1, Mla.ABSORBED)).hasMessageContaining("more than the model's " + max + " positions");
            assertThat(Scoring.score(m, new long[]{4}, 0, 3, Mla.ABSORBED)).singleElement().extracting(Scoring.Token::logprob).matches(d -> Double.isNaN(d));
        }
    }
}
