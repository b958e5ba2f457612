package dev.panamax.moe;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
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
 */
public final class Generator {
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
        if (maxNewTokens < 0) throw new IllegalArgumentException("maxNewTokens must be >= 0");
        long start = System.nanoTime();
        Map<Integer, List<Integer>> byLength = new LinkedHashMap<>();
        for (int i = 0; i < prompts.size(); i++) {
            if (prompts.get(i).length == 0) throw new IllegalArgumentException("prompt " + i + " is empty");
            byLength.computeIfAbsent(prompts.get(i).length, k -> new ArrayList<>()).add(i);
        }
        long[][] out = new long[prompts.size()][];
        long total = 0;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            for (Map.Entry<Integer, List<Integer>> group : byLength.entrySet()) {
                total += runBatch(model, prompts, group.getValue(), group.getKey(), maxNewTokens, stopTokens, sampler, path, cacheDtype, out);
            }
        }
        return new Result(List.of(out), total, (System.nanoTime() - start) / 1e9);
    }

    private static long runBatch(DeepSeekModel model, List<long[]> prompts, List<Integer> rows, int len, int maxNew,
                                 Set<Long> stop, Sampler sampler, Mla.Path path, DType cacheDtype, long[][] out) {
        int b = rows.size();
        long[] ids = new long[b * len];
        for (int r = 0; r < b; r++) System.arraycopy(prompts.get(rows.get(r)), 0, ids, r * len, len);
        List<List<Long>> gen = new ArrayList<>();
        for (int r = 0; r < b; r++) gen.add(new ArrayList<>());
        boolean[] done = new boolean[b];
        long produced = 0;
        boolean graphs = model.device().isDevice() && path == Mla.Path.ABSORBED && !"false".equals(System.getProperty(DecodeGraph.PROPERTY));
        try (KvCache cache = new KvCache(model.config(), b, len + Math.max(maxNew, 1), model.device(), cacheDtype);
             DecodeGraph decode = graphs ? new DecodeGraph(model, cache) : null) {
            long[] next = new long[b];
            for (int step = 0; step < maxNew; step++) {
                try (Scope s = Scope.open()) {
                    Tensor logits = step == 0
                            ? model.forward(Tensor.ofLongs(ids, b, len), 0, cache, path, true, null)
                            : decode != null ? decode.step(next)
                            : model.forward(Tensor.ofLongs(next, b, 1), cache.length(), cache, path, true, null);
                    long[] drawn = sampler.sample(logits, done);
                    boolean all = true;
                    for (int r = 0; r < b; r++) {
                        if (done[r]) continue;
                        next[r] = drawn[r];
                        gen.get(r).add(next[r]);
                        produced++;
                        if (stop.contains(next[r])) done[r] = true;
                        all &= done[r];
                    }
                    if (all) break;
                }
            }
        }
        for (int r = 0; r < b; r++) out[rows.get(r)] = gen.get(r).stream().mapToLong(Long::longValue).toArray();
        return produced;
    }
}
