package dev.panamax.moe;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.HostRead;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Generation with the compressed KV cache: sequences with the same prompt length run as one
 * batch (one batched prefill, then one batched decode step per token); each sequence stops at a
 * stop token (kept in its output) or after {@code maxNewTokens}. Nothing is recorded by autograd.
 * The cache is made on the model's device; the tokens are drawn where the logits are
 * ({@link Sampler#sample(Tensor, boolean[])}: on a device, greedy and plain temperature sampling
 * read back only the tokens, top-k sampling only each row's k candidates).
 * On a device the decode steps of the absorbed path run as a {@link DecodeGraph} (a CUDA graph
 * on a GPU) unless the system property {@value DecodeGraph#PROPERTY} is {@code false}.
 *
 * <p>On a device, with a sampler that draws without ranking (greedy, or temperature alone:
 * {@link Sampler#drawsWithoutRanking}), the decode loop is pipelined: each step's tokens are
 * drawn and fed to the next step on the device, and the host reads them only after it has queued
 * that next step, so the GPU never waits for the host between steps. The device keeps which rows
 * are done and feeds a done row its stop token again, as the plain loop does, and the step queued
 * past the end is dropped with its random key given back: the tokens, and the sampler's stream
 * after them, are the plain loop's. The system property {@value #PIPELINE_PROPERTY} set to
 * {@code false} turns the pipeline off.
 */
public final class Generator {
    /**
     * System property: {@code false} makes {@link #generate} on a device read each step's tokens
     * before it queues the next step, instead of after (see the class comment).
     */
    public static final String PIPELINE_PROPERTY = "panamax.pipelinedDecode";

    private Generator() {
    }

    /**
     * The result of {@link #generate}.
     *
     * @param completions the new tokens of each prompt, in prompt order
     * @param tokens      tokens generated in all
     * @param seconds     wall time, prefill included
     */
    public record Result(List<long[]> completions, long tokens, double seconds) {
        /** Generated tokens per second. */
        public double tokensPerSecond() {
            return tokens / Math.max(seconds, 1e-9);
        }
    }

    /** Generates continuations of {@code prompts} with an F32 cache; see the class comment. */
    public static Result generate(DeepSeekModel model, List<long[]> prompts, int maxNewTokens, Set<Long> stopTokens,
                                  Sampler sampler, Mla.Path path) {
        return generate(model, prompts, maxNewTokens, stopTokens, sampler, path, DType.F32);
    }

    /** Generates continuations of {@code prompts} with a KV cache of {@code cacheDtype} (F32 or BF16); see the class comment. */
    public static Result generate(DeepSeekModel model, List<long[]> prompts, int maxNewTokens, Set<Long> stopTokens,
                                  Sampler sampler, Mla.Path path, DType cacheDtype) {
        return run(model, prompts, maxNewTokens, stopTokens, sampler, path, cacheDtype, null, null);
    }

    /** Receives each generated token as soon as the host has it, and may end a prompt's generation. */
    @FunctionalInterface
    public interface TokenSink {
        /**
         * One new token of the prompt at index {@code prompt} (its stop token included), in order
         * within each prompt.
         */
        void accept(int prompt, long token);

        /**
         * Whether the prompt at index {@code prompt} is to end now (a stop string has appeared in
         * its text, its client has gone), asked after each of its tokens: it then takes no more
         * tokens, as at a stop token, and when every prompt of a batch has ended the batch's
         * generation stops. Never, unless overridden.
         */
        default boolean ended(int prompt) {
            return false;
        }
    }

    /**
     * {@link #generate(DeepSeekModel, List, int, Set, Sampler, Mla.Path, DType)}, handing each token
     * to {@code sink} as it is generated (to print a completion as it grows, with
     * {@code HfTokenizer.DecodeStream}). Prompts of one length are one batch, so their tokens come
     * interleaved, a step at a time; on a device with the pipelined loop each step's tokens come
     * while the next step runs. The result is the same as without a sink.
     */
    public static Result generate(DeepSeekModel model, List<long[]> prompts, int maxNewTokens, Set<Long> stopTokens,
                                  Sampler sampler, Mla.Path path, DType cacheDtype, TokenSink sink) {
        return run(model, prompts, maxNewTokens, stopTokens, sampler, path, cacheDtype, sink, null);
    }

    /** {@link #generate(DeepSeekModel, List, int, Set, Sampler, Mla.Path, DType)}, handing each batch's cache to {@code finished} (for tests) before it is closed. */
    static Result generate(DeepSeekModel model, List<long[]> prompts, int maxNewTokens, Set<Long> stopTokens,
                           Sampler sampler, Mla.Path path, DType cacheDtype, java.util.function.Consumer<KvCache> finished) {
        return run(model, prompts, maxNewTokens, stopTokens, sampler, path, cacheDtype, null, finished);
    }

    private static Result run(DeepSeekModel model, List<long[]> prompts, int maxNewTokens, Set<Long> stopTokens, Sampler sampler,
                              Mla.Path path, DType cacheDtype, TokenSink sink, java.util.function.Consumer<KvCache> finished) {
        if (maxNewTokens < 0) throw new IllegalArgumentException("maxNewTokens must be >= 0");
        long start = System.nanoTime();
        long[][] out = new long[prompts.size()][];
        long total = 0;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            for (Map.Entry<Integer, List<Integer>> group : byLength(prompts).entrySet()) {
                total += runBatch(model, prompts, group.getValue(), group.getKey(), maxNewTokens, stopTokens, sampler, path, cacheDtype, out, sink, finished);
            }
        }
        return new Result(List.of(out), total, (System.nanoTime() - start) / 1e9);
    }

    /** The indices of the prompts by length, in order of first appearance: each length one batch. */
    static Map<Integer, List<Integer>> byLength(List<long[]> prompts) {
        Map<Integer, List<Integer>> byLength = new LinkedHashMap<>();
        for (int i = 0; i < prompts.size(); i++) {
            if (prompts.get(i).length == 0) throw new IllegalArgumentException("prompt " + i + " is empty");
            byLength.computeIfAbsent(prompts.get(i).length, k -> new ArrayList<>()).add(i);
        }
        return byLength;
    }

    private static long runBatch(DeepSeekModel model, List<long[]> prompts, List<Integer> rows, int len, int maxNew,
                                 Set<Long> stop, Sampler sampler, Mla.Path path, DType cacheDtype, long[][] out,
                                 TokenSink sink, java.util.function.Consumer<KvCache> finished) {
        int b = rows.size();
        long[] ids = new long[b * len];
        for (int r = 0; r < b; r++) System.arraycopy(prompts.get(rows.get(r)), 0, ids, r * len, len);
        Taken gen = new Taken(rows, sink);
        boolean[] done = new boolean[b];
        boolean device = model.device().isDevice();
        boolean graphs = device && path == Mla.Path.ABSORBED && !"false".equals(System.getProperty(DecodeGraph.PROPERTY));
        boolean pipelined = device && sampler.drawsWithoutRanking(model.config().vocabSize()) && !"false".equals(System.getProperty(PIPELINE_PROPERTY));
        try (KvCache cache = new KvCache(model.config(), b, len + Math.max(maxNew, 1), model.device(), cacheDtype);
             DecodeGraph decode = graphs ? new DecodeGraph(model, cache) : null) {
            Tensor prompt = Tensor.ofLongs(ids, b, len);
            if (pipelined) {
                pipelined(model, prompt, cache, decode, maxNew, stop, sampler, path, done, gen);
            } else {
                long[] next = new long[b];
                for (int step = 0; step < maxNew; step++) {
                    try (Scope s = Scope.open()) {
                        Tensor logits = step == 0
                                ? model.forward(prompt, 0, cache, path, true, null)
                                : decode != null ? decode.step(next)
                                : model.forward(Tensor.ofLongs(next, b, 1), cache.length(), cache, path, true, null);
                        long[] drawn = sampler.sample(logits, done);
                        for (int r = 0; r < b; r++) if (!done[r]) next[r] = drawn[r];
                        if (take(drawn, done, gen, stop)) break;
                    }
                }
            }
            if (finished != null) finished.accept(cache);
        }
        long produced = 0;
        for (int r = 0; r < b; r++) {
            out[rows.get(r)] = gen.tokens.get(r).stream().mapToLong(Long::longValue).toArray();
            produced += out[rows.get(r)].length;
        }
        return produced;
    }

    /**
     * Takes one step's drawn tokens into the rows not yet done: each is appended, and a stop
     * token (or the sink's {@link TokenSink#ended}) marks its row done. True when every row is done.
     */
    private static boolean take(long[] drawn, boolean[] done, Taken gen, Set<Long> stop) {
        boolean all = true;
        for (int r = 0; r < done.length; r++) {
            if (done[r]) continue;
            gen.tokens.get(r).add(drawn[r]);
            if (gen.sink != null) gen.sink.accept(gen.rows.get(r), drawn[r]);
            if (stop.contains(drawn[r]) || (gen.sink != null && gen.sink.ended(gen.rows.get(r)))) done[r] = true;
            all &= done[r];
        }
        return all;
    }

    /**
     * The decode loop of {@link #runBatch} with the tokens kept on the device: each step's tokens
     * are drawn there ({@link Sampler#sampleTensor}) and fed to the next step there, and the host
     * reads them ({@link Tensor#readLater()}) only after it has queued that next step, so the GPU
     * runs step t + 1 while the host takes step t's tokens. The device keeps which rows are done,
     * as the host does: a done row is fed its stop token again, as the loop that reads every token
     * before the next step feeds it, so every step computes what that loop's would. When the
     * tokens read show every row done, the step queued meanwhile is dropped, and its key given
     * back to the sampler: the tokens, and the sampler's stream after them, are that loop's.
     */
    private static void pipelined(DeepSeekModel model, Tensor prompt, KvCache cache, DecodeGraph decode, int maxNew, Set<Long> stop,
                                  Sampler sampler, Mla.Path path, boolean[] done, Taken gen) {
        int b = done.length;
        long v = model.config().vocabSize();
        Device dev = model.device();
        try (Scope batch = Scope.open()) {   // what the loop keeps on the device from step to step
            Tensor fed = Tensor.zeros(dev, DType.I64, b, 1);     // the ids the next step reads
            Tensor isStop = null, ended = null;                    // (V) U8: 1 at the stop ids; (B, 1) U8: rows done
            if (stop.stream().anyMatch(t -> t >= 0 && t < v)) {
                Tensor table = Tensor.zeros(DType.U8, v);
                for (long t : stop) if (t >= 0 && t < v) table.setDouble(1, t);
                isStop = table.to(dev);
                ended = Tensor.zeros(dev, DType.U8, b, 1);
            }
            HostRead pending = null, drawn = null;   // the tokens of the step before, not yet taken; this step's
            try {
                for (int step = 0; step < maxNew; step++) {
                    long key = sampler.nextKey(v);
                    try (Scope s = Scope.open()) {
                        Tensor logits = step == 0 ? model.forward(prompt, 0, cache, path, true, null)
                                : decode != null ? decode.step(fed)
                                : model.forward(fed, cache.length(), cache, path, true, null);
                        Tensor tokens = sampler.sampleTensor(logits, key).reshape(b, 1);
                        drawn = tokens.readLater();
                        if (step + 1 < maxNew) {
                            if (isStop == null) {
                                fed.copyFrom(tokens);
                            } else {   // a done row keeps its stop token; a row that draws a stop token is done
                                Tensor hit = isStop.gather(0, tokens.reshape(b)).reshape(b, 1);   // a device index read in place
                                fed.copyFrom(Tensor.where(ended, fed, tokens));
                                ended.copyFrom(Tensor.where(ended, ended, hit));
                            }
                        }
                    }
                    HostRead before = pending;
                    pending = drawn;
                    drawn = null;
                    if (before != null) {
                        boolean all;
                        try (before) {
                            all = take(before.toLongArray(), done, gen, stop);
                        }
                        if (all) {   // this step was queued past the end: nothing of it is used
                            sampler.giveBack(key);
                            return;
                        }
                    }
                }
                if (pending != null) take(pending.toLongArray(), done, gen, stop);
            } finally {
                if (drawn != null) drawn.close();
                if (pending != null) pending.close();
            }
        }
    }

    /** A batch's tokens so far, each row's in order, and where each is handed as it comes. */
    private static final class Taken {
        final List<List<Long>> tokens = new ArrayList<>();
        final List<Integer> rows;
        final TokenSink sink;

        Taken(List<Integer> rows, TokenSink sink) {
            this.rows = rows;
            this.sink = sink;
            for (int r = 0; r < rows.size(); r++) tokens.add(new ArrayList<>());
        }
    }
}
