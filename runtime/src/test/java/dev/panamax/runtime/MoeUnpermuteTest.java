package dev.panamax.runtime;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * {@link Functional#moeUnpermute} against the same product composed of plain ops (a row gather,
 * a broadcast multiply and a sum over the slots), forward and backward, in F32 and F64.
 */
class MoeUnpermuteTest {
    private static final long[] POS = {4, 0, 7, 2, 5, 1, 3, 6};   // 4 tokens x 2 slots

    private static Tensor composed(Tensor y, long[] pos, Tensor w) {
        long n = w.dim(0), k = w.dim(1);
        return y.indexSelect(0, Tensor.ofLongs(pos)).view(n, k, y.dim(1)).mul(w.unsqueeze(-1)).sum(1, false);
    }

    private static void check(DType dt, double tol) {
        try (Scope s = Scope.open()) {
            Tensor y1 = Tensor.randn(DType.F32, 1, 1.0, 8, 5).to(dt).requiresGrad(true), w1 = Tensor.uniform(DType.F32, 2, 0, 1, 4, 2).to(dt).requiresGrad(true);
            Tensor y2 = y1.detach().copy().requiresGrad(true), w2 = w1.detach().copy().requiresGrad(true);
            Tensor got = Functional.moeUnpermute(y1, POS, w1), want = composed(y2, POS, w2);
            assertThat(got.dims()).containsExactly(4, 5);
            assertThat(got.dtype()).isEqualTo(dt);
            near(got, want, tol);
            Tensor g = Tensor.randn(DType.F32, 3, 1.0, 4, 5).to(dt);
            got.backward(g);
            want.backward(g);
            near(y1.grad(), y2.grad(), tol);
            near(w1.grad(), w2.grad(), tol);
        }
    }

    private static void near(Tensor got, Tensor want, double tol) {
        double[] a = got.to(DType.F64).toDoubleArray(), b = want.to(DType.F64).toDoubleArray();
        assertThat(a).hasSameSizeAs(b);
        for (int i = 0; i < a.length; i++) assertThat(a[i]).as("element " + i).isCloseTo(b[i], within(tol * (1 + Math.abs(b[i]))));
    }

    @Test
    void matchesTheComposedProductInF32AndF64() {
        check(DType.F32, 1e-6);
        check(DType.F64, 1e-14);
    }

    @Test
    void positionsMustBeAPermutation() {
        Tensor y = Tensor.zeros(DType.F32, 4, 3), w = Tensor.zeros(DType.F32, 2, 2);
        assertThatThrownBy(() -> Functional.moeUnpermute(y, new long[]{0, 1, 1, 3}, w))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("permutation").hasMessageContaining("got 1 at 2");
        assertThatThrownBy(() -> Functional.moeUnpermute(y, new long[]{0, 1, 2, 4}, w)).hasMessageContaining("got 4 at 3");
        assertThatThrownBy(() -> Functional.moeUnpermute(y, new long[]{0, 1, 2}, w)).hasMessageContaining("do not match");
        assertThatThrownBy(() -> Functional.moeUnpermute(Tensor.zeros(DType.F32, 4), new long[]{0, 1, 2, 3}, w)).hasMessageContaining("needs y");
    }
}
