package dev.panamax.bench;

import dev.panamax.moe.DeepSeekModel;
import dev.panamax.moe.Generator;
import dev.panamax.moe.Mla;
import dev.panamax.moe.Sampler;
import dev.panamax.runtime.DType;
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

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Whole-model generation on a GPU with {@link Generator}: {@code batch} prompts of 16 tokens, then
 * {@value #TOKENS} new tokens each (temperature 1, no stop token, a CUDA graph a decode step), on
 * the V2-Lite-shaped benchmark model ({@link DeepSeekBench#v2LiteShapes()}, BF16 weights, F32 KV
 * cache). {@code pipelined} is the loop as it runs by default: each step's tokens drawn and fed to
 * the next step on the GPU, and read by the host after the next step is queued. Its baseline
 * {@code plain}, run beside it, reads each step's tokens before it queues the next step
 * ({@code -Dpanamax.pipelinedDecode=false}), so the GPU idles while the host takes them and
 * queues the next step. The tokens are the same in both. Needs an NVIDIA GPU (or the simulator
 * of gpu/sim).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class GenerateBench {
    /** New tokens per prompt in one invocation. */
    static final int TOKENS = 32;

    /** Prompts generated together (one batch). */
    @Param({"1", "8"})
    public int batch;

    DeepSeekModel model;
    List<long[]> prompts;

    @Setup(Level.Trial)
    public void setup() {
        model = DeepSeekModel.random(DeepSeekBench.v2LiteShapes(), 7, DType.BF16, GpuBench.gpu());
        model.requiresGrad(false);
        prompts = new ArrayList<>();
        long v = model.config().vocabSize();
        for (int b = 0; b < batch; b++) {
            long[] p = new long[16];
            for (int i = 0; i < p.length; i++) p[i] = ((b * 16L + i) * 7919L) % v;
            prompts.add(p);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        System.clearProperty(Generator.PIPELINE_PROPERTY);
        model.close();
    }

    private long generate(boolean pipelined) {
        System.setProperty(Generator.PIPELINE_PROPERTY, Boolean.toString(pipelined));
        Generator.Result r = Generator.generate(model, prompts, TOKENS, Set.of(), Sampler.of(1.0, 0, 1.0, 5), Mla.ABSORBED);
        return r.tokens();
    }

    /** Generation with the tokens fed on the GPU and read a step late (the default). */
    @Benchmark
    public long pipelined() {
        return generate(true);
    }

    /** The baseline: each step's tokens read before the next step is queued. */
    @Benchmark
    public long plain() {
        return generate(false);
    }
}
