package dev.panamax.cuda;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Module images are checked before the driver, which is given no length, reads them: a cubin (ELF)
 * or fatbin cut short, or whose headers point past its end, is refused; PTX text passes. No GPU
 * needed: the check comes before any call into CUDA.
 */
class ModuleImageTest {
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
        assertThat(ModuleImage.problem(elf)).as("the whole file").isNull();
        for (int n = 4; n < elf.length; n += n < 128 ? 1 : 61) assertThat(ModuleImage.problem(Arrays.copyOf(elf, n))).as("the first %d bytes", n).isNotNull();
        assertThat(ModuleImage.problem(Arrays.copyOf(elf, elf.length - 1))).as("all but the last byte").contains("ELF file (cubin) that is cut short");
    }

    @Test
    void elfHeadersThatPointOutsideTheFileFail() throws IOException {
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
            assertThat(ModuleImage.problem(bad)).as(name + " beyond the end").isNotNull();
        });
        byte[] big = elf.clone();
        ByteBuffer.wrap(big).order(ByteOrder.LITTLE_ENDIAN).putLong(0x28, Long.MAX_VALUE);
        assertThat(ModuleImage.problem(big)).as("e_shoff that overflows").isNotNull();
    }

    /** A fatbin header (magic, version, header size, size of what follows) and that many bytes. */
    private static byte[] fatbin(int headerSize, long fatSize, int length) {
        byte[] f = new byte[length];
        ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 0xba55ed50).putShort(4, (short) 1).putShort(6, (short) headerSize).putLong(8, fatSize);
        return f;
    }

    @Test
    void aFatbinMustHoldWhatItsHeaderSays() {
        assertThat(ModuleImage.problem(fatbin(16, 100, 116))).as("whole").isNull();
        assertThat(ModuleImage.problem(fatbin(16, 100, 115))).as("one byte short").contains("more than its 115");
        assertThat(ModuleImage.problem(fatbin(8, 100, 116))).as("a header shorter than itself").isNotNull();
        assertThat(ModuleImage.problem(fatbin(16, -1, 116))).as("a size that overflows").isNotNull();
        assertThat(ModuleImage.problem(Arrays.copyOf(fatbin(16, 0, 16), 12))).as("cut within the header").contains("within its header");
    }

    @Test
    void ptxTextPasses() {
        assertThat(ModuleImage.problem(".version 8.0\n.target sm_90\n.address_size 64\n".getBytes(StandardCharsets.UTF_8))).isNull();
        assertThat(ModuleImage.problem(new byte[0])).isNull();
    }

    /** The public loader refuses a cut-short cubin before any call into CUDA, so this runs without a GPU. */
    @Test
    void loadRefusesACubinCutShortNamingIt() throws IOException {
        byte[] elf = someElf();
        assertThatThrownBy(() -> Cuda.Module.load(Arrays.copyOf(elf, elf.length / 2), "cut.cubin")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("module image cut.cubin").hasMessageContaining("cut short");
    }
}
