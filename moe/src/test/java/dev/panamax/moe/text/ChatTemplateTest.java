package dev.panamax.moe.text;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What the reference cases cannot show: Java values in, hostile templates, error lines, the API. */
class ChatTemplateTest {
    @Test
    void javaValuesBecomePythonValues() {
        Map<String, Object> ctx = new LinkedHashMap<>();
        ctx.put("i", 3);
        ctx.put("f", 1.5f);
        ctx.put("arr", new Object[] {1, "a", null});
        ctx.put("map", Map.of("k", List.of(1L, 2.0)));
        ctx.put("none", null);
        assertThat(ChatTemplate.parse("{{ i + 1 }} {{ f * 2 }} {{ arr }} {{ map }} {{ none is none }} {{ i is integer }}").render(ctx))
                .isEqualTo("4 3.0 [1, 'a', None] {'k': [1, 2.0]} True True");
        assertThatThrownBy(() -> ChatTemplate.parse("{{ x }}").render(Map.of("x", new StringBuilder("no"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("StringBuilder");
    }

    @Test
    void applyPassesWhatTransformersPasses() {
        ChatTemplate t = ChatTemplate.parse("{{ bos_token }}{{ tools is none }}{{ documents is none }}{% for m in messages %}<{{ m.role }}:{{ m.content }}>{% endfor %}{{ add_generation_prompt }}");
        assertThat(t.apply(List.of(ChatTemplate.message("user", "hi")), true, Map.of("bos_token", "<s>"))).isEqualTo("<s>TrueTrue<user:hi>True");
        assertThat(t.source()).startsWith("{{ bos_token }}");
        assertThat(t.apply(ChatTemplate.conversation("sys", "q"), false, Map.of())).isEqualTo("TrueTrue<system:sys><user:q>False"); // bos_token undefined: nothing
        assertThat(ChatTemplate.conversation(null, "q")).containsExactly(ChatTemplate.message("user", "q"));
    }

    @Test
    void errorsNameTheLine() {
        assertThatThrownBy(() -> ChatTemplate.parse("a\nb\n{% if x %}\n{% endfor %}")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("line 4");
        assertThatThrownBy(() -> ChatTemplate.parse("a\n\n{{ 1 +\n}}")).hasMessageContaining("line 4");
        assertThatThrownBy(() -> ChatTemplate.parse("one\n{% include 'x.jinja' %}")).hasMessageContaining("line 2").hasMessageContaining("include");
        assertThatThrownBy(() -> ChatTemplate.parse("{% for m in messages %}\n\n{{ m.content + 1 }}{% endfor %}")
                .render(Map.of("messages", List.of(ChatTemplate.message("user", "x"))))).hasMessageContaining("line 3");
        assertThatThrownBy(() -> ChatTemplate.parse("\n{{ raise_exception('Conversation roles must alternate') }}").render(Map.of()))
                .hasMessage("chat template line 2: Conversation roles must alternate");
        assertThatThrownBy(() -> ChatTemplate.parse("{{ 'unterminated }}")).hasMessageContaining("unterminated string");
        assertThatThrownBy(() -> ChatTemplate.parse("{# never closed")).hasMessageContaining("unclosed comment");
    }

    @Test
    void hostileTemplatesFailCleanly() {
        String deep = "{{ " + "(".repeat(200_000) + "1" + ")".repeat(200_000) + " }}";
        assertThatThrownBy(() -> ChatTemplate.parse(deep)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nests too deeply");
        assertThatThrownBy(() -> ChatTemplate.parse("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}").render(Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("deeper than");
        assertThatThrownBy(() -> ChatTemplate.parse("{% for i in range(100000) %}{% for j in range(100000) %}0123456789{% endfor %}{% endfor %}").render(Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("characters");
        assertThatThrownBy(() -> ChatTemplate.parse("{{ range(10 ** 9) | length }}").render(Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("range");
        assertThatThrownBy(() -> ChatTemplate.parse("{{ 'x' * 10 ** 9 }}").render(Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("64M");
        assertThatThrownBy(() -> ChatTemplate.parse("{{ 2 ** 64 }}").render(Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overflow");
    }

    @Test
    void strftimeReadsTheClock() {
        ChatTemplate t = ChatTemplate.parse("{{ strftime_now('%d %b %Y, %A %H:%M') }}")
                .withClock(Clock.fixed(Instant.parse("2024-07-26T09:05:00Z"), ZoneOffset.UTC));
        assertThat(t.render(Map.of())).isEqualTo("26 Jul 2024, Friday 09:05");
        assertThatThrownBy(() -> ChatTemplate.parse("{{ strftime_now('%Q') }}").render(Map.of())).hasMessageContaining("%Q");
    }

    @Test
    void aParsedTemplateIsSharedAcrossThreads() throws Exception {
        ChatTemplate t = ChatTemplate.parse("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + m %}{% endfor %}{{ ns.n }}");
        List<Thread> threads = new java.util.ArrayList<>();
        java.util.concurrent.ConcurrentLinkedQueue<String> bad = new java.util.concurrent.ConcurrentLinkedQueue<>();
        for (int k = 0; k < 4; k++) {
            final int base = k;
            Thread th = new Thread(() -> {
                for (int r = 0; r < 500; r++) {
                    String got = t.render(Map.of("messages", List.of(base, r, 1)));
                    if (!got.equals(Integer.toString(base + r + 1))) bad.add(got);
                }
            });
            threads.add(th);
            th.start();
        }
        for (Thread th : threads) th.join();
        assertThat(bad).isEmpty();
    }
}
