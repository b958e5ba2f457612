package dev.panamax.moe;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Functional;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;

/**
 * The MLA cache: per layer and token only the compressed latent (Lkv values, after
 * {@code kv_a_layernorm}) and the shared RoPE key (R values, rotated), not per-head keys and
 * values. Memory lives in its own long-lived scope, on the model's device (host or GPU);
 * {@link #close()} frees it. The cache holds F32, or BF16 for half the memory and half the bytes
 * that each decode step reads (new entries are rounded once, when they are stored; attention
 * still computes in F32).
 *
 * <p>The sequences are at one position, {@link #length()}, unless a continuous batch
 * ({@link Batcher}) has set each its own ({@code lengths}): then a decode step appends each
 * sequence's token at its own position and attends over its own entries.
 */
public final class KvCache implements AutoCloseable {
    private final DeepSeekConfig cfg;
    private final Scope scope;
    private final Tensor[] latent; // per layer (B, maxLen, Lkv)
    private final Tensor[] kRope;  // per layer (B, maxLen, R)
    private final int batch, maxLen;
    private final DType dtype;
    private final KvCache parent;  // the cache whose rows this one views, or null
    private int length;
    private int[] rowLengths;      // each sequence's own length, or null when all are at length
    private Tensor positions;      // I32 (B) on the cache's device: the lengths as its kernels read them
    private int[] positionsHold;   // the lengths positions holds (null: not yet written)
    private Tensor ropeTable;      // F32 (maxLen, R): cos | sin of every position, on the device

    /** A host cache for {@code batch} sequences of up to {@code maxLen} tokens. */
    public KvCache(DeepSeekConfig cfg, int batch, int maxLen) {
        this(cfg, batch, maxLen, Device.CPU);
    }

    /** An F32 cache on {@code device} (the device of the model it serves). */
    public KvCache(DeepSeekConfig cfg, int batch, int maxLen, Device device) {
        this(cfg, batch, maxLen, device, DType.F32);
    }

    /** A cache of {@code dtype} (F32 or BF16) on {@code device} (the device of the model it serves). */
    public KvCache(DeepSeekConfig cfg, int batch, int maxLen, Device device, DType dtype) {
        this(cfg, cfg.numHiddenLayers(), batch, maxLen, device, dtype);
    }

    /** A cache of {@code layers} layers (a {@link MultiTokenPredictor}'s own: one). */
    KvCache(DeepSeekConfig cfg, int layers, int batch, int maxLen, Device device, DType dtype) {
        if (batch < 1 || maxLen < 1) throw new IllegalArgumentException("a KV cache needs batch >= 1 and maxLen >= 1, got " + batch + " and " + maxLen);
        checkDtype(dtype);
        this.dtype = dtype;
        this.cfg = cfg;
        this.batch = batch;
        this.maxLen = maxLen;
        this.parent = null;
        this.scope = Scope.longLived("kv-cache");
        int n = layers;
        latent = new Tensor[n];
        kRope = new Tensor[n];
        try (var e = scope.enter()) {
            for (int i = 0; i < n; i++) {
                latent[i] = Tensor.zeros(device, dtype, batch, maxLen, cfg.kvLoraRank());
                kRope[i] = Tensor.zeros(device, dtype, batch, maxLen, cfg.qkRopeHeadDim());
            }
        }
    }

    /** Throws unless a cache can hold {@code dtype} (F32 or BF16). */
    static void checkDtype(DType dtype) {
        if (dtype != DType.F32 && dtype != DType.BF16) throw new IllegalArgumentException("a KV cache holds F32 or BF16, got " + dtype.name());
    }

    /**
     * A cache over sequences {@code from .. from + count - 1} of {@code parent}, sharing its memory
     * (and its RoPE table), with lengths of its own (0 to begin with). Closing it frees only what it
     * made itself (its positions); it must be closed before its parent.
     */
    private KvCache(KvCache parent, int from, int count) {
        if (from < 0 || count < 1 || from + count > parent.batch)
            throw new IllegalArgumentException("sequences " + from + ".." + (from + count - 1) + " outside a cache of " + parent.batch);
        this.cfg = parent.cfg;
        this.dtype = parent.dtype;
        this.batch = count;
        this.maxLen = parent.maxLen;
        this.parent = parent;
        this.scope = Scope.longLived("kv-cache view");
        latent = new Tensor[parent.latent.length];
        kRope = new Tensor[parent.kRope.length];
        for (int i = 0; i < latent.length; i++) {
            latent[i] = parent.latent[i].narrow(0, from, count);
            kRope[i] = parent.kRope[i].narrow(0, from, count);
        }
    }

