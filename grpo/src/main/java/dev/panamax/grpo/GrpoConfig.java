package dev.panamax.grpo;

import java.util.Locale;

/**
 * GRPO hyper-parameters with TRL's names and meanings ({@code GRPOConfig}).
 *
 * @param numGenerations      G, completions sampled per prompt (a group)
 * @param beta                coefficient of the k3 KL penalty to the reference policy (0: no reference model)
 * @param epsilon             lower clip epsilon
 * @param epsilonHigh         upper clip epsilon (DAPO "clip-higher"); equal to epsilon when not set
 * @param lossType            aggregation of per-token losses
 * @param scaleRewards        how advantages are scaled
 * @param temperature         logits are divided by it before the log-softmax
 * @param maxCompletionLength the configured maximum completion length (dr_grpo divides by it)
 * @param numIterations       policy updates per generation batch (mu); old log-probs are used when > 1
 * @param topP                completions are sampled from the smallest set of tokens whose probability reaches it
 *                            (1: all); as in TRL, the loss's log-probs are of the whole tempered distribution
 * @param topK                completions are sampled from the k most likely tokens (0: all; TRL's None)
 */
public record GrpoConfig(int numGenerations, double beta, double epsilon, double epsilonHigh, LossType lossType,
                         ScaleRewards scaleRewards, double temperature, int maxCompletionLength, int numIterations,
                         double topP, int topK) {

    /** TRL's {@code loss_type}. */
    public enum LossType {
        /** Mean over each completion's tokens, then over completions (DeepSeekMath). */
        GRPO,
        /** One mean over all valid tokens of the batch. */
        BNPO,
        /** Sum over valid tokens divided by batch size times maxCompletionLength (Dr. GRPO). */
        DR_GRPO,
        /** Sum over valid tokens divided by the valid tokens of the whole generation batch (DAPO). */
        DAPO;

        /** Parses TRL's spelling ({@code "dr_grpo"}). */
        public static LossType parse(String s) {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        }
    }

    /** TRL's {@code scale_rewards}. */
    public enum ScaleRewards {
        /** Divide by the group's std (+1e-4). */
        GROUP,
        /** Divide by the batch's std (+1e-4); the mean is still the group's. */
        BATCH,
        /** No scaling (Dr. GRPO). */
        NONE;

        /** Parses {@code "group"}, {@code "batch"}, {@code "none"}, {@code "true"} (group), {@code "false"} (none). */
        public static ScaleRewards parse(String s) {
            return switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "true" -> GROUP;
                case "false" -> NONE;
                default -> valueOf(s.trim().toUpperCase(Locale.ROOT));
            };
        }
    }

    /** Validates. */
    public GrpoConfig {
        if (numGenerations < 2) throw new IllegalArgumentException("numGenerations must be >= 2 (a group needs a spread), got " + numGenerations);
        if (!(beta >= 0)) throw new IllegalArgumentException("beta must be >= 0, got " + beta);
        if (!(epsilon >= 0) || !(epsilonHigh >= 0)) throw new IllegalArgumentException("epsilon and epsilonHigh must be >= 0");
        if (!(temperature > 0)) throw new IllegalArgumentException("temperature must be > 0, got " + temperature);
        if (maxCompletionLength < 1) throw new IllegalArgumentException("maxCompletionLength must be >= 1, got " + maxCompletionLength);
        if (numIterations < 1) throw new IllegalArgumentException("numIterations must be >= 1, got " + numIterations);
        if (lossType == null || scaleRewards == null) throw new IllegalArgumentException("lossType and scaleRewards are required");
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        if (topK < 0) throw new IllegalArgumentException("topK must be >= 0 (0: all tokens), got " + topK);
    }

    /** A config that samples from the whole tempered distribution (top-p 1, no top-k: TRL's defaults). */
    public GrpoConfig(int numGenerations, double beta, double epsilon, double epsilonHigh, LossType lossType,
                      ScaleRewards scaleRewards, double temperature, int maxCompletionLength, int numIterations) {
        this(numGenerations, beta, epsilon, epsilonHigh, lossType, scaleRewards, temperature, maxCompletionLength, numIterations, 1.0, 0);
    }

    /** This config with completions sampled under top-p {@code p} and top-k {@code k} (TRL's {@code top_p}, {@code top_k}). */
    public GrpoConfig withSampling(double p, int k) {
        return new GrpoConfig(numGenerations, beta, epsilon, epsilonHigh, lossType, scaleRewards, temperature, maxCompletionLength, numIterations, p, k);
    }

    /** TRL's defaults for the given group size and length: beta 0, epsilon 0.2, dapo, group scaling, temperature 1, one iteration, top-p 1, no top-k. */
    public static GrpoConfig defaults(int numGenerations, int maxCompletionLength) {
        return new GrpoConfig(numGenerations, 0.0, 0.2, 0.2, LossType.DAPO, ScaleRewards.GROUP, 1.0, maxCompletionLength, 1);
    }
}
