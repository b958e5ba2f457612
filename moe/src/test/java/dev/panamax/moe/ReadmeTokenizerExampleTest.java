package dev.panamax.moe;

import dev.panamax.moe.text.ChatTemplate;
import dev.panamax.moe.text.HfTokenizer;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The README's tokenizer example, verbatim between the markers (checked by ReadmeExamplesTest in runtime). */
class ReadmeTokenizerExampleTest {
    static String tokenizerExample(Path checkpointDir) {
        // README-BEGIN tokenizerExample
        HfTokenizer tok = HfTokenizer.load(checkpointDir);                  // tokenizer.json (+ tokenizer_config.json)
        try (Scope scope = Scope.open();
             DeepSeekModel model = DeepSeekModel.load(checkpointDir, false)) {
            long[] prompt = tok.encodeChat(List.of(                         // laid out by the chat template
                    ChatTemplate.message("user", "1 + 1 = ?")), true);      // "<｜begin▁of▁sentence｜><｜User｜>1 + 1 = ?<｜Assistant｜>"
            Generator.Result r = Generator.generate(model, List.of(prompt), 16,
                    Set.of(tok.eosId().orElseThrow()), Sampler.greedy(), Mla.ABSORBED);
            return tok.decode(r.completions().get(0), true);                // special tokens left out
        }
        // README-END tokenizerExample
    }

    @Test
    void exampleRuns(@TempDir Path dir) throws Exception {
        // the first reference checkpoint (vocabulary 256) with a byte-level tokenizer of DeepSeek's special tokens
        try (Stream<Path> files = Files.list(GenerationTest.firstCase())) {
            for (Path f : files.toList()) if (Files.isRegularFile(f)) Files.copy(f, dir.resolve(f.getFileName()));
        }
        Map<String, Object> vocab = new LinkedHashMap<>();
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = (char) (printable ? b : 256 + n++);
            if (b >= 4) vocab.put(String.valueOf(c), (long) b);
        }
        String[] special = {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"};
        List<Object> added = new java.util.ArrayList<>();
        for (int i = 0; i < special.length; i++) {
            vocab.put(special[i], (long) i);
            added.add(Map.of("id", (long) i, "content", special[i], "special", i < 2, "normalized", false));
        }
        Map<String, Object> tok = new LinkedHashMap<>();
        tok.put("added_tokens", added);
        tok.put("pre_tokenizer", Map.of("type", "ByteLevel", "add_prefix_space", false, "use_regex", true));
        tok.put("decoder", Map.of("type", "ByteLevel"));
        tok.put("model", Map.of("type", "BPE", "vocab", vocab, "merges", List.of()));
        Files.writeString(dir.resolve("tokenizer.json"), Json.write(tok));
        String template = Files.readString(Path.of(ReadmeTokenizerExampleTest.class.getResource("/chat/models/templates/deepseek-v3-oneline.jinja").toURI()));
        Files.writeString(dir.resolve("tokenizer_config.json"), Json.write(Map.of("tokenizer_class", "LlamaTokenizerFast",
                "add_bos_token", true, "bos_token", special[0], "eos_token", special[1], "chat_template", template)));

        HfTokenizer t = HfTokenizer.load(dir);
        assertThat(t.encode("<｜User｜>1")).containsExactly(0, 2, '1');
        assertThat(t.applyChatTemplate(List.of(ChatTemplate.message("user", "1 + 1 = ?")), true)).isEqualTo("<｜begin▁of▁sentence｜><｜User｜>1 + 1 = ?<｜Assistant｜>");
        long before = Scope.offHeapBytes();
        String completion = tokenizerExample(dir);
        assertThat(completion).doesNotContain("<｜end▁of▁sentence｜>");
        try (Scope scope = Scope.open(); DeepSeekModel model = DeepSeekModel.load(dir, false)) {
            long[] ids = Generator.generate(model, List.of(t.encode("<｜User｜>1 + 1 = ?<｜Assistant｜>")), 16, Set.of(1L), Sampler.greedy(), Mla.ABSORBED)
                    .completions().getFirst();
            assertThat(completion).isEqualTo(t.decode(ids, true));
        }
        assertThat(Scope.offHeapBytes()).isEqualTo(before);
    }
}
