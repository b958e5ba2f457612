package dev.panamax.moe;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.Functional;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.nn.Module;

/**
 * The DeepSeekMoE router (V3 section 2.1.2). Scores are {@code sigmoid} or {@code softmax} of
 * {@code x . gate^T}; experts are chosen by the scores plus {@code e_score_correction_bias}
 * (selection only), within the {@code topk_group} best of {@code n_group} groups (a group's score
 * is the sum of its two best selection scores with the bias, its best one without), top-K; the
 * weights are the unbiased scores of the chosen experts, renormalised when
 * {@code norm_topk_prob}, times {@code routed_scaling_factor}. The choice is a constant for
 * autograd; gradients reach {@code gate.weight} through the weights only.
 */
public final class Gate extends Module {
    private final DeepSeekConfig cfg;
    final Tensor weight;
    final Tensor bias;
    private long[] load;

    /**
     * The routing of N tokens.
     *
     * @param indices chosen experts, row-major (N, K), best first
     * @param weights routing weights (N,K), differentiable with respect to gate.weight
     */
    public record Routing(long[] indices, Tensor weights) {
    }

    /** Loads {@code prefix + "weight"} and, with noaux_tc, {@code prefix + "e_score_correction_bias"}. */
    public Gate(DeepSeekConfig cfg, WeightSource w, String prefix) {
        this.cfg = cfg;
        weight = parameter("weight", w.get(prefix + "weight"));
        bias = cfg.topkMethod().equals("noaux_tc") ? buffer("e_score_correction_bias", w.get(prefix + "e_score_correction_bias")) : null;
    }

    /** Routes tokens x (N, C). */
    public Routing route(Tensor x) {
        int e = cfg.nRoutedExperts(), k = cfg.numExpertsPerTok();
        long n = x.dim(0);
        Tensor logits = Functional.linear(x, weight);                                // (N,E)
        Tensor scores = cfg.scoringFunc().equals("sigmoid") ? logits.sigmoid() : logits.softmax(-1);
        float[] sc = scores.detach().toFloatArray();
        float[] b = bias == null ? null : bias.toFloatArray();
        long[] idx = new long[(int) (n * k)];
        long[] counts = new long[e];
        double[] sel = new double[e];
        int groups = cfg.nGroup(), per = e / groups;
        for (int t = 0; t < n; t++) {
            for (int j = 0; j < e; j++) sel[j] = (double) sc[t * e + j] + (b == null ? 0 : b[j]);
            if (groups > 1) limitGroups(sel, groups, per, b != null);
            int[] top = topIndices(sel, k);
            for (int j = 0; j < k; j++) {
                idx[t * k + j] = top[j];
                counts[top[j]]++;
            }
        }
        load = counts;
        Tensor index = Tensor.ofLongs(idx, n, k);
        Tensor w = scores.gather(1, index);                                          // (N,K)
        if (cfg.normTopkProb()) w = w.div(w.sum(-1, true));
        if (cfg.routedScalingFactor() != 1.0) w = w.mul(cfg.routedScalingFactor());
        return new Routing(idx, w);
    }

    /** Sets the selection score of experts outside the best {@code topk_group} groups to -inf. */
    private void limitGroups(double[] sel, int groups, int per, boolean topTwo) {
        double[] gs = new double[groups];
        for (int g = 0; g < groups; g++) {
            double a = Double.NEGATIVE_INFINITY, c = Double.NEGATIVE_INFINITY;
            for (int j = g * per; j < (g + 1) * per; j++) {
                if (sel[j] > a) {
                    c = a;
                    a = sel[j];
                } else if (sel[j] > c) {
                    c = sel[j];
                }
            }
            gs[g] = topTwo ? a + c : a;
        }
        int[] keep = topIndices(gs, cfg.topkGroup());
        boolean[] kept = new boolean[groups];
        for (int g : keep) kept[g] = true;
        for (int g = 0; g < groups; g++) {
            if (!kept[g]) for (int j = g * per; j < (g + 1) * per; j++) sel[j] = Double.NEGATIVE_INFINITY;
        }
    }

    /** Indices of the k largest values, largest first, lower index first on ties. */
    static int[] topIndices(double[] v, int k) {
        int[] out = new int[k];
        int filled = 0;
        for (int i = 0; i < v.length; i++) {
            if (filled == k && !(v[i] > v[out[k - 1]])) continue;
            int pos = filled == k ? k - 1 : filled++;
            while (pos > 0 && v[i] > v[out[pos - 1]]) {
                out[pos] = out[pos - 1];
                pos--;
            }
            out[pos] = i;
        }
        return out;
    }

    /** Tokens routed to each expert by the last {@link #route} call. */
    public long[] expertLoad() {
        return load == null ? new long[cfg.nRoutedExperts()] : load.clone();
    }

    /**
     * The auxiliary-loss-free balancing update (V3 section 2.1.2): after an optimiser step,
     * {@code bias_i += gamma * sign(mean_load - load_i)} from the last routing's loads.
     */
    public void updateBias(double gamma) {
        if (bias == null) throw new IllegalStateException("this gate has no e_score_correction_bias (topk_method is " + cfg.topkMethod() + ")");
        if (load == null) return;
        double mean = 0;
        for (long l : load) mean += l;
        mean /= load.length;
        float[] b = bias.toFloatArray();
        for (int i = 0; i < load.length; i++) b[i] = (float) (b[i] + gamma * Math.signum(mean - load[i]));
        try (Autograd.NoGrad ng = Autograd.noGrad(); Scope staging = Scope.open()) {
            bias.copyFrom(Tensor.of(b, b.length));   // one write, wherever the bias lives
        }
    }
}
