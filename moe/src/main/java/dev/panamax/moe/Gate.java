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
        Tensor logits = Functional.linear(x, weight);                                // (N,E)
        Functional.GateChoice c = Functional.moeGate(logits, bias, new Functional.GateSpec(cfg.scoringFunc().equals("sigmoid"),
                cfg.numExpertsPerTok(), cfg.nGroup(), cfg.topkGroup(), cfg.normTopkProb(), cfg.routedScalingFactor()));
        long[] counts = new long[cfg.nRoutedExperts()];
        for (long e : c.indices()) counts[(int) e]++;
        load = counts;
        return new Routing(c.indices(), c.weights());
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
