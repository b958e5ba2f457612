package dev.panamax.moe.text;

import dev.panamax.runtime.io.Json;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every tokenizer case folder (the fixtures under {@code src/test/resources/tokenizer}, and every
 * folder under {@code -Dpanamax.reference.tokenizer=DIR}) against Hugging Face's own
 * {@code tokenizers} library: a folder holds a {@code tokenizer.json} (perhaps with
 * {@code tokenizer_config.json}) and a {@code cases.json} of the library's encodings, with and
 * without special tokens, and decodings, with and without skipping them (written by
 * {@code make_cases.mjs}). Each text is also encoded with the plain merge loop
 * ({@link Bpe#mergeReference}), which must give the same ids, and each decoding is also made a
 * token at a time ({@link HfTokenizer.DecodeStream}).
 */
class HfTokenizerReferenceTest {
    static List<Path> caseFolders() throws IOException, URISyntaxException {
        return CaseFolders.find("/tokenizer", "panamax.reference.tokenizer");
    }

    @TestFactory
    Stream<DynamicTest> everyCaseFolder() throws Exception {
        List<Path> folders = caseFolders();
        assertThat(folders).as("tokenizer case folders").hasSizeGreaterThanOrEqualTo(3);
        return folders.stream().map(d -> DynamicTest.dynamicTest(d.getFileName().toString(), () -> check(d)));
    }

    @SuppressWarnings("unchecked")
    static void check(Path dir) throws IOException {
        HfTokenizer tok = HfTokenizer.load(dir);
        Map<String, Object> cases = Json.parseObject(Files.readString(dir.resolve("cases.json")));
        List<Object> encode = (List<Object>) cases.get("encode"), decode = (List<Object>) cases.get("decode");
        assertThat(encode).as(dir + " encodings").isNotEmpty();
        List<String> failures = new ArrayList<>();
        for (Object o : encode) {
            Map<String, Object> c = (Map<String, Object>) o;
            String text = (String) c.get("text");
            long[] want = ids(c.get("ids")), wantPlain = ids(c.get("ids_no_special"));
            long[] got = tok.encode(text), gotPlain = tok.encode(text, false);
            if (!Arrays.equals(got, want)) failures.add("encode " + quote(text) + ": " + Arrays.toString(got) + ", expected " + Arrays.toString(want));
            if (!Arrays.equals(gotPlain, wantPlain)) failures.add("encode without special tokens " + quote(text) + ": " + Arrays.toString(gotPlain) + ", expected " + Arrays.toString(wantPlain));
            long[] reference = tok.encodeReference(text);
            if (!Arrays.equals(reference, gotPlain)) failures.add("plain merge loop " + quote(text) + ": " + Arrays.toString(reference) + ", heap " + Arrays.toString(gotPlain));
        }
        for (Object o : decode) {
            Map<String, Object> c = (Map<String, Object>) o;
            long[] ids = ids(c.get("ids"));
            String got = tok.decode(ids), gotSkip = tok.decode(ids, true);
            if (!got.equals(c.get("text"))) failures.add("decode " + Arrays.toString(ids) + ": " + quote(got) + ", expected " + quote((String) c.get("text")));
            if (!gotSkip.equals(c.get("text_skip_special"))) failures.add("decode skipping special " + Arrays.toString(ids) + ": " + quote(gotSkip) + ", expected " + quote((String) c.get("text_skip_special")));
            for (boolean skip : new boolean[] {false, true}) {   // a token at a time, as generation decodes
                HfTokenizer.DecodeStream stream = tok.decodeStream(skip);
                StringBuilder sb = new StringBuilder();
                for (long id : ids) sb.append(stream.next(id));
                sb.append(stream.flush());
                Object want = c.get(skip ? "text_skip_special" : "text");
                if (!sb.toString().equals(want)) failures.add("stream decode" + (skip ? " skipping special " : " ") + Arrays.toString(ids) + ": " + quote(sb.toString()) + ", expected " + quote((String) want));
            }
        }
        if (!failures.isEmpty()) {
            throw new AssertionError(dir + ": " + failures.size() + " of " + (3 * encode.size() + 4 * decode.size()) + " checks differ from the tokenizers library, first:\n  "
                    + String.join("\n  ", failures.subList(0, Math.min(12, failures.size()))));
        }
    }

    static long[] ids(Object list) {
        return ((List<?>) list).stream().mapToLong(x -> ((Number) x).longValue()).toArray();
    }

    static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        s.codePoints().forEach(cp -> {
            if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || Character.isWhitespace(cp) && cp != ' ' || cp == 0x2028 || cp == 0x85) sb.append(String.format("\\u%04x", cp));
            else sb.appendCodePoint(cp);
        });
        return sb.append('"').toString();
    }
}
