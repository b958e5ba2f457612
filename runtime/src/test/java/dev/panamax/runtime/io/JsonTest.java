package dev.panamax.runtime.io;

import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JsonTest {
    @Test
    void parsesEveryValueKind() {
        Map<String, Object> m = Json.parseObject(" {\"a\": [1, -2.5e3, true, false, null], \"b\": {\"c\": \"\\u00e9\\n\\\"x\\\"\"}, \"big\": 123456789012345678901234} ");
        assertThat(m.get("a")).isEqualTo(java.util.Arrays.asList(1L, -2500.0, true, false, null));
        assertThat(((Map<?, ?>) m.get("b")).get("c")).isEqualTo("é\n\"x\"");
        assertThat(m.get("big")).isEqualTo(new BigInteger("123456789012345678901234"));
    }

    @Test
    void rejectsMalformedInput() {
        for (String bad : new String[]{"", "{", "{\"a\":}", "[1,]", "01", "1.", "\"\\x\"", "{\"a\":1}x", "tru", "\"a\u0001\"", "-", "[1 2]"}) {
            assertThatThrownBy(() -> Json.parse(bad)).as(bad).isInstanceOf(Json.JsonException.class);
        }
        assertThatThrownBy(() -> Json.parse("{\"k\":1,\"k\":2}")).isInstanceOf(Json.DuplicateKeyException.class).hasMessageContaining("\"k\"");
        assertThatThrownBy(() -> Json.parse("[".repeat(100_000))).isInstanceOf(Json.JsonException.class).hasMessageContaining("nesting");
    }

    @Test
    void writeThenParseRoundTrips() {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("s", "tab\t\"q\" \u0001");
        m.put("l", List.of(1L, 2.5, true));
        m.put("n", null);
        assertThat(Json.parse(Json.write(m))).isEqualTo(m);
    }

    @Test
    void configFieldsAreTypedWithClearErrors() {
        ConfigJson c = new ConfigJson(java.nio.file.Path.of("config.json"), Json.parseObject("{\"h\": 64, \"eps\": 1e-6, \"q\": null, \"name\": \"x\", \"f\": true}"));
        assertThat(c.requireInt("h")).isEqualTo(64);
        assertThat(c.requireDouble("eps")).isEqualTo(1e-6);
        assertThat(c.isNull("q")).isTrue();
        assertThat(c.requireBoolean("f")).isTrue();
        assertThatThrownBy(() -> c.requireInt("missing")).hasMessageContaining("config.json").hasMessageContaining("\"missing\" is missing");
        assertThatThrownBy(() -> c.requireInt("name")).hasMessageContaining("\"name\" must be an integer");
        assertThatThrownBy(() -> c.requireInt("q")).hasMessageContaining("\"q\" is null");
    }
}
