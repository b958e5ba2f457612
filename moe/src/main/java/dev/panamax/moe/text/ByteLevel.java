package dev.panamax.moe.text;

import java.nio.ByteBuffer;
import java.nio.charset.CodingErrorAction;
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
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        char[] out = new char[utf8.length];
        for (int i = 0; i < utf8.length; i++) out[i] = BYTE_TO_CHAR[utf8[i] & 0xFF];
        return new String(out);
    }

    /** Appends the bytes {@code token} stands for; false (nothing appended) when a character is outside the alphabet. */
    static boolean appendBytes(String token, java.io.ByteArrayOutputStream out) {
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c >= CHAR_TO_BYTE.length || CHAR_TO_BYTE[c] < 0) return false;
        }
        for (int i = 0; i < token.length(); i++) out.write(CHAR_TO_BYTE[token.charAt(i)]);
        return true;
    }

    /** UTF-8 decoding that replaces each malformed sequence by U+FFFD, as Rust's {@code from_utf8_lossy}. */
    static String lossyUtf8(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPLACE)
                    .onUnmappableCharacter(CodingErrorAction.REPLACE).replaceWith("\uFFFD").decode(ByteBuffer.wrap(bytes)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new AssertionError("a replacing decoder cannot fail", e);
        }
    }
}
