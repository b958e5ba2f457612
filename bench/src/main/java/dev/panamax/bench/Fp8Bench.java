package dev.panamax.bench;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Fp8;
import dev.panamax.runtime.Parallel;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * Loading an FP8 checkpoint: {@link Fp8#dequantizeBlocks} of one DeepSeek-V3-sized weight
 * ({@code q_a_proj}, 1536 x 7168 in E4M3, 128 x 128 blocks) to BF16 and to F32, against two
 * baselines on the same number of elements in the same run:
 * <ul>
 *   <li>{@code copyBf16}: a copy of the BF16 weight it becomes (the memory traffic's floor: 2 bytes
 *       read and 2 written an element, against the dequantisation's 1 read and 2 written);</li>
 *   <li>{@code convertF32ToBf16}: {@code Tensor.to(BF16)} of the F32 weight, the runtime's dtype
 *       conversion (what loading an F32 checkpoint for BF16 inference costs a weight).</li>
 * </ul>
 * Each invocation's output goes in a scope closed at once, so memory does not grow. Trap avoided:
 * the result's first element is returned, so the work is not optimised away.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
public class Fp8Bench {
    /** Worker threads of the runtime's pool. */
    @Param({"1", "2"})
    public int threads;

    /** Weight rows. */
    @Param({"1536"})
    public int rows;

    /** Weight columns. */
    @Param({"7168"})
    public int cols;

    private Scope inputs;
    private Tensor fp8, scales, bf16, f32;

    /** Makes the weight (random, scaled to E4M3's range per block) and its scales. */
    @Setup(Level.Trial)
    public void setup() {
        Parallel.setThreads(threads);
        inputs = Scope.longLived("fp8 bench inputs");
        try (var e = inputs.enter()) {
            f32 = Tensor.randn(DType.F32, 11, 0.02, rows, cols);
            fp8 = f32.mul(448 / 0.1).to(DType.F8_E4M3);
            scales = Tensor.full(DType.F32, 0.1 / 448, Math.ceilDiv(rows, 128), Math.ceilDiv(cols, 128));
            bf16 = f32.to(DType.BF16);
        }
    }

    /** Frees the inputs. */
    @TearDown(Level.Trial)
    public void tearDown() {
        inputs.close();
    }

    /** FP8 blocks to BF16, as an inference load does. */
    @Benchmark
    public double dequantizeBf16() {
        try (Scope s = Scope.open()) {
            return Fp8.dequantizeBlocks(fp8, scales, 128, 128, DType.BF16).getDouble(0, 0);
        }
    }

    /** FP8 blocks to F32, as a trainable load does. */
    @Benchmark
    public double dequantizeF32() {
        try (Scope s = Scope.open()) {
            return Fp8.dequantizeBlocks(fp8, scales, 128, 128, DType.F32).getDouble(0, 0);
        }
    }

    /** Baseline: a copy of the BF16 weight. */
    @Benchmark
    public double copyBf16() {
        try (Scope s = Scope.open()) {
            return Tensor.placed(bf16, Device.CPU, DType.BF16).getDouble(0, 0);
        }
    }

    /** Baseline: the runtime's F32-to-BF16 conversion of the weight. */
    @Benchmark
    public double convertF32ToBf16() {
        try (Scope s = Scope.open()) {
            return f32.to(DType.BF16).getDouble(0, 0);
        }
    }
}
