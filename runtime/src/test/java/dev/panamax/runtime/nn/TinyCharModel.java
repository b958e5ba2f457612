package dev.panamax.runtime.nn;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Functional;
import dev.panamax.runtime.Tensor;

/**
 * A small character-level transformer for tests: embedding, {@code layers} blocks of causal
 * self-attention and a SwiGLU MLP (pre-RMSNorm, residual), final norm, LM head.
 */
public final class TinyCharModel extends Module {
    final int vocab, dim, heads, layers;
    final Tensor embed, normW, head;
    final Block[] blocks;

    /** One transformer block. */
    static final class Block extends Module {
        final Tensor n1, n2, wq, wk, wv, wo, w1, w3, w2;

        Block(int dim, int hidden, long seed) {
            double s = 1 / Math.sqrt(dim);
            n1 = parameter("input_layernorm.weight", Tensor.ones(DType.F32, dim));
            wq = parameter("self_attn.q_proj.weight", Tensor.randn(DType.F32, seed + 1, s, dim, dim));
            wk = parameter("self_attn.k_proj.weight", Tensor.randn(DType.F32, seed + 2, s, dim, dim));
            wv = parameter("self_attn.v_proj.weight", Tensor.randn(DType.F32, seed + 3, s, dim, dim));
            wo = parameter("self_attn.o_proj.weight", Tensor.randn(DType.F32, seed + 4, s, dim, dim));
            n2 = parameter("post_attention_layernorm.weight", Tensor.ones(DType.F32, dim));
            w1 = parameter("mlp.gate_proj.weight", Tensor.randn(DType.F32, seed + 5, s, hidden, dim));
            w3 = parameter("mlp.up_proj.weight", Tensor.randn(DType.F32, seed + 6, s, hidden, dim));
            w2 = parameter("mlp.down_proj.weight", Tensor.randn(DType.F32, seed + 7, 1 / Math.sqrt(hidden), dim, hidden));
        }

        /** x (B,T,C) -> (B,T,C). */
        Tensor forward(Tensor x, int heads) {
            long b = x.dim(0), t = x.dim(1), c = x.dim(2), d = c / heads;
            Tensor h = x.rmsNorm(n1, 1e-6);
            Tensor q = Functional.linear(h, wq).view(b, t, heads, d).transpose(1, 2);
            Tensor k = Functional.linear(h, wk).view(b, t, heads, d).transpose(1, 2);
            Tensor v = Functional.linear(h, wv).view(b, t, heads, d).transpose(1, 2);
            Tensor a = Functional.scaledDotProductAttention(q, k, v, 1 / Math.sqrt(d)).transpose(1, 2).reshape(b, t, c);
            x = x.add(Functional.linear(a, wo));
            Tensor m = Functional.linear(Functional.swiglu(x.rmsNorm(n2, 1e-6), w1, w3), w2);
            return x.add(m);
        }
    }

    public TinyCharModel(int vocab, int dim, int heads, int layers, long seed) {
        this.vocab = vocab;
        this.dim = dim;
        this.heads = heads;
        this.layers = layers;
        embed = parameter("embed_tokens.weight", Tensor.randn(DType.F32, seed, 0.5, vocab, dim));
        blocks = new Block[layers];
        for (int i = 0; i < layers; i++) blocks[i] = child("layers." + i, new Block(dim, 2 * dim, seed + 10L * (i + 1)));
        normW = parameter("norm.weight", Tensor.ones(DType.F32, dim));
        head = parameter("lm_head.weight", Tensor.randn(DType.F32, seed + 1000, 1 / Math.sqrt(dim), vocab, dim));
    }

    /** ids (B,T) I64 -> logits (B,T,V). */
    public Tensor forward(Tensor ids) {
        Tensor x = Tensor.embedding(embed, ids);
        for (Block b : blocks) x = b.forward(x, heads);
        return Functional.linear(x.rmsNorm(normW, 1e-6), head);
    }

    /** Mean next-token cross-entropy of ids (B,T) against targets (B,T). */
    public Tensor loss(Tensor ids, Tensor targets) {
        Tensor logits = forward(ids);
        return Functional.crossEntropy(logits.reshape(-1, vocab), targets.reshape(-1), -100, Functional.Reduction.MEAN);
    }
}
