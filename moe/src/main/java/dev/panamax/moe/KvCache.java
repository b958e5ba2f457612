package dev.panamax.moe;

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
 */
public final class KvCache implements AutoCloseable {
    private final DeepSeekConfig cfg;
    private final Scope scope;
    private final Tensor[] latent; // per layer (B, maxLen, Lkv)
    private final Tensor[] kRope;  // per layer (B, maxLen, R)
    private final int batch, maxLen;
    private final DType dtype;
    private int length;

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
        if (batch < 1 || maxLen < 1) throw new IllegalArgumentException("a KV cache needs batch >= 1 and maxLen >= 1, got " + batch + " and " + maxLen);
        if (dtype != DType.F32 && dtype != DType.BF16) throw new IllegalArgumentException("a KV cache holds F32 or BF16, got " + dtype.name());
        this.dtype = dtype;
        this.cfg = cfg;
        this.batch = batch;
        this.maxLen = maxLen;
        this.scope = Scope.longLived("kv-cache");
        int n = cfg.numHiddenLayers();
        latent = new Tensor[n];
        kRope = new Tensor[n];
        try (var e = scope.enter()) {
            for (int i = 0; i < n; i++) {
                latent[i] = Tensor.zeros(device, dtype, batch, maxLen, cfg.kvLoraRank());
                kRope[i] = Tensor.zeros(device, dtype, batch, maxLen, cfg.qkRopeHeadDim());
            }
        }
    }

    /** Tokens cached so far (the position of the next token). */
    public int length() {
        return length;
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
        if (length + t > maxLen) throw new IllegalStateException("KV cache full: " + length + " + " + t + " > " + maxLen + " tokens");
        Functional.latentKvInto(kv, normWeight, eps, cos, sin, latent[layer].narrow(1, length, t), kRope[layer].narrow(1, length, t));
    }

    /** Cached latents (B, S, Lkv) of a layer, S = length + pending. */
    Tensor latent(int layer, long upTo) {
        return latent[layer].narrow(1, 0, upTo);
    }

    /** Cached RoPE keys (B, S, R) of a layer. */
    Tensor kRope(int layer, long upTo) {
        return kRope[layer].narrow(1, 0, upTo);
    }

    /** Marks {@code t} more tokens as cached (after every layer has appended them). */
    void advance(int t) {
        length += t;
    }

    /** Drops the tokens after the first {@code length} (keeps the memory). */
    public void truncate(int length) {
        if (length < 0 || length > this.length) throw new IllegalArgumentException("cannot truncate a cache of " + this.length + " tokens to " + length);
        this.length = length;
    }

    /** Forgets all tokens (keeps the memory). */
    public void reset() {
        length = 0;
    }

    /** Bytes cached per token: (Lkv + R) values of {@link #dtype()} per layer. */
    public long bytesPerToken() {
        return (long) cfg.numHiddenLayers() * (cfg.kvLoraRank() + cfg.qkRopeHeadDim()) * dtype.byteSize();
    }

    /**
     * Bytes per token that standard multi-head attention with the same heads would cache in the
     * same dtype: keys of H x (dn + dr) and values of H x dv per layer.
     */
    public long mhaBytesPerToken() {
        return (long) cfg.numHiddenLayers() * cfg.numAttentionHeads() * (cfg.qkHeadDim() + cfg.vHeadDim()) * dtype.byteSize();
    }

    @Override
    public void close() {
        scope.close();
    }
}