    /** {@code count} sequences of this cache from {@code from}, as a cache of their own (see the constructor). */
    KvCache rows(int from, int count) {
        if (parent != null) throw new UnsupportedOperationException("a view's sequences are not viewed again");
        return new KvCache(this, from, count);
    }

    /**
     * Tokens cached so far (the position of the next token); where each sequence has its own
     * length, the longest.
     */
    public int length() {
        if (rowLengths == null) return length;
        int most = 0;
        for (int l : rowLengths) most = Math.max(most, l);
        return most;
    }

    /** Whether each sequence has its own length ({@link #lengths(int[])}). */
    boolean ragged() {
        return rowLengths != null;
    }

    /**
     * Sets each sequence's own length (the position of its next token): a decode step then
     * appends sequence b's token at {@code perRow[b]} and attends over its entries up to there,
     * and {@link #advance} moves every sequence on.
     */
    void lengths(int[] perRow) {
        if (perRow.length != batch) throw new IllegalArgumentException("a cache of " + batch + " sequences takes " + batch + " lengths, got " + perRow.length);
        for (int l : perRow) if (l < 0 || l > maxLen) throw new IllegalArgumentException("length " + l + " outside 0.." + maxLen);
        rowLengths = perRow.clone();
    }

    /** Capacity in tokens. */
    public int maxLength() {
        return maxLen;
    }

    /** The device the cache is on. */
    public Device device() {
        return latent[0] == null ? Device.CPU : latent[0].device();
    }

    /** The element type of the cache (F32 or BF16). */
    public DType dtype() {
        return dtype;
    }

    /** Sequences in the batch. */
    public int batch() {
        return batch;
    }

    /**
     * Stores layer {@code layer}'s new entries at positions {@code length..}: of its compressed
     * KV projection kv (B,T,Lkv+R), the latent normalised by {@code normWeight} and the RoPE key
     * rotated by cos and sin (T, R/2), as {@link Functional#latentKvInto} computes them (one
     * launch on a GPU).
     */
    void append(int layer, Tensor kv, Tensor normWeight, double eps, Tensor cos, Tensor sin) {
        long t = kv.dim(1);
        checkRoom(t);
        Functional.latentKvInto(kv, normWeight, eps, cos, sin, latent[layer].narrow(1, length, t), kRope[layer].narrow(1, length, t));
    }

    /** Throws unless {@code t} more tokens fit. */
    void checkRoom(long t) {
        int at = length();
        if (at + t > maxLen) throw new IllegalStateException("KV cache full: " + at + " + " + t + " > " + maxLen + " tokens");
    }

    /**
     * Layer {@code layer}'s new entries of one decode step, at the position that
     * {@link #positions()} holds in device memory (see {@link Functional#latentKvInto(Tensor,
     * Tensor, double, Tensor, Tensor, Tensor, Tensor, Tensor)}): what {@link #append} stores, but
     * the kernel reads where to store it when it runs, so a captured graph appends at each replay's position.
     */
    void appendAtPositions(int layer, Tensor kv, Tensor normWeight, double eps, Tensor cos, Tensor sin) {
        checkRoom(kv.dim(1));
        Functional.latentKvInto(kv, normWeight, eps, cos, sin, latent[layer], kRope[layer], positions());
    }

    /**
     * Every sequence's length (the position of its next token), I32 (B) in the cache's memory,
     * rewritten (one small upload) when {@link #length()} has changed since it was last asked for.
     * The decode kernels read it when they run, which is what lets a {@link DecodeGraph} replay a
     * step at a new position.
     */
    Tensor positions() {
        int[] at = rowLengths != null ? rowLengths.clone() : new int[batch];
        if (rowLengths == null) java.util.Arrays.fill(at, length);
        if (java.util.Arrays.equals(positionsHold, at)) return positions;
        if (positions == null) {
            try (var e = scope.enter()) {
                positions = Tensor.zeros(device(), DType.I32, batch);
            }
        }
        try (Scope host = Scope.openConfined(); Autograd.NoGrad ng = Autograd.noGrad()) {   // the host copy lives only for the upload
            positions.copyFrom(Tensor.ofInts(at, batch));
        }
        positionsHold = at;
        return positions;
    }

    /**
     * RoPE's cos and sin (1, R/2) at the position {@link #positions()} holds, gathered on the
     * device from a table of every position the cache can hold (made on first use); (B, R/2),
     * each sequence's, where each has its own length.
     */
    Tensor[] cosSinAtPositions(Rope rope) {
        int half = cfg.qkRopeHeadDim() / 2;
        Tensor table = ropeTable(rope);
        Tensor at = rowLengths != null ? positions() : positions().narrow(0, 0, 1);   // one row: every sequence is at the same position
        Tensor rows = Tensor.embedding(table, at);
        return new Tensor[]{rows.narrow(1, 0, half), rows.narrow(1, half, half)};
    }

