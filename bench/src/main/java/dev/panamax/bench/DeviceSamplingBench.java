package dev.panamax.bench;

import dev.panamax.moe.Sampler;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
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
 * Drawing the next token of a batch of sequences whose logits are on a GPU, as generation and
 * GRPO's rollouts do at every step: {@code drawOnDevice} runs {@link Sampler#sample(Tensor, boolean[])}
 * (one kernel draws every row; 8 bytes a row come back). Its baseline, run beside it, is
 * {@code logitsReadBack}: the copy of the (8, V) logits to the host that any draw on the host
 * needs first. {@code drawOnHost} is that copy and the same draw on the host (rows in parallel);
 * {@code argmaxOnDevice} is greedy decoding's {@code Tensor.argmax} over the rows on the GPU.
 * {@code drawTopKOnDevice} samples with top-k 50 and top-p 0.95 at temperature 0.7: each row's top
 * 50 selected on the GPU ({@code Tensor.topk}) and only they read back; {@code drawTopKOnHost}
 * reads the logits back and selects them on the host. {@code drawTopPOnDevice} samples with top-p
 * 0.95 alone at temperature 0.7: each row's top 1,024 and its softmax's denominator on the GPU,
 * only they read back (the nucleus of these logits ends among them); {@code drawTopPOnHost} reads
 * the logits back and ranks every token on the host.
 * Temperature 1, no top-k or top-p (GRPO's rollout setting), V = {@code vocab} (DeepSeek-V2's
 * is 102,400). Needs an NVIDIA GPU (or the simulator of gpu/sim).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class DeviceSamplingBench {
    static final int B = 8;

    /** The vocabulary, the logits' last dim. */
    @Param({"32000", "102400"})
    public int vocab;

    dev.panamax.runtime.Scope scope;
    Tensor logits;
    final Sampler sampler = Sampler.of(1.0, 0, 1.0, 7), topK = Sampler.of(0.7, 50, 0.95, 7), topP = Sampler.of(0.7, 0, 0.95, 7);

    /** Seeded Gaussian logits (scale 3) on the GPU. */
    @Setup(Level.Trial)
    public void setup() {
        scope = GpuBench.onGpu("device sampling", d -> logits = Tensor.randn(DType.F32, 5, 3.0, B, vocab).to(d));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
    }

    /** The tokens drawn on the GPU, read back. */
    @Benchmark
    public long[] drawOnDevice() {
        return sampler.sample(logits, null);
    }

    /** Top-k 50, top-p 0.95 at temperature 0.7: the top 50 of each row selected on the GPU, read back and drawn on the host. */
    @Benchmark
    public long[] drawTopKOnDevice() {
        return topK.sample(logits, null);
    }

    /** The same draw with the logits read back and the top 50 selected on the host. */
    @Benchmark
    public long[] drawTopKOnHost() {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open()) {
            return topK.sample(logits.to(Device.CPU), null);
        }
    }

    /**
     * Top-p 0.95 alone at temperature 0.7: each row's top 1,024 and its softmax's denominator
     * computed on the GPU and read back, the nucleus cut from them and drawn on the host.
     */
    @Benchmark
    public long[] drawTopPOnDevice() {
        return topP.sample(logits, null);
    }

    /** The same draw with the logits read back and every token ranked on the host. */
    @Benchmark
    public long[] drawTopPOnHost() {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open()) {
            return topP.sample(logits.to(Device.CPU), null);
        }
    }

    /** Greedy decoding's token by {@code Tensor.argmax} on the GPU, read back. */
    @Benchmark
    public long[] argmaxOnDevice() {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.openConfined()) {
            return logits.argmax(1, false).toLongArray();
        }
    }

    /** The baseline: the logits read back to the host. */
    @Benchmark
    public float[] logitsReadBack() {
        return logits.toFloatArray();
    }

    /** The logits read back, then the tokens drawn on the host. */
    @Benchmark
    public long[] drawOnHost() {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open()) {
            return sampler.sample(logits.to(Device.CPU), null);
        }
    }
}
