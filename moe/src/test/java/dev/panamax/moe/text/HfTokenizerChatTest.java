package dev.panamax.moe.text;

import dev.panamax.runtime.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A checkpoint's chat template, read from its {@code tokenizer_config.json} (or
 * {@code chat_template.jinja}) and run with its special tokens, against Jinja2's renderings of
 * the same template ({@code chat/models/cases.json}).
 */
class HfTokenizerChatTest {
    static Path resource(String name) throws Exception {
        return Path.of(HfTokenizerChatTest.class.getResource(name).toURI());
    }

    static List<Map<String, Object>> cases(String template) throws Exception {
        // the contexts apply_chat_template builds: no tools, no extra variables
        return allCases(template).stream().filter(c -> {
            Map<?, ?> ctx = (Map<?, ?>) c.get("context");
            return ctx.get("tools") == null && ctx.size() <= 8 && !ctx.containsKey("date_string");
        }).toList();
    }

    @SuppressWarnings("unchecked")
    void checkFixture(String fixture, String template) throws Exception {
        HfTokenizer tok = HfTokenizer.load(resource("/tokenizer/" + fixture));
        List<Map<String, Object>> cases = cases(template);
        assertThat(cases).hasSizeGreaterThan(10);
        int outputs = 0;
        for (Map<String, Object> c : cases) {
            Map<String, Object> ctx = (Map<String, Object>) c.get("context");
            List<Map<String, ?>> messages = (List<Map<String, ?>>) (List<?>) ctx.get("messages");
            boolean gen = (Boolean) ctx.get("add_generation_prompt");
            boolean cont = Boolean.TRUE.equals(c.get("continue_final_message"));
            if (c.containsKey("output")) {
                String text = (String) c.get("output");
                if (cont) {
                    assertThat(ChatTemplate.continueFinalMessage(tok.applyChatTemplate(messages, false), messages)).as(c.get("name").toString()).isEqualTo(text);
                    continue;
                }
                outputs++;
                assertThat(tok.applyChatTemplate(messages, gen)).as(c.get("name").toString()).isEqualTo(text);
                assertThat(tok.encodeChat(messages, gen)).isEqualTo(tok.encode(text, false));
            } else if (cont) {
                assertThatThrownBy(() -> ChatTemplate.continueFinalMessage(tok.applyChatTemplate(messages, false), messages))
                        .isInstanceOf(IllegalArgumentException.class);
            } else {
                assertThatThrownBy(() -> tok.applyChatTemplate(messages, gen)).as(c.get("name").toString())
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tokenizer_config.json");
            }
        }
        assertThat(outputs).isGreaterThan(10);
        // every case, tools and other template arguments passed as variables
        int all = 0;
        for (Map<String, Object> c : allCases(template)) {
            Map<String, Object> ctx = new java.util.LinkedHashMap<>((Map<String, Object>) c.get("context"));
            List<Map<String, ?>> messages = (List<Map<String, ?>>) ctx.remove("messages");
            boolean gen = (Boolean) ctx.remove("add_generation_prompt");
            if (Boolean.TRUE.equals(c.get("continue_final_message"))) continue;
            if (c.containsKey("output")) {
                all++;
                assertThat(tok.applyChatTemplate(messages, gen, ctx)).as(c.get("name").toString()).isEqualTo(c.get("output"));
                assertThat(tok.encodeChat(messages, gen, ctx)).isEqualTo(tok.encode((String) c.get("output"), false));
            } else {
                assertThatThrownBy(() -> tok.applyChatTemplate(messages, gen, ctx)).isInstanceOf(IllegalArgumentException.class);
            }
        }
        assertThat(all).isGreaterThanOrEqualTo(outputs);
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> allCases(String template) throws Exception {
        Map<String, Object> doc = Json.parseObject(Files.readString(resource("/chat/models/cases.json")));
        return ((List<Object>) doc.get("cases")).stream().map(c -> (Map<String, Object>) c).filter(c -> c.get("template").equals(template)).toList();
    }

    @Test
    void deepSeekTemplateFromTheConfigRendersAsJinja2() throws Exception {
        checkFixture("deepseek-v3", "deepseek-v3-oneline");
        HfTokenizer tok = HfTokenizer.load(resource("/tokenizer/deepseek-v3"));
        long[] ids = tok.encodeChat(List.of(ChatTemplate.message("user", "1 + 1 = ?")), true);
        long bos = tok.bosId().orElseThrow();
        assertThat(ids[0]).as("the template writes BOS once").isEqualTo(bos);
        assertThat(ids[1]).isNotEqualTo(bos);
        assertThat(tok.specialTokens()).containsEntry("bos_token", "<｜begin▁of▁sentence｜>").containsEntry("eos_token", "<｜end▁of▁sentence｜>");
    }

    @Test
    void qwenTemplateFromTheConfigRendersAsJinja2() throws Exception {
        checkFixture("qwen2", "qwen2.5");
        assertThat(allCases("qwen2.5")).as("tool cases").anyMatch(c -> ((Map<?, ?>) c.get("context")).get("tools") != null && c.containsKey("output"));
    }

    static Path copyFixture(Path dir) throws Exception {
        Path src = resource("/tokenizer/deepseek-v3");
        Files.copy(src.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        return dir;
    }

    @Test
    void chatTemplateJinjaFileAndNamedTemplates(@TempDir Path dir) throws Exception {
        copyFixture(dir);
        HfTokenizer none = HfTokenizer.load(dir);
        assertThat(none.chatTemplate()).isEmpty();
        assertThatThrownBy(() -> none.applyChatTemplate(List.of(ChatTemplate.message("user", "x")), true))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no chat_template");

        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"bos_token": "<｜begin▁of▁sentence｜>", "chat_template": [
                  {"name": "default", "template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"},
                  {"name": "tool_use", "template": "tools: {{ tools | tojson }}"}]}""");
        HfTokenizer named = HfTokenizer.load(dir);
        assertThat(named.applyChatTemplate(List.of(ChatTemplate.message("user", "hi")), false)).isEqualTo("<｜begin▁of▁sentence｜>[user]hi");
        assertThat(named.chatTemplate("tool_use").orElseThrow().render(Map.of("tools", List.of(Map.of("a", 1))))).isEqualTo("tools: [{\"a\": 1}]");
        assertThat(named.chatTemplate("missing")).isEmpty();

        Files.writeString(dir.resolve("chat_template.jinja"), "jinja file: {{ messages | length }}\n");
        assertThat(HfTokenizer.load(dir).applyChatTemplate(List.of(), true)).isEqualTo("jinja file: 0");

        Files.writeString(dir.resolve("chat_template.jinja"), "line one\n{% for m in messages %}\n{{ m.role }");
        HfTokenizer broken = HfTokenizer.load(dir);
        assertThat(broken.encode("still encodes")).isNotEmpty();
        assertThatThrownBy(broken::chatTemplate).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("chat_template.jinja").hasMessageContaining("line 3");
    }

    @Test
    void malformedChatTemplateFieldNamesTheField(@TempDir Path dir) throws Exception {
        copyFixture(dir);
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": [{\"name\": \"default\"}]}");
        assertThatThrownBy(() -> HfTokenizer.load(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("chat_template[0].template");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": 7}");
        assertThatThrownBy(() -> HfTokenizer.load(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("chat_template");
    }
}