    /** The RoPE table of every position (its parent's, for a view), made on first use. */
    private Tensor ropeTable(Rope rope) {
        if (parent != null) return parent.ropeTable(rope);
        int half = cfg.qkRopeHeadDim() / 2;
        if (ropeTable == null) {
            try (var e = scope.enter()) {
                ropeTable = Tensor.zeros(device(), DType.F32, maxLen, 2L * half);
            }
            try (Scope host = Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {   // the host tables live only for the upload
                Tensor[] cs = rope.cosSin(0, maxLen);
                ropeTable.copyFrom(Tensor.concat(java.util.List.of(cs[0], cs[1]), 1));
            }
        }
        return ropeTable;
    }

    /** The whole latent buffer (B, maxLen, Lkv) of a layer. */
    Tensor latentBuffer(int layer) {
        return latent[layer];
    }

    /** The whole RoPE key buffer (B, maxLen, R) of a layer. */
    Tensor kRopeBuffer(int layer) {
        return kRope[layer];
    }

    /** Cached latents (B, S, Lkv) of a layer, S = length + pending. */
    Tensor latent(int layer, long upTo) {
        return latent[layer].narrow(1, 0, upTo);
    }

    /** Cached RoPE keys (B, S, R) of a layer. */
    Tensor kRope(int layer, long upTo) {
        return kRope[layer].narrow(1, 0, upTo);
    }

    /**
     * Copies every entry {@code from} can hold (a cache of the same layers, sequences and dtype,
     * no longer than this one) into the same places here.
     */
    void copyEntries(KvCache from) {
        if (from.latent.length != latent.length || from.batch != batch || from.dtype != dtype || from.maxLen > maxLen)
            throw new IllegalArgumentException("cannot copy a cache of " + from.batch + " x " + from.maxLen + " " + from.dtype + " into one of " + batch + " x " + maxLen + " " + dtype);
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            for (int i = 0; i < latent.length; i++) {
                latent[i].narrow(1, 0, from.maxLen).copyFrom(from.latent[i]);
                kRope[i].narrow(1, 0, from.maxLen).copyFrom(from.kRope[i]);
            }
        }
    }

    /** Copies the first {@code length} entries of sequence {@code from} to sequence {@code to}, in every layer. */
    void copySequence(int from, int to, int length) {
        if (from < 0 || from >= batch || to < 0 || to >= batch || length < 0 || length > maxLen)
            throw new IllegalArgumentException("cannot copy " + length + " entries of sequence " + from + " to " + to + " in a cache of " + batch + " x " + maxLen);
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            for (int i = 0; i < latent.length; i++) {
                latent[i].narrow(0, to, 1).narrow(1, 0, length).copyFrom(latent[i].narrow(0, from, 1).narrow(1, 0, length));
                kRope[i].narrow(0, to, 1).narrow(1, 0, length).copyFrom(kRope[i].narrow(0, from, 1).narrow(1, 0, length));
            }
        }
    }

    /** Marks {@code t} more tokens as cached, in every sequence (after every layer has appended them). */
    void advance(int t) {
        if (rowLengths != null) for (int i = 0; i < batch; i++) rowLengths[i] += t;
        else length += t;
    }

    /** Drops the tokens after the first {@code length} (keeps the memory); every sequence is then at that length. */
    public void truncate(int length) {
        int now = length();
        if (length < 0 || length > now) throw new IllegalArgumentException("cannot truncate a cache of " + now + " tokens to " + length);
        if (rowLengths != null && length > java.util.Arrays.stream(rowLengths).min().orElse(0))
            throw new IllegalArgumentException("cannot truncate to " + length + " a cache whose sequences hold " + java.util.Arrays.toString(rowLengths) + " tokens");
        rowLengths = null;
        this.length = length;
    }

    /** Forgets all tokens (keeps the memory). */
    public void reset() {
        rowLengths = null;
        length = 0;
    }

    /** Bytes cached per token: (Lkv + R) values of {@link #dtype()} per layer. */
    public long bytesPerToken() {
        return (long) latent.length * (cfg.kvLoraRank() + cfg.qkRopeHeadDim()) * dtype.byteSize();
    }

    /**
     * Bytes per token that standard multi-head attention with the same heads would cache in the
     * same dtype: keys of H x (dn + dr) and values of H x dv per layer.
     */
    public long mhaBytesPerToken() {
        return (long) latent.length * cfg.numAttentionHeads() * (cfg.qkHeadDim() + cfg.vHeadDim()) * dtype.byteSize();
    }

    @Override
    public void close() {
        scope.close();
    }
}
