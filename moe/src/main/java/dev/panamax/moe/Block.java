package dev.panamax.moe;

import dev.panamax.runtime.Functional;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.nn.Module;

/**
 * One decoder layer: {@code h = x + MLA(input_layernorm(x))}, then
 * {@code h + FFN(post_attention_layernorm(h))} with the dense MLP for the first
 * {@code first_k_dense_replace} layers and DeepSeekMoE after.
 */
public final class Block extends Module {
    private final DeepSeekConfig cfg;
    private final int index, cacheLayer;
    final Tensor inputNorm, postNorm;
    final Mla attn;
    final Mlp mlp;
    final MoE moe;

    /** Loads layer {@code index}. */
    public Block(DeepSeekConfig cfg, WeightSource w, int index) {
        this(cfg, w, index, index);
    }

    /** Loads layer {@code index}, which keeps its cache entries in the cache's layer {@code cacheLayer}. */
    Block(DeepSeekConfig cfg, WeightSource w, int index, int cacheLayer) {
        this.cfg = cfg;
        this.index = index;
        this.cacheLayer = cacheLayer;
        String p = "model.layers." + index + ".";
        inputNorm = parameter("input_layernorm.weight", w.get(p + "input_layernorm.weight"));
        attn = child("self_attn", new Mla(cfg, w, p + "self_attn."));
        postNorm = parameter("post_attention_layernorm.weight", w.get(p + "post_attention_layernorm.weight"));
        if (cfg.isMoeLayer(index)) {
            moe = child("mlp", new MoE(cfg, w, p + "mlp."));
            mlp = null;
        } else {
            mlp = child("mlp", new Mlp(w, p + "mlp."));
            moe = null;
        }
    }

    /** The attention. */
    public Mla attention() {
        return attn;
    }

    /** The MoE block, or null for a dense layer. */
    public MoE moe() {
        return moe;
    }

    /**
     * The layer on its input {@code x + delta} (B,T,C) (delta null: x), returned unsummed as
     * {@code {h, f}}: the layer's output is {@code h + f}, and the next layer's input norm (or the
     * final norm) adds it in the same pass ({@link Functional#addRmsNorm}; one kernel at inference
     * on a device). {@code trace} (nullable) receives attn_out.{i}.
     */
    Tensor[] forward(Tensor x, Tensor delta, long startPos, Tensor[] cosSin, KvCache cache, Mla.Path path, boolean perTokenMoe, Trace trace) {
        Tensor[] in = Functional.addRmsNorm(x, delta, inputNorm, cfg.rmsNormEps());        // {x + delta, its norm}
        Tensor a = attn.forward(in[1], startPos, cosSin, cache, cacheLayer, path);
        if (trace != null) trace.put("attn_out." + index, a);
        Tensor[] hn = Functional.addRmsNorm(in[0], a, postNorm, cfg.rmsNormEps());         // {h, its norm}
        Tensor f = mlp != null ? mlp.forward(hn[1]) : perTokenMoe ? moe.forwardPerToken(hn[1]) : moe.forward(hn[1]);
        if (trace != null && moe != null) trace.routing(index, moe.lastRouting());
        return new Tensor[]{hn[0], f};
    }
}
