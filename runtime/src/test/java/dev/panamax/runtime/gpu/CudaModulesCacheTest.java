package dev.panamax.runtime.gpu;

import dev.panamax.cuda.Cuda;
import dev.panamax.cuda.Nvrtc;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The disk cache of compiled kernel files: an entry cut short (which {@code Cuda.Module.load} refuses
 * before the driver sees it), one that is not a module, and one the driver refuses are each
 * compiled again and replaced.
 */
class CudaModulesCacheTest {
    /**
     * On a GPU (or the simulator): a cache entry cut short (refused before the driver sees it),
     * one that is not a module (text the driver refuses as PTX), and a whole ELF header that the
     * driver refuses are each compiled again and replaced, and the module loads.
     */
    @Test
    @Tag("gpu")
    void aDamagedOrRefusedCacheEntryIsCompiledAgain(@TempDir Path cache) throws IOException {
        assumeTrue(Cuda.available(), Cuda.unavailableReason());
        assumeTrue(Nvrtc.available(), Nvrtc.unavailableReason());
        String file = "embedding.cu", kernel = "index_select_rows_f32";
        try (GpuDevice gpu = GpuDevice.open(0)) {
            int cc = gpu.limits().computeCapability();
            Path entry;
            try (CudaModules first = new CudaModules(cc, cache)) {
                assertThat(first.function(file, kernel)).isNotNull();
                entry = first.cachePath(file);
            }
            byte[] good = Files.readAllBytes(entry);

            byte[] refused = new byte[64];   // an ELF header of a CUDA executable with nothing in it
            ByteBuffer r = ByteBuffer.wrap(refused).order(ByteOrder.LITTLE_ENDIAN);
            r.putInt(0, 0x464c457f).put(4, (byte) 2).put(5, (byte) 1).put(6, (byte) 1).putShort(16, (short) 2).putShort(18, (short) 190).putInt(20, 1).putShort(52, (short) 64);
            Map<String, byte[]> damages = Map.of("cut short", Arrays.copyOf(good, good.length / 2), "not ELF", "garbage".getBytes(), "refused by the driver", refused);
            for (Map.Entry<String, byte[]> d : damages.entrySet()) {
                Files.write(entry, d.getValue());
                try (CudaModules again = new CudaModules(cc, cache)) {
                    assertThat(again.function(file, kernel)).as("the module loads from a cache entry " + d.getKey()).isNotNull();
                }
                byte[] now = Files.readAllBytes(entry);
                assertThat(now).as("the entry " + d.getKey() + " was replaced").isNotEqualTo(d.getValue());
                try (Cuda.Module m = Cuda.Module.load(now, file)) {
                    assertThat(m.function(kernel)).as("the replaced entry " + d.getKey() + " loads").isNotNull();
                }
            }
        }
    }
}
