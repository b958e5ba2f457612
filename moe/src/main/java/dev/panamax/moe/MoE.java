package dev.panamax.moe;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Functional;
import dev.panamax.runtime.RoutedExperts;
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
    private final Tensor[] gates, ups, downs;   // the experts' projections, for the grouped products
    private final RoutedExperts routed;          // the same, for inference from a routing on the device; null where they do not fit it
    private Gate.Routing last;

    /** Loads {@code prefix + "gate.weight"}, {@code prefix + "experts.{j}..."}, {@code prefix + "shared_experts..."}. */
    public MoE(DeepSeekConfig cfg, WeightSource w, String prefix) {
        this.cfg = cfg;
        gate = child("gate", new Gate(cfg, w, prefix + "gate."));
        experts = new Mlp[cfg.nRoutedExperts()];
        gates = new Tensor[experts.length];
        ups = new Tensor[experts.length];
        downs = new Tensor[experts.length];
        for (int j = 0; j < experts.length; j++) {
            experts[j] = child("experts." + j, new Mlp(w, prefix + "experts." + j + "."));
            gates[j] = experts[j].gate;
            ups[j] = experts[j].up;
            downs[j] = experts[j].down;
        }
        shared = cfg.nSharedExperts() > 0 ? child("shared_experts", new Mlp(w, prefix + "shared_experts.")) : null;
        routed = routedExperts(gates, ups, downs);
    }

    /** The experts as one {@link RoutedExperts}, or null when their weights do not fit it (then the grouped products run). */
    private static RoutedExperts routedExperts(Tensor[] gates, Tensor[] ups, Tensor[] downs) {
        try {
            return new RoutedExperts(gates, ups, downs);
        } catch (IllegalArgumentException e) {
            return null;   // e.g. non-contiguous or mixed-dtype expert weights, or more than RoutedExperts.MAX_EXPERTS
        }
    }

    /** The gate. */
    public Gate gate() {
        return gate;
    }

    /** The routing of the last forward pass. */
    public Gate.Routing lastRouting() {
        return last;
    }

    /**
     * x (B,T,C) -> (B,T,C). At inference on a device with few tokens (decoding; see
     * {@link RoutedExperts#preferred}) the routing never leaves the device: {@link RoutedExperts}
     * runs the chosen experts from it in four launches. Otherwise {@link #forwardGrouped}.
     */
    public Tensor forward(Tensor x) {
        Tensor xf = x.reshape(x.dim(0) * x.dim(1), x.dim(2));
        Gate.Routing r = route(xf);
        Tensor base = shared != null ? shared.forward(xf) : null;
        if (routed != null && routed.preferred(xf, r.weights(), base)) {
            return routed.forward(xf, r.chosen(), r.weights(), base).view(x.dim(0), x.dim(1), x.dim(2));
        }
        return grouped(x, xf, r, base);
    }

    /**
     * x (B,T,C) -> (B,T,C) grouped by expert, whatever the shapes (training's path, and the
     * baseline of the routed one): the routed (token, slot) pairs are permuted so that each
     * expert's tokens are contiguous (one gather of x), the experts' projections run as grouped
     * products over those blocks (one {@link Functional#groupedSwiglu} for the gate and up
     * projections of all experts, one {@link Functional#groupedLinear} for the down projections),
     * and the outputs are un-permuted back onto their tokens, weighted and summed in slot order
     * ({@link Functional#moeUnpermute}). On a device that is one read-back of the routing and two
     * index uploads per layer, plus one pointer table per grouped cuBLAS call (none against 16-bit
     * weights at up to 32 rows an expert), whatever the number of experts used.
     * {@link #forwardPerExpert} is the same with one product per expert and projection.
     */
    public Tensor forwardGrouped(Tensor x) {
        Tensor xf = x.reshape(x.dim(0) * x.dim(1), x.dim(2));
        Gate.Routing r = route(xf);
        return grouped(x, xf, r, shared != null ? shared.forward(xf) : null);
    }

    private Tensor grouped(Tensor x, Tensor xf, Gate.Routing r, Tensor base) {
        Routed in = permute(xf, r);
        Permutation p = in.p;
        Tensor out = Functional.groupedLinear(Functional.groupedSwiglu(in.permuted, p.start, gates, ups),
                p.start, downs);                                                              // (N*K, C), each row through its expert
        return combine(x, in, out, base);
    }

    /** A routing, its permutation and the permuted rows of x (N*K, C), the experts' blocks in order. */
    private record Routed(Gate.Routing r, Permutation p, Tensor permuted) {
    }

    private Gate.Routing route(Tensor xf) {
        Gate.Routing r = gate.route(xf);
        last = r;
        return r;
    }

    private Routed permute(Tensor xf, Gate.Routing r) {
        Permutation p = permutation(r.indices());
        return new Routed(r, p, xf.indexSelect(0, Tensor.ofLongs(p.tokens)));
    }

    /** The experts' outputs (N*K, C) un-permuted onto their tokens, weighted, plus the shared experts' base (or null); (B,T,C). */
    private Tensor combine(Tensor x, Routed in, Tensor routedOut, Tensor base) {
        Tensor y = Functional.moeUnpermute(routedOut, in.p.pos, in.r.weights());            // (N, C), weighted, in slot order
        if (base != null) y = y.add(base);
        return y.view(x.dim(0), x.dim(1), x.dim(2));
    }

    /**
     * {@link #forwardGrouped} with one product per expert and projection ({@link Mlp#forward} over
     * each expert's block) instead of grouped products: the baseline the grouped path is measured
     * and tested against. x (B,T,C) -> (B,T,C).
     */
    public Tensor forwardPerExpert(Tensor x) {
        Tensor xf = x.reshape(x.dim(0) * x.dim(1), x.dim(2));
        Routed in = permute(xf, route(xf));
        List<Tensor> outputs = new ArrayList<>();
        for (int e = 0; e < experts.length; e++) {
            int count = in.p.start[e + 1] - in.p.start[e];
            if (count > 0) outputs.add(experts[e].forward(in.permuted.narrow(0, in.p.start[e], count)));
        }
        return combine(x, in, Tensor.concat(outputs, 0), shared != null ? shared.forward(xf) : null);
    }

    /**
     * The routed (token, slot) pairs sorted by expert, stably: expert e's rows are
     * {@code [start[e], start[e + 1])}; slot {@code token * k + j} goes to row {@code pos[slot]},
     * and row r holds token {@code tokens[r]}.
     */
    private record Permutation(int[] start, long[] pos, long[] tokens) {
    }

    private Permutation permutation(long[] chosen) {
        int k = cfg.numExpertsPerTok();
        int[] start = new int[experts.length + 1];
        for (long e : chosen) start[(int) e + 1]++;
        for (int e = 0; e < experts.length; e++) start[e + 1] += start[e];
        int[] fill = java.util.Arrays.copyOf(start, experts.length);
        long[] pos = new long[chosen.length], tokens = new long[chosen.length];
        for (int p = 0; p < chosen.length; p++) {
            int at = fill[(int) chosen[p]]++;
            pos[p] = at;
            tokens[at] = p / k;
        }
        return new Permutation(start, pos, tokens);
    }

    /** The oracle: each token through each of its experts one at a time. x (B,T,C) -> (B,T,C). */
    public Tensor forwardPerToken(Tensor x) {
        long b = x.dim(0), t = x.dim(1), c = x.dim(2), n = b * t;
        int k = cfg.numExpertsPerTok();
        Tensor xf = x.reshape(n, c);
        Gate.Routing r = route(xf);
        List<Tensor> outs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Tensor xi = xf.narrow(0, i, 1);
            Tensor yi = shared != null ? shared.forward(xi) : Tensor.zeros(xi.device(), DType.F32, 1, c);
            for (int j = 0; j < k; j++) {
                Tensor wj = r.weights().narrow(0, i, 1).narrow(1, j, 1);
                yi = yi.add(experts[(int) r.indices()[i * k + j]].forward(xi).mul(wj));
            }
            outs.add(yi);
        }
        return Tensor.concat(outs, 0).view(b, t, c);
    }
}
