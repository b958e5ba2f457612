package dev.panamax.runtime;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;

import static dev.panamax.runtime.GradCheck.check;
import static dev.panamax.runtime.GradCheck.leaf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every differentiable op's gradients against central finite differences in F64, including non-contiguous and broadcast inputs. */
@org.junit.jupiter.api.extension.ExtendWith(dev.panamax.runtime.ScopePerTest.class)
class GradientsMatchFiniteDifferencesTest {
    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void unary(UnaryOp op) {
        boolean positive = op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT || op == UnaryOp.RECIPROCAL;
        Tensor x = positive ? leaf(1, 0.2, 2, 3, 4) : leaf(1, 3, 4);
        check(op.name(), t -> t[0].apply(op), x);
        check(op.name() + " transposed", t -> t[0].t().apply(op), x);
    }

    @ParameterizedTest
    @EnumSource(BinaryOp.class)
    void binaryWithBroadcasting(BinaryOp op) {
        boolean pow = op == BinaryOp.POW;
        Tensor a = pow ? leaf(2, 0.5, 2, 2, 3, 4) : leaf(2, 2, 3, 4);
        Tensor b = pow ? leaf(3, 0.5, 2, 4, 3) : leaf(3, 4, 3);
        java.util.function.BiFunction<Tensor, Tensor, Tensor> f = (x, y) -> switch (op) {
            case ADD -> x.add(y);
            case SUB -> x.sub(y);
            case MUL -> x.mul(y);
            case DIV -> x.div(y.abs().add(0.5));
            case POW -> x.pow(y);
            case MAX -> x.maximum(y);
            case MIN -> x.minimum(y);
        };
        // b is (4,3), used transposed (3,4): non-contiguous and broadcast over the leading dim
        check(op.name(), t -> f.apply(t[0], t[1].t()), a, b);
        check(op.name() + " column broadcast", t -> f.apply(t[0], t[1].narrow(1, 0, 1).t().unsqueeze(-1).select(0, 0).reshape(1, 1, 4).expand(2, 3, 4)), a, b);
    }

    @Test
    void scalarOps() {
        Tensor x = leaf(4, 0.5, 2, 5);
        check("scalar", t -> t[0].add(2).mul(3).sub(1).div(4).pow(1.5), x);
    }

    @Test
    void reductions() {
        Tensor x = leaf(5, 2, 3, 4);
        for (int d = 0; d < 3; d++) {
            int dim = d;
            check("sum " + d, t -> t[0].sum(dim, false), x);
            check("sum keep " + d, t -> t[0].sum(dim, true), x);
            boolean keep1 = d == 1, keep2 = d == 2;
            check("mean " + d, t -> t[0].mean(dim, keep1), x);
            check("max " + d, t -> t[0].max(dim, keep2), x);
        }
        check("sum all", t -> t[0].transpose(0, 2).sum(), x);
        check("mean all", t -> t[0].mean(), x);
    }

    @Test
    void matmulEveryLayout() {
        Tensor a = leaf(6, 3, 4), b = leaf(7, 4, 5), bt = leaf(8, 5, 4), at = leaf(9, 4, 3);
        check("matmul", t -> t[0].matmul(t[1]), a, b);
        check("matmul B^T", t -> t[0].matmul(t[1].t()), a, bt);
        check("matmul A^T", t -> t[0].t().matmul(t[1]), at, b);
        Tensor ba = leaf(10, 2, 3, 4), bb = leaf(11, 4, 5);
        check("batched broadcast", t -> t[0].matmul(t[1]), ba, bb);
        Tensor v = leaf(12, 4);
        check("matrix-vector", t -> t[0].matmul(t[1]), a, v);
        check("vector-matrix", t -> t[1].matmul(t[0]), b, v);
    }

    @Test
    void softmaxAndLogSoftmax() {
        Tensor x = leaf(13, 3, 5);
        check("softmax", t -> t[0].softmax(-1), x);
        check("softmax dim0", t -> t[0].softmax(0), x);
        check("logSoftmax", t -> t[0].logSoftmax(-1), x);
        check("logSoftmax transposed", t -> t[0].t().logSoftmax(-1), x);
        check("softmax masked", t -> t[0].narrow(1, 0, 3).add(Tensor.causalMask(3, 3, 0).to(DType.F64)).softmax(-1), x);
    }

    @Test
    void rmsNormInputAndWeight() {
        Tensor x = leaf(14, 3, 6), w = leaf(15, 6);
        check("rmsNorm", t -> t[0].rmsNorm(t[1], 1e-6), x, w);
        check("rmsNorm transposed", t -> t[0].t().contiguous().t().rmsNorm(t[1], 1e-3), x, w);
    }

    @Test
    void rope() {
        Tensor x = leaf(16, 2, 3, 8);
        Tensor ang = Tensor.uniform(DType.F64, 17, -3, 3, 3, 4);
        Tensor cos = ang.apply(UnaryOp.NEG).neg(), c = Tensor.zeros(DType.F64, 3, 4), s = Tensor.zeros(DType.F64, 3, 4);
        for (long i = 0; i < 3; i++) {
            for (long j = 0; j < 4; j++) {
                c.setDouble(Math.cos(cos.getDouble(i, j)), i, j);
                s.setDouble(Math.sin(cos.getDouble(i, j)), i, j);
            }
        }
        check("rope", t -> t[0].rope(c, s), x);
    }

