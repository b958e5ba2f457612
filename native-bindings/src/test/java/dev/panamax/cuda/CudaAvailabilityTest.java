package dev.panamax.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

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

    @Test
    void loaderConfigurationIsFollowedThroughItsIncludes(@TempDir Path dir) throws IOException {
        Path d = Files.createDirectories(dir.resolve("ld.so.conf.d"));
        Files.writeString(dir.resolve("ld.so.conf"), "# comment\n/opt/first/lib\ninclude ld.so.conf.d/*.conf\nhwcap 0 nosegneg\n");
        Files.writeString(d.resolve("b.conf"), "/usr/local/cuda-13.0/targets/x86_64-linux/lib  # cuda\n");
        Files.writeString(d.resolve("a.conf"), "/usr/local/nvidia/lib64:/usr/local/nvidia/lib\n");
        Files.writeString(d.resolve("ignored.txt"), "/not/included\n");
        assertThat(NativeLibraries.loaderConfigFolders(dir.resolve("ld.so.conf"))).containsExactly(
                Path.of("/opt/first/lib"), Path.of("/usr/local/nvidia/lib64"), Path.of("/usr/local/nvidia/lib"),
                Path.of("/usr/local/cuda-13.0/targets/x86_64-linux/lib"));
        assertThat(NativeLibraries.loaderConfigFolders(dir.resolve("missing.conf"))).isEmpty();
    }
}
