package dev.panamax.moe.text;

import dev.panamax.runtime.io.Json;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Each hand matcher of {@link KnownPatterns} against its regex ({@link Regexes#matches}, the
 * specification) over random text drawn from every class the regexes tell apart: ASCII
 * punctuation and letters, letters, marks, numbers of the three kinds, punctuation, symbols, every
 * whitespace character, CR and LF, controls, CJK and kana at the ranges' edges, supplementary
 * letters, digits, symbols and emoji, and lone surrogates.
 */
class KnownPatternsTest {
    static final int[] POOL = {
        '!', '"', '#', '\'', '-', '.', '@', '[', '\\', ']', '^', '_', '`', '{', '|', '}', '~', 'a', 'z', 'A', 'Z', 'q',
        '0', '7', '٣', '²', '½', 'Ⅻ', '〇', 'é', 'ß', 'Ω', 'ж', 'ع', 'ǅ', 'ʰ', 0x0301, 0x0903, 0x20DD, '¡', '«', '»', '–', '、', '。',
        '$', '+', '<', '=', '>', '€', '©', '∑', '→', '^', ' ', ' ', ' ', '\t', '\n', '\r', 0x0B, 0x0C, 0x85, 0xA0, 0x1680, 0x2000,
        0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0x200B, 0x180E, 0xFEFF, 0x00, 0x1F, 0x7F, 0x4E00, 0x9FA5, 0x9FA6, 0x3040,
        0x309F, 0x30A0, 0x30FF, 0x3100, '深', 'の', 'カ', 'ー', '한', 0x1D400, 0x1D7CE, 0x10400, 0x1F642, 0x1F469, 0x200D, 0x1F4BB,
        0x1D11E, 0x20000, 0xD800, 0xDC00, 0xE000, 0xFFFD};

    static String random(Random r, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            int cp = POOL[r.nextInt(POOL.length)];
            if (Character.isSurrogate((char) cp) && cp < 0x10000) sb.append((char) cp);
            else sb.appendCodePoint(cp);
            if (r.nextInt(6) == 0) sb.append(" ".repeat(r.nextInt(3)));
        }
        return sb.toString();
    }

    @Test
    void eachHandMatcherFindsWhatItsRegexFinds() {
        Random r = new Random(2026);
        for (String regex : List.of(KnownPatterns.DIGITS_1_3, KnownPatterns.CJK_KANA, KnownPatterns.DEEPSEEK_WORDS,
                KnownPatterns.DEEPSEEK_WORDS.replace("\r", "\\r").replace("\n", "\\n"))) {
            KnownPatterns.Finder hand = KnownPatterns.of(regex);
            assertThat(hand).as(regex).isNotNull();
            Pattern p = Regexes.compile(regex, "test");
            for (int t = 0; t < 20_000; t++) {
                String s = random(r, r.nextInt(t < 19_000 ? 12 : 200));
                int[] want = Regexes.matches(p, s), got = hand.matches(s);
                if (!Arrays.equals(got, want)) {
                    StringBuilder cps = new StringBuilder();
                    s.chars().forEach(c -> cps.append(String.format("%04x ", c)));
                    throw new AssertionError(regex + " on [" + cps + "]: " + Arrays.toString(got) + ", the regex gives " + Arrays.toString(want));
                }
            }
        }
        assertThat(KnownPatterns.of("\\p{N}{1,2}")).isNull();
    }

    @Test
    @SuppressWarnings("unchecked")
    void deepSeekV3sSplitsAreAllKnown() throws Exception {
        Map<String, Object> tok = (Map<String, Object>) Json.parse(Files.readString(HfTokenizerTest.fixture("deepseek-v3").resolve("tokenizer.json")));
        List<Object> stages = (List<Object>) ((Map<String, Object>) tok.get("pre_tokenizer")).get("pretokenizers");
        List<String> regexes = new ArrayList<>();
        for (Object st : stages) {
            Map<String, Object> m = (Map<String, Object>) st;
            if (m.get("type").equals("Split")) regexes.add((String) ((Map<String, Object>) m.get("pattern")).get("Regex"));
        }
        assertThat(regexes).hasSize(3).allSatisfy(re -> assertThat(KnownPatterns.of(re)).as(re).isNotNull());
    }
}
