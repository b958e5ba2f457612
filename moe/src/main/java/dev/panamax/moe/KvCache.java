package dev.panamax.moe;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;

/**
 * The MLA cache: per layer and token only the compressed latent (Lkv values, after
 * {@code kv_a_layernorm}) and the shared RoPE key (R values, rotated), not per-head keys and
 * values. Memory lives in its own long-lived scope, on the model's device (host or GPU);
 * {@link #close()} frees it.
 */
public final class KvCache implements AutoCloseable {
    private final DeepSeekConfig cfg;
    private final Scope scope;
    private final Tensor[] latent; // per layer (B, maxLen, Lkv)
    private final Tensor[] kRope;  // per layer (B, maxLen, R)
    private final int batch, maxLen;
    private int length;

    /** A host cache for {@code batch} sequences of up to {@code maxLen} tokens. */
    public KvCache(DeepSeekConfig cfg, int batch, int maxLen) {
        this(cfg, batch, maxLen, Device.CPU);
    }

    /** A cache on {@code device} (the device of the model it serves). */
    public KvCache(DeepSeekConfig cfg, int batch, int maxLen, Device device) {
        if (batch < 1 || maxLen < 1) throw new IllegalArgumentException("a KV cache needs batch >= 1 and maxLen >= 1, got " + batch + " and " + maxLen);
        this.cfg = cfg;
        this.batch = batch;
        this.maxLen = maxLen;
        this.scope = Scope.longLived("kv-cache");
        int n = cfg.numHiddenLayers();
        latent = new Tensor[n];
        kRope = new Tensor[n];
        try (var e = scope.enter()) {
            for (int i = 0; i < n; i++) {
                latent[i] = Tensor.zeros(device, DType.F32, batch, maxLen, cfg.kvLoraRank());
                kRope[i] = Tensor.zeros(device, DType.F32, batch, maxLen, cfg.qkRopeHeadDim());
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

    /** Sequences in the batch. */
    public int batch() {
        return batch;
    }

    /** Stores layer {@code layer}'s latent (B,T,Lkv) and rotated RoPE key (B,T,R) at positions {@code length..}. */
    void append(int layer, Tensor c, Tensor kr) {
        long t = c.dim(1);
        if (length + t > maxLen) throw new IllegalStateException("KV cache full: " + length + " + " + t + " > " + maxLen + " tokens");
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            latent[layer].narrow(1, length, t).copyFrom(c);
            kRope[layer].narrow(1, length, t).copyFrom(kr);
        }
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

    /** Bytes cached per token: (Lkv + R) floats per layer. */
    public long bytesPerToken() {
        return (long) cfg.numHiddenLayers() * (cfg.kvLoraRank() + cfg.qkRopeHeadDim()) * Float.BYTES;
    }

    /**
     * Bytes per token that standard multi-head attention with the same heads would cache: keys
     * of H x (dn + dr) and values of H x dv per layer.
     */
    public long mhaBytesPerToken() {
        return (long) cfg.numHiddenLayers() * cfg.numAttentionHeads() * (cfg.qkHeadDim() + cfg.vHeadDim()) * Float.BYTES;
    }

    @Override
    public void close() {
        scope.close();
    }
}
