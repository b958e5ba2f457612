package dev.panamax.bench;

import dev.panamax.grpo.GrpoConfig;
import dev.panamax.grpo.GrpoLoss;
import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * GRPO's loss on a GPU at a language model's vocabulary: {@code loss} runs {@link GrpoLoss#compute}
 * (log-softmax over the vocabulary, the log-probs of the chosen tokens, the clipped surrogate, the
 * KL term to a reference, the diagnostics) over (B, T, V) F32 logits and its backward to the
 * logits, then reads the loss. The baseline, run beside it, is {@code logitsCopy}: one device copy
 * of the same logits, then a read of one value. The loss reads the logits a few times and writes
 * their gradient once, so a few copies' time is its floor; a path that moves the logits to the
 * host and back is far above it. B = 8 completions of T = 128 tokens; V = {@code vocab} (32,000 by
 * default; DeepSeek-V2's is 102,400). Needs an NVIDIA GPU (or the simulator of gpu/sim).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class GrpoLossBench {
    static final int B = 8, T = 128;

    /** The vocabulary, the logits' last dim. */
    @Param({"32000"})
    public int vocab;

    dev.panamax.runtime.Scope scope;
    Tensor logits, ids, mask, oldLogps, refLogps;
    double[] rewards = new double[B];
    final GrpoConfig cfg = new GrpoConfig(B, 0.04, 0.2, 0.28, GrpoConfig.LossType.DAPO, GrpoConfig.ScaleRewards.GROUP, 1.0, T, 1);

    /** Seeded logits (a leaf that takes a gradient), old and reference log-probs near the policy's, on the GPU. */
    @Setup(Level.Trial)
    public void setup() {
        scope = GpuBench.onGpu("grpo loss", d -> {
            logits = Tensor.randn(DType.F32, 1, 1, B, T, vocab).to(d);
            logits.requiresGrad(true);
            long[] chosen = new long[B * T];
            java.util.Random r = new java.util.Random(2);
            for (int i = 0; i < chosen.length; i++) chosen[i] = r.nextInt(vocab);
            ids = Tensor.ofLongs(chosen, B, T);   // on the host, as Rollouts holds them
            mask = Tensor.ones(DType.F32, B, T).to(d);
            Tensor lp;
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                lp = logits.logSoftmax(-1).gather(2, ids.unsqueeze(-1)).squeeze(-1);
                oldLogps = lp.add(Tensor.randn(DType.F32, 3, 0.2, B, T).to(d));
                refLogps = lp.add(Tensor.randn(DType.F32, 4, 0.1, B, T).to(d));
            }
            for (int i = 0; i < B; i++) rewards[i] = i % 3 == 0 ? 1 : 0;
        });
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
    }

    /** The loss forward and backward, and the loss read on the host. */
    @Benchmark
    public double loss() {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open()) {
            logits.zeroGrad();   // the same gradient buffer each time, as a training step keeps it
            GrpoLoss.Result r = GrpoLoss.compute(cfg, logits, ids, mask, rewards, oldLogps, refLogps, -1);
            r.loss().backward();
            return r.loss().item();
        }
    }

    /** The baseline: one device copy of the logits, and one value of it read on the host. */
    @Benchmark
    public double logitsCopy() {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
            return logits.copy().getDouble(0, 0, 0);
        }
    }
}
