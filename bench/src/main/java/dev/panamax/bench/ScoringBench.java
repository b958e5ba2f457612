package dev.panamax.bench;

import dev.panamax.moe.DeepSeekModel;
import dev.panamax.moe.KvCache;
import dev.panamax.moe.Mla;
import dev.panamax.moe.Scoring;
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

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@link Scoring} (the logprobs of a sequence's tokens, with 5 alternatives each) against its
 * baseline, run beside it: {@link #prefill}, the same sequence's pass through the model over a KV
 * cache with the LM head at the last position only, as generation's prefill runs it. What
 * {@link #scoreAll} adds to it is the LM head at every position and the host's log-softmax and
 * top-5 over each row of logits; {@link #scoreHalf} scores the second half only (a continuation
 * after its prompt), the LM head running at those positions only.
 * The model is the V2-Lite-shaped benchmark model ({@link DeepSeekBench#v2LiteShapes()}: 2
 * layers, hidden 2,048, a vocabulary of 32,000), BF16 weights, on the CPU.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 5, time = 5)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class ScoringBench {
    /** Tokens in the sequence. */
    @Param({"64"})
    public int tokens;

    DeepSeekModel model;
    long[] ids;

    @Setup(Level.Trial)
    public void setup() {
        model = DeepSeekModel.random(DeepSeekBench.v2LiteShapes(), 7, DType.BF16);
        long v = model.config().vocabSize();
        ids = new long[tokens];
        for (int i = 0; i < tokens; i++) ids[i] = (i * 7919L) % v;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        model.close();
    }

    /** The baseline: the sequence's pass through the model, the LM head at its last position. */
    @Benchmark
    public float prefill() {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open(); Autograd.NoGrad ng = Autograd.noGrad();
             KvCache cache = new KvCache(model.config(), 1, tokens, model.device(), DType.F32)) {
            Tensor logits = model.forward(Tensor.ofLongs(ids, 1, tokens), 0, cache, Mla.ABSORBED, true, null);
            return logits.toFloatArray()[0];
        }
    }

    /** Every token after the first scored, 5 alternatives each. */
    @Benchmark
    public List<Scoring.Token> scoreAll() {
        return Scoring.score(model, ids, 1, 5, Mla.ABSORBED);
    }

    /** The second half scored (a continuation after a prompt of the first half). */
    @Benchmark
    public List<Scoring.Token> scoreHalf() {
        return Scoring.score(model, ids, tokens / 2, 5, Mla.ABSORBED);
    }
}
