package dev.panamax.moe;

import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.nn.Module;

import java.util.ArrayList;
import java.util.List;

/**
 * The DeepSeekMoE block: routed experts chosen by the {@link Gate} plus shared experts applied to
 * every token. Tokens are grouped by expert and each expert runs once over its group as a
 * matrix product ({@link #forward}); {@link #forwardPerToken} is the plain loop over tokens kept
 * as the test oracle.
 */
public final class MoE extends Module {
    private final DeepSeekConfig cfg;
    final Gate gate;
    final Mlp[] experts;
    final Mlp shared;
    private Gate.Routing last;

    /** Loads {@code prefix + "gate.weight"}, {@code prefix + "experts.{j}..."}, {@code prefix + "shared_experts..."}. */
    public MoE(DeepSeekConfig cfg, WeightSource w, String prefix) {
        this.cfg = cfg;
        gate = child("gate", new Gate(cfg, w, prefix + "gate."));
        experts = new Mlp[cfg.nRoutedExperts()];
        for (int j = 0; j < experts.length; j++) experts[j] = child("experts." + j, new Mlp(w, prefix + "experts." + j + "."));
        shared = cfg.nSharedExperts() > 0 ? child("shared_experts", new Mlp(w, prefix + "shared_experts.")) : null;
    }

    /** The gate. */
    public Gate gate() {
        return gate;
    }

    /** The routing of the last forward pass. */
    public Gate.Routing lastRouting() {
        return last;
    }

    /** x (B,T,C) -> (B,T,C), grouped by expert. */
    public Tensor forward(Tensor x) {
        long b = x.dim(0), t = x.dim(1), c = x.dim(2), n = b * t;
        int k = cfg.numExpertsPerTok();
        Tensor xf = x.reshape(n, c);
        Gate.Routing r = gate.route(xf);
        last = r;
        Tensor wflat = r.weights().reshape(n * k);
        // bucket (token, slot) positions by expert
        int[] counts = new int[experts.length];
        for (long e : r.indices()) counts[(int) e]++;
        long[][] pos = new long[experts.length][];
        for (int e = 0; e < experts.length; e++) pos[e] = new long[counts[e]];
        int[] fill = new int[experts.length];
        for (int p = 0; p < r.indices().length; p++) {
            int e = (int) r.indices()[p];
            pos[e][fill[e]++] = p;
        }
        List<Tensor> contributions = new ArrayList<>();
        long[] rows = new long[r.indices().length];
        int at = 0;
        for (int e = 0; e < experts.length; e++) {
            if (pos[e].length == 0) continue;
            long[] toks = new long[pos[e].length];
            for (int i = 0; i < toks.length; i++) {
                toks[i] = pos[e][i] / k;
                rows[at++] = toks[i];
            }
            Tensor ye = experts[e].forward(xf.indexSelect(0, Tensor.ofLongs(toks)));   // (n_e, C): one GEMM per projection
            Tensor we = wflat.indexSelect(0, Tensor.ofLongs(pos[e])).unsqueeze(1);      // (n_e, 1)
            contributions.add(ye.mul(we));
        }
        Tensor y = Tensor.zeros(xf.device(), xf.dtype() == dev.panamax.runtime.DType.F64 ? dev.panamax.runtime.DType.F64 : dev.panamax.runtime.DType.F32, n, c)
                .indexAdd(0, Tensor.ofLongs(rows), Tensor.concat(contributions, 0));
        if (shared != null) y = y.add(shared.forward(xf));
        return y.view(b, t, c);
    }

    /** The oracle: each token through each of its experts one at a time. x (B,T,C) -> (B,T,C). */
    public Tensor forwardPerToken(Tensor x) {
        long b = x.dim(0), t = x.dim(1), c = x.dim(2), n = b * t;
        int k = cfg.numExpertsPerTok();
        Tensor xf = x.reshape(n, c);
        Gate.Routing r = gate.route(xf);
        last = r;
        List<Tensor> outs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Tensor xi = xf.narrow(0, i, 1);
            Tensor yi = shared != null ? shared.forward(xi) : Tensor.zeros(xi.device(), dev.panamax.runtime.DType.F32, 1, c);
            for (int j = 0; j < k; j++) {
                Tensor wj = r.weights().narrow(0, i, 1).narrow(1, j, 1);
                yi = yi.add(experts[(int) r.indices()[i * k + j]].forward(xi).mul(wj));
            }
            outs.add(yi);
        }
        return Tensor.concat(outs, 0).view(b, t, c);
    }
}
