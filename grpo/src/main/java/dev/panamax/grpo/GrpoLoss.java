package dev.panamax.grpo;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The GRPO objective exactly as TRL's {@code GRPOTrainer} computes it (the semantics of
 * shared/reference/grpo/README.md):
 * <ol>
 *   <li>advantages {@code A = (r - mean_group) / (std + 1e-4)} with the unbiased std of the
 *       group (or the batch; or no scaling), constants for autograd;</li>
 *   <li>per-token log-probs of the completion tokens under {@code log_softmax(logits / T)};</li>
 *   <li>ratio {@code exp(logp - logp_old)}, with {@code logp_old = stopgrad(logp)} on-policy;</li>
 *   <li>{@code -min(ratio A, clip(ratio, 1 - eps, 1 + epsHigh) A)} plus {@code beta} times the
 *       k3 KL {@code exp(ref - logp) - (ref - logp) - 1};</li>
 *   <li>aggregated by {@code grpo}, {@code bnpo}, {@code dr_grpo} or {@code dapo}.</li>
 * </ol>
 * The loss is built from recorded ops, so {@code loss.backward()} gives the gradient with respect
 * to the logits (or, in training, the model). Inputs in F64 give float64 results.
 */
public final class GrpoLoss {
    private GrpoLoss() {
    }

    /**
     * Everything the loss computes, by TRL's names.
     *
     * @param loss          the scalar to minimise (0-d, differentiable)
     * @param advantages    A per row (B)
     * @param stdRewards    the std used for scaling per row (group std for group/none, batch std for batch)
     * @param perTokenLogps logp (B,T), differentiable
     * @param ratio         (B,T)
     * @param perTokenKl    (B,T), or null when beta is 0
     * @param perTokenLoss  policy loss + beta kl (B,T), before masking
     * @param lowClipped    {@code ratio < 1 - eps && A < 0} (B,T) as 0/1
     * @param highClipped   {@code ratio > 1 + epsHigh && A > 0} (B,T) as 0/1
     * @param entropies     entropy of softmax(logits / T) (B,T)
     * @param metrics       reward, reward_std, frac_reward_zero_std, kl, entropy, clip_ratio/*, and loss (the
     *                      loss's value, read with the diagnostics in one copy)
     */
    public record Result(Tensor loss, double[] advantages, double[] stdRewards, Tensor perTokenLogps, Tensor ratio,
                         Tensor perTokenKl, Tensor perTokenLoss, long[] lowClipped, long[] highClipped, Tensor entropies,
                         Map<String, Double> metrics) {
    }

    /**
     * Group-relative advantages and the std used, for rewards of {@code rewards.length / g}
     * consecutive groups of {@code g}.
     *
     * @return {advantages, std per row}
     */
    public static double[][] advantages(double[] rewards, int g, GrpoConfig.ScaleRewards scale) {
        int b = rewards.length;
        if (b % g != 0) throw new IllegalArgumentException(b + " rewards do not form groups of " + g);
        double[] adv = new double[b], std = new double[b];
        double batchStd = std(rewards, 0, b);
        for (int s = 0; s < b; s += g) {
            double mean = 0;
            for (int i = s; i < s + g; i++) mean += rewards[i];
            mean /= g;
            double gs = std(rewards, s, s + g);
            for (int i = s; i < s + g; i++) {
                double d = rewards[i] - mean;
                std[i] = scale == GrpoConfig.ScaleRewards.BATCH ? batchStd : gs;
                adv[i] = switch (scale) {
                    case GROUP -> d / (gs + 1e-4);
                    case BATCH -> d / (batchStd + 1e-4);
                    case NONE -> d;
                };
            }
        }
        return new double[][]{adv, std};
    }

    /** Unbiased standard deviation of {@code v[from..to)}. */
    static double std(double[] v, int from, int to) {
        int n = to - from;
        if (n < 2) return 0;
        double mean = 0;
        for (int i = from; i < to; i++) mean += v[i];
        mean /= n;
        double ss = 0;
        for (int i = from; i < to; i++) ss += (v[i] - mean) * (v[i] - mean);
        return Math.sqrt(ss / (n - 1));
    }

