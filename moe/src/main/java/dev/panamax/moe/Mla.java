package dev.panamax.moe;

import dev.panamax.runtime.Functional;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.nn.Module;

import java.util.List;

/**
 * Multi-head latent attention (DeepSeek-V2 section 2.1; V3 section 2.1.1). Queries go through a
 * low-rank projection ({@code q_a_proj}, {@code q_a_layernorm}, {@code q_b_proj}) or a plain
 * {@code q_proj}; keys and values are compressed into a latent c of {@code kv_lora_rank} values
 * ({@code kv_a_proj_with_mqa}, {@code kv_a_layernorm}) plus one RoPE key shared by all heads,
 * and expanded by {@code kv_b_proj}.
 *
 * <p>Two equivalent paths: {@link #NAIVE} expands per-head keys and values from the latent
 * (used for training); {@link #ABSORBED} folds {@code kv_b_proj} into the query and output sides
 * and attends over the latent directly, reading only Lkv + R values per cached token.
 */
public final class Mla extends Module {
    /** Attention paths. */
    public enum Path {
        /** Per-head keys and values expanded from the latent. */
        NAIVE,
        /** kv_b_proj folded into queries and outputs; attention over the latent. */
        ABSORBED
    }

    /** Shorthand for {@link Path#NAIVE}. */
    public static final Path NAIVE = Path.NAIVE;
    /** Shorthand for {@link Path#ABSORBED}. */
    public static final Path ABSORBED = Path.ABSORBED;

    private final DeepSeekConfig cfg;
    final Tensor qA, qANorm, qB, q, kvA, kvANorm, kvB, o;

    /** Loads {@code prefix + "q_a_proj.weight"} etc. */
    public Mla(DeepSeekConfig cfg, WeightSource w, String prefix) {
        this.cfg = cfg;
        if (cfg.qLoraRank() > 0) {
            qA = parameter("q_a_proj.weight", w.get(prefix + "q_a_proj.weight"));
            qANorm = parameter("q_a_layernorm.weight", w.get(prefix + "q_a_layernorm.weight"));
            qB = parameter("q_b_proj.weight", w.get(prefix + "q_b_proj.weight"));
            q = null;
        } else {
            qA = qANorm = qB = null;
            q = parameter("q_proj.weight", w.get(prefix + "q_proj.weight"));
        }
        kvA = parameter("kv_a_proj_with_mqa.weight", w.get(prefix + "kv_a_proj_with_mqa.weight"));
        kvANorm = parameter("kv_a_layernorm.weight", w.get(prefix + "kv_a_layernorm.weight"));
        kvB = parameter("kv_b_proj.weight", w.get(prefix + "kv_b_proj.weight"));
        o = parameter("o_proj.weight", w.get(prefix + "o_proj.weight"));
    }

    /**
     * Whether a step decodes at the positions the cache holds in device memory (one new token per
     * sequence, absorbed, on a device): then the RoPE tables at that position, the cache writes
     * and the attention's length are all read by the kernels when they run (see
     * {@link DecodeGraph}), and the cos and sin passed in must be the cache's
     * {@code cosSinAtPositions}. So does every absorbed step of one token over a cache whose
     * sequences are at positions of their own ({@link KvCache#ragged()}), on the host too.
     */
    static boolean decodesAtPositions(Tensor x, KvCache cache, Path path) {
        return cache != null && path == Path.ABSORBED && x.dim(1) == 1 && (x.device().isDevice() || cache.ragged());
    }

