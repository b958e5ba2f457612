package dev.panamax.moe.text;

import dev.panamax.runtime.io.Json;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every chat template case folder (the fixtures under {@code src/test/resources/chat}, and every
 * folder under {@code -Dpanamax.reference.chat=DIR}) against Jinja2 itself, set up as
 * {@code transformers}' {@code apply_chat_template} sets it up ({@code make_cases.py} wrote them):
 * each case renders a template with a context, and must give Jinja2's output character for
 * character, or fail where Jinja2 failed. A case marked {@code continue_final_message} is cut
 * after the final message, as {@code transformers} cuts it.
 */
class ChatTemplateReferenceTest {
    static List<Path> caseFolders() throws IOException, URISyntaxException {
        return CaseFolders.find("/chat", "panamax.reference.chat");
    }

    @TestFactory
    Stream<DynamicTest> everyCaseFolder() throws Exception {
        List<Path> folders = caseFolders();
        assertThat(folders).as("chat template case folders").hasSizeGreaterThanOrEqualTo(3);
        return folders.stream().map(d -> DynamicTest.dynamicTest(d.getFileName().toString(), () -> check(d)));
    }

    @SuppressWarnings("unchecked")
    static void check(Path dir) throws IOException {
        Map<String, Object> doc = Json.parseObject(Files.readString(dir.resolve("cases.json")));
        Map<String, Object> templates = (Map<String, Object>) doc.get("templates");
        Map<String, Object> defaultContext = (Map<String, Object>) doc.getOrDefault("context", Map.of());
        Clock clock = Clock.fixed(Instant.parse((String) doc.get("now")), ZoneOffset.UTC);
        List<Object> cases = (List<Object>) doc.get("cases");
        assertThat(cases).as(dir + " cases").isNotEmpty();
        Map<String, Object> parsed = new HashMap<>();
        List<String> failures = new ArrayList<>();
        int outputs = 0, errors = 0;
        for (Object o : cases) {
            Map<String, Object> c = (Map<String, Object>) o;
            String name = (String) c.get("template");
            Map<String, Object> context = (Map<String, Object>) c.getOrDefault("context", defaultContext);
            Object template = parsed.computeIfAbsent(name, n -> {
                try {
                    return ChatTemplate.parse((String) templates.get(n)).withClock(clock);
                } catch (IllegalArgumentException e) {
                    return e;
                }
            });
            String got;
            try {
                if (template instanceof IllegalArgumentException e) throw e;
                got = ((ChatTemplate) template).render(context);
                if (Boolean.TRUE.equals(c.get("continue_final_message"))) {
                    got = ChatTemplate.continueFinalMessage(got, (List<Map<String, ?>>) context.get("messages"));
                }
            } catch (IllegalArgumentException e) {
                got = null;
                if (!c.containsKey("error")) failures.add(c.get("name") + ": threw " + e.getMessage() + "\n  template: " + templates.get(name));
            }
            if (c.containsKey("output")) {
                outputs++;
                if (got != null && !got.equals(c.get("output"))) {
                    failures.add(c.get("name") + ": got " + Json.write(got) + "\n  expected " + Json.write(c.get("output")) + "\n  template: " + templates.get(name));
                }
            } else {
                errors++;
                if (got != null) failures.add(c.get("name") + ": rendered " + Json.write(got) + " where Jinja2 failed: " + c.get("error") + "\n  template: " + templates.get(name));
            }
        }
        assertThat(failures).as(dir + ": " + failures.size() + " of " + cases.size() + " cases differ from Jinja2 ("
                + outputs + " outputs, " + errors + " errors)\n" + String.join("\n", failures.subList(0, Math.min(40, failures.size())))).isEmpty();
    }
}