    /**
     * Computes the loss and its diagnostics.
     *
     * @param cfg             hyper-parameters
     * @param logits          (B,T,V) raw logits aligned with the completion tokens (row t predicts token t)
     * @param completionIds   (B,T) I64 sampled tokens
     * @param mask            (B,T) 1 for real tokens (EOS included), 0 for padding
     * @param rewards         B scalar rewards, groups of {@code numGenerations} consecutive rows
     * @param oldLogps        (B,T) log-probs of the sampling policy, or null on-policy
     * @param refLogps        (B,T) log-probs of the reference policy; required when beta is not 0
     * @param numItemsInBatch valid tokens of the whole generation batch (dapo); -1 for the mask's sum
     */
    public static Result compute(GrpoConfig cfg, Tensor logits, Tensor completionIds, Tensor mask, double[] rewards,
                                 Tensor oldLogps, Tensor refLogps, long numItemsInBatch) {
        if (logits.rank() != 3) throw new IllegalArgumentException("logits must be (B, T, V), got " + logits.shape());
        long b = logits.dim(0), t = logits.dim(1);
        if (!completionIds.shape().hasDims(b, t) || !mask.shape().hasDims(b, t)) {
            throw new IllegalArgumentException("completion ids " + completionIds.shape() + " and mask " + mask.shape() + " must be (" + b + ", " + t + ")");
        }
        if (rewards.length != b) throw new IllegalArgumentException(rewards.length + " rewards for " + b + " completions");
        if (cfg.beta() != 0 && refLogps == null) throw new IllegalArgumentException("beta = " + cfg.beta() + " needs reference log-probs");
        DType dt = logits.dtype() == DType.F64 ? DType.F64 : DType.F32;
        double[][] as = advantages(rewards, cfg.numGenerations(), cfg.scaleRewards());
        double[] adv = as[0];

        Tensor scaled = cfg.temperature() == 1.0 ? logits : logits.div(cfg.temperature());
        Tensor logp = scaled.logSoftmax(-1);
        Tensor lp = logp.gather(2, completionIds.unsqueeze(-1)).squeeze(-1);                    // (B,T)
        Tensor old = oldLogps == null ? lp.detach() : oldLogps.to(dt);
        Tensor ratio = lp.sub(old).exp();
        Tensor a = Tensor.of(adv, b, 1).to(dt);
        Tensor clipped = ratio.maximum(full(dt, 1 - cfg.epsilon())).minimum(full(dt, 1 + cfg.epsilonHigh()));
        Tensor perTokenLoss = ratio.mul(a).minimum(clipped.mul(a)).neg();
        Tensor kl = null;
        if (cfg.beta() != 0) {
            Tensor delta = refLogps.to(dt).sub(lp);
            kl = delta.exp().sub(delta).sub(1.0);
            perTokenLoss = perTokenLoss.add(kl.mul(cfg.beta()));
        }
        Tensor m = mask.to(dt);
        Tensor masked = perTokenLoss.mul(m);
        double[] mv = m.toDoubleArray();
        double validTokens = 0;
        for (double x : mv) validTokens += x;
        Tensor loss = switch (cfg.lossType()) {
            case GRPO -> masked.sum(1, false).div(m.sum(1, false).maximum(full(dt, 1.0))).mean();
            case BNPO -> masked.sum().div(Math.max(validTokens, 1));
            case DR_GRPO -> masked.sum().div((double) b * cfg.maxCompletionLength());
            case DAPO -> masked.sum().div(Math.max(numItemsInBatch < 0 ? validTokens : numItemsInBatch, 1));
        };

        // diagnostics (no gradient): the ratios, the KL terms (when beta is not 0) and the entropies,
        // each (B, T), and the loss, read in one copy (on a device, one wait instead of four)
        Tensor probs = logp.detach().exp();
        Tensor entropies = probs.mul(logp.detach()).sum(-1, false).neg();
        List<Tensor> diagnostics = new ArrayList<>(List.of(ratio.detach().reshape(-1)));
        if (kl != null) diagnostics.add(kl.detach().reshape(-1));
        diagnostics.add(entropies.reshape(-1));
        diagnostics.add(loss.detach().reshape(1));
        double[] read = Tensor.concat(diagnostics, 0).toDoubleArray();
        int bt = Math.toIntExact(b * t);
        double lossValue = read[read.length - 1];
        double[] r = Arrays.copyOfRange(read, 0, bt), entropyValues = Arrays.copyOfRange(read, read.length - 1 - bt, read.length - 1);
        long[] low = new long[r.length], high = new long[r.length];
        for (int i = 0; i < r.length; i++) {
            double ai = adv[(int) (i / t)];
            low[i] = r[i] < 1 - cfg.epsilon() && ai < 0 ? 1 : 0;
            high[i] = r[i] > 1 + cfg.epsilonHigh() && ai > 0 ? 1 : 0;
        }
        Map<String, Double> metrics = new LinkedHashMap<>();
        double meanR = 0;
        for (double x : rewards) meanR += x;
        metrics.put("reward", meanR / b);
        metrics.put("reward_std", std(rewards, 0, rewards.length));
        int zero = 0;
        for (double s : as[1]) if (Math.abs(s) <= 1e-8) zero++;
        metrics.put("frac_reward_zero_std", zero / (double) b);
        if (kl != null) metrics.put("kl", maskedMean(Arrays.copyOfRange(read, bt, 2 * bt), mv));
        metrics.put("entropy", maskedMean(entropyValues, mv));
        double[] lowD = toDouble(low), highD = toDouble(high), region = new double[r.length];
        for (int i = 0; i < r.length; i++) region[i] = Math.max(lowD[i], highD[i]);
        metrics.put("clip_ratio/low_mean", maskedMean(lowD, mv));
        metrics.put("clip_ratio/high_mean", maskedMean(highD, mv));
        metrics.put("clip_ratio/region_mean", maskedMean(region, mv));
        double lowMin = Double.POSITIVE_INFINITY, highMax = Double.NEGATIVE_INFINITY;
        for (int row = 0; row < b; row++) {
            double n = 0, l = 0, h = 0;
            for (int j = 0; j < t; j++) {
                int i = (int) (row * t + j);
                n += mv[i];
                l += mv[i] * lowD[i];
                h += mv[i] * highD[i];
            }
            lowMin = Math.min(lowMin, l / Math.max(n, 1));
            highMax = Math.max(highMax, h / Math.max(n, 1));
        }
        metrics.put("clip_ratio/low_min", lowMin);
        metrics.put("clip_ratio/high_max", highMax);
        metrics.put("loss", lossValue);
        return new Result(loss, adv, as[1], lp, ratio, kl, perTokenLoss, low, high, entropies, metrics);
    }

    private static Tensor full(DType dt, double v) {
        return Tensor.full(dt, v);
    }

    private static double[] toDouble(long[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) d[i] = v[i];
        return d;
    }

    private static double maskedMean(double[] x, double[] m) {
        double s = 0, n = 0;
        for (int i = 0; i < x.length; i++) {
            s += m[i] * x[i];
            n += m[i];
        }
        return s / Math.max(n, 1);
    }
}
