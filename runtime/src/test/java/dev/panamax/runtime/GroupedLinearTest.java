package dev.panamax.runtime;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * {@link Functional#groupedLinear} and {@link Functional#siluMul} against the products composed
 * of plain ops: each group's rows through {@link Functional#linear} with its own weight, the
 * outputs concatenated; silu(a) times b. Forward and every gradient, with empty groups and
 * 16-bit weights.
 */
class GroupedLinearTest {
    private static Tensor perGroup(Tensor x, int[] offsets, Tensor[] weights) {
        List<Tensor> out = new ArrayList<>();
        for (int g = 0; g < weights.length; g++) {
            int rows = offsets[g + 1] - offsets[g];
            if (rows > 0) out.add(Functional.linear(x.narrow(0, offsets[g], rows), weights[g]));
        }
        return Tensor.concat(out, 0);
    }

    private static void near(String what, Tensor got, Tensor want, double tol) {
        float[] a = got.toFloatArray(), b = want.toFloatArray();
        assertThat(a).as(what).hasSameSizeAs(b);
        for (int i = 0; i < a.length; i++) assertThat(a[i]).as(what + " [" + i + "]").isCloseTo(b[i], within((float) (tol * (1 + Math.abs(b[i])))));
    }

    private static void check(int[] offsets, long cin, long cout, DType weightType) {
        try (Scope s = Scope.open()) {
            int groups = offsets.length - 1;
            Tensor x1 = Tensor.randn(DType.F32, 1, 1.0, offsets[groups], cin).requiresGrad(true);
            Tensor x2 = x1.detach().copy().requiresGrad(true);
            Tensor[] w1 = new Tensor[groups], w2 = new Tensor[groups];
            for (int g = 0; g < groups; g++) {
                w1[g] = Tensor.randn(DType.F32, 10 + g, 0.5, cout, cin).to(weightType);
                if (weightType == DType.F32) w1[g].requiresGrad(true);
                w2[g] = w1[g].detach().copy();
                if (weightType == DType.F32) w2[g].requiresGrad(true);
            }
            Tensor got = Functional.groupedLinear(x1, offsets, w1), want = perGroup(x2, offsets, w2);
            assertThat(got.dims()).containsExactly(offsets[groups], cout);
            near("output", got, want, 1e-5);
            Tensor up = Tensor.randn(DType.F32, 99, 1.0, got.dims());
            got.backward(up);
            want.backward(up);
            near("dx", x1.grad(), x2.grad(), 1e-5);
            for (int g = 0; g < groups; g++) {
                boolean empty = offsets[g + 1] == offsets[g];
                if (weightType != DType.F32) {
                    assertThat(w1[g].grad()).as("16-bit weights take no gradient").isNull();
                } else if (empty) {
                    assertThat(w1[g].grad()).as("weight of an empty group " + g).isNull();
                    assertThat(w2[g].grad()).isNull();
                } else {
                    near("dW of group " + g, w1[g].grad(), w2[g].grad(), 1e-5);
                }
            }
        }
    }

    @Test
    void groupsOfRowsThroughTheirOwnWeightsMatchLinearLayersPerGroup() {
        check(new int[]{0, 2, 2, 5, 6}, 40, 24, DType.F32);          // an empty group among them
        check(new int[]{0, 0, 3, 3}, 17, 5, DType.F32);              // empty first and last groups
        check(new int[]{0, 1, 2, 3, 4, 5, 6, 7, 8}, 64, 32, DType.F32); // decode: one row per expert
        check(new int[]{0, 40, 41, 100}, 33, 12, DType.F32);          // prefill-sized groups
        check(new int[]{0, 2, 2, 5, 6}, 40, 24, DType.BF16);
        check(new int[]{0, 3, 4}, 203, 7, DType.F16);
    }

    @Test
    void groupedSwigluMatchesSwigluPerGroup() {
        int[] offsets = {0, 3, 3, 4, 9};
        for (DType wt : new DType[]{DType.F32, DType.BF16}) {
            try (Scope s = Scope.open()) {
                Tensor x1 = Tensor.randn(DType.F32, 1, 1.0, 9, 24).requiresGrad(true), x2 = x1.detach().copy().requiresGrad(true);
                Tensor[] g1 = new Tensor[4], u1 = new Tensor[4], g2 = new Tensor[4], u2 = new Tensor[4];
                for (int e = 0; e < 4; e++) {
                    g1[e] = Tensor.randn(DType.F32, 20 + e, 0.5, 10, 24).to(wt).requiresGrad(wt == DType.F32);
                    u1[e] = Tensor.randn(DType.F32, 30 + e, 0.5, 10, 24).to(wt).requiresGrad(wt == DType.F32);
                    g2[e] = g1[e].detach().copy().requiresGrad(wt == DType.F32);
                    u2[e] = u1[e].detach().copy().requiresGrad(wt == DType.F32);
                }
                Tensor got = Functional.groupedSwiglu(x1, offsets, g1, u1);
                List<Tensor> parts = new ArrayList<>();
                for (int e = 0; e < 4; e++) {
                    int rows = offsets[e + 1] - offsets[e];
                    if (rows > 0) parts.add(Functional.swiglu(x2.narrow(0, offsets[e], rows), g2[e], u2[e]));
                }
                Tensor want = Tensor.concat(parts, 0);
                near(wt + " output", got, want, 1e-5);
                Tensor up = Tensor.randn(DType.F32, 7, 1.0, got.dims());
                got.backward(up);
                want.backward(up);
                near(wt + " dx", x1.grad(), x2.grad(), 1e-5);
                for (int e = 0; e < 4; e++) {
                    if (wt != DType.F32 || e == 1) {
                        assertThat(g1[e].grad()).as("no gradient for group " + e).isNull();
                        assertThat(u1[e].grad()).isNull();
                        continue;
                    }
                    near("dW1 of group " + e, g1[e].grad(), g2[e].grad(), 1e-5);
                    near("dW3 of group " + e, u1[e].grad(), u2[e].grad(), 1e-5);
                }
                Tensor[] wrong = {g1[0].narrow(0, 0, 9), g1[1].narrow(0, 0, 9), g1[2].narrow(0, 0, 9), g1[3].narrow(0, 0, 9)};
                assertThatThrownBy(() -> Functional.groupedSwiglu(x1, offsets, g1, wrong)).hasMessageContaining("one shape");
            }
        }
    }

    @Test
    void siluMulMatchesTheComposedProduct() {
        try (Scope s = Scope.open()) {
            Tensor a1 = Tensor.randn(DType.F32, 3, 2.0, 4, 9).requiresGrad(true), b1 = Tensor.randn(DType.F32, 4, 1.0, 4, 9).requiresGrad(true);
            Tensor a2 = a1.detach().copy().requiresGrad(true), b2 = b1.detach().copy().requiresGrad(true);
            Tensor got = Functional.siluMul(a1, b1), want = a2.mul(a2.sigmoid()).mul(b2);
            near("silu(a) b", got, want, 1e-6);
            Tensor up = Tensor.randn(DType.F32, 5, 1.0, 4, 9);
            got.backward(up);
            want.backward(up);
            near("da", a1.grad(), a2.grad(), 1e-5);
            near("db", b1.grad(), b2.grad(), 1e-5);
            assertThatThrownBy(() -> Functional.siluMul(a1, b1.narrow(1, 0, 3))).hasMessageContaining("one shape");
        }
    }

    @Test
    void badOffsetsAndWeightsAreClearErrors() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(DType.F32, 1, 1.0, 5, 8);
            Tensor w = Tensor.randn(DType.F32, 2, 1.0, 3, 8);
            assertThatThrownBy(() -> Functional.groupedLinear(x, new int[]{0, 2, 4}, w, w)).hasMessageContaining("from 0 to the 5 rows");
            assertThatThrownBy(() -> Functional.groupedLinear(x, new int[]{0, 3, 2, 5}, w, w, w)).hasMessageContaining("decrease at group 1");
            assertThatThrownBy(() -> Functional.groupedLinear(x, new int[]{0, 5}, w, w)).hasMessageContaining("3 entries");
            assertThatThrownBy(() -> Functional.groupedLinear(x, new int[]{0, 2, 5}, w, Tensor.randn(DType.F32, 3, 1.0, 3, 7)))
                    .hasMessageContaining("weight 1 has shape");
            assertThatThrownBy(() -> Functional.groupedLinear(x, new int[]{0, 2, 5}, w, w.to(DType.BF16))).hasMessageContaining("one dtype");
            assertThatThrownBy(() -> Functional.groupedLinear(x.view(40), new int[]{0, 40}, w)).hasMessageContaining("x (R, Cin)");
        }
    }
}
