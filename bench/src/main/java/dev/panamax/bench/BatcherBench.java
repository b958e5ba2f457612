package dev.panamax.bench;

import dev.panamax.moe.Batcher;
import dev.panamax.moe.DeepSeekModel;
import dev.panamax.moe.Generator;
import dev.panamax.moe.Mla;
import dev.panamax.moe.Sampler;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
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

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Continuous batching ({@link Batcher}) against its baseline, run beside it: four prompts of
 * different lengths (5, 9, 13 and 17 tokens), 16 greedy tokens each. {@link #oneByOne}, the
 * baseline, generates them one after another with {@link Generator} (what a server that takes one
 * request at a time does); {@link #batcher} submits the four at once to a batcher of 4 slots, so
 * each decode step runs all four, each at its own position. {@link #uniformBatch} is the bound a
 * batch of prompts of one length reaches: four prompts of 11 tokens (the mean) as one
 * {@link Generator} batch, one prefill and one step a token for all four. {@code model} is {@code v2lite}, the
 * V2-Lite-shaped benchmark model ({@link DeepSeekBench#v2LiteShapes()}: 2 layers, hidden 2,048,
 * vocabulary 32,000, BF16 weights: a decode step reads ~150 MB of weights), or {@code tiny}, the
 * first DeepSeek reference case (a step of a few dozen microseconds, so what a step costs beyond
 * its arithmetic shows). BF16 KV cache; {@code device} {@code cpu}, or {@code cuda} (bench/gpu/run.sh
 * step "batch", the V2-Lite-shaped model: a step there reads its weights once for all four
 * sequences).
 *
 * <p>Prefix reuse: {@link #sharedPrefix} sends a prompt of a 40-token prefix and one token of its
 * own (a new one each time) to a one-slot batcher whose slot holds that prefix from the call
 * before, so that only the last token runs through the model before 4 new tokens; its baseline
 * {@link #sharedPrefixCold} sends the same to a one-slot batcher that alternates between two
 * prefixes, so that its slot never holds the one asked for and the whole prompt runs. Setup checks that the batcher gives each prompt the tokens it has alone (on a GPU
 * within rounding: there it checks that every sequence has its 16 tokens).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 5, time = 5)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class BatcherBench {
    /** The model: {@code v2lite} or {@code tiny}. */
    @Param({"tiny", "v2lite"})
    public String model;

    /** Where the model runs: {@code cpu} or {@code cuda}. */
    @Param({"cpu"})
    public String device;

    static final int NEW_TOKENS = 16;

    DeepSeekModel m;
    Batcher batcher, warm, cold;
    long[][] prefixes;
    long calls;
    List<long[]> prompts, uniform;

    @Setup(Level.Trial)
    public void setup() throws Exception {
        Device d = Device.parse(device);
        if (d.isDevice()) GpuBench.gpu();   // fails the trial with the reason when there is no GPU
        if (model.equals("v2lite")) {
            m = DeepSeekModel.random(DeepSeekBench.v2LiteShapes(), 7, DType.BF16, d);
        } else {
            Path ref = Path.of(System.getProperty("panamax.reference.deepseek", "../shared/reference/deepseek_v3"));
            try (var s = Files.list(ref)) {
                m = DeepSeekModel.load(s.filter(c -> Files.isRegularFile(c.resolve("config.json"))).sorted().findFirst().orElseThrow(), false, d);
            }
        }
        long v = m.config().vocabSize();
        prompts = new ArrayList<>();
        for (int len : new int[]{5, 9, 13, 17}) {
            long[] p = new long[len];
            for (int i = 0; i < len; i++) p[i] = (len * 31L + i * 7919L) % v;
            prompts.add(p);
        }
        uniform = new ArrayList<>();
        for (int k = 0; k < 4; k++) {
            long[] p = new long[11];
            for (int i = 0; i < p.length; i++) p[i] = (k * 131L + i * 7919L) % v;
            uniform.add(p);
        }
        batcher = new Batcher(m, 4, DType.BF16);
        warm = new Batcher(m, 1, DType.BF16);
        cold = new Batcher(m, 1, DType.BF16);
        prefixes = new long[2][40];
        for (int k = 0; k < 2; k++) for (int i = 0; i < 40; i++) prefixes[k][i] = (k * 977L + i * 131L) % v;
        List<long[]> ps = nextPrompts(), a = oneByOne(ps), b = batched(ps);
        for (int i = 0; i < a.size(); i++) {
            if (d.isDevice() ? b.get(i).length != NEW_TOKENS : !Arrays.equals(a.get(i), b.get(i))) throw new IllegalStateException("prompt " + i + ": batched " + Arrays.toString(b.get(i)) + ", alone " + Arrays.toString(a.get(i)));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        batcher.close();
        warm.close();
        cold.close();
        m.close();
    }

    /** The baseline: each prompt generated alone, one after another. */
    @Benchmark
    public List<long[]> oneByOne() {
        return oneByOne(nextPrompts());
    }

    private List<long[]> oneByOne(List<long[]> ps) {
        List<long[]> out = new ArrayList<>();
        for (long[] p : ps) {
            try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open()) {
                out.add(Generator.generate(m, List.of(p), NEW_TOKENS, Set.of(), Sampler.greedy(), Mla.ABSORBED, DType.BF16).completions().getFirst());
            }
        }
        return out;
    }

    /** The prefix its slot holds and a token of its own (whose entry goes past it): one token prefilled, then 4 new ones. */
    @Benchmark
    public long[] sharedPrefix() throws InterruptedException {
        return warm.submit(withToken(prefixes[0]), 4, Set.of(), Sampler.greedy(), null).await();
    }

    /** The baseline: the same prompt shape, its prefix alternating so that the slot never holds it: 41 tokens prefilled, then 4. */
    @Benchmark
    public long[] sharedPrefixCold() throws InterruptedException {
        return cold.submit(withToken(prefixes[(int) (calls & 1)]), 4, Set.of(), Sampler.greedy(), null).await();
    }

    /** {@code prefix} and then a token that changes from call to call. */
    private long[] withToken(long[] prefix) {
        long[] p = java.util.Arrays.copyOf(prefix, prefix.length + 1);
        p[prefix.length] = 1 + (calls++ % 100);
        return p;
    }

    /** Four prompts of one length (11 tokens) as one {@link Generator} batch: the bound for a batch of four. */
    @Benchmark
    public List<long[]> uniformBatch() {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open()) {
            return Generator.generate(m, uniform, NEW_TOKENS, Set.of(), Sampler.greedy(), Mla.ABSORBED, DType.BF16).completions();
        }
    }

    /** The four prompts submitted at once: every decode step runs all four, each at its own position. */
    @Benchmark
    public List<long[]> batcher() throws InterruptedException {
        return batched(nextPrompts());
    }

    /**
     * The four prompts, each call's beginning with a token of their own, so that no slot of the
     * batcher holds the start of one from the call before (prefix reuse would skip their prefill,
     * which the baseline runs in full).
     */
    private List<long[]> nextPrompts() {
        long first = 1 + (calls++ % 97);
        List<long[]> out = new ArrayList<>();
        for (long[] p : prompts) {
            long[] fresh = p.clone();
            fresh[0] = first;
            out.add(fresh);
        }
        return out;
    }

    private List<long[]> batched(List<long[]> ps) throws InterruptedException {
        List<Batcher.Sequence> seqs = new ArrayList<>();
        for (long[] p : ps) seqs.add(batcher.submit(p, NEW_TOKENS, Set.of(), Sampler.greedy(), null));
        List<long[]> out = new ArrayList<>();
        for (Batcher.Sequence s : seqs) out.add(s.await());
        return out;
    }
}
