package dev.panamax.moe;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.Device;
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
    private Routing last;
    private long[] load;   // of last, counted on first use

    /**
     * The routing of N tokens: the chosen experts, left where the gate ran (on a device, for
     * {@link dev.panamax.runtime.RoutedExperts#forward}), and their weights.
     */
    public static final class Routing {
        private final Tensor chosen, weights;
        private long[] indices;

        /**
         * @param chosen  chosen experts (N, K), best first, any integer dtype, on the host or a device
         * @param weights routing weights (N, K), differentiable with respect to gate.weight
         */
        public Routing(Tensor chosen, Tensor weights) {
            this.chosen = chosen;
            this.weights = weights;
        }

        /** The chosen experts (N, K), where the gate ran. */
        public Tensor chosen() {
            return chosen;
        }

        /** The routing weights (N, K), differentiable with respect to gate.weight. */
        public Tensor weights() {
            return weights;
        }

        /**
         * The chosen experts on the host, row-major (N, K), best first: read back from a device on
         * the first call (a wait for the device), then kept.
         */
        public synchronized long[] indices() {
            if (indices == null) indices = chosen.toLongArray();
            return indices;
        }
    }

    /** Loads {@code prefix + "weight"} and, with noaux_tc, {@code prefix + "e_score_correction_bias"}. */
    public Gate(DeepSeekConfig cfg, WeightSource w, String prefix) {
        this.cfg = cfg;
        weight = parameter("weight", w.get(prefix + "weight"));
        bias = cfg.topkMethod().equals("noaux_tc") ? buffer("e_score_correction_bias", w.get(prefix + "e_score_correction_bias")) : null;
    }

    /**
     * Routes tokens x (N, C). The choice is read to the host here when it was made there or while
     * gradients are recorded (training, which needs it on the host anyway), so that
     * {@link #expertLoad} can be read after the pass's scope has closed; at inference on a device
     * it stays there.
     */
    public Routing route(Tensor x) {
        Tensor logits = Functional.linear(x, weight);                                // (N,E)
        Functional.GateChoice c = Functional.moeGate(logits, bias, new Functional.GateSpec(cfg.scoringFunc().equals("sigmoid"),
                cfg.numExpertsPerTok(), cfg.nGroup(), cfg.topkGroup(), cfg.normTopkProb(), cfg.routedScalingFactor()));
        Routing r = new Routing(c.chosen(), c.weights());
        if (c.chosen().device() == Device.CPU || c.weights().requiresGrad()) r.indices();
        last = r;
        load = null;
        return r;
    }

    /**
     * Tokens routed to each expert by the last {@link #route} call. After an inference pass on a
     * device this reads the choice back, which must happen inside that pass's scope.
     *
     * @throws IllegalStateException when that choice is on a device and its scope has closed
     */
    public long[] expertLoad() {
        if (last == null) return new long[cfg.nRoutedExperts()];
        if (load == null) {
            long[] idx;
            try {
                idx = last.indices();
            } catch (IllegalStateException e) {
                throw new IllegalStateException("the expert loads of the last routing, made on " + last.chosen().device()
                        + " without gradients, can no longer be read: read them inside the scope of that forward pass", e);
            }
            long[] counts = new long[cfg.nRoutedExperts()];
            for (long e : idx) counts[(int) e]++;
            load = counts;
        }
        return load.clone();
    }

    /**
     * The auxiliary-loss-free balancing update (V3 section 2.1.2): after an optimiser step,
     * {@code bias_i += gamma * sign(mean_load - load_i)} from the last routing's loads.
     */
    public void updateBias(double gamma) {
        if (bias == null) throw new IllegalStateException("this gate has no e_score_correction_bias (topk_method is " + cfg.topkMethod() + ")");
        if (last == null) return;
        long[] loads = expertLoad();
        double mean = 0;
        for (long l : loads) mean += l;
        mean /= loads.length;
        float[] b = bias.toFloatArray();
        for (int i = 0; i < loads.length; i++) b[i] = (float) (b[i] + gamma * Math.signum(mean - loads[i]));
        try (Autograd.NoGrad ng = Autograd.noGrad(); Scope staging = Scope.openConfined()) {
            bias.copyFrom(Tensor.of(b, b.length));   // one write, wherever the bias lives
        }
    }
}
