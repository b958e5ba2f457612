package dev.panamax.moe;

import dev.panamax.runtime.Functional;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from a row of logits: greedy (temperature 0), or sampling from
 * {@code softmax(logits / temperature)} restricted to the {@code topK} most likely tokens
 * (0 = all) and to the smallest set whose probability reaches {@code topP} (1 = all). Seeded:
 * the same seed and logits give the same tokens. Not thread-safe (it owns its random stream,
 * {@code new SplittableRandom(seed)}).
 *
 * <p>Greedy and plain temperature sampling (no top-k, top-p 1) draw by
 * {@link Functional#sampleRows}, the inverse transform over the ids in order, with one key from
 * this sampler's stream per call: on a device {@link #sample(Tensor, boolean[])} runs it as one
 * kernel over the batch and reads back only the tokens. With top-k or top-p the candidates are
 * ranked by logit, highest first (lowest id among equals), and the draw walks them in that order,
 * on the host; on a device the top k of each row (with top-p alone, the top
 * {@value #NUCLEUS_CANDIDATES}) are selected there first and only they are read back. Greedy and
 * temperature-alone draws can also leave their tokens on the device, unread
 * ({@link #sampleTensor}), for a decode loop that feeds them to the next step there.
 */
public final class Sampler {
    private final double temperature;
    private final int topK;
    private final double topP;
    private final SplittableRandom random;
    private boolean held;   // a key given back (giveBack), to be returned by the next draw
    private long heldKey;

    private Sampler(double temperature, int topK, double topP, long seed) {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("top-k must be >= 0, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.random = new SplittableRandom(seed);
    }

    /** Always the most likely token (lowest id on ties). */
    public static Sampler greedy() {
        return new Sampler(0, 0, 1, 0);
    }

    /** Temperature, top-k (0 = off), top-p (1 = off) sampling with a seed. */
    public static Sampler of(double temperature, int topK, double topP, long seed) {
        return new Sampler(temperature, topK, topP, seed);
    }

    /**
     * Whether a row of {@code v} logits is drawn by {@link Functional#sampleRows} (greedy, or
     * temperature alone) rather than by ranking the candidates.
     */
    private boolean byIds(long v) {
        return temperature == 0 || ((topK == 0 || topK >= v) && topP == 1);
    }

    /**
     * Whether this sampler draws from rows of {@code vocab} logits without ranking candidates:
     * greedy, or temperature alone (no top-k below {@code vocab}, top-p 1). Only those draws can
     * leave their tokens where the logits are ({@link #sampleTensor}).
     */
    public boolean drawsWithoutRanking(long vocab) {
        return byIds(vocab);
    }

    /**
     * The next token of each row of {@code logits} (..., V) as a tensor where the logits are (I64,
     * the logits' leading dims), read back by nobody: the tokens {@link #sample(Tensor, boolean[])}
     * would give, from the same key of this sampler's stream. On a device it is one kernel. For
     * a decode loop that feeds the tokens to the next step on the device and reads them later
     * ({@link Tensor#readLater()}), as {@link Generator} does.
     *
     * @throws IllegalStateException    when this sampler ranks candidates
     *                                  ({@link #drawsWithoutRanking} is false)
     * @throws IllegalArgumentException for a rank-0 tensor or an empty last dim
     */
    public Tensor sampleTensor(Tensor logits) {
        if (logits.rank() == 0 || logits.dim(-1) == 0) throw new IllegalArgumentException("sample needs logits (..., V) with V > 0, got " + logits.shape());
        return sampleTensor(logits, nextKey(logits.dim(-1)));
    }

    /** The key the next {@link #sampleTensor} takes from the stream (for {@link Generator}, which may {@link #giveBack} it). */
    long nextKey(long vocab) {
        if (!byIds(vocab)) throw new IllegalStateException("a sampler with top-k " + topK + " and top-p " + topP + " ranks the candidates on the host;"
                + " only greedy and temperature-alone sampling leave the tokens where the logits are");
        return nextLong();
    }

    /** {@link #sampleTensor(Tensor)} with a key from {@link #nextKey}. */
    Tensor sampleTensor(Tensor logits, long key) {
        return Functional.sampleRows(logits, temperature, key);
    }

    /**
     * Gives back a key from {@link #nextKey} that drew nothing that was used: the next draw takes
     * it, and the stream goes on as if it had never been taken.
     */
    void giveBack(long key) {
        if (held) throw new IllegalStateException("a key was already given back");
        held = true;
        heldKey = key;
    }

    /** The stream's next long: a key given back first. */
    private long nextLong() {
        if (held) {
            held = false;
            return heldKey;
        }
        return random.nextLong();
    }

    /** Whether this sampler is greedy (temperature 0): its distribution puts all mass on the argmax. */
    boolean isGreedy() {
        return temperature == 0;
    }

    /**
     * The distribution {@link #sample(float[])} draws row {@code row} of {@code logits} (rows of
     * {@code v}) from, as weights over the ids (not normalised; zero outside the candidates): one
     * at the argmax (lowest id on ties) when greedy; else {@code exp((x - max) / temperature)}
     * over the top k, cut to top-p. For speculative decoding's verification ({@link Speculation}).
     */
    double[] weights(float[] logits, int row, int v) {
        float[] x = Arrays.copyOfRange(logits, row * v, (row + 1) * v);
        double[] w = new double[v];
        if (temperature == 0) {
            int best = 0;
            for (int i = 1; i < v; i++) if (Float.compare(x[i], x[best]) > 0) best = i;
            w[best] = 1;
            return w;
        }
        int keep = topK > 0 ? Math.min(topK, v) : v;
        long[] ranked = ranked(x, keep);
        int[] order = new int[keep];
        for (int i = 0; i < keep; i++) order[i] = (int) ranked[i];
        double[] p = weights(x, order);
        int cut = cut(p, sum(p, p.length));
        for (int i = 0, n = cut < 0 ? p.length : cut; i < n; i++) w[order[i]] = p[i];
        return w;
    }

    /** A uniform draw in [0, 1) from this sampler's stream. */
    double uniform() {
        return nextDouble();
    }

    /** An id drawn from the weights {@code w} (not all zero) in id order, with the next uniform of this sampler's stream. */
    int drawFrom(double[] w) {
        double total = 0;
        int last = -1;
        for (int i = 0; i < w.length; i++) {
            total += w[i];
            if (w[i] > 0) last = i;
        }
        double u = nextDouble() * total;
        for (int i = 0; i < w.length; i++) {
            u -= w[i];
            if (u < 0 && w[i] > 0) return i;
        }
        return last;
    }

    /** The stream's next double, as {@code SplittableRandom.nextDouble} makes it from its next long (so that a key given back serves it too). */
    private double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /**
     * The next token of each row of {@code logits} (..., V; the leading dims flatten to the rows),
     * on any device. Greedy and plain temperature sampling run {@link Functional#sampleRows} where
     * the logits are, with one key from this sampler's stream (its next {@code nextLong()}): on a
     * device one kernel draws every row and only the tokens are read back. With top-k on a device,
     * each row's top k are selected there ({@link Tensor#topk}) and only they are read back, then
     * ranked and drawn on the host as {@link #sample(float[])} ranks and draws a row (the same
     * tokens, but where -0.0 and 0.0 both sit at the k-th place: the device takes the lower id).
     * With top-p alone on a device, each row's top {@value #NUCLEUS_CANDIDATES} are read back with
     * the softmax's denominator over the row ({@link Functional#softmaxDenominators}); a row whose
     * nucleus ends among them is drawn from them, and only a row whose nucleus reaches past them
     * is read back whole. The device sums the denominator in another order than the host: where a
     * candidate's running share lies within rounding of top-p, the nucleus may keep one token more
     * or less than on the host. On the host the rows are drawn as {@link #sample(float[])} draws
     * them, in row order.
     *
     * @param done rows not to draw (their entry is -1), or null for none; its length is the number
     *             of rows
     * @throws IllegalArgumentException when {@code done} does not have one entry per row
     */
    public long[] sample(Tensor logits, boolean[] done) {
        if (logits.rank() == 0 || logits.dim(-1) == 0) throw new IllegalArgumentException("sample needs logits (..., V) with V > 0, got " + logits.shape());
        long v = logits.dim(-1);
        int rows = Math.toIntExact(logits.numel() / v);
        if (done != null && done.length != rows) throw new IllegalArgumentException("done has " + done.length + " entries for " + rows + " rows of logits");
        long[] tokens;
        if (byIds(v)) {
            // on a device the only host memory is the tokens' read-back, on this thread: a confined scope's close costs no handshake
            try (Scope s = logits.device().isDevice() ? Scope.openConfined() : Scope.open()) {
                tokens = Functional.sampleRows(logits, temperature, nextLong()).toLongArray();
            }
        } else if (logits.device().isDevice() && topK > 0 && topK < v) {
            // each row's top k selected on the device, and only they read back; ranked again here
            Candidates[] c = onDevice(logits, rows, topK, false);
            tokens = new long[rows];
            for (int r = 0; r < rows; r++) if (done == null || !done[r]) tokens[r] = draw(c[r]);
        } else if (logits.device().isDevice()) {
            // top-p alone: each row's leading candidates selected on the device, with the softmax's denominator over the
            // row; the nucleus is cut from them where it ends among them, else from the row read back
            int k = (int) Math.min(NUCLEUS_CANDIDATES, v);
            Candidates[] c = onDevice(logits, rows, k, k < v);
            float[] all = null;
            tokens = new long[rows];
            for (int r = 0; r < rows; r++) {
                if (done != null && done[r]) continue;
                if (c[r].keep() >= 0) {
                    tokens[r] = draw(c[r]);
                } else {
                    if (all == null) all = logits.toFloatArray();
                    tokens[r] = sample(Arrays.copyOfRange(all, (int) (r * v), (int) ((r + 1) * v)));
                }
            }
        } else {
            float[] all = logits.toFloatArray();
            tokens = new long[rows];
            for (int r = 0; r < rows; r++) {
                if (done == null || !done[r]) tokens[r] = sample(Arrays.copyOfRange(all, (int) (r * v), (int) ((r + 1) * v)));
            }
        }
        if (done != null) for (int r = 0; r < rows; r++) if (done[r]) tokens[r] = -1;
        return tokens;
    }

    /**
     * The next token for one row of logits (V). Greedy and plain temperature sampling draw by
     * {@link Functional#sampleRows}, with one key from this sampler's stream. Otherwise the
     * candidates are ranked by logit, highest first (lowest id among equals), as primitive sort
     * keys: the top k are selected without sorting the rest, and all V are sorted (by radix from
     * 4,096 tokens) only when no top-k applies; this gives the tokens of {@link #sampleReference}
     * for the same seed.
     */
    public int sample(float[] logits) {
        if (byIds(logits.length)) return byIds(logits);
        int keep = topK > 0 ? Math.min(topK, logits.length) : logits.length;
        long[] ranked = ranked(logits, keep);
        int[] order = new int[keep];
        for (int i = 0; i < keep; i++) order[i] = (int) ranked[i];   // the id, the key's low 32 bits
        return draw(logits, order);
    }

    /**
     * The specification of {@link #sample(float[])} with top-k or top-p, slow: every token sorted by
     * a comparison of boxed ids, then the same draw from the same random stream. For tests, and the
     * baseline of the sampling benchmark. Greedy and plain temperature sampling draw as
     * {@link #sample(float[])} does.
     */
    public int sampleReference(float[] logits) {
        if (byIds(logits.length)) return byIds(logits);
        int v = logits.length;
        Integer[] all = new Integer[v];
        for (int i = 0; i < v; i++) all[i] = i;
        Arrays.sort(all, (a, b) -> Float.compare(logits[b], logits[a]) != 0 ? Float.compare(logits[b], logits[a]) : Integer.compare(a, b));
        int[] order = new int[topK > 0 ? Math.min(topK, v) : v];
        for (int i = 0; i < order.length; i++) order[i] = all[i];
        return draw(logits, order);
    }

    /**
     * The candidates read back per row for top-p alone on a device (the most {@link Tensor#topk}
     * selects there): where the nucleus ends among them, the draw needs no more of the row.
     */
    static final int NUCLEUS_CANDIDATES = 1024;

    /**
     * A row's candidates in the ranking's order: their weights {@code exp((x - max) / temperature)},
     * their ids, and how many of them the top-p cut keeps (-1: the cut falls beyond them).
     */
    private record Candidates(double[] p, long[] ids, int keep) {
    }

    /**
     * Each row's top k of the device's (rows, V) logits, selected there and read back, then ranked
     * and weighed here. With {@code partial} they are not all the row: the top-p cut then takes the
     * softmax's denominator over the whole row, summed on the device
     * ({@link Functional#softmaxDenominators}); else their own sum.
     */
    private Candidates[] onDevice(Tensor logits, int rows, int k, boolean partial) {
        long v = logits.dim(-1);
        float[] values;
        long[] ids;
        double[] totals = null;
        try (Scope s = Scope.openConfined()) {
            Tensor flat = logits.reshape(rows, v);
            Tensor.TopK top = flat.topk(k, 1, true);
            if (partial) totals = Functional.softmaxDenominators(flat, temperature);
            values = top.values().toFloatArray();
            ids = top.indices().toLongArray();
        }
        Candidates[] c = new Candidates[rows];
        for (int r = 0; r < rows; r++) c[r] = candidates(values, ids, r * k, k, partial ? totals[r] : Double.NaN);
        return c;
    }

    /**
     * One row's k candidates from {@code from} (values and ids, equal values in any order) ranked
     * by their keys, as {@link #sample(float[])} ranks a whole row, weighed, and cut to top-p with
     * the denominator {@code total} (NaN: they are all the tokens drawn from, and their sum is it).
     */
    private Candidates candidates(float[] values, long[] ids, int from, int k, double total) {
        long[] keys = new long[k];
        for (int i = 0; i < k; i++) keys[i] = rankKey(values[from + i], i);
        Arrays.sort(keys, 0, k);   // ties by position: the device lists equal values by id
        float[] ranked = new float[k];
        long[] rankedIds = new long[k];
        int[] at = new int[k];
        for (int i = 0; i < k; i++) {
            int position = (int) keys[i];
            ranked[i] = values[from + position];
            rankedIds[i] = ids[from + position];
            at[i] = i;
        }
        double[] p = weights(ranked, at);
        boolean whole = Double.isNaN(total);
        int keep = cut(p, whole ? sum(p, k) : total);
        return new Candidates(p, rankedIds, whole && keep < 0 ? k : keep);
    }

    /** A row's draw from its candidates, the first {@code keep} of them. */
    private long draw(Candidates c) {
        return c.ids()[drawIndex(c.p(), c.keep())];
    }

    /** One row drawn by {@link Functional#sampleRows}. */
    private int byIds(float[] logits) {
        if (logits.length == 0) throw new IllegalArgumentException("sample needs at least one logit");
        try (Scope s = Scope.openConfined()) {
            return (int) Functional.sampleRows(Tensor.of(logits, logits.length), temperature, nextLong()).toLongArray()[0];
        }
    }

    /**
     * The sort key of token {@code id}: ascending keys rank by logit descending, in
     * {@link Float#compare}'s order (NaN above +infinity, -0.0 below 0.0), then by id ascending.
     */
    static long rankKey(float logit, int id) {
        int bits = Float.floatToIntBits(logit);
        int ascending = bits ^ ((bits >> 31) & 0x7fffffff);   // signed-int order = Float.compare order
        return ((long) ~ascending << 32) | id;
    }

    /** Vocabularies from which the whole ranking is a radix sort rather than a comparison sort. */
    static final int RADIX_FROM = 4096;

    /** The first {@code keep} keys of the ranking, in order (the rest of the array is not ranked). */
    static long[] ranked(float[] logits, int keep) {
        int v = logits.length;
        if ((long) keep * 8 >= v) {
            if (v >= RADIX_FROM) return radixRanked(logits);
            long[] keys = new long[v];
            for (int i = 0; i < v; i++) keys[i] = rankKey(logits[i], i);
            Arrays.sort(keys);
            return keys;
        }
        // the keep smallest keys in a max-heap (its root the largest kept), then sorted
        long[] heap = new long[keep];
        for (int i = 0; i < keep; i++) heap[i] = rankKey(logits[i], i);
        for (int i = keep / 2 - 1; i >= 0; i--) siftDown(heap, i, keep);
        for (int i = keep; i < v; i++) {
            long k = rankKey(logits[i], i);
            if (k < heap[0]) {
                heap[0] = k;
                siftDown(heap, 0, keep);
            }
        }
        Arrays.sort(heap);
        return heap;
    }

    /**
     * Every key of the ranking, in order, by a stable two-pass radix sort (16 bits a pass) of the
     * logits' halves of the keys: the ids start in order, so equal logits keep the lower id first,
     * as the keys' low halves order them.
     */
    private static long[] radixRanked(float[] logits) {
        int v = logits.length;
        int[] half = new int[v];   // the key's high 32 bits, sign flipped: unsigned order = signed order
        for (int i = 0; i < v; i++) half[i] = (int) (rankKey(logits[i], i) >>> 32) ^ 0x80000000;
        int[] byLow = new int[v], ids = new int[v], count = new int[65537];
        for (int i = 0; i < v; i++) count[(half[i] & 0xffff) + 1]++;
        for (int b = 0; b < 65536; b++) count[b + 1] += count[b];
        for (int i = 0; i < v; i++) byLow[count[half[i] & 0xffff]++] = i;
        Arrays.fill(count, 0);
        for (int i = 0; i < v; i++) count[(half[i] >>> 16) + 1]++;
        for (int b = 0; b < 65536; b++) count[b + 1] += count[b];
        for (int j = 0; j < v; j++) ids[count[half[byLow[j]] >>> 16]++] = byLow[j];
        long[] keys = new long[v];
        for (int j = 0; j < v; j++) keys[j] = ((long) (half[ids[j]] ^ 0x80000000) << 32) | ids[j];   // rankKey, from its halves
        return keys;
    }

    private static void siftDown(long[] heap, int i, int n) {
        long x = heap[i];
        while (true) {
            int c = 2 * i + 1;
            if (c >= n) break;
            if (c + 1 < n && heap[c + 1] > heap[c]) c++;
            if (heap[c] <= x) break;
            heap[i] = heap[c];
            i = c;
        }
        heap[i] = x;
    }

    /** Draws from softmax(logits / temperature) over the ranked candidates, cut to top-p. */
    private int draw(float[] logits, int[] order) {
        double[] p = weights(logits, order);
        int keep = cut(p, sum(p, p.length));
        return order[drawIndex(p, keep < 0 ? p.length : keep)];
    }

    /** The weights exp((x - max) / temperature) of the ranked candidates, max the first one's logit. */
    private double[] weights(float[] logits, int[] order) {
        double max = logits[order[0]];
        double[] p = new double[order.length];
        for (int i = 0; i < p.length; i++) p[i] = Math.exp((logits[order[i]] - max) / temperature);
        return p;
    }

    /** The sum of the first n weights, in order. */
    private static double sum(double[] p, int n) {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += p[i];
        return sum;
    }

    /**
     * How many of the ranked weights the top-p cut keeps, {@code sum} their softmax's denominator:
     * all at top-p 1, else up to the first whose running share reaches top-p; -1 where none does.
     */
    private int cut(double[] p, double sum) {
        if (topP >= 1) return p.length;
        double cum = 0;
        for (int n = 0; n < p.length; ) {
            cum += p[n] / sum;
            n++;
            if (cum >= topP) return n;
        }
        return -1;
    }

    /** The candidate drawn from the first {@code keep} weights, with the next uniform of this sampler's stream. */
    private int drawIndex(double[] p, int keep) {
        double u = nextDouble() * sum(p, keep);
        for (int i = 0; i < keep; i++) {
            u -= p[i];
            if (u < 0) return i;
        }
        return keep - 1;
    }
}