    /**
     * Attention output (before the residual add).
     *
     * @param x        (B,T,C), already normalised by input_layernorm
     * @param startPos position of the first of the T tokens
     * @param cosSin   RoPE cos and sin (T, R/2) for those positions (B x T rows, each sequence's
     *                 own, over a cache whose sequences are at positions of their own)
     * @param cache    the compressed cache (appended to), or null to attend over these T tokens only
     * @param layer    layer index (selects the cache slot)
     * @param path     naive or absorbed
     * @return (B,T,C)
     */
    public Tensor forward(Tensor x, long startPos, Tensor[] cosSin, KvCache cache, int layer, Path path) {
        long b = x.dim(0), t = x.dim(1);
        int h = cfg.numAttentionHeads(), dn = cfg.qkNopeHeadDim(), dr = cfg.qkRopeHeadDim(), dv = cfg.vHeadDim(), lkv = cfg.kvLoraRank();
        double eps = cfg.rmsNormEps();
        Tensor qAll = q != null ? Functional.linear(x, q)
                : Functional.linear(Functional.linear(x, qA).rmsNorm(qANorm, eps), qB);
        qAll = qAll.view(b, t, h, dn + dr);
        Tensor qNope = qAll.narrow(3, 0, dn);
        long tables = cosSin[0].numel() / (t * (dr / 2));                           // 1, or B: each sequence's own rows
        Tensor cos = cosSin[0].reshape(tables, t, 1, dr / 2), sin = cosSin[1].reshape(tables, t, 1, dr / 2);
        Tensor qRope = qAll.narrow(3, dn, dr).rope(cos, sin);                       // (B,T,H,R)
        Tensor kvAll = Functional.linear(x, kvA);                                  // (B,T,Lkv+R)
        Tensor cAll, kRopeAll;                                                      // (B,S,Lkv), (B,S,R)
        boolean atPositions = decodesAtPositions(x, cache, path);
        if (cache != null) {
            // the latent normalised and the key rotated straight into the cache (no gradient flows through it)
            if (cache.ragged() && !atPositions)
                throw new IllegalStateException("sequences at positions of their own take one token each on the absorbed path, got " + t + " tokens on the " + path + " path");
            if (!cache.ragged() && cache.length() != startPos) throw new IllegalStateException("cache holds " + cache.length() + " tokens but the input starts at " + startPos);
            if (atPositions) {
                // where to write, and how far to attend, read from device memory when the kernels run
                cache.appendAtPositions(layer, kvAll, kvANorm, eps, cosSin[0], cosSin[1]);
                cAll = cache.latentBuffer(layer);
                kRopeAll = cache.kRopeBuffer(layer);
            } else {
                cache.append(layer, kvAll, kvANorm, eps, cosSin[0], cosSin[1]);
                cAll = cache.latent(layer, startPos + t);
                kRopeAll = cache.kRope(layer, startPos + t);
            }
        } else {
            cAll = kvAll.narrow(2, 0, lkv).rmsNorm(kvANorm, eps);
            kRopeAll = kvAll.narrow(2, lkv, dr).rope(cosSin[0].view(1, t, dr / 2), cosSin[1].view(1, t, dr / 2));
        }
        long s = cAll.dim(1);
        double scale = cfg.softmaxScale();
        Tensor out;                                                                 // (B,H,T,dv)
        if (path == Path.NAIVE) {
            Tensor kv = Functional.linear(cAll, kvB).view(b, s, h, dn + dv);
            Tensor kNope = kv.narrow(3, 0, dn);
            Tensor v = kv.narrow(3, dn, dv).transpose(1, 2);                        // (B,H,S,dv)
            Tensor k = Tensor.concat(List.of(kNope, kRopeAll.unsqueeze(2).expand(b, s, h, dr)), 3).transpose(1, 2);
            Tensor qq = Tensor.concat(List.of(qNope, qRope), 3).transpose(1, 2);   // (B,H,T,dn+dr)
            out = Functional.scaledDotProductAttention(qq, k, v, scale);
        } else {
            Tensor wkv = kvB.view(h, dn + dv, lkv);
            Tensor wUK = wkv.narrow(1, 0, dn);                                     // (H,dn,Lkv)
            Tensor wUV = wkv.narrow(1, dn, dv);                                    // (H,dv,Lkv)
            // all heads share the latent: fold heads into the rows of one product per sequence, so the
            // cache is read once per step, not once per head (FlashMLA's layout)
            Tensor qAbs = qNope.transpose(1, 2).matmul(wUK).reshape(b, (long) h * t, lkv);  // (B,H*T,Lkv)
            Tensor qR = qRope.transpose(1, 2).reshape(b, (long) h * t, dr);                  // (B,H*T,R)
            if (atPositions) {
                // one new token per sequence on a GPU: the fused latent-attention kernel over the cache
                Tensor lat = Functional.latentAttentionDecode(qAbs, qR, cAll, kRopeAll, cache.positions(), scale);  // (B,H,Lkv), the query's parts read where they are
                out = lat.view(b, h, 1, lkv).matmul(wUV.t());                                     // (B,H,1,dv)
            } else {
                Tensor scores = qAbs.matmul(cAll.t()).add(qR.matmul(kRopeAll.t()))          // (B,H*T,S)
                        .view(b, h, t, s).mul(scale).add(Tensor.causalMask(t, s, s - t));
                Tensor p = scores.softmax(-1).reshape(b, (long) h * t, s);
                out = p.matmul(cAll).view(b, h, t, lkv).matmul(wUV.t());                      // (B,H,T,dv)
            }
        }
        return Functional.linear(out.transpose(1, 2).reshape(b, t, (long) h * dv), o);
    }
}
