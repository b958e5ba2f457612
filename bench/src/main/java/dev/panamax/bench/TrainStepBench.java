package dev.panamax.bench;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Functional;
import dev.panamax.runtime.Kernels;
import dev.panamax.runtime.Parallel;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.UnaryOp;
import dev.panamax.runtime.nn.Module;
import dev.panamax.runtime.optim.AdamW;
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

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

/**
 * One training step of a small MLP classifier ({@code x (B,C) -> linear -> silu -> linear ->
 * cross-entropy}, then AdamW): through autograd and the optimiser ({@code autograd}), and the
 * same arithmetic as hand-written calls to the kernels on preallocated buffers
 * ({@code rawKernels}). The ratio of the two is the cost of the graph, the scopes and the
 * tensor objects. Trap avoided: both variants do the same matmuls with the same layouts and
 * the same AdamW update; the raw one allocates nothing per step.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class TrainStepBench {
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Param({"64"})
    public int batch;
    @Param({"256"})
    public int in;
    @Param({"1024"})
    public int hidden;
    @Param({"2"})
    public int threads;

    /** The MLP as a Module. */
    static final class Mlp extends Module {
        final Tensor w1, w2;

        Mlp(int in, int hidden) {
            w1 = parameter("fc1.weight", Tensor.randn(DType.F32, 1, 1 / Math.sqrt(in), hidden, in));
            w2 = parameter("fc2.weight", Tensor.randn(DType.F32, 2, 1 / Math.sqrt(hidden), in, hidden));
        }
    }

    dev.panamax.runtime.Scope weights;
    Mlp mlp;
    AdamW opt;
    Tensor x, targets;
    long[] targetIds;
    // raw buffers
    Tensor w1, w2, m1, v1, m2, v2, h, a, logits, dLogits, dA, dH, g1, g2;
    long step;

    @Setup(Level.Trial)
    public void setup() {
        Parallel.setThreads(threads);
        weights = dev.panamax.runtime.Scope.longLived("bench");
        try (var e = weights.enter()) {
            mlp = new Mlp(in, hidden);
            opt = new AdamW(mlp.parameters(), 1e-3);
            x = Tensor.randn(DType.F32, 3, 1, batch, in);
            targetIds = new long[batch];
            for (int i = 0; i < batch; i++) targetIds[i] = (i * 7) % in;
            targets = Tensor.ofLongs(targetIds);
            w1 = mlp.w1.detach().copy();
            w2 = mlp.w2.detach().copy();
            m1 = Tensor.zeros(DType.F32, hidden, in);
            v1 = Tensor.zeros(DType.F32, hidden, in);
            m2 = Tensor.zeros(DType.F32, in, hidden);
            v2 = Tensor.zeros(DType.F32, in, hidden);
            h = Tensor.zeros(DType.F32, batch, hidden);
            a = Tensor.zeros(DType.F32, batch, hidden);
            logits = Tensor.zeros(DType.F32, batch, in);
            dLogits = Tensor.zeros(DType.F32, batch, in);
            dA = Tensor.zeros(DType.F32, batch, hidden);
            dH = Tensor.zeros(DType.F32, batch, hidden);
            g1 = Tensor.zeros(DType.F32, hidden, in);
            g2 = Tensor.zeros(DType.F32, in, hidden);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        weights.close();
    }

    @Benchmark
    public double autograd() {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open()) {
            opt.zeroGrad();
            Tensor out = Functional.linear(Functional.linear(x, mlp.w1).silu(), mlp.w2);
            Tensor loss = Functional.crossEntropy(out, targets, -100, Functional.Reduction.MEAN);
            loss.backward();
            opt.step();
            return loss.item();
        }
    }

    @Benchmark
    public double rawKernels() {
        Kernels k = Kernels.active();
        MemorySegment xs = x.segment();
        int b = batch;
        // forward: h = x W1^T, a = silu(h), logits = a W2^T
        k.sgemm(false, true, b, hidden, in, xs, 0, in, w1.segment(), 0, in, DType.F32, h.segment(), 0, hidden, false);
        k.unary(UnaryOp.SILU, h.segment(), 0, 1, a.segment(), 0, (long) b * hidden);
        k.sgemm(false, true, b, in, hidden, a.segment(), 0, hidden, w2.segment(), 0, hidden, DType.F32, logits.segment(), 0, in, false);
        // cross-entropy: dlogits = (softmax - onehot) / B
        k.softmaxRows(logits.segment(), 0, dLogits.segment(), 0, b, in, false);
        double loss = 0;
        MemorySegment dl = dLogits.segment();
        for (int i = 0; i < b; i++) {
            long at = (long) i * in + targetIds[i];
            loss -= Math.log(dl.getAtIndex(F, at));
            dl.setAtIndex(F, at, dl.getAtIndex(F, at) - 1f);
        }
        k.binary(dev.panamax.runtime.BinaryOp.MUL, dl, 0, 1, Tensor.scalar(1f / b).segment(), 0, 0, dl, 0, (long) b * in);
        // backward: dW2 = dlogits^T a, dA = dlogits W2, dH = dA * silu'(h), dW1 = dH^T x
        k.sgemm(true, false, in, hidden, b, dl, 0, in, a.segment(), 0, hidden, DType.F32, g2.segment(), 0, hidden, false);
        k.sgemm(false, false, b, hidden, in, dl, 0, in, w2.segment(), 0, hidden, DType.F32, dA.segment(), 0, hidden, false);
        MemorySegment hs = h.segment(), das = dA.segment(), dhs = dH.segment();
        for (long i = 0; i < (long) b * hidden; i++) {
            float z = hs.getAtIndex(F, i);
            float s = (float) (1 / (1 + Math.exp(-z)));
            dhs.setAtIndex(F, i, das.getAtIndex(F, i) * s * (1 + z * (1 - s)));
        }
        k.sgemm(true, false, hidden, in, b, dhs, 0, hidden, xs, 0, in, DType.F32, g1.segment(), 0, in, false);
        step++;
        adamw(w1, g1, m1, v1);
        adamw(w2, g2, m2, v2);
        return loss / b;
    }

    private void adamw(Tensor w, Tensor g, Tensor m, Tensor v) {
        double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 1e-2;
        double stepSize = lr / (1 - Math.pow(b1, step));
        double bc2 = Math.sqrt(1 - Math.pow(b2, step));
        MemorySegment ws = w.segment(), gs = g.segment(), ms = m.segment(), vs = v.segment();
        for (long i = 0; i < w.numel(); i++) {
            float gi = gs.getAtIndex(F, i);
            float mi = ms.getAtIndex(F, i) * (float) b1 + (float) (1 - b1) * gi;
            float vi = vs.getAtIndex(F, i) * (float) b2 + (float) (1 - b2) * gi * gi;
            float p = ws.getAtIndex(F, i) * (float) (1 - lr * wd);
            ws.setAtIndex(F, i, p - (float) stepSize * (mi / ((float) Math.sqrt(vi) / (float) bc2 + (float) eps)));
            ms.setAtIndex(F, i, mi);
            vs.setAtIndex(F, i, vi);
        }
    }
}