    @Test
    void embeddingAndIndexing() {
        Tensor w = leaf(18, 6, 4);
        Tensor ids = Tensor.ofLongs(new long[]{5, 0, 5, 2}, 2, 2);
        check("embedding", t -> Tensor.embedding(t[0], ids), w);
        check("indexSelect", t -> t[0].indexSelect(0, Tensor.ofLongs(new long[]{3, 3, 1})), w);
        check("indexSelect dim1", t -> t[0].t().indexSelect(0, Tensor.ofLongs(new long[]{2, 0})), w);
        Tensor gi = Tensor.ofLongs(new long[]{0, 3, 3, 1, 2, 2}, 6, 1);
        check("gather", t -> t[0].gather(1, gi), w);
        Tensor src = leaf(19, 3, 4);
        Tensor si = Tensor.ofLongs(new long[]{1, 4, 1}, 3, 1).expand(3, 4).contiguous();
        check("scatterAdd", t -> t[0].scatterAdd(0, si, t[1]), w, src);
        check("topk", t -> t[0].topk(2, 1, true).values(), w);
        check("topk dim0 smallest", t -> t[0].topk(3, 0, false).values(), w);
    }

    @Test
    void whereMaskedFillConcatSplit() {
        Tensor a = leaf(20, 3, 4), b = leaf(21, 4);
        Tensor cond = Tensor.ofInts(new int[]{1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}, 3, 4).to(DType.U8);
        check("where", t -> Tensor.where(cond, t[0], t[1]), a, b);
        check("maskedFill", t -> t[0].maskedFill(cond, -2), a);
        check("concat", t -> Tensor.concat(List.of(t[0], t[1].unsqueeze(0), t[0].narrow(0, 1, 1)), 0), a, b);
        check("split", t -> t[0].split(1, 1, 3).get(1).mul(t[0].split(1, 3, 1).get(0)), a);
    }

    @Test
    void views() {
        Tensor x = leaf(22, 2, 3, 4);
        check("reshape", t -> t[0].reshape(6, 4).t().reshape(-1), x);
        check("permute", t -> t[0].permute(2, 0, 1).contiguous(), x);
        check("narrow+select", t -> t[0].narrow(2, 1, 2).select(1, 2), x);
        check("slice", t -> t[0].slice(1, 0, 2), x);
        check("expand", t -> t[0].narrow(0, 0, 1).expand(5, 3, 4), x);
        check("unsqueeze/squeeze", t -> t[0].unsqueeze(1).squeeze(1).unsqueeze(-1), x);
        check("copy", t -> t[0].copy().transpose(0, 1).contiguous(), x);
    }

    @Test
    void fusedCrossEntropy() {
        Tensor logits = leaf(23, 5, 7);
        Tensor targets = Tensor.ofLongs(new long[]{3, -100, 0, 6, 3});
        check("crossEntropy mean", t -> Functional.crossEntropy(t[0], targets, -100, Functional.Reduction.MEAN), logits);
        check("crossEntropy sum", t -> Functional.crossEntropy(t[0], targets, -100, Functional.Reduction.SUM), logits);
        // against the composed definition
        Tensor fused = Functional.crossEntropy(logits, targets, -100, Functional.Reduction.MEAN);
        double composed = 0;
        Tensor lp = logits.detach().logSoftmax(-1);
        for (long i : new long[]{0, 2, 3, 4}) composed -= lp.getDouble(i, targets.getLong(i));
        assertThat(fused.item()).isCloseTo(composed / 4, org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void fusedAttention() {
        Tensor q = leaf(24, 2, 3, 4), k = leaf(25, 2, 5, 4), v = leaf(26, 2, 5, 3);
        check("attention", t -> Functional.scaledDotProductAttention(t[0], t[1], t[2], 0.5), q, k, v);
        // against the composed definition
        Tensor fused = Functional.scaledDotProductAttention(q, k, v, 0.5);
        Tensor composed = q.matmul(k.t()).mul(0.5).add(Tensor.causalMask(3, 5, 2).to(DType.F64)).softmax(-1).matmul(v);
        assertThat(fused.sub(composed).abs().max(-1, false).max(-1, false).max(0, false).item()).isLessThan(1e-12);
    }

    @Test
    void fusedSwigluAndLinear() {
        Tensor x = leaf(27, 2, 3, 4), w1 = leaf(28, 5, 4), w3 = leaf(29, 5, 4);
        check("swiglu", t -> Functional.swiglu(t[0], t[1], t[2]), x, w1, w3);
        check("linear", t -> Functional.linear(t[0], t[1]), x, w1);
        Tensor composed = Functional.linear(x, w1).silu().mul(Functional.linear(x, w3));
        assertThat(Functional.swiglu(x, w1, w3).sub(composed).abs().sum().item()).isLessThan(1e-12);
    }

    @Test
    void gradientsAccumulateAndNoGradRecordsNothing() {
        Tensor x = leaf(30, 3);
        x.mul(2).sum().backward();
        x.mul(3).sum().backward();
        assertThat(x.grad().toDoubleArray()).containsExactly(5, 5, 5);
        x.zeroGrad();
        assertThat(x.grad().toDoubleArray()).containsExactly(0, 0, 0);
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            assertThat(x.mul(2).requiresGrad()).isFalse();
        }
        assertThat(x.detach().mul(2).requiresGrad()).isFalse();
        Tensor y = x.mul(x);
        y.backward(Tensor.of(new double[]{1, 2, 3}));
        double[] xv = x.toDoubleArray();
        assertThat(x.grad().toDoubleArray()).containsExactly(2 * xv[0], 4 * xv[1], 6 * xv[2]);
        assertThatThrownBy(() -> x.addInPlace(1.0)).hasMessageContaining("requires grad");
        assertThatThrownBy(() -> Tensor.ones(DType.F32, 2).sum().backward()).hasMessageContaining("does not require grad");
    }
}
