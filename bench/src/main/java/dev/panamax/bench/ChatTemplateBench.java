package dev.panamax.bench;

import dev.panamax.moe.text.ChatTemplate;
import dev.panamax.moe.text.HfTokenizer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@link ChatTemplate} laying out a conversation by DeepSeek-V3's chat template (the one-line
 * layout it ships; {@code bench/src/main/resources/chat/deepseek-v3.jinja}): a system message and 64 turns
 * taken from {@link TokenizerBench}'s text (each assistant turn with reasoning that the template
 * cuts at {@code </think>}), 6,305 characters laid out. Against baselines in the same run:
 * <ul>
 *   <li>{@code render} against {@code handWritten}: the same layout written directly in Java (a
 *       {@code StringBuilder} loop), the floor of any template engine; setup checks that both
 *       give the same text;</li>
 *   <li>{@code render} against {@code encodeRendered}: encoding the laid-out text with
 *       {@link TokenizerBench}'s DeepSeek-style tokenizer, the step that always follows it;</li>
 *   <li>{@code parse}: reading the template, once per tokenizer, against {@code render}.</li>
 * </ul>
 * Jinja2 itself (Python, as transformers runs it) on the same conversation:
 * {@code bench/chat/jinja_render.py}, which prints the SHA-256 of its output beside this
 * benchmark's (printed by setup). Trap avoided: each result's length is returned.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
public class ChatTemplateBench {
    static final String BOS = "<｜begin▁of▁sentence｜>", EOS = "<｜end▁of▁sentence｜>";

    private String source;
    private ChatTemplate template;
    private List<Map<String, Object>> messages;
    private Map<String, Object> special;
    private HfTokenizer tok;
    private String rendered;

    /** The conversation {@code bench/chat/jinja_render.py} builds too: a system message, then 64 lines of the text as turns. */
    static List<Map<String, Object>> conversation(String text) {
        List<Map<String, Object>> out = new ArrayList<>();
        out.add(ChatTemplate.message("system", "You are a helpful assistant."));
        List<String> lines = text.lines().filter(l -> !l.isBlank()).limit(64).toList();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            out.add(i % 2 == 0 ? ChatTemplate.message("user", line) : ChatTemplate.message("assistant", "<think>" + line + "</think>" + line));
        }
        return out;
    }

    /** Reads the template, the text and the tokenizer, and checks the hand-written layout against the template's. */
    @Setup(Level.Trial)
    public void setup() throws IOException, NoSuchAlgorithmException {
        try (InputStream in = getClass().getClassLoader().getResourceAsStream("chat/deepseek-v3.jinja")) {
            source = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        template = ChatTemplate.parse(source);
        messages = conversation(new String(TokenizerBench.resource("tokenizer/text.txt.gz"), StandardCharsets.UTF_8));
        special = Map.of("bos_token", BOS, "eos_token", EOS);
        rendered = template.apply(messages, true, special);
        if (!rendered.equals(handWrittenLayout())) throw new IllegalStateException("the hand-written layout differs from the template's");
        Path dir = Files.createTempDirectory("panamax-chat-bench");
        Path file = dir.resolve("tokenizer.json");
        Files.write(file, TokenizerBench.resource("tokenizer/tokenizer.json.gz"));
        tok = HfTokenizer.load(file);
        file.toFile().deleteOnExit();
        dir.toFile().deleteOnExit();
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(rendered.getBytes(StandardCharsets.UTF_8)));
        System.err.printf("%d messages, %d characters laid out, %d tokens, sha256 %s%n", messages.size(), rendered.length(), tok.encode(rendered, false).length, sha);
    }

    /** DeepSeek-V3's layout of system, user and assistant messages, written directly. */
    private String handWrittenLayout() {
        StringBuilder system = new StringBuilder();
        boolean first = true;
        for (Map<String, Object> m : messages) {
            if (!m.get("role").equals("system")) continue;
            if (!first) system.append("\n\n");
            system.append((String) m.get("content"));
            first = false;
        }
        StringBuilder b = new StringBuilder(BOS).append(system);
        for (Map<String, Object> m : messages) {
            String content = (String) m.get("content");
            switch ((String) m.get("role")) {
                case "user" -> b.append("<｜User｜>").append(content);
                case "assistant" -> {
                    int cut = content.lastIndexOf("</think>");
                    b.append("<｜Assistant｜>").append(cut < 0 ? content : content.substring(cut + "</think>".length())).append(EOS);
                }
                default -> { }
            }
        }
        return b.append("<｜Assistant｜>").toString();
    }

    /** The conversation laid out by the template. */
    @Benchmark
    public int render() {
        return template.apply(messages, true, special).length();
    }

    /** Baseline: the same layout written in Java. */
    @Benchmark
    public int handWritten() {
        return handWrittenLayout().length();
    }

    /** Baseline: encoding the laid-out text, which follows every layout. */
    @Benchmark
    public int encodeRendered() {
        return tok.encode(rendered, false).length;
    }

    /** Reading the template (once per tokenizer). */
    @Benchmark
    public Object parse() {
        return ChatTemplate.parse(source);
    }
}
