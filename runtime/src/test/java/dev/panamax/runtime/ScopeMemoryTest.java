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
    void aConfinedScopeServesItsThreadAndFreesItsMemory() throws Exception {
        long before = Scope.offHeapBytes();
        Tensor t;
        try (Scope s = Scope.openConfined()) {
            assertThat(Scope.current()).isSameAs(s);
            t = Tensor.of(new float[]{1, 2, 3}, 3).mul(2.0);
            assertThat(t.toFloatArray()).containsExactly(2f, 4f, 6f);
            assertThat(Scope.offHeapBytes()).isEqualTo(before + s.bytes());
            Tensor shared = t;
            java.util.concurrent.FutureTask<float[]> other = new java.util.concurrent.FutureTask<>(shared::toFloatArray);
            Thread.ofPlatform().start(other).join();
            assertThatThrownBy(other::get).hasCauseInstanceOf(WrongThreadException.class);
        }
        assertThat(Scope.offHeapBytes()).isEqualTo(before);
        assertThat(Scope.current()).isSameAs(Scope.global());
        assertThatThrownBy(t::toFloatArray).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aScopeWithoutHostMemoryClosesAndOneThatAllocatesLaterStillFrees() {
        long before = Scope.offHeapBytes();
        try (Scope s = Scope.open()) {
            assertThat(s.bytes()).isZero();
        }
        Scope late = Scope.longLived("late");
        Tensor t;
        try (var e = late.enter()) {
            t = Tensor.ones(DType.F32, 1 << 18);   // large enough for the worker threads
        }
        try (Scope s = Scope.open()) {
            assertThat(t.sum().item()).isEqualTo(1 << 18);
        }
        late.close();
        assertThat(Scope.offHeapBytes()).isEqualTo(before);
        assertThatThrownBy(t::toFloatArray).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(late::enter).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void readingDeviceTensorsBackMakesNoSharedArena() {
        Scope weights = Scope.longLived("device weights");
        Tensor w;
        try (var e = weights.enter()) {
            w = Tensor.arange(DType.F32, 1000).to(Device.EMULATED);
        }
        long made = Scope.sharedArenasMade();
        try (Scope step = Scope.open()) {
            Tensor y = w.mul(2.0);
            assertThat(y.toFloatArray()[999]).isEqualTo(1998f);
            assertThat(y.sum().item()).isEqualTo(999_000.0);
            assertThat(y.getLong(3)).isEqualTo(6);
            assertThat(step.bytes()).isZero();
        }
        assertThat(Scope.sharedArenasMade()).as("shared arenas made by a step of device ops and read-backs").isEqualTo(made);
        try (Scope step = Scope.open()) {
            Tensor.zeros(DType.F32, 4);
        }
        assertThat(Scope.sharedArenasMade()).as("a scope that allocates host memory").isEqualTo(made + 1);
        weights.close();
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
