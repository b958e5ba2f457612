package dev.panamax.moe;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The model's log-probabilities of a sequence's own tokens, each given the tokens before it, and
 * the most likely alternatives at each position: what OpenAI's {@code logprobs} and {@code echo}
 * return, what evaluation harnesses sum to score a continuation, and a sequence's perplexity.
 * They are the model's raw distribution (the log-softmax of its logits, no temperature, top-k or
 * top-p), as vLLM returns by default.
 *
 * <p>The sequence runs through the model in chunks of {@link #CHUNK} positions over a KV cache,
 * so the logits held at once are {@code CHUNK x vocab}, however long the sequence; the LM head
 * runs only at the positions scored (and at the last position of a chunk wholly before them). The
 * log-softmax is taken in double precision on the host.
 */
public final class Scoring {
    /** Positions run through the model at a time. */
    public static final int CHUNK = 256;

    private Scoring() {
    }

    /**
     * The score of one token.
     *
     * @param id          the token
     * @param logprob     its log-probability given the tokens before it (NaN for the first token of a sequence: nothing predicts it)
     * @param topIds      the most likely tokens at its position, most likely first (ties: the lower id first)
     * @param topLogprobs their log-probabilities
     */
    public record Token(long id, double logprob, long[] topIds, double[] topLogprobs) {
    }

    /**
     * Scores {@code ids[from..]} (each given all the ids before it), with the {@code top} most
     * likely tokens at each position, through {@code path} with an F32 cache.
     *
     * @throws IllegalArgumentException if {@code ids} is empty or longer than the model's
     *                                  positions, {@code from} is outside it, {@code top} is negative,
     *                                  or an id is outside the vocabulary
     */
    public static List<Token> score(DeepSeekModel model, long[] ids, int from, int top, Mla.Path path) {
        return score(model, ids, from, top, path, CHUNK);
    }

    /** {@link #score(DeepSeekModel, long[], int, int, Mla.Path)} in chunks of {@code chunk} positions (tests). */
    static List<Token> score(DeepSeekModel model, long[] ids, int from, int top, Mla.Path path, int chunk) {
        DeepSeekConfig cfg = model.config();
        int n = ids.length;
        long v = cfg.vocabSize();
        if (n == 0) throw new IllegalArgumentException("nothing to score: no ids");
        if (n > cfg.maxPositionEmbeddings()) throw new IllegalArgumentException(n + " ids are more than the model's " + cfg.maxPositionEmbeddings() + " positions");
        if (from < 0 || from > n) throw new IllegalArgumentException("from must be in 0.." + n + ", got " + from);
        if (top < 0) throw new IllegalArgumentException("top must be >= 0, got " + top);
        for (int i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= v) throw new IllegalArgumentException("id " + ids[i] + " at " + i + " is outside the vocabulary of " + v);
        }
        List<Token> out = new ArrayList<>(n - from);
        if (from == 0) out.add(new Token(ids[0], Double.NaN, new long[0], new double[0]));
        if (from == n) return out;
        int first = Math.max(from, 1) - 1;   // the first position whose logits are read (they predict the token after it)
        try (Autograd.NoGrad ng = Autograd.noGrad();
             KvCache cache = new KvCache(cfg, 1, n, model.device(), DType.F32)) {
            for (int at = 0; at < n - 1; at += chunk) {   // the last id predicts nothing scored
                int len = Math.min(chunk, n - 1 - at);
                int skip = Math.min(Math.max(first - at, 0), len - 1);   // rows before the first scored: no LM head (but the last, a chunk before it)
                try (Scope s = Scope.open()) {
                    long[] part = java.util.Arrays.copyOfRange(ids, at, at + len);
                    Tensor logits = model.logitsFrom(Tensor.ofLongs(part, 1, len), at, cache, path, skip);
                    if (at + len - 1 < first) continue;
                    float[] host = logits.to(DType.F32).toFloatArray();
                    for (int p = at + skip; p < at + len; p++) out.add(token(host, (long) (p - at - skip) * v, (int) v, ids[p + 1], top));
                }
            }
        }
        return out;
    }

    /** The score of {@code id} under the logits at {@code row[off..off+v)}. */
    static Token token(float[] row, long off, int v, long id, int top) {
        int o = Math.toIntExact(off);
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < v; i++) max = Math.max(max, row[o + i]);
        double sum = 0;
        for (int i = 0; i < v; i++) sum += Math.exp(row[o + i] - max);
        double lse = max + Math.log(sum);
        int k = Math.min(top, v);
        long[] ids = new long[k];
        double[] lps = new double[k];
        int have = 0;
        for (int i = 0; i < v; i++) {   // insertion into the k best so far: k is small
            double x = row[o + i];
            if (have == k && (k == 0 || x <= lps[k - 1])) continue;
            int j = have < k ? have++ : k - 1;
            while (j > 0 && lps[j - 1] < x) {
                lps[j] = lps[j - 1];
                ids[j] = ids[j - 1];
                j--;
            }
            lps[j] = x;
            ids[j] = i;
        }
        for (int i = 0; i < k; i++) lps[i] -= lse;
        return new Token(id, row[o + (int) id] - lse, ids, lps);
    }
}
