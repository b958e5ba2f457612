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
 * The disk cache of compiled kernel files: a damaged entry never reaches the driver's loader, which
 * is given no length, and is compiled again; an entry the driver refuses is compiled again too.
 */
class CudaModulesCacheTest {
    /** An ELF file of this machine whose section header table ends the file (the JDK's own libjava.so). */
    private static byte[] someElf() throws IOException {
        Path lib = Path.of(System.getProperty("java.home"), "lib", "libjava.so");
        assumeTrue(Files.isRegularFile(lib), "no " + lib + " to take an ELF file from");
        byte[] elf = Files.readAllBytes(lib);
        ByteBuffer b = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
        assumeTrue(elf.length > 64 && b.getInt(0) == 0x464c457f && elf[4] == 2, lib + " is not a 64-bit ELF file");
        assumeTrue(b.getLong(0x28) + (long) b.getShort(0x3a) * b.getShort(0x3c) == elf.length, "the section headers of " + lib + " do not end it");
        return elf;
    }

    @Test
    void aWholeElfFilePassesAndNoTruncationOfItDoes() throws IOException {
        byte[] elf = someElf();
        assertThat(CudaModules.wholeElf(elf)).as("the whole file").isTrue();
        for (int n = 0; n < elf.length; n += n < 128 ? 1 : 61) assertThat(CudaModules.wholeElf(Arrays.copyOf(elf, n))).as("the first %d bytes", n).isFalse();
        assertThat(CudaModules.wholeElf(Arrays.copyOf(elf, elf.length - 1))).as("all but the last byte").isFalse();
    }

    @Test
    void headersThatPointOutsideTheFileFail() throws IOException {
        byte[] elf = someElf();
        ByteBuffer b = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
        long shoff = b.getLong(0x28);
        int shentsize = b.getShort(0x3a), shnum = b.getShort(0x3c);
        int section = -1;   // a section with bytes in the file
        for (int i = 1; i < shnum && section < 0; i++) if (b.getInt((int) shoff + i * shentsize + 4) != 8 && b.getLong((int) shoff + i * shentsize + 0x20) > 0) section = i;
        assertThat(section).as("a section with bytes").isPositive();
        Map<String, Integer> fields = Map.of("e_shnum", 0x3c, "e_phoff", 0x20, "sh_offset of section " + section, (int) shoff + section * shentsize + 0x18,
                "sh_size of section " + section, (int) shoff + section * shentsize + 0x20, "p_filesz of segment 0", (int) b.getLong(0x20) + 0x20);
        fields.forEach((name, at) -> {
            byte[] bad = elf.clone();
            ByteBuffer w = ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN);
            if (name.equals("e_shnum")) w.putShort(at, (short) (shnum + 1));
            else w.putLong(at, name.startsWith("sh_offset") || name.startsWith("e_phoff") ? elf.length : elf.length + 1L);
            assertThat(CudaModules.wholeElf(bad)).as(name + " beyond the end").isFalse();
        });
        byte[] big = elf.clone();
        ByteBuffer.wrap(big).order(ByteOrder.LITTLE_ENDIAN).putLong(0x28, Long.MAX_VALUE);
        assertThat(CudaModules.wholeElf(big)).as("e_shoff that overflows").isFalse();
        assertThat(CudaModules.wholeElf("not an ELF file, though long enough to hold an ELF header...........".getBytes())).as("text").isFalse();
    }

    /**
     * On a GPU (or the simulator): a cache entry cut short, one that is not ELF, and a whole ELF
     * header that the driver refuses are each compiled again, and the module loads.
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
            assertThat(CudaModules.wholeElf(good)).as("the cached image is a whole ELF file").isTrue();

            byte[] refused = new byte[64];   // an ELF header of a CUDA executable with nothing in it
            ByteBuffer r = ByteBuffer.wrap(refused).order(ByteOrder.LITTLE_ENDIAN);
            r.putInt(0, 0x464c457f).put(4, (byte) 2).put(5, (byte) 1).put(6, (byte) 1).putShort(16, (short) 2).putShort(18, (short) 190).putInt(20, 1).putShort(52, (short) 64);
            assertThat(CudaModules.wholeElf(refused)).as("the refused header is whole").isTrue();
            Map<String, byte[]> damages = Map.of("cut short", Arrays.copyOf(good, good.length / 2), "not ELF", "garbage".getBytes(), "refused by the driver", refused);
            for (Map.Entry<String, byte[]> d : damages.entrySet()) {
                Files.write(entry, d.getValue());
                try (CudaModules again = new CudaModules(cc, cache)) {
                    assertThat(again.function(file, kernel)).as("the module loads from a cache entry " + d.getKey()).isNotNull();
                }
                byte[] now = Files.readAllBytes(entry);
                assertThat(CudaModules.wholeElf(now) && !Arrays.equals(now, d.getValue())).as("the entry " + d.getKey() + " was replaced").isTrue();
            }
        }
    }
}
