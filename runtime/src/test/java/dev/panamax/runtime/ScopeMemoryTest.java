package dev.panamax.runtime;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Off-heap memory has explicit lifetimes and exact accounting. */
class ScopeMemoryTest {
    @Test
    void closingAScopeFreesEverythingItAllocated() {
        long before = Scope.offHeapBytes();
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.zeros(DType.F32, 1000);
            a.add(1.0).exp();
            assertThat(Scope.current()).isSameAs(s);
            assertThat(s.bytes()).isGreaterThanOrEqualTo(3 * 4000);
            assertThat(Scope.offHeapBytes()).isEqualTo(before + s.bytes());
        }
        assertThat(Scope.offHeapBytes()).isEqualTo(before);
    }

    @Test
    void loopsInScopesDoNotGrowMemory() {
        long before = Scope.offHeapBytes();
        Tensor w;
        Scope weights = Scope.longLived("weights");
        try (var e = weights.enter()) {
            w = Tensor.randn(DType.F32, 1, 0.1, 64, 64);
        }
        assertThat(Scope.offHeapBytes()).isEqualTo(before + 64 * 64 * 4);
        long afterFirst = -1;
        for (int step = 0; step < 200; step++) {
            try (Scope s = Scope.open()) {
                Tensor x = Tensor.randn(DType.F32, step, 1, 8, 64);
                Tensor y = x.matmul(w).silu().softmax(-1).sum();
                assertThat(y.item()).isFinite();
            }
            if (step == 9) afterFirst = Scope.offHeapBytes();
        }
        assertThat(Scope.offHeapBytes()).isEqualTo(afterFirst).isEqualTo(before + 64 * 64 * 4);
        weights.close();
        assertThat(Scope.offHeapBytes()).isEqualTo(before);
    }

    @Test
    void explicitSizesAreAccounted() {
        try (Scope s = Scope.open()) {
            Tensor.zeros(DType.F32, 10);
            Tensor.zeros(DType.BF16, 3, 3);
            assertThat(s.bytes()).isEqualTo(40 + 18);
        }
    }

    @Test
    void usingATensorAfterItsScopeClosedThrowsInsteadOfCrashing() {
        Tensor t;
        try (Scope s = Scope.open()) {
            t = Tensor.ones(DType.F32, 4);
        }
        assertThatThrownBy(t::toFloatArray).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void scopesCloseInnermostFirst() {
        Scope outer = Scope.open();
        Scope inner = Scope.open();
        assertThatThrownBy(outer::close).hasMessageContaining("innermost");
        inner.close();
        outer.close();
        assertThat(Scope.current()).isSameAs(Scope.global());
    }
}
