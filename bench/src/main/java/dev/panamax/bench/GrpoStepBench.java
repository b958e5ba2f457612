package dev.panamax.bench;

import dev.panamax.grpo.ArithmeticTask;
import dev.panamax.grpo.CharTokenizer;
import dev.panamax.grpo.GrpoConfig;
import dev.panamax.grpo.GrpoLoss;
import dev.panamax.grpo.R1ZeroDemo;
import dev.panamax.grpo.Rollouts;
import dev.panamax.moe.DeepSeekModel;
import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Parallel;
import dev.panamax.runtime.optim.AdamW;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The two halves of a GRPO step of the demo's model (16 prompts x 8 completions of up to 16
 * tokens), 2 threads: {@code rollout} samples the completions with the KV-cache decoder;
 * {@code update} runs the GRPO loss, backward and AdamW on one fixed batch of them. Tokens/s are
 * derived in bench/RESULTS.md from the average completion length printed at setup (rollout) and
 * the batch's B x (prompt + completion) tokens (update). Trap avoided: the rollout benchmark
 * uses a fixed seed, so every invocation generates the same number of tokens.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class GrpoStepBench {
    DeepSeekModel model;
    List<long[]> prompts;
    Rollouts fixed;
    AdamW opt;
    GrpoConfig cfg;
    double[] rewards;
    dev.panamax.runtime.Scope scope;

    @Setup(Level.Trial)
    public void setup() {
        Parallel.setThreads(2);
        CharTokenizer tok = new CharTokenizer(ArithmeticTask.ALPHABET);
        model = DeepSeekModel.random(R1ZeroDemo.modelConfig(tok.vocabSize()), 7, DType.F32);
        ArithmeticTask task = new ArithmeticTask();
        prompts = new ArrayList<>();
        for (int i = 0; i < 16; i++) prompts.add(tok.encode(task.train().get(i * 97).prompt()));
        cfg = new GrpoConfig(8, 0.0, 0.2, 0.28, GrpoConfig.LossType.DAPO, GrpoConfig.ScaleRewards.GROUP, 1.0, 16, 1);
        scope = dev.panamax.runtime.Scope.longLived("rollouts");
        try (var e = scope.enter(); Autograd.NoGrad ng = Autograd.noGrad()) {
            fixed = Rollouts.sample(model, prompts, 8, 16, 1.0, 1);
        }
        rewards = new double[fixed.completions().size()];
        for (int i = 0; i < rewards.length; i++) rewards[i] = i % 3 == 0 ? 1 : 0;
        try (var e = model.parameters().getFirst().value().scope().enter()) {
            opt = new AdamW(model.parameters(), 1e-4);
        }
        System.out.printf("%nrollout: %d completions, %d tokens generated; update batch: %d tokens%n",
                fixed.completions().size(), fixed.tokens(), fixed.ids().numel());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
        model.close();
    }

    @Benchmark
    public long rollout() {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
            return Rollouts.sample(model, prompts, 8, 16, 1.0, 1).tokens();
        }
    }

    @Benchmark
    public double update() {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open()) {
            opt.zeroGrad();
            GrpoLoss.Result r = GrpoLoss.compute(cfg, fixed.completionLogits(model), fixed.completionIds(), fixed.mask(), rewards, null, null, -1);
            r.loss().backward();
            opt.step();
            return r.loss().item();
        }
    }
}
