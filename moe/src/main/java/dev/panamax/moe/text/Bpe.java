package dev.panamax.moe.text;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The BPE model of {@code tokenizer.json}: a vocabulary, and merges ranked by their order. A word
 * starts as one symbol per character; the adjacent pair of lowest rank (the leftmost among equals)
 * is merged, again and again, until no adjacent pair has a merge. {@link #mergeReference} is that
 * rule as a plain loop (the specification); {@link #merge} does the same with a heap of candidate
 * pairs, in O(n log n), as Hugging Face's library does.
 */
final class Bpe {
    /** Words up to this many characters are remembered. */
    static final int CACHE_WORD_CHARS = 256;
    /** At most this many words are remembered. */
    static final int CACHE_WORDS = 10_000;

    private final Map<String, Integer> vocab;
    private final String[] tokens;
    /** Open addressing: key {@code left << 32 | right}, value {@code rank << 32 | merged id}. */
    private final long[] pairKeys;
    private final long[] pairValues;
    private final int pairMask;
    private final int[] charIds = new int[0x10000];
    private final int unkId;
    private final boolean fuseUnk;
    private final boolean ignoreMerges;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    Bpe(TokJson model) {
        TokJson vocabJson = model.get("vocab");
        Map<String, Object> v = vocabJson.map();
        vocab = new HashMap<>(v.size() * 2);
        int maxId = -1;
        for (Map.Entry<String, Object> e : v.entrySet()) {
            long id = e.getValue() instanceof Long l ? l : new TokJson(vocabJson.where() + "[\"" + e.getKey() + "\"]", e.getValue()).integer();
            if (id < 0 || id >= Integer.MAX_VALUE - 8) throw vocabJson.error("id " + id + " of \"" + e.getKey() + "\" is out of range");
            vocab.put(e.getKey(), (int) id);
            maxId = Math.max(maxId, (int) id);
        }
        if (maxId >= 16 * (long) vocab.size() + 1024) throw vocabJson.error("ids are too sparse: " + vocab.size() + " tokens up to id " + maxId);
        tokens = new String[maxId + 1];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            if (tokens[e.getValue()] != null) throw vocabJson.error("id " + e.getValue() + " is given to both \"" + tokens[e.getValue()] + "\" and \"" + e.getKey() + "\"");
            tokens[e.getValue()] = e.getKey();
        }
        Arrays.fill(charIds, -1);
        for (Map.Entry<String, Integer> e : vocab.entrySet()) if (e.getKey().length() == 1) charIds[e.getKey().charAt(0)] = e.getValue();

        TokJson m = model.get("merges");
        List<?> list = m.isNull() ? List.of() : m.list();
        int merges = list.size();
        int cap = Integer.highestOneBit(Math.max(16, merges * 2)) * 2;
        pairKeys = new long[cap];
        pairValues = new long[cap];
        Arrays.fill(pairKeys, -1L);
        pairMask = cap - 1;
        for (int r = 0; r < merges; r++) {
            TokJson item = m.item(r);
            String a, b;
            if (item.value() instanceof String s) {
                int sp = s.indexOf(' ', 1);
                if (sp < 0 || s.indexOf(' ', sp + 1) >= 0) throw item.error("a merge must be two tokens separated by one space, got \"" + s + "\"");
                a = s.substring(0, sp);
                b = s.substring(sp + 1);
            } else {
                if (item.list().size() != 2) throw item.error("a merge must be a pair of tokens");
                a = item.item(0).string();
                b = item.item(1).string();
            }
            Integer ia = vocab.get(a), ib = vocab.get(b), merged = vocab.get(a + b);
            if (ia == null || ib == null || merged == null) {
                throw item.error("merge \"" + a + "\" + \"" + b + "\" uses a token outside the vocabulary: \"" + (ia == null ? a : ib == null ? b : a + b) + "\"");
            }
            long key = (long) ia << 32 | ib;
            if (find(key) < 0) put(key, (long) r << 32 | merged);
        }
        String unk = model.get("unk_token").stringOrNull();
        if (unk != null && !vocab.containsKey(unk)) throw model.get("unk_token").error("\"" + unk + "\" is not in the vocabulary");
        unkId = unk == null ? -1 : vocab.get(unk);
        fuseUnk = model.get("fuse_unk").bool(false);
        ignoreMerges = model.get("ignore_merges").bool(false);
        if (model.get("byte_fallback").bool(false)) throw model.get("byte_fallback").error("byte fallback (SentencePiece-style BPE) is not supported; Panamax reads byte-level BPE");
        for (String f : new String[] {"continuing_subword_prefix", "end_of_word_suffix"}) {
            String s = model.get(f).stringOrNull();
            if (s != null && !s.isEmpty()) throw model.get(f).error("is not supported (byte-level BPE leaves it null), got \"" + s + "\"");
        }
        Object dropout = model.get("dropout").value();
        if (dropout instanceof Number d && d.doubleValue() > 0) throw model.get("dropout").error("BPE dropout is for training only; encoding here is deterministic, got " + d);
    }

    private int find(long key) {
        int h = (int) (key * 0x9E3779B97F4A7C15L >>> 40) & pairMask;
        while (pairKeys[h] != -1L) {
            if (pairKeys[h] == key) return h;
            h = (h + 1) & pairMask;
        }
        return -1 - h;
    }

    private void put(long key, long value) {
        int slot = -1 - find(key);
        pairKeys[slot] = key;
        pairValues[slot] = value;
    }

    /** {@code rank << 32 | merged id} of the pair, or -1 when it has no merge. */
    long pair(int left, int right) {
        int h = find((long) left << 32 | right);
        return h < 0 ? -1 : pairValues[h];
    }

    /** The id of {@code token}, or null. */
    Integer id(String token) {
        return vocab.get(token);
    }

    /** The token of {@code id}, or null. */
    String token(int id) {
        return id >= 0 && id < tokens.length ? tokens[id] : null;
    }

    /** One more than the largest id. */
    int size() {
        return tokens.length;
    }

    /** The ids of one pre-tokenized word. */
    int[] encodeWord(String word) {
        boolean cached = word.length() <= CACHE_WORD_CHARS;
        int[] ids = cached ? cache.get(word) : null;
        if (ids != null) return ids;
        ids = uncached(word, false);
        if (cached && cache.size() < CACHE_WORDS) cache.put(word, ids);
        return ids;
    }

    /** The ids of {@code word} by the reference rule (no cache, no heap). */
    int[] encodeWordReference(String word) {
        return uncached(word, true);
    }

    /** The whole word when {@code ignore_merges} finds it in the vocabulary, else its symbols merged. */
    private int[] uncached(String word, boolean reference) {
        Integer whole = ignoreMerges ? vocab.get(word) : null;
        if (whole != null) return new int[] {whole};
        int[] symbols = symbols(word);
        return reference ? mergeReference(symbols) : merge(symbols);
    }

    /**
     * One id per character; a character outside the vocabulary becomes the unknown token (runs of
     * them one token when {@code fuse_unk}), or is dropped when there is none, as the Rust library does.
     */
    int[] symbols(String word) {
        int[] out = new int[word.length()];
        int n = 0;
        boolean lastUnk = false;
        for (int i = 0; i < word.length(); ) {
            int cp = word.codePointAt(i);
            int len = Character.charCount(cp);
            int id = len == 1 ? charIds[cp] : -1;
            if (id < 0 && len > 1) {
                Integer boxed = vocab.get(word.substring(i, i + len));
                if (boxed != null) id = boxed;
            }
            i += len;
            if (id >= 0) {
                out[n++] = id;
                lastUnk = false;
            } else if (unkId >= 0) {
                if (!(fuseUnk && lastUnk)) out[n++] = unkId;
                lastUnk = true;
            }
        }
        return n == out.length ? out : Arrays.copyOf(out, n);
    }

    /** Merges by the rule: a min-heap of {@code rank << 32 | position}; stale entries are skipped when popped. */
    int[] merge(int[] ids) {
        int n = ids.length;
        if (n < 2) return ids;
        int[] sym = ids.clone();
        int[] next = new int[n];
        int[] prev = new int[n];
        for (int i = 0; i < n; i++) {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        long[] heap = new long[n];
        int size = 0;
        for (int i = 0; i + 1 < n; i++) {
            long p = pair(sym[i], sym[i + 1]);
            if (p >= 0) {
                if (size == heap.length) heap = Arrays.copyOf(heap, size * 2);
                size = push(heap, size, (p >>> 32) << 32 | i);
            }
        }
        int alive = n;
        while (size > 0) {
            long top = heap[0];
            size = pop(heap, size);
            int pos = (int) top;
            int rank = (int) (top >>> 32);
            if (sym[pos] < 0 || next[pos] < 0) continue;
            int right = next[pos];
            long p = pair(sym[pos], sym[right]);
            if (p < 0 || (int) (p >>> 32) != rank) continue;
            sym[pos] = (int) p;
            sym[right] = -1;
            next[pos] = next[right];
            if (next[right] >= 0) prev[next[right]] = pos;
            alive--;
            if (size + 2 > heap.length) heap = Arrays.copyOf(heap, heap.length * 2);
            if (prev[pos] >= 0) {
                long q = pair(sym[prev[pos]], sym[pos]);
                if (q >= 0) size = push(heap, size, (q >>> 32) << 32 | prev[pos]);
            }
            if (next[pos] >= 0) {
                long q = pair(sym[pos], sym[next[pos]]);
                if (q >= 0) size = push(heap, size, (q >>> 32) << 32 | pos);
            }
        }
        int[] out = new int[alive];
        for (int i = 0, k = 0; i >= 0; i = next[i]) out[k++] = sym[i];
        return out;
    }

    private static int push(long[] heap, int size, long v) {
        int i = size++;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (heap[parent] <= v) break;
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = v;
        return size;
    }

    private static int pop(long[] heap, int size) {
        long last = heap[--size];
        int i = 0;
        while (true) {
            int c = 2 * i + 1;
            if (c >= size) break;
            if (c + 1 < size && heap[c + 1] < heap[c]) c++;
            if (heap[c] >= last) break;
            heap[i] = heap[c];
            i = c;
        }
        if (size > 0) heap[i] = last;
        return size;
    }

    /** The rule as a plain loop: find the adjacent pair of lowest rank, leftmost first; merge it; repeat. */
    int[] mergeReference(int[] ids) {
        int[] s = ids.clone();
        int n = s.length;
        while (true) {
            int best = -1;
            long bestRank = Long.MAX_VALUE;
            for (int i = 0; i + 1 < n; i++) {
                long p = pair(s[i], s[i + 1]);
                if (p >= 0 && (p >>> 32) < bestRank) {
                    bestRank = p >>> 32;
                    best = i;
                }
            }
            if (best < 0) return Arrays.copyOf(s, n);
            s[best] = (int) pair(s[best], s[best + 1]);
            System.arraycopy(s, best + 2, s, best + 1, n - best - 2);
            n--;
        }
    }
}
