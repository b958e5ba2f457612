package dev.panamax.bench;

import dev.panamax.moe.DeepSeekModel;
import dev.panamax.moe.Generator;
import dev.panamax.moe.Mla;
import dev.panamax.moe.MultiTokenPredictor;
import dev.panamax.moe.Sampler;
import dev.panamax.moe.Speculation;
import dev.panamax.runtime.DType;
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

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Speculative decoding ({@link Speculation}) against its baseline, the plain {@link Generator}
 * loop ({@link #plain}), run beside it: one 16-token prompt, then {@value #TOKENS} greedy tokens
 * on the CPU, on the V2-Lite-shaped benchmark model ({@link DeepSeekBench#v2LiteShapes()}, BF16
 * weights, F32 cache). A random model's drafts are rarely right, so the drafters are timed at
 * known acceptance too, by oracles that draft from the plain loop's own tokens: {@link #oracle4}
 * (4 drafts a step, all kept: the bound at this lookahead) and {@link #oracle1of4} (4 drafted, the
 * first kept), and {@link #oracle1} (1 draft a step, kept: the bound at the MTP module's lookahead,
 * without its cost). {@link #mtp} (a random MTP module) and {@link #lookup} (prompt lookup, n-grams of
 * 3, 4 tokens) time the real drafters at the acceptance a random model gives them: mostly their
 * overhead. {@link #prefill} times what every variant spends before its decode passes. Every
 * variant gives the plain loop's tokens (checked at setup).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 5, time = 5)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class SpeculativeBench {
    /** New tokens per invocation. */
    static final int TOKENS = 32;

    DeepSeekModel model;
    MultiTokenPredictor mtp;
    List<long[]> prompt;
    long[] want;

    @Setup(Level.Trial)
    public void setup() {
        model = DeepSeekModel.random(DeepSeekBench.v2LiteShapes(), 7, DType.BF16);
        mtp = MultiTokenPredictor.random(model, 8, DType.BF16);
        long v = model.config().vocabSize();
        long[] p = new long[16];
        for (int i = 0; i < p.length; i++) p[i] = (i * 7919L) % v;
        prompt = List.of(p);
        want = plain().completions().getFirst();
        String[] names = {"mtp", "lookup", "oracle4", "oracle1of4", "oracle1"};
        Speculation[] all = {Speculation.mtp(mtp), Speculation.promptLookup(3, 4), oracle(4, false), oracle(4, true), oracle(1, false)};
        for (int i = 0; i < all.length; i++) {
            Speculation.Result r = speculate(all[i]);
            long[] got = r.completions().getFirst();
            if (!Arrays.equals(got, want)) throw new IllegalStateException(names[i] + "'s tokens differ from the plain loop's: " + Arrays.toString(got));
            System.out.printf("%n%s: %d of %d drafts kept, %d passes after the prefill for %d tokens%n", names[i], r.accepted(), r.drafted(), r.steps(), r.tokens());
        }
    }

    /** Drafts the plain loop's next {@code k} tokens; with {@code firstOnly}, all but the first off by one. */
    private Speculation oracle(int k, boolean firstOnly) {
        int len = prompt.getFirst().length;
        long v = model.config().vocabSize();
        return Speculation.drafting((r, seq, n) -> {
            long[] d = Arrays.copyOfRange(want, n - len, Math.min(n - len + k, want.length));
            if (firstOnly) for (int j = 1; j < d.length; j++) d[j] = (d[j] + 1) % v;
            return d;
        }, k);
    }

    private Speculation.Result speculate(Speculation s) {
        return s.generate(model, prompt, TOKENS, Set.of(), Sampler.greedy(), Mla.ABSORBED, DType.F32, null);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        mtp.close();
        model.close();
    }

    /** The baseline: the plain loop, one forward pass a token. */
    @Benchmark
    public Generator.Result plain() {
        return Generator.generate(model, prompt, TOKENS, Set.of(), Sampler.greedy(), Mla.ABSORBED, DType.F32);
    }

    /** The 16-token prompt's forward pass and its first token alone: what every variant spends before its decode passes. */
    @Benchmark
    public Generator.Result prefill() {
        return Generator.generate(model, prompt, 1, Set.of(), Sampler.greedy(), Mla.ABSORBED, DType.F32);
    }

    /** Drafted by a (random) MTP module: its cost, at the acceptance a random model gives it. */
    @Benchmark
    public Speculation.Result mtp() {
        return speculate(Speculation.mtp(mtp));
    }

    /** Drafted by prompt lookup (3-grams, 4 tokens). */
    @Benchmark
    public Speculation.Result lookup() {
        return speculate(Speculation.promptLookup(3, 4));
    }

    /** 4 drafts a step, all kept: 5 tokens a pass. */
    @Benchmark
    public Speculation.Result oracle4() {
        return speculate(oracle(4, false));
    }

    /** 1 draft a step, kept: 2 tokens a pass. */
    @Benchmark
    public Speculation.Result oracle1() {
        return speculate(oracle(1, false));
    }

    /** 4 drafts a step, the first kept: 2 tokens a pass, 5 positions read. */
    @Benchmark
    public Speculation.Result oracle1of4() {
        return speculate(oracle(4, true));
    }
}
