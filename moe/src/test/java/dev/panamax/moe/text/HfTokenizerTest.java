package dev.panamax.moe.text;

import dev.panamax.runtime.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The tokenizer's own properties beside {@link HfTokenizerReferenceTest}: the heap merge against
 * the plain loop on merge lists in any order, byte-level round trips, long inputs, threads,
 * transformers' BOS/EOS settings, and a clear error naming the file and the field for each kind
 * of bad {@code tokenizer.json}.
 */
class HfTokenizerTest {
    @TempDir
    Path tmp;

    static Path fixture(String name) throws Exception {
        return Path.of(HfTokenizerTest.class.getResource("/tokenizer/" + name).toURI());
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> json(Path file) throws IOException {
        return (Map<String, Object>) Json.parse(Files.readString(file));
    }

    Path write(String folder, Map<String, Object> tokenizer, Map<String, Object> config) throws IOException {
        Path d = Files.createDirectories(tmp.resolve(folder));
        Files.writeString(d.resolve("tokenizer.json"), Json.write(tokenizer));
        if (config != null) Files.writeString(d.resolve("tokenizer_config.json"), Json.write(config));
        return d;
    }

    /** A BPE over {a, b, c, d} whose merges come in a shuffled order, so later merges may outrank their parts. */
    static Map<String, Object> randomBpe(Random r, int merges) {
        Map<String, Object> vocab = new LinkedHashMap<>();
        List<String> tokens = new ArrayList<>(List.of("a", "b", "c", "d"));
        for (String t : tokens) vocab.put(t, (long) vocab.size());
        List<Object> list = new ArrayList<>();
        while (list.size() < merges) {
            String x = tokens.get(r.nextInt(tokens.size())), y = tokens.get(r.nextInt(tokens.size()));
            if (x.length() + y.length() > 6 || vocab.containsKey(x + y)) continue;
            vocab.put(x + y, (long) vocab.size());
            tokens.add(x + y);
            list.add(List.of(x, y));
        }
        java.util.Collections.shuffle(list, r);
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("vocab", vocab);
        model.put("merges", list);
        Map<String, Object> tok = new LinkedHashMap<>();
        tok.put("model", model);
        return tok;
    }

    @Test
    void heapMergeEqualsThePlainLoopForMergesInAnyOrder() throws IOException {
        Random r = new Random(7);
        int words = 0;
        for (int trial = 0; trial < 20; trial++) {
            HfTokenizer tok = HfTokenizer.load(write("random" + trial, randomBpe(r, 10 + r.nextInt(60)), null));
            for (int w = 0; w < 300; w++) {
                StringBuilder sb = new StringBuilder();
                int n = 1 + r.nextInt(r.nextBoolean() ? 8 : 80);
                for (int i = 0; i < n; i++) sb.append("abcd".charAt(r.nextInt(r.nextBoolean() ? 2 : 4)));
                int[] symbols = tok.bpe().symbols(sb.toString());
                int[] heap = tok.bpe().merge(symbols), plain = tok.bpe().mergeReference(symbols);
                assertThat(heap).as("word " + sb).containsExactly(plain);
                StringBuilder back = new StringBuilder();
                for (int id : heap) back.append(tok.bpe().token(id));
                assertThat(back.toString()).isEqualTo(sb.toString());
                words++;
            }
        }
        assertThat(words).isEqualTo(6000);
    }

    @Test
    void byteLevelEncodingIsLosslessAndLongInputsAreFine() throws Exception {
        HfTokenizer tok = HfTokenizer.load(fixture("deepseek-v3"));
        Random r = new Random(3);
        String alphabet = "ab Z9 \t\n深求のカП🙂é\u0301.,!'\u00a0\u3000";
        for (int t = 0; t < 300; t++) {
            StringBuilder sb = new StringBuilder();
            int n = r.nextInt(60);
            for (int i = 0; i < n; i++) sb.appendCodePoint(alphabet.codePoints().toArray()[r.nextInt((int) alphabet.codePoints().count())]);
            String text = sb.toString();
            assertThat(tok.decode(tok.encode(text, false))).isEqualTo(text);
            assertThat(tok.decode(tok.encode(text), true)).isEqualTo(text);
        }
        for (String big : new String[] {"x".repeat(1 << 20), " ".repeat(1 << 20), "7".repeat(1 << 20), "深".repeat(1 << 18),
                "ab ".repeat(1 << 18), "\n".repeat(1 << 18) + "x", "!?".repeat(1 << 18)}) {
            long[] ids = tok.encode(big, false);
            assertThat(ids.length).isPositive();
            assertThat(tok.decode(ids)).isEqualTo(big);
        }
    }

    @Test
    void aDecodeStreamGivesEachCharacterAsSoonAsItIsComplete() throws Exception {
        HfTokenizer tok = HfTokenizer.load(fixture("deepseek-v3"));
        Random r = new Random(11);
        String alphabet = "ab Z9\n深求のПé🙂👩\u200d💻";
        int[] cps = alphabet.codePoints().toArray();
        int checked = 0;
        for (int t = 0; t < 200; t++) {
            StringBuilder sb = new StringBuilder();
            for (int i = r.nextInt(30); i > 0; i--) sb.appendCodePoint(cps[r.nextInt(cps.length)]);
            long[] ids = tok.encode(sb.toString());
            HfTokenizer.DecodeStream stream = tok.decodeStream(false);
            StringBuilder emitted = new StringBuilder();
            for (int k = 0; k < ids.length; k++) {
                emitted.append(stream.next(ids[k]));
                String prefix = tok.decode(Arrays.copyOf(ids, k + 1));
                // a prefix that decodes cleanly ends on a character boundary: all of it is out
                if (!prefix.contains("\uFFFD")) {
                    assertThat(emitted.toString()).as("after %d of %s", k + 1, Arrays.toString(ids)).isEqualTo(prefix);
                    checked++;
                }
            }
            assertThat(emitted.append(stream.flush()).toString()).isEqualTo(tok.decode(ids));
        }
        assertThat(checked).isGreaterThan(1000);
    }

    @Test
    void threadsShareOneTokenizer() throws Exception {
        HfTokenizer tok = HfTokenizer.load(fixture("qwen2"));
        List<String> texts = new ArrayList<>();
        Random r = new Random(5);
        for (int i = 0; i < 400; i++) texts.add("word" + r.nextInt(500) + " Hello, 世界 " + r.nextInt(1000) + " <|im_end|>");
        List<long[]> want = texts.stream().map(tok::encode).toList();
        HfTokenizer fresh = HfTokenizer.load(fixture("qwen2"));
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Boolean>> all = new ArrayList<>();
            for (int th = 0; th < 4; th++) {
                int offset = th;
                all.add(pool.submit(() -> {
                    for (int k = 0; k < texts.size(); k++) {
                        int i = (k * 7 + offset * 101) % texts.size();
                        if (!Arrays.equals(fresh.encode(texts.get(i)), want.get(i))) return false;
                    }
                    return true;
                }));
            }
            for (Future<Boolean> f : all) assertThat(f.get()).isTrue();
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void aBatchEncodesAsEachTextAlone() throws Exception {
        HfTokenizer tok = HfTokenizer.load(fixture("deepseek-v3"));
        Random r = new Random(9);
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 300; i++) texts.add("<｜User｜>" + "word ".repeat(r.nextInt(200)) + r.nextInt() + " 深度求索");
        int was = dev.panamax.runtime.Parallel.threads();
        try {
            for (int threads : new int[] {1, 3}) {
                dev.panamax.runtime.Parallel.setThreads(threads);
                for (boolean special : new boolean[] {true, false}) {
                    List<long[]> batch = tok.encodeBatch(texts, special);
                    assertThat(batch).hasSize(texts.size());
                    for (int i = 0; i < texts.size(); i++) assertThat(batch.get(i)).containsExactly(tok.encode(texts.get(i), special));
                }
            }
            assertThat(tok.encodeBatch(List.of(), true)).isEmpty();
        } finally {
            dev.panamax.runtime.Parallel.setThreads(was);
        }
    }

    @Test
    void llamaClassSettingsOfTokenizerConfigDecideBosAndEos() throws Exception {
        Map<String, Object> tok = json(fixture("deepseek-v3").resolve("tokenizer.json"));
        tok.put("post_processor", Map.of("type", "ByteLevel", "add_prefix_space", true, "trim_offsets", false, "use_regex", true));
        Map<String, Object> cfg = json(fixture("deepseek-v3").resolve("tokenizer_config.json"));
        HfTokenizer plain = HfTokenizer.load(write("noconfig", tok, null));
        long[] body = plain.encode("Hi there", true);
        assertThat(plain.bosId()).isEmpty();

        HfTokenizer bos = HfTokenizer.load(write("bos", tok, cfg));
        assertThat(bos.bosId()).hasValue(0);
        assertThat(bos.eosId()).hasValue(1);
        assertThat(bos.encode("Hi there")).startsWith(0).endsWith(body).hasSize(body.length + 1);
        assertThat(bos.encode("Hi there", false)).containsExactly(body);

        cfg.put("add_eos_token", true);
        assertThat(HfTokenizer.load(write("both", tok, cfg)).encode("Hi there")).startsWith(0).endsWith(1).hasSize(body.length + 2);
        cfg.put("add_bos_token", false);
        cfg.put("add_eos_token", false);
        assertThat(HfTokenizer.load(write("neither", tok, cfg)).encode("Hi there")).containsExactly(body);
        cfg.remove("add_bos_token");
        cfg.remove("add_eos_token");
        assertThat(HfTokenizer.load(write("default", tok, cfg)).encode("Hi there")).as("LlamaTokenizerFast adds BOS by default").startsWith(0).hasSize(body.length + 1);
    }

    @Test
    @SuppressWarnings("unchecked")
    void badTokenizerFilesAreRefusedNamingTheFileAndTheField() throws Exception {
        Path good = fixture("deepseek-v3");
        Map<String, Object> base = json(good.resolve("tokenizer.json"));
        record Bad(String name, java.util.function.Consumer<Map<String, Object>> edit, String message) {}
        List<Bad> bad = List.of(
                new Bad("nomodel", t -> t.remove("model"), "tokenizer.json: model: must be an object"),
                new Bad("wordpiece", t -> model(t).put("type", "WordPiece"), "model.type: model WordPiece is not supported"),
                new Bad("unknownmerge", t -> ((List<Object>) model(t).get("merges")).set(3, List.of("Ġ", "nosuch")), "model.merges[3]: merge \"Ġ\" + \"nosuch\" uses a token outside the vocabulary: \"nosuch\""),
                new Bad("badmerge", t -> ((List<Object>) model(t).get("merges")).set(0, "a b c"), "model.merges[0]: a merge must be two tokens separated by one space"),
                new Bad("dupid", t -> vocab(t).put("zzz", vocab(t).get("Ġ")), "is given to both"),
                new Bad("sparse", t -> vocab(t).put("zzz", 2_000_000_000L), "model.vocab: ids are too sparse"),
                new Bad("negative", t -> vocab(t).put("zzz", -4L), "model.vocab: id -4 of \"zzz\" is out of range"),
                new Bad("fallback", t -> model(t).put("byte_fallback", true), "model.byte_fallback: byte fallback"),
                new Bad("unk", t -> model(t).put("unk_token", "<unk>"), "model.unk_token: \"<unk>\" is not in the vocabulary"),
                new Bad("metaspace", t -> ((List<Object>) ((Map<String, Object>) t.get("pre_tokenizer")).get("pretokenizers")).set(1, Map.of("type", "Metaspace")),
                        "pre_tokenizer.pretokenizers[1].type: pre-tokenizer Metaspace is not supported"),
                new Bad("regex", t -> ((Map<String, Object>) ((Map<String, Object>) ((List<Object>) ((Map<String, Object>) t.get("pre_tokenizer")).get("pretokenizers")).get(0)).get("pattern")).put("Regex", "(unclosed"),
                        "pre_tokenizer.pretokenizers[0].pattern.Regex: regex (unclosed is not supported"),
                new Bad("behavior", t -> ((Map<String, Object>) ((List<Object>) ((Map<String, Object>) t.get("pre_tokenizer")).get("pretokenizers")).get(0)).put("behavior", "Sideways"),
                        "pre_tokenizer.pretokenizers[0].behavior: unknown split behavior \"Sideways\""),
                new Bad("normalizer", t -> t.put("normalizer", Map.of("type", "Precompiled")), "normalizer.type: normalizer Precompiled is not supported"),
                new Bad("decoder", t -> t.put("decoder", Map.of("type", "Metaspace")), "decoder.type: decoder Metaspace is not supported"),
                new Bad("template", t -> ((Map<String, Object>) t.get("post_processor")).put("special_tokens", Map.of()), "post_processor.special_tokens: has no \"<｜begin▁of▁sentence｜>\""),
                new Bad("addedid", t -> ((Map<String, Object>) ((List<Object>) t.get("added_tokens")).get(4)).put("id", 0L), "added_tokens[4].id: 0 is given to both"),
                new Bad("addedcontent", t -> ((Map<String, Object>) ((List<Object>) t.get("added_tokens")).get(2)).remove("content"), "added_tokens[2].content: is missing"));
        for (Bad b : bad) {
            Map<String, Object> t = json(good.resolve("tokenizer.json"));
            b.edit().accept(t);
            Path d = write(b.name(), t, null);
            assertThatThrownBy(() -> HfTokenizer.load(d)).as(b.name()).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(d.resolve("tokenizer.json").toString()).hasMessageContaining(b.message());
        }
        Path trunc = Files.createDirectories(tmp.resolve("truncated"));
        String text = Files.readString(good.resolve("tokenizer.json"));
        Files.writeString(trunc.resolve("tokenizer.json"), text.substring(0, text.length() / 2));
        assertThatThrownBy(() -> HfTokenizer.load(trunc)).hasMessageContaining(trunc.resolve("tokenizer.json") + ": invalid JSON");
        assertThatThrownBy(() -> HfTokenizer.load(tmp.resolve("nothing"))).hasMessageContaining("no tokenizer.json here");
        Path huge = Files.createDirectories(tmp.resolve("huge")).resolve("tokenizer.json");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(huge.toFile(), "rw")) {
            f.setLength(HfTokenizer.MAX_FILE_BYTES + 1);   // sparse: nothing is written
        }
        assertThatThrownBy(() -> HfTokenizer.load(huge)).hasMessageContaining(huge + ": 67108865 bytes is more than a tokenizer file can be");

        Map<String, Object> cfg = json(good.resolve("tokenizer_config.json"));
        cfg.put("bos_token", "<nope>");
        Path c = write("badbos", base, cfg);
        assertThatThrownBy(() -> HfTokenizer.load(c)).hasMessageContaining("tokenizer_config.json: bos_token: \"<nope>\" is not a token of the vocabulary");
        cfg.put("bos_token", null);
        Path c2 = write("nobos", base, cfg);
        assertThatThrownBy(() -> HfTokenizer.load(c2)).hasMessageContaining("tokenizer_config.json: bos_token: is needed: add_bos_token is true");
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> model(Map<String, Object> t) {
        return (Map<String, Object>) t.get("model");
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> vocab(Map<String, Object> t) {
        return (Map<String, Object>) model(t).get("vocab");
    }
}
