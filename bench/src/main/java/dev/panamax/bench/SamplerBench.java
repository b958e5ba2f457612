package dev.panamax.bench;

import dev.panamax.moe.Sampler;
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
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * Drawing one token from a row of logits on the host, as generation does for every sequence at
 * every step (on a GPU too: the logits are read back and sampled here). {@code sample} ranks the
 * candidates as primitive keys (a radix sort of all, or a heap for the top k); its baseline, run
 * beside it, is {@code sampleReference}, the specification, which sorts every token by a boxed
 * comparison. Both draw the same tokens (SamplerTest). Temperature 1, top-p 0.95, top-k 0 (all tokens) or 50,
 * vocabularies of 32,000 and 102,400 (DeepSeek-V2's); four rows of seeded Gaussian logits in turn.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
@State(Scope.Benchmark)
public class SamplerBench {
    /** The vocabulary, the row's length. */
    @Param({"32000", "102400"})
    public int vocab;
    /** Top-k (0: every token is a candidate). */
    @Param({"0", "50"})
    public int topK;
    /**
     * Top-p. With {@code -p topP=1} and top-k 0 (plain temperature sampling, GRPO's rollout
     * setting) both methods draw by the ids in order ({@code Functional.sampleRows}): no ranking.
     */
    @Param({"0.95"})
    public double topP;

    float[][] rows = new float[4][];
    Sampler fast, reference;
    int next;

    @Setup(Level.Trial)
    public void setup() {
        java.util.Random r = new java.util.Random(3);
        for (int i = 0; i < rows.length; i++) {
            rows[i] = new float[vocab];
            for (int j = 0; j < vocab; j++) rows[i][j] = (float) (r.nextGaussian() * 3);
        }
        fast = Sampler.of(1.0, topK, topP, 1);
        reference = Sampler.of(1.0, topK, topP, 1);
    }

    /** The ranking by primitive keys. */
    @Benchmark
    public int sample() {
        return fast.sample(rows[next++ & 3]);
    }

    /** The baseline: the specification's boxed sort of every token. */
    @Benchmark
    public int sampleReference() {
        return reference.sampleReference(rows[next++ & 3]);
    }
}
