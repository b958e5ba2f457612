package dev.panamax.moe;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Scope;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Generator.TokenSink}: every token, in order within each prompt, stop tokens included, the
 * same as the result's completions and as a run without a sink; on the host and on the emulated
 * device, with the pipelined loop (tokens read a step late) and without it.
 */
class TokenSinkTest {
    private static final List<long[]> PROMPTS = List.of(new long[]{3, 14, 15, 92, 65}, new long[]{7, 7, 1, 200, 31}, new long[]{9, 9});

    @Test
    void theSinkSeesEveryTokenInOrder() throws Exception {
        for (Device d : new Device[] {Device.CPU, Device.EMULATED}) {
            for (boolean pipelined : new boolean[] {true, false}) {
                String was = System.getProperty(Generator.PIPELINE_PROPERTY);
                System.setProperty(Generator.PIPELINE_PROPERTY, Boolean.toString(pipelined));
                try (Scope scope = Scope.open(); DeepSeekModel m = DeepSeekModel.load(GenerationTest.firstCase(), false, d)) {
                    Generator.Result free = Generator.generate(m, PROMPTS, 7, Set.of(), Sampler.of(0.9, 0, 1.0, 5), Mla.ABSORBED);
                    long stop = free.completions().get(0)[3];   // a token the first prompt draws: it stops there
                    Generator.Result without = Generator.generate(m, PROMPTS, 7, Set.of(stop), Sampler.of(0.9, 0, 1.0, 5), Mla.ABSORBED);
                    List<List<Long>> seen = new ArrayList<>();
                    for (int i = 0; i < PROMPTS.size(); i++) seen.add(new ArrayList<>());
                    Generator.Result with = Generator.generate(m, PROMPTS, 7, Set.of(stop), Sampler.of(0.9, 0, 1.0, 5), Mla.ABSORBED, DType.F32,
                            (prompt, token) -> seen.get(prompt).add(token));
                    assertThat(with.completions().get(0).length).isLessThanOrEqualTo(4);
                    for (int i = 0; i < PROMPTS.size(); i++) {
                        String what = d + (pipelined ? " pipelined" : "") + ", prompt " + i;
                        assertThat(with.completions().get(i)).as(what).containsExactly(without.completions().get(i));
                        assertThat(seen.get(i)).as(what).containsExactly(java.util.Arrays.stream(with.completions().get(i)).boxed().toArray(Long[]::new));
                    }
                } finally {
                    if (was == null) System.clearProperty(Generator.PIPELINE_PROPERTY);
                    else System.setProperty(Generator.PIPELINE_PROPERTY, was);
                }
            }
        }
    }

    /** A sink that ends a prompt after some tokens: that prompt's completion is cut there, the others run on as without it. */
    @Test
    void theSinkEndsAPromptWhereItSays() throws Exception {
        for (Device d : new Device[] {Device.CPU, Device.EMULATED}) {
            for (boolean pipelined : new boolean[] {true, false}) {
                String was = System.getProperty(Generator.PIPELINE_PROPERTY);
                System.setProperty(Generator.PIPELINE_PROPERTY, Boolean.toString(pipelined));
                try (Scope scope = Scope.open(); DeepSeekModel m = DeepSeekModel.load(GenerationTest.firstCase(), false, d)) {
                    Generator.Result free = Generator.generate(m, PROMPTS, 7, Set.of(), Sampler.greedy(), Mla.ABSORBED);
                    int[] limit = {3, 7, 1};   // tokens each prompt takes before its sink ends it
                    Generator.Result plain = Generator.generate(m, PROMPTS, 7, Set.of(), Sampler.greedy(), Mla.ABSORBED, DType.F32, cutting(limit));
                    Speculation.Result spec = Speculation.promptLookup(1, 3).generate(m, PROMPTS, 7, Set.of(), Sampler.greedy(), Mla.ABSORBED,
                            DType.F32, cutting(limit));
                    for (int i = 0; i < PROMPTS.size(); i++) {
                        long[] want = java.util.Arrays.copyOf(free.completions().get(i), limit[i]);
                        assertThat(plain.completions().get(i)).as("%s%s, prompt %d", d, pipelined ? " pipelined" : "", i).containsExactly(want);
                        assertThat(spec.completions().get(i)).as("speculative on %s, prompt %d", d, i).containsExactly(want);
                    }
                } finally {
                    if (was == null) System.clearProperty(Generator.PIPELINE_PROPERTY);
                    else System.setProperty(Generator.PIPELINE_PROPERTY, was);
                }
            }
        }
    }

    /** A sink that ends prompt i after {@code limit[i]} tokens, and fails on a token after that. */
    private static Generator.TokenSink cutting(int[] limit) {
        int[] seen = new int[limit.length];
        return new Generator.TokenSink() {
            @Override
            public void accept(int prompt, long token) {
                assertThat(seen[prompt]).as("a token after the prompt ended").isLessThan(limit[prompt]);
                seen[prompt]++;
            }

            @Override
            public boolean ended(int prompt) {
                return seen[prompt] >= limit[prompt];
            }
        };
    }
}
