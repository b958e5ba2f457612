package dev.panamax.runtime;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The system properties that choose kernels are honoured (run with and without them by the build). */
class VectorSwitchTest {
    @Test
    void kernelsFollowTheSystemProperties() {
        String vector = System.getProperty("panamax.vector", "true");
        if (vector.equalsIgnoreCase("false")) {
            assertThat(Kernels.active()).isSameAs(ScalarKernels.INSTANCE);
        } else {
            assertThat(Kernels.active()).isInstanceOf(VectorKernels.class);
        }
        String bits = System.getProperty("panamax.vector.bits");
        if (bits != null && !bits.isBlank()) {
            assertThat(VectorKernels.lanes() * 32).isEqualTo(Integer.parseInt(bits));
            assertThat(VectorKernels.preferred().name()).isEqualTo("vector" + bits);
        }
    }
}
