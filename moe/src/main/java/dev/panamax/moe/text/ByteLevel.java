package dev.panamax.moe.text;

import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * GPT-2's byte-level alphabet: each of the 256 byte values stands for one printable character
 * (the printable Latin-1 bytes for themselves, the others for U+0100 upwards), so that any UTF-8
 * text is a string over 256 symbols.
 */
final class ByteLevel {
    /** The character that stands for each byte. */
    static final char[] BYTE_TO_CHAR = new char[256];
    /** The byte each character stands for, or -1 (indexed by char, below U+0200). */
    private static final short[] CHAR_TO_BYTE = new short[0x200];
    /** GPT-2's split, which {@code ByteLevel} with {@code use_regex} applies. */
    static final Pattern GPT2_SPLIT = Regexes.compile("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", "the ByteLevel split");

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, (short) -1);
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + n++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = (short) b;
        }
    }

    private ByteLevel() {}

    /** The UTF-8 bytes of {@code s}, each written as its character. */
    static String encode(String s) {
        int n = s.length();
        char[] ascii = new char[n];
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x80) return encodeUtf8(s);
            ascii[i] = BYTE_TO_CHAR[c];
        }
        return new String(ascii);
    }

    private static String encodeUtf8(String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        char[] out = new char[utf8.length];
        for (int i = 0; i < utf8.length; i++) out[i] = BYTE_TO_CHAR[utf8[i] & 0xFF];
        return new String(out);
    }

    /**
     * The bytes {@code token} stands for; a token with a character outside the alphabet (an added
     * token such as DeepSeek's {@code <｜User｜>}) stands for its own UTF-8 bytes, as the Rust
     * library's decoder has it.
     */
    static byte[] bytes(String token) {
        byte[] out = new byte[token.length()];
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c >= CHAR_TO_BYTE.length || CHAR_TO_BYTE[c] < 0) return token.getBytes(StandardCharsets.UTF_8);
            out[i] = (byte) CHAR_TO_BYTE[c];
        }
        return out;
    }

    /**
     * UTF-8 decoding that replaces each malformed sequence by U+FFFD, as Rust's
     * {@code from_utf8_lossy} does (both replace each maximal invalid subpart, Unicode's advice).
     */
    static String lossyUtf8(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
