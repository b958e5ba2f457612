package dev.panamax.moe;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Continuous batching ({@link Batcher}): a decode step over sequences at positions of their own
 * gives each the logits of its whole sequence run alone, with no cache; and each sequence of a
 * batch that others join and leave generates {@link Generator}'s tokens for its prompt alone.
 */
class BatcherTest {
    Device device() {
        return Device.CPU;
    }

    static final List<long[]> PROMPTS = List.of(new long[]{3, 14, 15}, new long[]{7, 7, 1, 200, 31, 9, 2}, new long[]{5, 6, 5, 6, 5},
            new long[]{9}, new long[]{42, 1, 42, 1, 42, 1, 42, 1, 42, 1, 42, 1, 42, 1, 42, 1, 42, 1, 42, 1}, new long[]{100, 101});

    /**
     * Three sequences of different lengths, each prefilled alone into its row, then two steps of
     * all three at once, each at its own position: each row's logits are those of a pass over its
     * whole sequence alone without a cache (an F32 cache), or of its own one-row cache (BF16, whose
     * entries round the same way).
     */
    @Test
    void aStepAtPositionsOfTheirOwnIsEachSequenceAlone() throws Exception {
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(GenerationTest.firstCase(), false, device())) {
            List<long[]> prompts = List.of(PROMPTS.get(0), PROMPTS.get(1), PROMPTS.get(2));
            long[][] steps = {{11, 12, 13}, {21, 22, 23}};
            for (DType dtype : List.of(DType.F32, DType.BF16)) {
                try (KvCache cache = new KvCache(m.config(), 3, 16, m.device(), dtype)) {
                    int[] lengths = new int[3];
                    for (int r = 0; r < 3; r++) {
                        try (KvCache one = cache.rows(r, 1)) {
                            m.forward(Tensor.ofLongs(prompts.get(r), 1, prompts.get(r).length), 0, one, Mla.ABSORBED, true, null);
                        }
                        lengths[r] = prompts.get(r).length;
                    }
                    cache.lengths(lengths);
                    assertThat(cache.length()).isEqualTo(7);
                    for (int step = 0; step < steps.length; step++) {
                        float[] got = m.forward(Tensor.ofLongs(steps[step], 3, 1), cache.length(), cache, Mla.ABSORBED, true, null).toFloatArray();
                        int v = m.config().vocabSize();
                        for (int r = 0; r < 3; r++) {
                            long[] whole = Arrays.copyOf(prompts.get(r), prompts.get(r).length + step + 1);
                            for (int k = 0; k <= step; k++) whole[prompts.get(r).length + k] = steps[k][r];
                            float[] want = dtype == DType.F32 ? m.forward(Tensor.ofLongs(whole, 1, whole.length), 0, null, Mla.ABSORBED, true, null).toFloatArray()
                                    : alone(m, whole, dtype);
                            for (int j = 0; j < v; j++)
                                assertThat((double) got[r * v + j]).as(dtype + " step " + step + " sequence " + r + " logit " + j).isCloseTo(want[j], within(2e-4));
                        }
                    }
                    assertThat(cache.length()).isEqualTo(9);
                }
            }
        }
    }

    /** The last logits of {@code whole} run through a one-sequence cache of {@code dtype}: all but its last token at once, then that one. */
    private static float[] alone(DeepSeekModel m, long[] whole, DType dtype) {
        try (KvCache one = new KvCache(m.config(), 1, 16, m.device(), dtype)) {
            int n = whole.length;
            m.forward(Tensor.ofLongs(Arrays.copyOf(whole, n - 1), 1, n - 1), 0, one, Mla.ABSORBED, true, null);
            return m.forward(Tensor.ofLongs(new long[]{whole[n - 1]}, 1, 1), n - 1, one, Mla.ABSORBED, true, null).toFloatArray();
        }
    }

    /**
     * Six prompts through three slots, submitted from three threads at once: sequences wait for a
     * slot, join the batch as others leave, and the cache grows (a 20-token prompt after short
     * ones). Each generates what {@link Generator} generates for its prompt alone with the same
     * sampler (greedy, and seeded sampling with top-k and top-p), its listener sees those tokens in
     * order and then its end, and a stop token ends it.
     */
    @Test
    void eachSequenceOfTheBatchGeneratesItsPromptsOwnTokens() throws Exception {
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(GenerationTest.firstCase(), false, device())) {
            int[] maxNew = {9, 4, 12, 7, 10, 6};
            List<long[]> want = new ArrayList<>();
            for (int i = 0; i < PROMPTS.size(); i++) {
                want.add(Generator.generate(m, List.of(PROMPTS.get(i)), maxNew[i], Set.of(), sampler(i), Mla.ABSORBED, DType.F32).completions().getFirst());
            }
            long stopToken = want.get(2)[3];   // ends prompt 2 at its fourth token (or sooner, where it came before)
            int stopAt = 0;
            while (want.get(2)[stopAt] != stopToken) stopAt++;
            long[] want2 = Arrays.copyOf(want.get(2), stopAt + 1);
            try (Batcher b = new Batcher(m, 3, DType.F32)) {
                Batcher.Sequence[] seqs = new Batcher.Sequence[PROMPTS.size()];
                List<ConcurrentLinkedQueue<Long>> heard = new ArrayList<>();
                AtomicReference<Throwable>[] ends = new AtomicReference[PROMPTS.size()];
                CountDownLatch go = new CountDownLatch(1);
                List<Thread> threads = new ArrayList<>();
                for (int t = 0; t < 3; t++) {
                    int first = t;
                    Thread th = new Thread(() -> {
                        try {
                            go.await();
                        } catch (InterruptedException e) {
                            return;
                        }
                        for (int i = first; i < PROMPTS.size(); i += 3) {
                            int k = i;
                            ConcurrentLinkedQueue<Long> q = heard.get(k);
                            seqs[k] = b.submit(PROMPTS.get(k), maxNew[k], k == 2 ? Set.of(stopToken) : Set.of(), sampler(k), new Batcher.Listener() {
                                @Override
                                public void token(long id) {
                                    q.add(id);
                                }

                                @Override
                                public void done(Throwable failure) {
                                    ends[k].set(failure != null ? failure : new Throwable("ended"));
                                }
                            });
                        }
                    });
                    threads.add(th);
                }
                for (int i = 0; i < PROMPTS.size(); i++) {
                    heard.add(new ConcurrentLinkedQueue<>());
                    ends[i] = new AtomicReference<>();
                }
                whileHeld(b, () -> {   // all six queued before the batcher admits any: the mean batch does not hang on the threads' timing
                    threads.forEach(Thread::start);
                    go.countDown();
                    for (Thread th : threads) th.join();
                    return null;
                });
                for (int i = 0; i < PROMPTS.size(); i++) {
                    long[] got = seqs[i].await();
                    long[] expected = i == 2 ? want2 : want.get(i);
                    assertThat(got).as("sequence " + i).containsExactly(expected);
                    assertThat(heard.get(i).stream().mapToLong(Long::longValue).toArray()).as("sequence " + i + " as heard").containsExactly(expected);
                    assertThat(ends[i].get()).as("sequence " + i + " ended well").hasMessage("ended");
                    assertThat(seqs[i].isDone()).isTrue();
                }
                assertThat(b.steps()).isPositive();
                assertThat((double) b.stepRows() / b.steps()).as("the mean batch").isGreaterThan(1.5);
            }
        }
    }

    /**
     * Sequences admitted together with one prompt (a request's n choices) share one prefill, its
     * entries copied to each one's slot: each still generates its prompt's own tokens with its own
     * sampler (three seeded samples that differ, and a greedy one), beside a sequence of another prompt.
     */
    @Test
    void choicesOfOnePromptShareAPrefillAndEachDrawsItsOwn() throws Exception {
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(GenerationTest.firstCase(), false, device());
             Batcher b = new Batcher(m, 5, DType.BF16)) {
            long[] prompt = PROMPTS.get(1), other = PROMPTS.get(2);
            List<Sampler> samplers = List.of(Sampler.of(1.0, 0, 1, 1), Sampler.of(1.0, 0, 1, 2), Sampler.greedy(), Sampler.of(1.0, 0, 1, 3));
            List<long[]> want = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Sampler again = i == 2 ? Sampler.greedy() : Sampler.of(1.0, 0, 1, i < 2 ? i + 1 : 3);
                want.add(alone(b, m, prompt, 10, again, DType.BF16));
            }
            long[] wantOther = alone(b, m, other, 10, Sampler.greedy(), DType.BF16);
            List<Batcher.Sequence> seqs = new ArrayList<>(whileHeld(b, () -> {   // admitted together
                List<Batcher.Sequence> q = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    q.add(b.submit(prompt, 10, Set.of(), samplers.get(i), null));
                    if (i == 1) q.add(b.submit(other, 10, Set.of(), Sampler.greedy(), null));
                }
                return q;
            }));
            long[] gotOther = seqs.remove(2).await();
            assertThat(gotOther).as("the other prompt").containsExactly(wantOther);
            for (int i = 0; i < 4; i++) assertThat(seqs.get(i).await()).as("choice " + i).containsExactly(want.get(i));
            assertThat(want.get(0)).isNotEqualTo(want.get(1));
            assertThat(b.prefills()).as("one prefill for the four choices, one for the other prompt").isEqualTo(2);
        }
    }

    /**
     * A slot keeps the entries of the sequence that ended in it: a later prompt that starts with
     * that sequence's prompt and tokens (the next turn of a chat) runs only its new tokens through
     * the model, and still generates what it generates alone; a prompt that shares nothing, or all
     * (then its last token is run again), is right too.
     */
    @Test
    void aLaterPromptReusesTheEntriesItSharesWithTheSlotsLastSequence() throws Exception {
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(GenerationTest.firstCase(), false, device());
             Batcher b = new Batcher(m, 2, DType.F32)) {
            long[] first = PROMPTS.get(1);
            long[] reply = b.submit(first, 8, Set.of(), Sampler.greedy(), null).await();
            assertThat(b.reusedTokens()).isZero();
            assertThat(b.prefilledTokens()).isEqualTo(first.length);
            // the next turn: the prompt, five of the reply's tokens (whose entries the slot holds), then new ones
            long[] next = java.util.stream.LongStream.concat(java.util.stream.LongStream.concat(Arrays.stream(first), Arrays.stream(reply, 0, 5)),
                    java.util.stream.LongStream.of(99, 100, 101)).toArray();
            long[] got = b.submit(next, 6, Set.of(), Sampler.greedy(), null).await();
            assertThat(b.reusedTokens()).as("the prompt and five tokens skipped").isEqualTo(first.length + 5);
            assertThat(b.prefilledTokens()).isEqualTo(first.length + 3);
            assertThat(got).containsExactly(alone(b, m, next, 6, Sampler.greedy(), DType.F32));
            // the whole reply in the next prompt: the slot holds all but its last token, which runs with the rest
            long[] whole = java.util.stream.LongStream.concat(java.util.stream.LongStream.concat(Arrays.stream(next), Arrays.stream(got)),
                    java.util.stream.LongStream.of(42)).toArray();
            long[] gotWhole = b.submit(whole, 4, Set.of(), Sampler.greedy(), null).await();
            assertThat(b.reusedTokens()).isEqualTo(first.length + 5 + next.length + 5);
            assertThat(gotWhole).containsExactly(alone(b, m, whole, 4, Sampler.greedy(), DType.F32));
            // all of it shared: its last token runs again; nothing shared: all of it runs
            long[] gotAgain = b.submit(whole.clone(), 3, Set.of(), Sampler.greedy(), null).await();
            assertThat(b.reusedTokens()).isEqualTo(first.length + 5 + next.length + 5 + whole.length - 1);
            assertThat(gotAgain).containsExactly(Arrays.copyOf(gotWhole, 3));
            long[] fresh = {8, 9, 10};
            long[] gotFresh = b.submit(fresh, 4, Set.of(), Sampler.greedy(), null).await();
            assertThat(gotFresh).containsExactly(alone(b, m, fresh, 4, Sampler.greedy(), DType.F32));
            assertThat(b.prefilledTokens()).isEqualTo(first.length + 3 + 2 + 1 + 3);
            // the fresh prompt took the empty slot, not the one holding the conversation, which is still
            // there; once it is used again, another new prompt takes the least recently used slot (the
            // fresh one's), and the conversation is still there
            for (int turn = 0; turn < 2; turn++) {
                if (turn == 1) b.submit(new long[]{50, 51}, 2, Set.of(), Sampler.greedy(), null).await();
                long reusedBefore = b.reusedTokens();
                b.submit(whole.clone(), 1, Set.of(), Sampler.greedy(), null).await();
                assertThat(b.reusedTokens() - reusedBefore).as("turn " + turn).isEqualTo(whole.length - 1);
            }
            // a free slot below one in use keeps its entries through the steps that run over it: B (long)
            // and then A (short), admitted together, take the least recently used slot 1 (the fresh prompt's) and then 0
            long[] a = {11, 12, 13, 14, 15, 16};
            List<Batcher.Sequence> ba = whileHeld(b, () -> List.of(b.submit(new long[]{21, 22}, 24, Set.of(), Sampler.greedy(), null),
                    b.submit(a, 2, Set.of(), Sampler.greedy(), null)));
            Batcher.Sequence inB = ba.get(0), inA = ba.get(1);
            long[] gotA = inA.await();
            while (inB.tokensSoFar() < 12 && !inB.isDone()) Thread.onSpinWait();   // steps over A's free slot
            long[] c = java.util.stream.LongStream.concat(java.util.stream.LongStream.concat(Arrays.stream(a), Arrays.stream(gotA, 0, 1)),
                    java.util.stream.LongStream.of(30)).toArray();
            long before = b.reusedTokens();
            long[] gotC = b.submit(c, 4, Set.of(), Sampler.greedy(), null).await();
            assertThat(b.reusedTokens() - before).isEqualTo(a.length + 1);
            assertThat(gotC).containsExactly(alone(b, m, c, 4, Sampler.greedy(), DType.F32));
            inB.await();
        }
    }

    /**
     * {@link Generator}'s tokens for {@code prompt} alone, generated on the batcher's thread
     * ({@link Batcher#call}): while a batcher is open only its thread uses the model (on a GPU, a
     * decode graph captured on another thread would meet the batcher's uploads).
     */
    static long[] alone(Batcher b, DeepSeekModel m, long[] prompt, int n, Sampler sampler, DType cache) throws InterruptedException {
        return b.call(() -> {
            try (Scope s = Scope.open()) {
                return Generator.generate(m, List.of(prompt), n, Set.of(), sampler, Mla.ABSORBED, cache).completions().getFirst();
            }
        });
    }

    /**
     * Runs {@code submit} while the batcher is held by a task of its own ({@link Batcher#call}), so
     * that it admits everything submitted together, in order, once the task ends.
     */
    static <T> T whileHeld(Batcher b, java.util.concurrent.Callable<T> submit) throws Exception {
        CountDownLatch held = new CountDownLatch(1), release = new CountDownLatch(1);
        Thread holder = new Thread(() -> {
            try {
                b.call(() -> {
                    held.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return null;
                });
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        holder.start();
        held.await();
        try {
            return submit.call();
        } finally {
            release.countDown();
            holder.join();
        }
    }

    /** Sequence i's sampler: greedy for even i, seeded top-k / top-p sampling for odd. */
    private static Sampler sampler(int i) {
        return i % 2 == 0 ? Sampler.greedy() : Sampler.of(0.8, i == 3 ? 5 : 0, i == 5 ? 0.9 : 1, 100 + i);
    }

    /**
     * A cancelled sequence ends with the tokens it has; bad prompts are refused with the value
     * named; closing fails what has not ended; a closed batcher takes nothing more. A task given
     * to {@link Batcher#call} runs between steps and returns its result.
     */
    @Test
    void cancelCallCloseAndBadInput() throws Exception {
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(GenerationTest.firstCase(), false, device())) {
            int v = m.config().vocabSize();
            Batcher b = new Batcher(m, 2, DType.BF16);
            CountDownLatch three = new CountDownLatch(3);
            Batcher.Sequence[] self = new Batcher.Sequence[1];
            self[0] = b.submit(PROMPTS.get(0), 40, Set.of(), Sampler.greedy(), id -> {
                three.countDown();
                if (three.getCount() == 0) self[0].cancel();
            });
            long[] cut = self[0].await();
            assertThat(cut.length).as("cancelled after its third token, at most a step later").isBetween(3, 4);
            // a listener that throws (at its third token, in a decode step) ends its own sequence with what it threw, and no other
            java.util.concurrent.atomic.AtomicInteger heard = new java.util.concurrent.atomic.AtomicInteger();
            Batcher.Sequence beside = b.submit(PROMPTS.get(3), 10, Set.of(), Sampler.greedy(), null);
            Batcher.Sequence thrower = b.submit(PROMPTS.get(0), 10, Set.of(), Sampler.greedy(), id -> {
                if (heard.incrementAndGet() == 3) throw new IllegalStateException("from the listener");
            });
            assertThatThrownBy(thrower::await).hasMessageContaining("from the listener");
            assertThat(heard.get()).isEqualTo(3);
            assertThat(beside.await()).hasSize(10);
            Integer scored = b.call(() -> Scoring.score(m, PROMPTS.get(1), 1, 2, Mla.ABSORBED).size());
            assertThat(scored).isEqualTo(PROMPTS.get(1).length - 1);
            assertThatThrownBy(() -> b.call(() -> {
                throw new IllegalStateException("from the task");
            })).hasMessage("from the task");
            assertThatThrownBy(() -> b.submit(new long[0], 4, Set.of(), Sampler.greedy(), null)).hasMessageContaining("empty");
            assertThatThrownBy(() -> b.submit(new long[]{1, v}, 4, Set.of(), Sampler.greedy(), null)).hasMessageContaining("prompt token 1 is " + v);
            assertThatThrownBy(() -> b.submit(new long[]{1}, 0, Set.of(), Sampler.greedy(), null)).hasMessageContaining("maxNewTokens");
            int most = m.config().maxPositionEmbeddings();
            assertThatThrownBy(() -> b.submit(new long[]{1, 2}, most, Set.of(), Sampler.greedy(), null)).hasMessageContaining("max_position_embeddings");
            assertThatThrownBy(() -> new Batcher(m, 0, DType.F32)).hasMessageContaining("slots");
            // one sequence in the batch (its listener holding the batcher at its first token), one waiting; then close
            CountDownLatch release = new CountDownLatch(1);
            Batcher.Sequence running = b.submit(PROMPTS.get(1), 20, Set.of(), Sampler.greedy(), id -> {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            while (running.tokensSoFar() == 0 && !running.isDone()) Thread.onSpinWait();
            Batcher.Sequence waiting = b.submit(PROMPTS.get(2), 20, Set.of(), Sampler.greedy(), null);
            Thread closer = new Thread(b::close);
            closer.start();
            while (closer.getState() != Thread.State.WAITING && closer.isAlive()) Thread.onSpinWait();   // joining the batcher's thread
            release.countDown();
            closer.join();
            assertThatThrownBy(running::await).hasMessageContaining("closed");
            assertThatThrownBy(waiting::await).hasMessageContaining("closed");
            b.close();
            assertThatThrownBy(() -> b.submit(new long[]{1}, 1, Set.of(), Sampler.greedy(), null)).hasMessageContaining("closed");
            assertThatThrownBy(() -> b.call(() -> 1)).hasMessageContaining("closed");
        }
    }
}
