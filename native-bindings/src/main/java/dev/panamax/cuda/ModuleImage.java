package dev.panamax.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Checks a module image before the driver sees it. {@code cuModuleLoadData} is given no length:
 * it finds a cubin's or a fatbin's extent in the image's own headers, so an image cut short (a
 * truncated cache file, say) would be read past its end. PTX text needs no check, since
 * {@link Cuda.Module#load} ends it with a NUL.
 */
final class ModuleImage {
    private static final int ELF_MAGIC = 0x464c457f;        // "\x7fELF", little-endian
    private static final int FATBIN_MAGIC = 0xba55ed50;     // fatbinary_section.h's fatBinaryHeader.magic

    private ModuleImage() {
    }

    /** What is wrong with {@code image}, or null: an ELF file (cubin) or a fatbin must lie whole within its bytes. */
    static String problem(byte[] image) {
        if (image.length < 4) return null;
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt(0) == ELF_MAGIC) return wholeElf(b) ? null : "an ELF file (cubin) that is cut short or whose headers point past its " + image.length + " bytes";
        if (b.getInt(0) == FATBIN_MAGIC) {
            // magic (4), version (2), header size (2), size of what follows the header (8)
            if (image.length < 16) return "a fatbin cut short within its header";
            int headerSize = Short.toUnsignedInt(b.getShort(6));
            long fatSize = b.getLong(8);
            return headerSize >= 16 && within(headerSize, fatSize, image.length) ? null
                    : "a fatbin whose header gives " + headerSize + " + " + Long.toUnsignedString(fatSize) + " bytes, more than its " + image.length;
        }
        return null;
    }

    /**
     * Whether b holds a whole 64-bit little-endian ELF file: its program and section header tables,
     * and every section and segment they name, lie within its bytes.
     */
    private static boolean wholeElf(ByteBuffer b) {
        int length = b.capacity();
        if (length < 64 || b.getInt(0) != ELF_MAGIC || b.get(4) != 2 || b.get(5) != 1) return false;
        long phoff = b.getLong(0x20), shoff = b.getLong(0x28);
        int phentsize = Short.toUnsignedInt(b.getShort(0x36)), phnum = Short.toUnsignedInt(b.getShort(0x38));
        int shentsize = Short.toUnsignedInt(b.getShort(0x3a)), shnum = Short.toUnsignedInt(b.getShort(0x3c));
        if ((phnum > 0 && phentsize < 56) || (shnum > 0 && shentsize < 64)) return false;
        if (!within(phoff, (long) phentsize * phnum, length) || !within(shoff, (long) shentsize * shnum, length)) return false;
        for (int i = 0; i < phnum; i++) {
            int h = (int) phoff + i * phentsize;
            if (!within(b.getLong(h + 0x08), b.getLong(h + 0x20), length)) return false;   // p_offset, p_filesz
        }
        for (int i = 0; i < shnum; i++) {
            int h = (int) shoff + i * shentsize;
            boolean noBits = b.getInt(h + 0x04) == 8;   // SHT_NOBITS: no bytes in the file
            if (!noBits && !within(b.getLong(h + 0x18), b.getLong(h + 0x20), length)) return false;   // sh_offset, sh_size
        }
        return true;
    }

    private static boolean within(long offset, long size, long length) {
        return offset >= 0 && size >= 0 && offset <= length && size <= length - offset;
    }
}
