package dev.panamax.cli;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static dev.panamax.cli.ChatOutput.CALLS_BEGIN;
import static dev.panamax.cli.ChatOutput.CALLS_END;
import static dev.panamax.cli.ChatOutput.CALL_BEGIN;
import static dev.panamax.cli.ChatOutput.CALL_END;
import static dev.panamax.cli.ChatOutput.SEP;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ChatOutput}: DeepSeek replies, written out in the formats of DeepSeek's chat templates
 * (R1's reasoning, V3/R1's fenced tool calls, V3.1's plain ones), split into reasoning, content
 * and tool calls as written by hand here; and the same split however the text arrives in pieces.
 */
class ChatOutputTest {
    /** A reply and its parts: reasoning (null: none), content, and each call as "name:arguments". */
    record Case(String name, boolean thinking, boolean tools, String text, String reasoning, String content, List<String> calls) {
    }

    static String v3Call(String name, String args) {
        return CALL_BEGIN + "function" + SEP + name + "\n```json\n" + args + "\n```" + CALL_END;
    }

    static final List<Case> CASES = List.of(
            new Case("R1: the prompt opened <think>", true, false, "Okay, 2+2.\n</think>\n\nIt is 4.", "Okay, 2+2.\n", "It is 4.", List.of()),
            new Case("the reply opens <think>", false, false, "<think>hmm</think>yes", "hmm", "yes", List.of()),
            new Case("cut before </think>: all reasoning", true, false, "still thinking </thi", "still thinking </thi", "", List.of()),
            new Case("no reasoning", false, false, "Plain <think> later", null, "Plain <think> later", List.of()),
            new Case("a near miss", false, false, "<thinker>", null, "<thinker>", List.of()),
            new Case("V3 calls after content", false, true, "Let me check." + CALLS_BEGIN + v3Call("get_weather", "{\"city\": \"Paris\"}") + "\n"
                    + v3Call("get_time", "{}") + CALLS_END, null, "Let me check.",
                    List.of("get_weather:{\"city\": \"Paris\"}", "get_time:{}")),
            new Case("V3.1 calls", false, true, CALLS_BEGIN + CALL_BEGIN + "search" + SEP + "{\"q\": \"a<b\"}" + CALL_END + CALLS_END, null, "",
                    List.of("search:{\"q\": \"a<b\"}")),
            new Case("R1: reasoning, then a call without the outer markers", true, true, "plan</think>\n\n" + v3Call("f", "{\n  \"x\": 1\n}"),
                    "plan", "", List.of("f:{\n  \"x\": 1\n}")),
            new Case("a call without a separator stays text", false, true, "A" + CALLS_BEGIN + CALL_BEGIN + "nosep" + CALL_END + CALLS_END, null,
                    "A" + CALL_BEGIN + "nosep" + CALL_END, List.of()),
            new Case("a cut-off call stays text", false, true, "x" + CALLS_BEGIN + CALL_BEGIN + "function" + SEP + "f\n```json\n{\"a\"", null,
                    "x" + CALL_BEGIN + "function" + SEP + "f\n```json\n{\"a\"", List.of()),
            new Case("tools not offered: the markers are text", false, false, CALLS_BEGIN + v3Call("f", "{}") + CALLS_END, null,
                    CALLS_BEGIN + v3Call("f", "{}") + CALLS_END, List.of()),
            new Case("text after the calls", false, true, CALLS_BEGIN + v3Call("f", "{}") + CALLS_END + "\nDone.", null, "Done.",
                    List.of("f:{}")),
            new Case("a marker's beginning that is not one", false, true, "a <｜tool▁x b <｜tool▁call", null, "a <｜tool▁x b <｜tool▁call", List.of()));

    /** The deltas joined: reasoning, content and the calls (as "index:name:arguments"). */
    record Joined(String reasoning, String content, List<String> calls) {
        static Joined of(List<ChatOutput.Delta> deltas) {
            StringBuilder r = new StringBuilder(), c = new StringBuilder();
            List<String> calls = new ArrayList<>();
            for (ChatOutput.Delta d : deltas) {
                switch (d.kind()) {
                    case REASONING -> r.append(d.text());
                    case CONTENT -> c.append(d.text());
                    case TOOL_CALL -> calls.add(d.call().index() + ":" + d.call().name() + ":" + d.call().arguments());
                }
                if (d.kind() != ChatOutput.Kind.TOOL_CALL) assertThat(d.text()).isNotEmpty();
            }
            return new Joined(r.toString(), c.toString(), calls);
        }
    }

    static List<ChatOutput.Delta> feed(ChatOutput out, List<String> pieces) {
        List<ChatOutput.Delta> all = new ArrayList<>();
        for (String p : pieces) all.addAll(out.add(p));
        all.addAll(out.finish());
        return all;
    }

    @Test
    void aWholeReplySplitsIntoReasoningContentAndCalls() {
        for (Case c : CASES) {
            ChatOutput out = new ChatOutput(c.thinking(), c.tools());
            Joined j = Joined.of(feed(out, List.of(c.text())));
            assertThat(out.thought()).as(c.name()).isEqualTo(c.reasoning() != null);
            assertThat(out.reasoning()).as(c.name()).isEqualTo(c.reasoning() == null ? "" : c.reasoning()).isEqualTo(j.reasoning());
            assertThat(out.content()).as(c.name()).isEqualTo(c.content()).isEqualTo(j.content());
            List<String> want = new ArrayList<>();
            for (int i = 0; i < c.calls().size(); i++) want.add(i + ":" + c.calls().get(i));
            assertThat(j.calls()).as(c.name()).isEqualTo(want);
            assertThat(out.calls()).extracting(ChatOutput.ToolCall::id).doesNotHaveDuplicates().allMatch(id -> id.startsWith("call_"));
        }
    }

    @Test
    void anySplitOfTheTextGivesTheSameParts() {
        Random rnd = new Random(3);
        for (Case c : CASES) {
            Joined whole = Joined.of(feed(new ChatOutput(c.thinking(), c.tools()), List.of(c.text())));
            List<List<String>> splits = new ArrayList<>();
            splits.add(c.text().chars().mapToObj(ch -> String.valueOf((char) ch)).toList());   // a char at a time
            for (int at = 0; at <= c.text().length(); at++) splits.add(List.of(c.text().substring(0, at), c.text().substring(at)));
            for (int k = 0; k < 50; k++) {
                List<String> pieces = new ArrayList<>();
                for (int at = 0; at < c.text().length(); ) {
                    int n = 1 + rnd.nextInt(6);
                    pieces.add(c.text().substring(at, Math.min(c.text().length(), at + n)));
                    at += n;
                }
                splits.add(pieces);
            }
            for (List<String> pieces : splits) {
                assertThat(Joined.of(feed(new ChatOutput(c.thinking(), c.tools()), pieces))).as(c.name() + " in " + pieces).isEqualTo(whole);
            }
        }
    }

    @Test
    void textGoesOutAsSoonAsItCannotBeginAMarker() {
        ChatOutput out = new ChatOutput(true, true);
        assertThat(Joined.of(out.add("Okay, 2")).reasoning()).isEqualTo("Okay, 2");
        assertThat(Joined.of(out.add("+2.</th")).reasoning()).isEqualTo("+2.");   // "</th" may be </think>
        assertThat(out.add("ink>\n\n")).isEmpty();                               // the whitespace before the answer is dropped
        assertThat(Joined.of(out.add("Let me check. <")).content()).isEqualTo("Let me check. ");
        assertThat(Joined.of(out.add("b>" + CALLS_BEGIN + CALL_BEGIN + "function" + SEP + "f\n```json\n{}")).content()).isEqualTo("<b>");
        assertThat(Joined.of(out.add("\n```" + CALL_END)).calls()).singleElement().asString().startsWith("0:f:{}");   // a call goes out whole
        assertThat(out.finish()).isEmpty();
        assertThat(ChatOutput.opensThinking("<｜Assistant｜><think>\n")).isTrue();
        assertThat(ChatOutput.opensThinking("<｜Assistant｜></think>")).isFalse();
    }
}
