package dev.panamax.moe.text;

import java.util.Arrays;

/**
 * Hand-written matchers for the split regexes of DeepSeek-V3's tokenizer, used in place of
 * {@link java.util.regex.Pattern} when a {@code Split} pattern is one of them, character for
 * character. Each gives the matches {@link Regexes#matches} gives for its regex (compiled with
 * {@link java.util.regex.Pattern#UNICODE_CHARACTER_CLASS}): the leftmost match, the first
 * alternative that matches there, each quantifier as greedy as the rest allows; then on from its
 * end. {@code KnownPatternsTest} holds each to its regex over random text of every character
 * class. Pre-tokenizing is most of encoding, and these run several times faster than the regexes.
 */
final class KnownPatterns {
    /** DeepSeek-V3's first split: digits in groups of up to three. */
    static final String DIGITS_1_3 = "\\p{N}{1,3}";
    /** DeepSeek-V3's second split: runs of CJK ideographs (U+4E00-U+9FA5), hiragana and katakana. */
    static final String CJK_KANA = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+";
    /** DeepSeek-V3's third split: words, punctuation runs, newlines and spaces. */
    static final String DEEPSEEK_WORDS = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
            + "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

    /** Matches of one pattern in a string, as {@code [start, end)} pairs. */
    @FunctionalInterface
    interface Finder {
        int[] matches(String s);
    }

    private KnownPatterns() {}

    /**
     * The hand matcher of {@code regex}, or null when there is none. DeepSeek-V3's files write the
     * third split's {@code \r\n} as escapes inside the regex, not as the characters; both forms are
     * recognised.
     */
    static Finder of(String regex) {
        if (regex.equals(DIGITS_1_3)) return KnownPatterns::digits;
        if (regex.equals(CJK_KANA)) return KnownPatterns::cjk;
        if (regex.equals(DEEPSEEK_WORDS) || regex.equals(DEEPSEEK_WORDS.replace("\r", "\\r").replace("\n", "\\n"))) return KnownPatterns::deepseekWords;
        return null;
    }

    // character classes of the BMP, one bit each
    private static final int L = 1, M = 2, N = 4, P = 8, S = 16, WS = 32, ASCII_PUNCT = 64, ASCII_LETTER = 128;
    private static final byte[] CLASS = new byte[0x10000];

    static {
        for (int c = 0; c < 0x10000; c++) CLASS[c] = (byte) classOf(c);
    }

    private static int classOf(int cp) {
        int k = switch (Character.getType(cp)) {
            case Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER, Character.MODIFIER_LETTER,
                 Character.OTHER_LETTER -> L;
            case Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.COMBINING_SPACING_MARK -> M;
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> N;
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION, Character.END_PUNCTUATION,
                 Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION, Character.OTHER_PUNCTUATION -> P;
            case Character.MATH_SYMBOL, Character.CURRENCY_SYMBOL, Character.MODIFIER_SYMBOL, Character.OTHER_SYMBOL -> S;
            default -> 0;
        };
        if (Normalizers.isWhitespace(cp)) k |= WS;
        if (cp < 128 && "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".indexOf(cp) >= 0) k |= ASCII_PUNCT;
        if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z')) k |= ASCII_LETTER;
        return k;
    }

    private static int cls(int cp) {
        return cp < 0x10000 ? CLASS[cp] & 0xFF : classOf(cp);
    }

    /** Collects matches; grows as needed. */
    private static final class Out {
        int[] m = new int[16];
        int n;

        void add(int start, int end) {
            if (n + 2 > m.length) m = Arrays.copyOf(m, m.length * 2);
            m[n++] = start;
            m[n++] = end;
        }

        int[] done() {
            return Arrays.copyOf(m, n);
        }
    }

    static int[] digits(String s) {
        Out out = new Out();
        int i = 0, len = s.length();
        while (i < len) {
            int cp = s.codePointAt(i);
            if ((cls(cp) & N) == 0) {
                i += Character.charCount(cp);
                continue;
            }
            int start = i, count = 0;
            while (i < len && count < 3) {
                int c = s.codePointAt(i);
                if ((cls(c) & N) == 0) break;
                i += Character.charCount(c);
                count++;
            }
            out.add(start, i);
        }
        return out.done();
    }

    private static boolean isCjk(char c) {
        return (c >= '\u4e00' && c <= '\u9fa5') || (c >= '\u3040' && c <= '\u309f') || (c >= '\u30a0' && c <= '\u30ff');
    }

    static int[] cjk(String s) {
        Out out = new Out();
        int i = 0, len = s.length();
        while (i < len) {
            if (!isCjk(s.charAt(i))) {
                i++;
                continue;
            }
            int start = i;
            while (i < len && isCjk(s.charAt(i))) i++;
            out.add(start, i);
        }
        return out.done();
    }

    /** The end of the run of code points from {@code i} whose class has a bit of {@code mask}. */
    private static int run(String s, int i, int mask) {
        int len = s.length();
        while (i < len) {
            int cp = s.codePointAt(i);
            if ((cls(cp) & mask) == 0) break;
            i += Character.charCount(cp);
        }
        return i;
    }

    static int[] deepseekWords(String s) {
        Out out = new Out();
        int i = 0, len = s.length();
        while (i < len) {
            int end = deepseekWordAt(s, i);
            if (end > i) {
                out.add(i, end);
                i = end;
            } else {
                i += Character.charCount(s.codePointAt(i));
            }
        }
        return out.done();
    }

    /** The end of the match at {@code p}, or {@code p} when no alternative matches there. */
    private static int deepseekWordAt(String s, int p) {
        int len = s.length();
        int c0 = s.codePointAt(p), k0 = cls(c0), p1 = p + Character.charCount(c0);
        int c1 = p1 < len ? s.codePointAt(p1) : -1, k1 = c1 < 0 ? 0 : cls(c1);
        // [!"#...~][A-Za-z]+
        if ((k0 & ASCII_PUNCT) != 0 && (k1 & ASCII_LETTER) != 0) return run(s, p1, ASCII_LETTER);
        // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
        boolean optional = c0 != '\r' && c0 != '\n' && (k0 & (L | P | S)) == 0;
        if (optional && (k1 & (L | M)) != 0) return run(s, p1, L | M);
        if ((k0 & (L | M)) != 0) return run(s, p1, L | M);
        // " ?[\p{P}\p{S}]+[\r\n]*"
        int q = c0 == ' ' && (k1 & (P | S)) != 0 ? p1 : p;
        if ((cls(s.codePointAt(q)) & (P | S)) != 0) {
            int e = run(s, q, P | S);
            while (e < len && (s.charAt(e) == '\r' || s.charAt(e) == '\n')) e++;
            return e;
        }
        if ((k0 & WS) == 0) return p;
        int w = run(s, p, WS);
        // \s*[\r\n]+ : up to the last CR or LF of the whitespace run
        for (int j = w - 1; j >= p; j--) {
            char c = s.charAt(j);
            if (c == '\r' || c == '\n') return j + 1;
        }
        // \s+(?!\S), then \s+
        if (w == len) return w;
        int last = w - Character.charCount(s.codePointBefore(w));
        return last > p ? last : w;
    }
}
