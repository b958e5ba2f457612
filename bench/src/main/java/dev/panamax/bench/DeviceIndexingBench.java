package dev.panamax.bench;

import dev.panamax.runtime.Autograd;
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
 * Indexing ops on tensors held by a GPU that had no kernel before session 25 and went through
 * the host (a copy of every operand there, the host's loops, the result copied back):
 * {@code onDevice} runs the op as the runtime now does (one kernel, whatever the dim, strides and
 * dtype), and its baseline {@code throughHost}, run beside it, is that old route spelt out.
 * {@code op} picks the op:
 * <ul>
 *   <li>{@code gather}: {@code x.gather(1, index)} with x (8, 1024, 512) F32 and index (8, 64, 512),
 *       64 picks along the middle dim;</li>
 *   <li>{@code scatterAdd}: its backward, {@code scatterAddInPlace(1, index, src)} into x, src (8, 64, 512);</li>
 *   <li>{@code where}: {@code scores.maskedFill(mask, -inf)} of (8, 16, 256, 256) attention scores with
 *       a (256, 256) causal U8 mask broadcast over them.</li>
 * </ul>
 * Each invocation waits for the GPU. Needs an NVIDIA GPU (or the simulator of gpu/sim).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class DeviceIndexingBench {
    /** The op timed: gather, scatterAdd or where. */
    @Param({"gather", "scatterAdd", "where"})
    public String op;

    dev.panamax.runtime.Scope scope;
    Device gpu;
    Tensor x, index, src, scores, mask;

    /** Seeded operands on the GPU (the mask stays on the host, as a user's constant would). */
    @Setup(Level.Trial)
    public void setup() {
        scope = GpuBench.onGpu("device indexing", d -> {
            gpu = d;
            switch (op) {
                case "gather", "scatterAdd" -> {
                    x = Tensor.randn(DType.F32, 1, 1.0, 8, 1024, 512).to(d);
                    src = Tensor.randn(DType.F32, 2, 1.0, 8, 64, 512).to(d);
                    java.util.SplittableRandom rnd = new java.util.SplittableRandom(3);
                    long[] picks = new long[8 * 64 * 512];
                    for (int i = 0; i < picks.length; i++) picks[i] = rnd.nextLong(1024);
                    index = Tensor.ofLongs(picks, 8, 64, 512).to(d);
                }
                case "where" -> {
                    scores = Tensor.randn(DType.F32, 4, 1.0, 8, 16, 256, 256).to(d);
                    mask = Tensor.zeros(DType.U8, 256, 256);   // causal: 1 above the diagonal (the future, filled with -inf)
                    for (int i = 0; i < 256; i++) for (int j = i + 1; j < 256; j++) mask.setDouble(1, i, j);
                }
                default -> throw new IllegalArgumentException("DeviceIndexingBench: unknown op " + op);
            }
        });
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
    }

    /** The op as the runtime runs it on the GPU, waited for. */
    @Benchmark
    public void onDevice() {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
            switch (op) {
                case "gather" -> x.gather(1, index);
                case "scatterAdd" -> x.scatterAddInPlace(1, index, src);
                default -> scores.maskedFill(mask, Double.NEGATIVE_INFINITY);
            }
            gpu.synchronize();
        }
    }

    /** The baseline: the operands copied to the host, the op there, the result copied back to the GPU, waited for. */
    @Benchmark
    public void throughHost() {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
            switch (op) {
                case "gather" -> x.to(Device.CPU).gather(1, index.to(Device.CPU)).to(gpu);
                case "scatterAdd" -> x.copyFrom(x.to(Device.CPU).scatterAddInPlace(1, index.to(Device.CPU), src.to(Device.CPU)));
                default -> scores.to(Device.CPU).maskedFill(mask, Double.NEGATIVE_INFINITY).to(gpu);
            }
            gpu.synchronize();
        }
    }
}
