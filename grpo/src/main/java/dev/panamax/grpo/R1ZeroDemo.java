package dev.panamax.grpo;

import dev.panamax.moe.DeepSeekConfig;
import dev.panamax.moe.DeepSeekModel;
import dev.panamax.moe.Generator;
import dev.panamax.moe.Mla;
import dev.panamax.moe.Sampler;
import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Functional;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.io.ConfigJson;
import dev.panamax.runtime.io.Json;
import dev.panamax.runtime.io.Safetensors;
import dev.panamax.runtime.optim.AdamW;
import dev.panamax.runtime.optim.GradClip;
import dev.panamax.runtime.optim.LrSchedule;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * R1-Zero in miniature, from scratch (on the CPU, or on a GPU with {@link Settings#device()}): a tiny DeepSeek-V3 model (MLA, a dense layer
 * and a DeepSeekMoE layer with shared and routed experts, sigmoid routing with the balancing bias)
 * and a character tokenizer learn two-digit addition ({@link ArithmeticTask}).
 * <ol>
 *   <li>Supervised warm-up on noisy demonstrations (some answers slip by one digit, some skip
 *       the think section), so the model is right only part of the time.</li>
 *   <li>GRPO alone with rule-based rewards (accuracy + 0.1 format), no demonstrations.</li>
 * </ol>
 * Held-out accuracy (problems never trained on, sampled at temperature 1 with a fixed seed) is
 * measured before and after GRPO. Writes metrics.jsonl, chart.svg and the final checkpoint
 * (config.json + model.safetensors, loadable by {@code panamax generate}).
 */
public final class R1ZeroDemo {
    private R1ZeroDemo() {
    }

    /**
     * Demo settings.
     *
     * @param sftSteps     supervised warm-up steps
     * @param grpoSteps    GRPO steps
     * @param prompts      prompts per GRPO step
     * @param group        completions per prompt (numGenerations)
     * @param beta         KL coefficient
     * @param epsilon      lower clip epsilon
     * @param epsilonHigh  upper clip epsilon
     * @param lossType     GRPO aggregation
     * @param lr           GRPO learning rate
     * @param seed         seed of everything
     * @param evalProblems held-out problems evaluated
     * @param checkpointEvery GRPO steps between checkpoints (outDir/checkpoint.safetensors, written atomically)
     * @param resume       continue from outDir/checkpoint.safetensors when it exists (skips the warm-up)
     * @param device       where the model, its training and its sampling run
     */
    public record Settings(int sftSteps, int grpoSteps, int prompts, int group, double beta, double epsilon, double epsilonHigh,
                           GrpoConfig.LossType lossType, double lr, long seed, int evalProblems, int checkpointEvery, boolean resume,
                           Device device, double topP, int topK) {
        /** Settings whose rollouts sample the whole tempered distribution (top-p 1, no top-k: TRL's defaults). */
        public Settings(int sftSteps, int grpoSteps, int prompts, int group, double beta, double epsilon, double epsilonHigh,
                        GrpoConfig.LossType lossType, double lr, long seed, int evalProblems, int checkpointEvery, boolean resume, Device device) {
            this(sftSteps, grpoSteps, prompts, group, beta, epsilon, epsilonHigh, lossType, lr, seed, evalProblems, checkpointEvery, resume, device, 1.0, 0);
        }

        /** The settings of {@code panamax demo}. */
        public static Settings defaults() {
            return new Settings(500, 400, 16, 8, 0.01, 0.2, 0.28, GrpoConfig.LossType.DAPO, 3e-4, 7, 300, 50, false, Device.CPU);
        }

        /** These settings on another device. */
        public Settings on(Device d) {
            return new Settings(sftSteps, grpoSteps, prompts, group, beta, epsilon, epsilonHigh, lossType, lr, seed, evalProblems, checkpointEvery, resume, d,
                    topP, topK);
        }

        /** These settings with rollouts sampled under top-p {@code p} and top-k {@code k} (0: all tokens), as {@link GrpoConfig#withSampling}. */
        public Settings withSampling(double p, int k) {
            return new Settings(sftSteps, grpoSteps, prompts, group, beta, epsilon, epsilonHigh, lossType, lr, seed, evalProblems, checkpointEvery, resume,
                    device, p, k);
        }

        /** The GRPO stage's config: group, clipping, loss, KL and sampling from these settings; temperature 1, 16 tokens, one iteration. */
        public GrpoConfig grpoConfig() {
            return new GrpoConfig(group, beta, epsilon, epsilonHigh, lossType, GrpoConfig.ScaleRewards.GROUP, 1.0, 16, 1).withSampling(topP, topK);
        }
    }

    /**
     * What the demo measured.
     *
     * @param accuracyBefore held-out accuracy after the warm-up
     * @param accuracyAfter  held-out accuracy after GRPO
     * @param checkpoint     the final model folder
     */
    public record Result(double accuracyBefore, double accuracyAfter, Path checkpoint) {
    }

    /** The tiny model's config. */
    public static DeepSeekConfig modelConfig(int vocab) {
        String json = """
                {"vocab_size": %d, "hidden_size": 96, "intermediate_size": 192, "moe_intermediate_size": 64,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "q_lora_rank": null, "kv_lora_rank": 32,
                 "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16, "n_routed_experts": 4,
                 "n_shared_experts": 1, "num_experts_per_tok": 2, "n_group": 1, "topk_group": 1,
                 "topk_method": "noaux_tc", "scoring_func": "sigmoid", "norm_topk_prob": true, "routed_scaling_factor": 1.0,
                 "first_k_dense_replace": 1, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 64,
                 "model_type": "deepseek_v3", "architectures": ["DeepseekV3ForCausalLM"], "hidden_act": "silu",
                 "tie_word_embeddings": false, "moe_layer_freq": 1, "num_nextn_predict_layers": 0}""".formatted(vocab);
        return DeepSeekConfig.from(new ConfigJson(Path.of("r1-zero-demo/config.json"), Json.parseObject(json)));
    }

    /** An accuracy as a percentage, or "not measured" when there were no held-out problems ({@code --eval 0}). */
    public static String percent(double accuracy) {
        return Double.isNaN(accuracy) ? "not measured (no held-out problems)" : String.format(Locale.ROOT, "%.1f%%", 100 * accuracy);
    }

    /** Runs both stages; progress goes to {@code out}. */
    public static Result run(Settings s, Path outDir, PrintStream out) {
        CharTokenizer tok = new CharTokenizer(ArithmeticTask.ALPHABET);
        ArithmeticTask task = new ArithmeticTask();
        DeepSeekConfig cfg = modelConfig(tok.vocabSize());
        try (DeepSeekModel model = DeepSeekModel.random(cfg, s.seed(), DType.F32, s.device())) {
            out.printf(Locale.ROOT, "model: DeepSeek-V3 architecture, %,d parameters (MLA, 1 dense + 1 MoE layer: %d routed experts top-%d + %d shared), on %s%n",
                    model.parameterCount(), cfg.nRoutedExperts(), cfg.numExpertsPerTok(), cfg.nSharedExperts(), s.device());
            out.printf(Locale.ROOT, "task: two-digit addition, %d training / %d held-out problems%n", task.train().size(), task.heldOut().size());
            List<ArithmeticTask.Problem> eval = task.heldOut().subList(0, Math.min(s.evalProblems(), task.heldOut().size()));
            Path ckFile = outDir.resolve("checkpoint.safetensors");
            boolean resuming = s.resume() && java.nio.file.Files.isRegularFile(ckFile);
            double before = Double.NaN;
            if (!resuming) {
                out.println("stage 1: supervised warm-up on noisy demonstrations");
                warmup(model, tok, task, s, out);
                before = heldOutAccuracy(model, tok, eval, s.seed());
                out.println("held-out accuracy before GRPO: " + percent(before));
            }
            out.println("stage 2: GRPO with rule-based rewards (accuracy + 0.1 x format)");
            GrpoConfig gc = s.grpoConfig();
            GrpoTrainer.Options o = new GrpoTrainer.Options(s.lr(), 5, s.grpoSteps(), 1.0, 0.0, 1e-3, s.seed());
            MetricsLog log = new MetricsLog(outDir.resolve("metrics.jsonl"));
            try (GrpoTrainer trainer = new GrpoTrainer(model, tok, ArithmeticTask.reward(), Reward.accuracy(ArithmeticTask::answerFor), gc, o)) {
                if (resuming) {
                    Map<String, String> meta = trainer.load(ckFile);
                    before = Double.parseDouble(meta.getOrDefault("accuracy_before", "NaN"));
                    log.load();
                    log.keepUpTo(trainer.step());
                    out.printf(Locale.ROOT, "resumed from %s at step %d%n", ckFile, trainer.step());
                    out.println("held-out accuracy before GRPO: " + percent(before));
                }
                Progress bar = new Progress(out, "GRPO", s.grpoSteps());
                for (int step = trainer.step(); step < s.grpoSteps(); step++) {
                    SplittableRandom r = new SplittableRandom(s.seed() * 1_000_033L + step);
                    List<String> prompts = new ArrayList<>();
                    for (int i = 0; i < s.prompts(); i++) prompts.add(task.train().get(r.nextInt(task.train().size())).prompt());
                    GrpoTrainer.StepStats st = trainer.step(prompts);
                    log.append(st.step(), st.metrics());
                    bar.update(step + 1, String.format(Locale.ROOT, "reward %.2f acc %.2f kl %.4f", st.metrics().get("reward"),
                            st.metrics().get("accuracy"), st.metrics().getOrDefault("kl", 0.0)) + (st.skipped() ? " (skipped: non-finite)" : ""));
                    if (s.checkpointEvery() > 0 && (step + 1) % s.checkpointEvery() == 0) {
                        trainer.save(ckFile, Map.of("accuracy_before", Double.toString(before)));
                    }
                }
                bar.done();
            }
            Chart.write(outDir.resolve("chart.svg"), log.rows());
            double after = heldOutAccuracy(model, tok, eval, s.seed());
            out.println("held-out accuracy after GRPO: " + percent(after));
            Path ck = outDir.resolve("final");
            saveCheckpoint(model, ck);
            out.println("metrics: " + outDir.resolve("metrics.jsonl"));
            out.println("chart: " + outDir.resolve("chart.svg"));
            out.println("checkpoint: " + ck);
            return new Result(before, after, ck);
        }
    }

    /** Supervised next-token training on noisy demonstrations. */
    static void warmup(DeepSeekModel model, CharTokenizer tok, ArithmeticTask task, Settings s, PrintStream out) {
        SplittableRandom r = new SplittableRandom(s.seed());
        AdamW opt;
        Scope home = model.parameters().getFirst().value().scope();
        try (Scope.Entered e = home == null ? null : home.enter()) {
            opt = new AdamW(model.parameters(), 3e-3, 0.9, 0.99, 1e-8, 0.0);
        }
        LrSchedule lr = LrSchedule.warmupCosine(3e-3, Math.min(20, s.sftSteps()), s.sftSteps(), 3e-4);
        Progress bar = new Progress(out, "warm-up", s.sftSteps());
        int batch = 64;
        for (int step = 0; step < s.sftSteps(); step++) {
            try (Scope sc = Scope.open()) {
                List<long[]> seqs = new ArrayList<>();
                List<Integer> promptLens = new ArrayList<>();
                int maxLen = 0;
                for (int i = 0; i < batch; i++) {
                    ArithmeticTask.Problem p = task.train().get(r.nextInt(task.train().size()));
                    long[] prompt = tok.encode(p.prompt());
                    long[] demo = tok.encode(ArithmeticTask.noisyDemonstration(p, r, 0.4, 0.25));
                    long[] seq = new long[prompt.length + demo.length + 1];
                    System.arraycopy(prompt, 0, seq, 0, prompt.length);
                    System.arraycopy(demo, 0, seq, prompt.length, demo.length);
                    seq[seq.length - 1] = CharTokenizer.EOS;
                    seqs.add(seq);
                    promptLens.add(prompt.length);
                    maxLen = Math.max(maxLen, seq.length);
                }
                long[] ids = new long[batch * (maxLen - 1)], tg = new long[batch * (maxLen - 1)];
                java.util.Arrays.fill(tg, -100);
                for (int i = 0; i < batch; i++) {
                    long[] seq = seqs.get(i);
                    for (int t = 0; t < maxLen - 1; t++) {
                        ids[i * (maxLen - 1) + t] = t < seq.length ? seq[t] : CharTokenizer.PAD;
                        if (t + 1 < seq.length && t + 1 >= promptLens.get(i)) tg[i * (maxLen - 1) + t] = seq[t + 1];
                    }
                }
                opt.zeroGrad();
                Tensor logits = model.forward(Tensor.ofLongs(ids, batch, maxLen - 1), 0, null, Mla.NAIVE, false, null);
                Tensor loss = Functional.crossEntropy(logits.reshape(-1, tok.vocabSize()), Tensor.ofLongs(tg), -100, Functional.Reduction.MEAN);
                loss.backward();
                GradClip.clipGradNorm(model.parameters(), 1.0);
                lr.apply(opt, step);
                opt.step();
                model.updateRoutingBias(1e-3);
                if (step % 10 == 0 || step == s.sftSteps() - 1) bar.update(step + 1, String.format(Locale.ROOT, "loss %.3f", loss.item()));
            }
        }
        bar.done();
    }

    /** Accuracy on held-out problems, sampled at temperature 1 with a fixed seed. */
    public static double heldOutAccuracy(DeepSeekModel model, CharTokenizer tok, List<ArithmeticTask.Problem> problems, long seed) {
        try (Scope s = Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
            List<long[]> prompts = new ArrayList<>();
            for (ArithmeticTask.Problem p : problems) prompts.add(tok.encode(p.prompt()));
            Generator.Result r = Generator.generate(model, prompts, 16, Set.of((long) CharTokenizer.EOS), Sampler.of(1.0, 0, 1.0, seed), Mla.ABSORBED);
            Reward acc = Reward.accuracy(ArithmeticTask::answerFor);
            double correct = 0;
            for (int i = 0; i < problems.size(); i++) correct += acc.score(problems.get(i).prompt(), tok.decode(r.completions().get(i))).value();
            return correct / problems.size();
        }
    }

    /** Writes config.json and model.safetensors (each atomically) into {@code dir}. */
    static void saveCheckpoint(DeepSeekModel model, Path dir) {
        DeepSeekConfig c = model.config();
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("architectures", List.of("DeepseekV3ForCausalLM"));
        j.put("model_type", "deepseek_v3");
        j.put("vocab_size", c.vocabSize());
        j.put("hidden_size", c.hiddenSize());
        j.put("intermediate_size", c.intermediateSize());
        j.put("moe_intermediate_size", c.moeIntermediateSize());
        j.put("num_hidden_layers", c.numHiddenLayers());
        j.put("num_attention_heads", c.numAttentionHeads());
        j.put("num_key_value_heads", c.numAttentionHeads());
        j.put("q_lora_rank", c.qLoraRank() == 0 ? null : c.qLoraRank());
        j.put("kv_lora_rank", c.kvLoraRank());
        j.put("qk_nope_head_dim", c.qkNopeHeadDim());
        j.put("qk_rope_head_dim", c.qkRopeHeadDim());
        j.put("v_head_dim", c.vHeadDim());
        j.put("n_routed_experts", c.nRoutedExperts());
        j.put("n_shared_experts", c.nSharedExperts());
        j.put("num_experts_per_tok", c.numExpertsPerTok());
        j.put("n_group", c.nGroup());
        j.put("topk_group", c.topkGroup());
        j.put("topk_method", c.topkMethod());
        j.put("scoring_func", c.scoringFunc());
        j.put("norm_topk_prob", c.normTopkProb());
        j.put("routed_scaling_factor", c.routedScalingFactor());
        j.put("first_k_dense_replace", c.firstKDenseReplace());
        j.put("moe_layer_freq", 1);
        j.put("rms_norm_eps", c.rmsNormEps());
        j.put("rope_theta", c.ropeTheta());
        j.put("rope_scaling", null);
        j.put("max_position_embeddings", c.maxPositionEmbeddings());
        j.put("hidden_act", "silu");
        j.put("tie_word_embeddings", c.tieWordEmbeddings());
        j.put("num_nextn_predict_layers", 0);
        j.put("torch_dtype", "float32");
        Safetensors.writeStringAtomically(dir.resolve("config.json"), Json.write(j));
        Safetensors.write(dir.resolve("model.safetensors"), model.stateDict(), Map.of("format", "pt"));
    }
}
