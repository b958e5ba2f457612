package dev.panamax.grpo;

import dev.panamax.moe.DeepSeekModel;
import dev.panamax.moe.text.HfTokenizer;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Scope;
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

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** GRPO with a Hugging Face tokenizer: BOS on prompts, completions cut at EOS, special tokens out, R1's tags in. */
class HuggingFaceTokenizerTest {
    @TempDir
    Path dir;

    /** Bytes as ids 0-255 (GPT-2's alphabet), a few merges, then R1-style added tokens. */
    Path write(boolean withEos) throws IOException {
        Map<String, Object> vocab = new LinkedHashMap<>();
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            vocab.put(String.valueOf((char) (printable ? b : 256 + n++)), (long) b);
        }
        vocab.put("an", 256L);
        vocab.put("answer", 257L);
        vocab.put("ans", 258L);
        vocab.put("answ", 259L);
        vocab.put("answe", 260L);
        List<Object> added = new ArrayList<>();
        String[][] tokens = {{"<bos>", "true"}, {"<eos>", "true"}, {"<think>", "false"}, {"</think>", "false"}};
        for (int i = 0; i < tokens.length; i++) {
            added.add(Map.of("id", (long) (261 + i), "content", tokens[i][0], "special", Boolean.parseBoolean(tokens[i][1]),
                    "single_word", false, "lstrip", false, "rstrip", false, "normalized", false));
        }
        Map<String, Object> tok = new LinkedHashMap<>();
        tok.put("added_tokens", added);
        tok.put("pre_tokenizer", Map.of("type", "ByteLevel", "add_prefix_space", false, "use_regex", true));
        tok.put("decoder", Map.of("type", "ByteLevel"));
        tok.put("model", Map.of("type", "BPE", "vocab", vocab, "merges", List.of("a n", "an s", "ans w", "answ e", "answe r")));
        Path d = Files.createDirectories(dir.resolve(withEos ? "with" : "without"));
        Files.writeString(d.resolve("tokenizer.json"), Json.write(tok));
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("tokenizer_class", "LlamaTokenizerFast");
        cfg.put("bos_token", Map.of("content", "<bos>"));
        if (withEos) cfg.put("eos_token", "<eos>");
        Files.writeString(d.resolve("tokenizer_config.json"), Json.write(cfg));
        return d;
    }

    @Test
    void promptsGetBosAndCompletionsStopAtEos() throws IOException {
        HfTokenizer hf = HfTokenizer.load(write(true));
        Tokenizer tok = Tokenizer.huggingFace(hf);
        assertThat(tok.eosId()).isEqualTo(262);
        assertThat(tok.encode("answer: 7")).containsExactly(261, 257, ':', ' ', '7');
        long[] completion = {263, 'x', 264, 257, 261, 262, 'y', 'z'};
        assertThat(tok.decode(completion)).isEqualTo("<think>x</think>answer");
        assertThat(tok.decode(new long[] {'o', 'k'})).isEqualTo("ok");
        assertThatThrownBy(() -> Tokenizer.huggingFace(HfTokenizer.load(write(false)))).hasMessageContaining("tokenizer_config.json: no eos_token");
    }

    @Test
    void aGrpoStepRunsOnTextThroughTheTokenizer() throws IOException {
        HfTokenizer hf = HfTokenizer.load(write(true));
        Tokenizer tok = Tokenizer.huggingFace(hf);
        List<String> seen = new ArrayList<>();
        Reward saw = (prompt, completion) -> {
            synchronized (seen) {
                seen.add(completion);
            }
            return new Reward.Score(completion.length() % 3, "length");
        };
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.random(R1ZeroDemo.modelConfig(hf.vocabSize()), 3, DType.F32)) {
            GrpoConfig cfg = new GrpoConfig(4, 0.0, 0.2, 0.2, GrpoConfig.LossType.GRPO, GrpoConfig.ScaleRewards.GROUP, 1.0, 6, 1);
            try (GrpoTrainer t = new GrpoTrainer(m, tok, saw, saw, cfg, new GrpoTrainer.Options(1e-3, 0, 10, 1.0, 0.0, 0, 1))) {
                GrpoTrainer.StepStats st = t.step(List.of("1+2=", "2+2="));
                assertThat(st.skipped()).isFalse();
                assertThat(st.metrics()).containsKey("loss");
            }
        }
        assertThat(seen).as("the reward and the accuracy each read 8 completions").hasSize(16).allSatisfy(c -> assertThat(c).doesNotContain("<bos>").doesNotContain("<eos>"));
    }

    @Test
    void chatPromptsAreLaidOutByTheTemplate() throws IOException {
        Path d = write(true);
        assertThatThrownBy(() -> Tokenizer.huggingFaceChat(HfTokenizer.load(d), null)).hasMessageContaining("no chat_template");
        Map<String, Object> cfg = new LinkedHashMap<>(Json.parseObject(Files.readString(d.resolve("tokenizer_config.json"))));
        cfg.put("chat_template", "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}<think>{% endif %}");
        Files.writeString(d.resolve("tokenizer_config.json"), Json.write(cfg));
        HfTokenizer hf = HfTokenizer.load(d);
        Tokenizer plain = Tokenizer.huggingFaceChat(hf, null), withSystem = Tokenizer.huggingFaceChat(hf, "be brief");
        assertThat(plain.encode("1+2=")).isEqualTo(hf.encode("<bos>[user]1+2=<think>", false));
        long[] ids = withSystem.encode("1+2=");
        assertThat(ids).isEqualTo(hf.encode("<bos>[system]be brief[user]1+2=<think>", false));
        assertThat(Arrays.stream(ids).filter(id -> id == 261).count()).as("one BOS, the template's").isEqualTo(1);
        assertThat(ids[ids.length - 1]).as("the opened think tag").isEqualTo(263);
        assertThat(plain.decode(new long[] {'o', 'k', 262, 'x'})).isEqualTo("ok");
    }
}
