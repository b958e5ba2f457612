package dev.panamax.grpo;

import dev.panamax.moe.DeepSeekModel;
import dev.panamax.moe.Sampler;
import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.io.Safetensors;
import dev.panamax.runtime.io.SafetensorsFile;
import dev.panamax.runtime.nn.Parameter;
import dev.panamax.runtime.optim.AdamW;
import dev.panamax.runtime.optim.GradClip;
import dev.panamax.runtime.optim.LrSchedule;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * GRPO training of a DeepSeek-V3 policy (DeepSeekMath section 4.1, TRL's loss), one step:
 * <ol>
 *   <li>sample {@code numGenerations} completions per prompt with the KV-cache decoder (at the
 *       config's temperature, top-p and top-k, as TRL samples them);</li>
 *   <li>score them with the rule-based {@link Reward}s; group-relative advantages;</li>
 *   <li>{@code numIterations} updates: {@link GrpoLoss} on the policy's log-probs (old log-probs
 *       from the sampling policy when {@code numIterations > 1}; a frozen reference copy when
 *       {@code beta > 0}), gradient clipping, AdamW with a learning-rate schedule, and
 *       optionally the auxiliary-loss-free expert-bias update;</li>
 *   <li>a non-finite loss or gradient norm skips the update and is reported.</li>
 * </ol>
 * Everything runs on the policy's device (see {@link DeepSeekModel#load(Path, boolean, dev.panamax.runtime.Device)}):
 * rollouts with the cache there, the reference copy, the loss and its backward, and the
 * optimiser state and update; rewards are scored on the host from the decoded text.
 * Departures from the paper: the KL term is TRL's k3 estimator added per token, and the clip
 * may be asymmetric (DAPO); sampling is on the fly, no replay buffer.
 */
public final class GrpoTrainer implements AutoCloseable {
    /**
     * Optimisation settings.
     *
     * @param lr              peak learning rate
     * @param warmupSteps     linear warm-up steps
     * @param totalSteps      steps of the cosine schedule
     * @param maxGradNorm     gradient clipping norm
     * @param weightDecay     AdamW weight decay
     * @param biasUpdateGamma expert-bias balancing step (0 = off)
     * @param seed            seed of prompt order and sampling
     */
    public record Options(double lr, int warmupSteps, int totalSteps, double maxGradNorm, double weightDecay,
                          double biasUpdateGamma, long seed) {
    }

    /** What one step measured; {@code skipped} when the loss or gradients were not finite. */
    public record StepStats(int step, Map<String, Double> metrics, boolean skipped) {
    }

    private final DeepSeekModel policy;
    private final DeepSeekModel reference;
    private final Tokenizer tokenizer;
    private final Reward reward;
    private final Reward accuracy;
    private final GrpoConfig cfg;
    private final Options opts;
    private final AdamW optimizer;
    private final LrSchedule schedule;
    private int step;

    /**
     * @param policy    a trainable model (see {@link DeepSeekModel#load(Path, boolean)} with {@code true})
     * @param tokenizer turns prompts and completions into ids and back
     * @param reward    the training reward
     * @param accuracy  a 0/1 reward logged as accuracy (may be the same as {@code reward})
     */
    public GrpoTrainer(DeepSeekModel policy, Tokenizer tokenizer, Reward reward, Reward accuracy, GrpoConfig cfg, Options opts) {
        this.policy = policy;
        this.tokenizer = tokenizer;
        this.reward = reward;
        this.accuracy = accuracy;
        this.cfg = cfg;
        this.opts = opts;
        this.reference = cfg.beta() > 0 ? copyOf(policy) : null;
        Scope home = policy.parameters().getFirst().value().scope();
        try (Scope.Entered e = home == null ? null : home.enter()) {
            this.optimizer = new AdamW(policy.parameters(), opts.lr(), 0.9, 0.99, 1e-8, opts.weightDecay());
        }
        this.schedule = LrSchedule.warmupCosine(opts.lr(), opts.warmupSteps(), Math.max(opts.totalSteps(), opts.warmupSteps()), opts.lr() * 0.1);
    }

    /** A frozen copy of a model (the reference policy), on the model's device. */
    static DeepSeekModel copyOf(DeepSeekModel m) {
        DeepSeekModel c = DeepSeekModel.random(m.config(), 0, dev.panamax.runtime.DType.F32, m.device());
        c.loadStateDict(m.stateDict());
        c.requiresGrad(false);
        return c;
    }

    /** Steps taken. */
    public int step() {
        return step;
    }

    /** One GRPO step on the given prompts (texts of one length). */
    public StepStats step(List<String> prompts) {
        try (Scope s = Scope.open()) {
            List<long[]> ids = new ArrayList<>();
            for (String p : prompts) ids.add(tokenizer.encode(p));
            Rollouts ro;
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                ro = Rollouts.sample(policy, ids, cfg.numGenerations(), cfg.maxCompletionLength(),
                        Sampler.of(cfg.temperature(), cfg.topK(), cfg.topP(), opts.seed() * 1_000_003L + step), tokenizer.eosId());
            }
            int b = ro.completions().size();
            double[] rewards = new double[b];
            double acc = 0, len = 0;
            for (int i = 0; i < b; i++) {
                String prompt = prompts.get(i / cfg.numGenerations());
                String text = tokenizer.decode(ro.completions().get(i));
                rewards[i] = reward.score(prompt, text).value();
                acc += accuracy.score(prompt, text).value();
                len += ro.completions().get(i).length;
            }
            Tensor old = cfg.numIterations() > 1 ? ro.logps(policy, cfg.temperature()) : null;
            Tensor ref = reference != null ? ro.logps(reference, cfg.temperature()) : null;
            Map<String, Double> m = new LinkedHashMap<>();
            boolean skipped = false;
            long t0 = System.nanoTime();
            long updateTokens = 0;
            for (int it = 0; it < cfg.numIterations(); it++) {
                try (Scope inner = Scope.open()) {
                    optimizer.zeroGrad();
                    GrpoLoss.Result r = GrpoLoss.compute(cfg, ro.completionLogits(policy), ro.completionIds(), ro.mask(), rewards, old, ref, -1);
                    double loss = r.metrics().get("loss");   // read with the diagnostics: no wait of its own on a device
                    r.loss().backward();
                    double norm = GradClip.clipGradNorm(policy.parameters(), opts.maxGradNorm());
                    updateTokens += ro.ids().numel();
                    if (it == 0) {
                        m.putAll(r.metrics());
                        m.put("loss", loss);
                    } else {
                        // later iterations: how far the policy has moved from the sampling policy
                        double dev = 0;
                        double[] ratio = r.ratio().detach().toDoubleArray(), mask = ro.mask().toDoubleArray();
                        double n = 0;
                        for (int i = 0; i < ratio.length; i++) {
                            dev += mask[i] * Math.abs(ratio[i] - 1);
                            n += mask[i];
                        }
                        m.put("loss_iteration_" + (it + 1), loss);
                        m.put("ratio_deviation_iteration_" + (it + 1), dev / Math.max(n, 1));
                    }
                    m.put("grad_norm", norm);
                    if (!Double.isFinite(loss) || !Double.isFinite(norm)) {
                        m.put("loss", loss);
                        skipped = true;
                        optimizer.zeroGrad();
                        break;
                    }
                    schedule.apply(optimizer, step);
                    optimizer.step();
                    if (opts.biasUpdateGamma() > 0) policy.updateRoutingBias(opts.biasUpdateGamma());
                }
            }
            double updateSeconds = (System.nanoTime() - t0) / 1e9;
            m.put("accuracy", acc / b);
            m.put("completion_length", len / b);
            m.put("lr", optimizer.lr());
            m.put("rollout_tokens_per_s", ro.tokens() / Math.max(ro.seconds(), 1e-9));
            m.put("update_tokens_per_s", updateTokens / Math.max(updateSeconds, 1e-9));
            m.put("expert_load_imbalance", imbalance());
            m.put("skipped", skipped ? 1.0 : 0.0);
            step++;
            return new StepStats(step, m, skipped);
        }
    }

    /** Max over mean tokens per expert, averaged over MoE layers (1 = perfectly balanced). */
    private double imbalance() {
        double sum = 0;
        int n = 0;
        for (long[] load : policy.expertLoads().values()) {
            double total = 0, max = 0;
            for (long l : load) {
                total += l;
                max = Math.max(max, l);
            }
            if (total == 0) continue;
            sum += max / (total / load.length);
            n++;
        }
        return n == 0 ? 1.0 : sum / n;
    }

    /**
     * Saves parameters, buffers, optimiser state and the step (atomically: a crash keeps the
     * previous file whole).
     */
    public void save(Path file) {
        save(file, Map.of());
    }

    /** {@link #save(Path)} with extra metadata strings. */
    public void save(Path file, Map<String, String> extra) {
        Map<String, Tensor> all = new LinkedHashMap<>();
        policy.stateDict().forEach((k, v) -> all.put("model." + k, v));
        if (reference != null) reference.stateDict().forEach((k, v) -> all.put("ref." + k, v));
        optimizer.stateDict().forEach((k, v) -> all.put("optim." + k, v));
        Map<String, String> meta = new LinkedHashMap<>(extra);
        meta.put("step", Integer.toString(step));
        meta.put("seed", Long.toString(opts.seed()));
        Safetensors.write(file, all, meta);
    }

    /** Restores a file written by {@link #save}; the next step continues exactly. Returns the metadata. */
    public Map<String, String> load(Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Map<String, Tensor> model = new LinkedHashMap<>(), optim = new LinkedHashMap<>(), ref = new LinkedHashMap<>();
            for (String n : f.names()) {
                if (n.startsWith("model.")) model.put(n.substring(6), f.tensor(n));
                else if (n.startsWith("optim.")) optim.put(n.substring(6), f.tensor(n));
                else if (n.startsWith("ref.")) ref.put(n.substring(4), f.tensor(n));
            }
            policy.loadStateDict(model);
            if (reference != null) {
                if (ref.isEmpty()) throw new IllegalArgumentException(file + ": no reference model in the checkpoint, but beta is " + cfg.beta());
                reference.loadStateDict(ref);
            }
            Scope home = policy.parameters().getFirst().value().scope();
            try (Scope.Entered e = home == null ? null : home.enter()) {
                optimizer.loadStateDict(optim);
            }
            String st = f.metadata().get("step");
            if (st == null) throw new IllegalArgumentException(file + ": no step in the checkpoint metadata");
            step = Integer.parseInt(st);
            return f.metadata();
        }
    }

    /** The policy's parameters. */
    public List<Parameter> parameters() {
        return policy.parameters();
    }

    /** Frees the reference copy (the policy belongs to the caller). */
    @Override
    public void close() {
        if (reference != null) reference.close();
    }
}
