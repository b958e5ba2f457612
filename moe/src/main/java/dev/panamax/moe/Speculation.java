package dev.panamax.moe;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Speculative decoding: a cheap drafter proposes the next tokens, and one forward pass of the
 * model over the last token and the drafts checks them all, so a step can emit several tokens for
 * about the cost of one. The output is distributed exactly as the {@link Generator}'s: a greedy
 * sampler gives the same tokens (up to rounding: the model reads several positions in one pass),
 * and a sampling one draws each token from the same distribution, by the rejection rule of
 * Leviathan et al. and Chen et al. (2023) for a deterministic draft: a draft d is kept with
 * probability p(d), else the token is drawn from p with d taken out; where every draft is kept,
 * one more token is drawn from the model's distribution after them. The seeded stream is
 * consumed differently from the plain loop's, so sampled tokens differ from the Generator's for a
 * seed, not in distribution.
 *
 * <p>Drafters ({@link #drafting} takes your own):
 * <ul>
 *   <li>{@link #mtp}: DeepSeek-V3's {@link MultiTokenPredictor}, one draft a step, from the
 *       model's last hidden state (the use DeepSeek reports 85-90% acceptance for);</li>
 *   <li>{@link #promptLookup}: the tokens that followed the latest earlier occurrence of the
 *       sequence's last n-gram (prompt lookup decoding; no weights; pays off where the output
 *       repeats the prompt or itself).</li>
 * </ul>
 *
 * <p>Sequences with the same prompt length run as one batch with one cache length, as in the
 * Generator: each step keeps the drafts that every unfinished sequence kept, and each sequence
 * then takes one more token of its own (its kept draft or its correction). Nothing is recorded
 * by autograd. Verification reads the logits on the host, but for a greedy sampler, which reads
 * only each position's argmax.
 */
public final class Speculation {
    private final MultiTokenPredictor mtp;
    private final Drafter drafter;   // drafts from the sequences alone (null with an MTP module)
    private final int lookahead;

    /**
     * A drafter of your own (a small draft model, a retrieval index, ...) for
     * {@link #drafting}: proposes each unfinished sequence's next tokens from its tokens so far.
     */
    @FunctionalInterface
    public interface Drafter {
        /**
         * The drafts for sequence {@code r} of its batch (in prompt order among the prompts of its
         * length), whose tokens so far, prompt and output, are {@code seq[0..n)} (the loop's own
         * array: read it, do not change it): up to the lookahead (more are cut), none to let the
         * step decode one token plainly. Ids outside the vocabulary, or null, are refused.
         */
        long[] draft(int r, long[] seq, int n);
    }

    private Speculation(MultiTokenPredictor mtp, Drafter drafter, int lookahead) {
        this.mtp = mtp;
        this.drafter = drafter;
        this.lookahead = lookahead;
    }

    /** Drafts with {@code drafter}, up to {@code lookahead} tokens a step. */
    public static Speculation drafting(Drafter drafter, int lookahead) {
        if (lookahead < 1) throw new IllegalArgumentException("the lookahead must be >= 1, got " + lookahead);
        return new Speculation(null, java.util.Objects.requireNonNull(drafter, "drafter"), lookahead);
    }

    /** Drafts with DeepSeek-V3's multi-token-prediction module, one token a step. */
    public static Speculation mtp(MultiTokenPredictor module) {
        return new Speculation(java.util.Objects.requireNonNull(module, "module"), null, 1);
    }

    /**
     * Drafts up to {@code tokens} tokens a step by prompt lookup: the tokens that followed the
     * latest earlier occurrence of the sequence's last {@code ngram} tokens (prompt and output so
     * far), trying shorter n-grams down to one when a longer one has not occurred; no draft where
     * none has.
     */
    public static Speculation promptLookup(int ngram, int tokens) {
        if (ngram < 1 || tokens < 1) throw new IllegalArgumentException("prompt lookup needs ngram >= 1 and tokens >= 1, got " + ngram + " and " + tokens);
        return new Speculation(null, (r, seq, n) -> lookup(seq, n, ngram, tokens), tokens);
    }

    /** The most tokens drafted a step. */
    public int lookahead() {
        return lookahead;
    }

    /**
     * The result of {@link #generate}.
     *
     * @param completions the new tokens of each prompt, in prompt order
     * @param tokens      tokens generated in all
     * @param seconds     wall time, prefill included
     * @param steps       forward passes of the model after each batch's prefill (verification steps)
     * @param drafted     draft tokens checked, summed over the unfinished sequences of each step
     * @param accepted    draft tokens emitted
     */
    public record Result(List<long[]> completions, long tokens, double seconds, long steps, long drafted, long accepted) {
        /** Generated tokens per second. */
        public double tokensPerSecond() {
            return tokens / Math.max(seconds, 1e-9);
        }

        /** The share of checked drafts that were emitted (0 when none was checked). */
        public double acceptanceRate() {
            return drafted == 0 ? 0 : (double) accepted / drafted;
        }
    }

    /**
     * {@link Generator#generate(DeepSeekModel, List, int, Set, Sampler, Mla.Path, DType, Generator.TokenSink)}
     * with speculative decoding (see the class comment); {@code sink} (nullable) receives each
     * token as it is emitted.
     *
     * @throws IllegalArgumentException when the MTP module drafts for another model
     */
    public Result generate(DeepSeekModel model, List<long[]> prompts, int maxNewTokens, Set<Long> stopTokens, Sampler sampler,
                           Mla.Path path, DType cacheDtype, Generator.TokenSink sink) {
        if (mtp != null && mtp.model() != model) throw new IllegalArgumentException("the MTP module was loaded for another model");
        if (maxNewTokens < 0) throw new IllegalArgumentException("maxNewTokens must be >= 0");
        long start = System.nanoTime();
        long[][] out = new long[prompts.size()][];
        long[] stats = new long[4];   // tokens, steps, drafted, accepted
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            for (Map.Entry<Integer, List<Integer>> group : Generator.byLength(prompts).entrySet()) {
                runBatch(model, prompts, group.getValue(), group.getKey(), maxNewTokens, stopTokens, sampler, path, cacheDtype, out, sink, stats);
            }
        }
        return new Result(List.of(out), stats[0], (System.nanoTime() - start) / 1e9, stats[1], stats[2], stats[3]);
    }

    private void runBatch(DeepSeekModel model, List<long[]> prompts, List<Integer> rows, int len, int maxNew, Set<Long> stop,
                          Sampler sampler, Mla.Path path, DType cacheDtype, long[][] out, Generator.TokenSink sink, long[] stats) {
        int b = rows.size();
        long[][] context = new long[b][];   // each sequence so far: prompt, then output
        int[] size = new int[b];
        long[] ids = new long[b * len];
        for (int r = 0; r < b; r++) {
            long[] p = prompts.get(rows.get(r));
            context[r] = Arrays.copyOf(p, len + maxNew);
            size[r] = len;
            System.arraycopy(p, 0, ids, r * len, len);
        }
        List<List<Long>> emitted = new ArrayList<>();
        for (int r = 0; r < b; r++) emitted.add(new ArrayList<>());
        boolean[] done = new boolean[b];
        int capacity = len + Math.max(maxNew, 1) + lookahead;
        try (KvCache cache = new KvCache(model.config(), b, capacity, model.device(), cacheDtype);
             KvCache draftCache = mtp == null ? null : mtp.newCache(b, capacity, cacheDtype)) {
            if (maxNew == 0) return;
            long[] last = new long[b];       // each sequence's newest token, not yet in the cache
            long[][] drafts;
            try (Scope s = Scope.open()) {
                Tensor prompt = Tensor.ofLongs(ids, b, len);
                Tensor[] hl = model.hiddenAndLogits(prompt, 0, cache, path, len - 1);
                long[] first = sampler.sample(hl[1], null);
                for (int r = 0; r < b; r++) {
                    last[r] = first[r];
                    emit(r, first[r], rows, emitted, context, size, done, stop, sink);
                }
                drafts = mtp != null ? mtpDrafts(hl[0], shiftedIn(ids, b, len, last), 0, draftCache, path) : contextDrafts(context, size, done, model.config().vocabSize());
            }
            while (true) {
                int remaining = Integer.MAX_VALUE, k = 0;
                for (int r = 0; r < b; r++) {
                    if (done[r]) continue;
                    remaining = Math.min(remaining, maxNew - emitted.get(r).size());
                }
                if (remaining <= 0 || remaining == Integer.MAX_VALUE) break;
                for (int r = 0; r < b; r++) if (!done[r]) k = Math.max(k, Math.min(drafts[r].length, remaining - 1));
                long[] step = new long[b * (k + 1)];
                for (int r = 0; r < b; r++) {
                    Arrays.fill(step, r * (k + 1), (r + 1) * (k + 1), last[r]);   // padding: any valid id, never kept
                    for (int j = 0; j < k && j < drafts[r].length; j++) step[r * (k + 1) + 1 + j] = drafts[r][j];
                }
                try (Scope s = Scope.open()) {
                    int at = cache.length();
                    Tensor[] hl = model.hiddenAndLogits(Tensor.ofLongs(step, b, k + 1), at, cache, path, 0);
                    Verdict v = verify(hl[1], b, k, drafts, done, sampler);
                    stats[1]++;
                    for (int r = 0; r < b; r++) {
                        if (done[r]) continue;
                        stats[2] += Math.min(k, drafts[r].length);
                        stats[3] += v.kept;
                    }
                    cache.truncate(at + v.kept + 1);
                    long[] next = new long[b * (v.kept + 1)];   // the MTP module's next tokens: the emitted ones
                    for (int r = 0; r < b; r++) {
                        for (int j = 0; j < v.kept; j++) next[r * (v.kept + 1) + j] = step[r * (k + 1) + 1 + j];
                        next[r * (v.kept + 1) + v.kept] = v.own[r];
                        if (done[r]) continue;
                        for (int j = 0; j <= v.kept && !done[r]; j++) emit(r, next[r * (v.kept + 1) + j], rows, emitted, context, size, done, stop, sink);
                        last[r] = v.own[r];
                    }
                    boolean allDone = true;
                    for (boolean d : done) allDone &= d;
                    if (allDone) break;
                    drafts = mtp != null
                            ? mtpDrafts(hl[0].narrow(1, 0, v.kept + 1), next, at, draftCache, path)
                            : contextDrafts(context, size, done, model.config().vocabSize());
                }
            }
        } finally {
            for (int r = 0; r < b; r++) {
                out[rows.get(r)] = emitted.get(r).stream().mapToLong(Long::longValue).toArray();
                stats[0] += out[rows.get(r)].length;
            }
        }
    }

    /** Appends a token to sequence r's output and context; a stop token (or the sink's {@link Generator.TokenSink#ended}) ends the sequence. */
    private static void emit(int r, long token, List<Integer> rows, List<List<Long>> emitted, long[][] context, int[] size,
                             boolean[] done, Set<Long> stop, Generator.TokenSink sink) {
        emitted.get(r).add(token);
        context[r][size[r]++] = token;
        if (sink != null) sink.accept(rows.get(r), token);
        if (stop.contains(token) || (sink != null && sink.ended(rows.get(r)))) done[r] = true;
    }

    /** The prompt ids (B, len) shifted left by one, each row ending with its first new token: the MTP module's next tokens at the prompt's positions. */
    private static long[] shiftedIn(long[] ids, int b, int len, long[] first) {
        long[] next = new long[b * len];
        for (int r = 0; r < b; r++) {
            System.arraycopy(ids, r * len + 1, next, r * len, len - 1);
            next[r * len + len - 1] = first[r];
        }
        return next;
    }

    /** One draft per sequence: the MTP module's argmax after positions {@code at..} (its cache appended to). */
    private long[][] mtpDrafts(Tensor hidden, long[] next, int at, KvCache draftCache, Mla.Path path) {
        int b = (int) hidden.dim(0), t = (int) hidden.dim(1);
        Tensor logits = mtp.forward(hidden, Tensor.ofLongs(next, b, t), at, draftCache, path, true);
        long[] d = Sampler.greedy().sample(logits, null);
        long[][] drafts = new long[b][];
        for (int r = 0; r < b; r++) drafts[r] = new long[]{d[r]};
        return drafts;
    }

    /** Each unfinished sequence's drafts from its tokens so far (none for a finished one). */
    private long[][] contextDrafts(long[][] context, int[] size, boolean[] done, long vocab) {
        long[][] drafts = new long[context.length][];
        for (int r = 0; r < context.length; r++) {
            long[] d = done[r] ? new long[0] : drafter.draft(r, context[r], size[r]);
            if (d == null) throw new IllegalStateException("the drafter gave null for sequence " + r + "; an empty array drafts nothing");
            drafts[r] = d.length > lookahead ? Arrays.copyOf(d, lookahead) : d.clone();
            for (long id : drafts[r]) {
                if (id < 0 || id >= vocab) throw new IllegalStateException("the drafter drafted id " + id + " for sequence " + r + ", outside the vocabulary of " + vocab);
            }
        }
        return drafts;
    }

    /**
     * The up to {@code tokens} tokens that followed the latest earlier occurrence of the last
     * n-gram of {@code seq[0..n)}, for n from {@code ngram} down to 1; empty when none occurred.
     */
    static long[] lookup(long[] seq, int n, int ngram, int tokens) {
        for (int g = Math.min(ngram, n - 1); g >= 1; g--) {
            for (int i = n - g - 1; i >= 0; i--) {   // the occurrence ending latest, before the suffix itself
                boolean match = true;
                for (int j = 0; j < g && match; j++) match = seq[i + j] == seq[n - g + j];
                if (match) return Arrays.copyOfRange(seq, i + g, Math.min(i + g + tokens, n));
            }
        }
        return new long[0];
    }

    /**
     * A verification's outcome: {@code kept} drafts kept by every unfinished sequence, and each
     * sequence's own token after them (its kept draft or its correction; any value for a finished one).
     */
    record Verdict(int kept, long[] own) {
    }

    /**
     * Checks the drafts against the logits (B, k+1, V) of the step that read them: position j
     * predicts what follows draft j (position 0 the token after the last one). Position by
     * position, each unfinished sequence keeps its draft or draws its correction; the first
     * position where one does not keep its draft ends the check there for all.
     */
    static Verdict verify(Tensor logits, int b, int k, long[][] drafts, boolean[] done, Sampler sampler) {
        int v = (int) logits.dim(2);
        long[] own = new long[b];
        if (sampler.isGreedy()) {   // the argmax of every position, read back alone
            long[] best = Sampler.greedy().sample(logits.reshape((long) b * (k + 1), v), null);
            for (int j = 0; j <= k; j++) {
                boolean all = true;
                for (int r = 0; r < b; r++) {
                    own[r] = best[r * (k + 1) + j];
                    if (!done[r] && !(j < drafts[r].length && j < k && drafts[r][j] == own[r])) all = false;
                }
                if (!all || j == k) return new Verdict(j, own);
            }
        }
        float[] all = logits.toFloatArray();
        for (int j = 0; j <= k; j++) {
            boolean kept = true;
            for (int r = 0; r < b; r++) {
                if (done[r]) continue;
                double[] w = sampler.weights(all, r * (k + 1) + j, v);
                long d = j < k && j < drafts[r].length ? drafts[r][j] : -1;
                own[r] = d >= 0 && keeps(w, (int) d, sampler) ? d : correction(w, (int) d, sampler);
                kept &= own[r] == d;
            }
            if (!kept || j == k) return new Verdict(j, own);
        }
        throw new AssertionError("unreachable");
    }

    /** Whether draft d is kept: with probability p(d) (certainly at 1, never at 0, drawing nothing then). */
    private static boolean keeps(double[] w, int d, Sampler sampler) {
        double total = 0;
        for (double x : w) total += x;
        double p = d < w.length ? w[d] / total : 0;
        if (p >= 1) return true;
        if (p <= 0) return false;
        return sampler.uniform() < p;
    }

    /** A token drawn from the weights with the rejected draft d taken out (d negative: none was). */
    private static long correction(double[] w, int d, Sampler sampler) {
        if (d >= 0 && d < w.length) {
            double[] rest = w.clone();
            rest[d] = 0;
            boolean any = false;
            for (double x : rest) any |= x > 0;
            if (any) return sampler.drawFrom(rest);
        }
        return sampler.drawFrom(w);
    }
}
