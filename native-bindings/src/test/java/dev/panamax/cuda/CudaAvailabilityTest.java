package dev.panamax.cuda;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Without a GPU (CI), CUDA is reported unavailable with a reason, and nothing throws or crashes. */
class CudaAvailabilityTest {
    @Test
    void availabilityNeverThrowsAndExplainsItself() {
        boolean ok = Cuda.available();
        if (ok) {
            assertThat(Cuda.deviceCount()).isPositive();
            assertThat(Cuda.unavailableReason()).isEqualTo("available");
        } else {
            assertThat(Cuda.deviceCount()).isZero();
            assertThat(Cuda.unavailableReason()).isNotBlank().isNotEqualTo("available");
        }
    }

    @Test
    void libraryDiscoveryHonoursTheSystemProperty() {
        String old = System.getProperty("panamax.cuda.libpath");
        try {
            System.setProperty("panamax.cuda.libpath", System.getProperty("java.io.tmpdir"));
            assertThat(NativeLibraries.searchFolders()).first().hasToString(System.getProperty("java.io.tmpdir").replaceAll("/$", ""));
            assertThat(NativeLibraries.find("libpanamax-does-not-exist.so", "13", "12")).isEmpty();
        } finally {
            if (old == null) System.clearProperty("panamax.cuda.libpath");
            else System.setProperty("panamax.cuda.libpath", old);
        }
    }
}
