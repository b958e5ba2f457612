package dev.panamax.grpo;

import dev.panamax.moe.DeepSeekModel;
import dev.panamax.moe.Generator;
import dev.panamax.moe.Mla;
import dev.panamax.moe.Sampler;
import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A batch of sampled completions and the tensors the loss needs: consecutive rows share a
 * prompt (a group); completions end with the end-of-sequence id (kept, mask 1) or are truncated
 * at the maximum length; padding after it has id 0 and mask 0.
 *
 * @param prompts       prompt token ids per row (all of one length)
 * @param completions   completion token ids per row, EOS included when produced
 * @param ids           (B, Lp + Tc) prompt and padded completion, I64
 * @param completionIds (B, Tc) I64
 * @param mask          (B, Tc) 1 for real tokens
 * @param tokens        completion tokens generated
 * @param seconds       wall time of the sampling
 */
public record Rollouts(List<long[]> prompts, List<long[]> completions, Tensor ids, Tensor completionIds, Tensor mask,
                       long tokens, double seconds) {

    /** Samples {@code g} completions for each prompt with the KV-cache decoder, batched. */
    public static Rollouts sample(DeepSeekModel policy, List<long[]> prompts, int g, int maxLen, double temperature, long seed) {
        return sample(policy, prompts, g, maxLen, temperature, seed, CharTokenizer.EOS);
    }

    /** {@link #sample} with an explicit end-of-sequence id. */
    public static Rollouts sample(DeepSeekModel policy, List<long[]> prompts, int g, int maxLen, double temperature, long seed, long eos) {
        return sample(policy, prompts, g, maxLen, Sampler.of(temperature, 0, 1.0, seed), eos);
    }

    /** {@link #sample} drawing with {@code sampler} (temperature, top-k, top-p, seed) and an explicit end-of-sequence id. */
    public static Rollouts sample(DeepSeekModel policy, List<long[]> prompts, int g, int maxLen, Sampler sampler, long eos) {
        List<long[]> rows = new ArrayList<>();
        for (long[] p : prompts) for (int i = 0; i < g; i++) rows.add(p);
        Generator.Result r = Generator.generate(policy, rows, maxLen, Set.of(eos), sampler, Mla.ABSORBED);
        return of(rows, r.completions(), r.tokens(), r.seconds());
    }

    /** Builds the padded tensors for given prompts and completions. */
    public static Rollouts of(List<long[]> prompts, List<long[]> completions, long tokens, double seconds) {
        int b = prompts.size();
        int lp = prompts.getFirst().length;
        int tc = 1;
        for (long[] c : completions) tc = Math.max(tc, c.length);
        long[] ids = new long[b * (lp + tc)], comp = new long[b * tc], mask = new long[b * tc];
        for (int r = 0; r < b; r++) {
            long[] p = prompts.get(r), c = completions.get(r);
            if (p.length != lp) throw new IllegalArgumentException("prompts in one batch must have one length");
            System.arraycopy(p, 0, ids, r * (lp + tc), lp);
            for (int j = 0; j < c.length; j++) {
                ids[r * (lp + tc) + lp + j] = c[j];
                comp[r * tc + j] = c[j];
                mask[r * tc + j] = 1;
            }
        }
        return new Rollouts(prompts, completions, Tensor.ofLongs(ids, b, lp + tc), Tensor.ofLongs(comp, b, tc),
                Tensor.ofLongs(mask, b, tc), tokens, seconds);
    }

    /** Prompt length. */
    public int promptLength() {
        return prompts.getFirst().length;
    }

    /** The policy's logits (B, Tc, V) for the completion tokens (row t predicts completion token t). */
    public Tensor completionLogits(DeepSeekModel model) {
        int lp = promptLength();
        long tc = completionIds.dim(1);
        Tensor logits = model.forward(ids, 0, null, Mla.NAIVE, false, null);
        return logits.narrow(1, lp - 1, tc);
    }

    /** Per-token log-probs (B, Tc) under {@code model} at temperature T, without gradient. */
    public Tensor logps(DeepSeekModel model, double temperature) {
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            Tensor l = completionLogits(model);
            if (temperature != 1.0) l = l.div(temperature);
            return l.logSoftmax(-1).gather(2, completionIds.unsqueeze(-1)).squeeze(-1).to(DType.F32);
        }
    }
}
