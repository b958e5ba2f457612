package dev.panamax.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits a chat reply's text, as it comes, into the parts OpenAI's API returns apart, the way
 * DeepSeek's own API and vLLM's {@code deepseek_r1} reasoning parser and {@code deepseek_v3} /
 * {@code deepseek_v31} tool parsers do:
 * <ul>
 *   <li>reasoning ({@code reasoning_content}): the text before {@code </think>}, when the prompt
 *       ends inside {@code <think>} (R1's template opens it) or the reply begins with
 *       {@code <think>}. A reply cut before {@code </think>} is all reasoning. Whitespace between
 *       {@code </think>} and the answer is dropped;</li>
 *   <li>the answer ({@code content});</li>
 *   <li>tool calls ({@code tool_calls}), when the request offers tools: from
 *       {@code <｜tool▁calls▁begin｜>} (or a first {@code <｜tool▁call▁begin｜>}) on, each
 *       {@code <｜tool▁call▁begin｜>TYPE<｜tool▁sep｜>NAME\n```json\nARGUMENTS\n```<｜tool▁call▁end｜>}
 *       (DeepSeek-V3 and R1) or {@code <｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGUMENTS<｜tool▁call▁end｜>}
 *       (V3.1 on). A call that is cut off or has no {@code <｜tool▁sep｜>} is kept, as text, in the
 *       content, so nothing the model wrote is lost.</li>
 * </ul>
 * {@link #add} takes the text a piece at a time and returns what can be handed out now: text that
 * could still begin a marker is held back until the next piece shows it does not, and a tool call
 * goes out whole once its end marker has come. The deltas of all the pieces and {@link #finish()}
 * add up to what the whole text gives ({@link #reasoning()}, {@link #content()}, {@link #calls()}),
 * however the text is split. Not thread-safe: one per reply.
 */
final class ChatOutput {
    static final String THINK = "<think>", END_THINK = "</think>";
    static final String CALLS_BEGIN = "<｜tool▁calls▁begin｜>", CALLS_END = "<｜tool▁calls▁end｜>";
    static final String CALL_BEGIN = "<｜tool▁call▁begin｜>", CALL_END = "<｜tool▁call▁end｜>", SEP = "<｜tool▁sep｜>";
    /** The markers a reply may hold: their tokens are decoded as text even where the tokenizer marks them special. */
    static final List<String> MARKERS = List.of(THINK, END_THINK, CALLS_BEGIN, CALLS_END, CALL_BEGIN, CALL_END, SEP);
    /** V3 and R1's call body after the separator: the name, then the arguments in a json code fence. */
    private static final Pattern FENCED = Pattern.compile("([^\\n]*)\\n```(?:json)?\\n(.*)\\n```\\s*", Pattern.DOTALL);

    /** A tool call as OpenAI returns it: its place among the reply's calls, id, function name and arguments (JSON text, as written). */
    record ToolCall(int index, String id, String name, String arguments) {
    }

    /** What a delta carries. */
    enum Kind { REASONING, CONTENT, TOOL_CALL }

    /** One piece of the reply to hand out: reasoning or content text, or a whole tool call. */
    record Delta(Kind kind, String text, ToolCall call) {
        static Delta text(Kind kind, String text) {
            return new Delta(kind, text, null);
        }
    }

    private enum State { START, THINKING, ANSWER_START, CONTENT, TOOLS, AFTER_TOOLS }

    private final boolean tools;
    private final String callPrefix;
    private final StringBuilder buffer = new StringBuilder();   // text taken, not yet handed out
    private final StringBuilder reasoning = new StringBuilder(), content = new StringBuilder();
    private final List<ToolCall> calls = new ArrayList<>();
    private State state;
    private boolean thought;

    /**
     * A parser for one reply. {@code thinking}: the prompt ends inside {@code <think>}, so the reply
     * begins with reasoning; {@code tools}: the request offers tools, so tool calls are parsed out.
     */
    ChatOutput(boolean thinking, boolean tools) {
        this.tools = tools;
        this.state = thinking ? State.THINKING : State.START;
        this.thought = thinking;
        this.callPrefix = "call_" + UUID.randomUUID().toString().replace("-", "").substring(0, 20) + "_";
    }

    /** Whether a prompt's text opens reasoning: it ends with {@code <think>} and perhaps whitespace. */
    static boolean opensThinking(String promptTail) {
        return promptTail.stripTrailing().endsWith(THINK);
    }

    /** Takes the next piece of the reply's text; returns what can be handed out now, in order. */
    List<Delta> add(String piece) {
        buffer.append(piece);
        List<Delta> out = new ArrayList<>();
        step(out, false);
        return out;
    }

    /** Ends the reply: hands out everything still held back. */
    List<Delta> finish() {
        List<Delta> out = new ArrayList<>();
        step(out, true);
        if (state == State.TOOLS && buffer.toString().isBlank()) buffer.setLength(0);   // after the last call
        if (!buffer.isEmpty()) {   // a cut-off call, or text where a call was expected: kept as content
            emit(out, Kind.CONTENT, buffer.toString());
            buffer.setLength(0);
        }
        return out;
    }

    /** Whether the reply had a reasoning part (begun, if not ended). */
    boolean thought() {
        return thought;
    }

    /** The reasoning so far. */
    String reasoning() {
        return reasoning.toString();
    }

    /** The content so far. */
    String content() {
        return content.toString();
    }

    /** The tool calls so far. */
    List<ToolCall> calls() {
        return List.copyOf(calls);
    }

    /** Moves the buffer on through the states as far as it can; {@code last}: no more text will come. */
    private void step(List<Delta> out, boolean last) {
        while (true) {
            switch (state) {
                case START -> {
                    if (startsWith(THINK)) {
                        buffer.delete(0, THINK.length());
                        state = State.THINKING;
                        thought = true;
                    } else if (!last && THINK.startsWith(buffer.toString())) {
                        return;   // may yet be <think>
                    } else {
                        state = State.CONTENT;
                    }
                }
                case THINKING -> {
                    int end = buffer.indexOf(END_THINK);
                    if (end < 0) {
                        handOut(out, Kind.REASONING, last ? buffer.length() : buffer.length() - heldBack(END_THINK));
                        return;
                    }
                    handOut(out, Kind.REASONING, end);
                    buffer.delete(0, END_THINK.length());
                    state = State.ANSWER_START;
                }
                case ANSWER_START, AFTER_TOOLS -> {
                    int text = 0;
                    while (text < buffer.length() && Character.isWhitespace(buffer.charAt(text))) text++;
                    buffer.delete(0, text);
                    if (buffer.isEmpty()) return;
                    state = State.CONTENT;
                }
                case CONTENT -> {
                    if (!tools) {
                        handOut(out, Kind.CONTENT, buffer.length());
                        return;
                    }
                    int calls = buffer.indexOf(CALLS_BEGIN), call = buffer.indexOf(CALL_BEGIN);
                    int at = calls < 0 ? call : call < 0 ? calls : Math.min(calls, call);
                    if (at < 0) {
                        handOut(out, Kind.CONTENT, last ? buffer.length() : buffer.length() - Math.max(heldBack(CALLS_BEGIN), heldBack(CALL_BEGIN)));
                        return;
                    }
                    handOut(out, Kind.CONTENT, at);
                    if (at == calls) buffer.delete(0, CALLS_BEGIN.length());
                    state = State.TOOLS;
                }
                case TOOLS -> {
                    int text = 0;
                    while (text < buffer.length() && Character.isWhitespace(buffer.charAt(text))) text++;
                    if (startsWith(CALLS_END, text)) {
                        buffer.delete(0, text + CALLS_END.length());
                        state = State.AFTER_TOOLS;
                    } else if (startsWith(CALL_BEGIN, text) && buffer.indexOf(CALL_END, text) >= 0) {
                        int end = buffer.indexOf(CALL_END, text);
                        String body = buffer.substring(text + CALL_BEGIN.length(), end);
                        ToolCall c = parse(body);
                        if (c != null) {
                            calls.add(c);
                            out.add(new Delta(Kind.TOOL_CALL, null, c));
                        } else {   // not a call: its text goes to the content
                            emit(out, Kind.CONTENT, buffer.substring(0, end + CALL_END.length()));
                        }
                        buffer.delete(0, end + CALL_END.length());
                    } else {
                        return;   // a call still coming (or, at the end, text that is not one: finish keeps it)
                    }
                }
            }
        }
    }

    /** One call's text between its begin and end markers, or null where it has no separator. */
    private ToolCall parse(String body) {
        int sep = body.indexOf(SEP);
        if (sep < 0) return null;
        String before = body.substring(0, sep).strip(), after = body.substring(sep + SEP.length());
        Matcher m = FENCED.matcher(after);
        String name, arguments;
        if (m.matches()) {   // V3, R1: TYPE<sep>NAME\n```json\nARGS\n```
            name = m.group(1).strip();
            arguments = m.group(2).strip();
        } else {             // V3.1 on: NAME<sep>ARGS
            name = before;
            arguments = after.strip();
        }
        if (name.isEmpty()) return null;
        int index = calls.size();
        return new ToolCall(index, callPrefix + index, name, arguments);
    }

    /** Hands out the first {@code n} chars of the buffer as {@code kind}. */
    private void handOut(List<Delta> out, Kind kind, int n) {
        if (n <= 0) return;
        emit(out, kind, buffer.substring(0, n));
        buffer.delete(0, n);
    }

    private void emit(List<Delta> out, Kind kind, String text) {
        if (text.isEmpty()) return;
        (kind == Kind.REASONING ? reasoning : content).append(text);
        out.add(Delta.text(kind, text));
    }

    private boolean startsWith(String marker) {
        return startsWith(marker, 0);
    }

    private boolean startsWith(String marker, int from) {
        return buffer.length() - from >= marker.length() && matches(buffer, from, marker, marker.length());
    }

    /** The length of the longest end of the buffer that begins {@code marker} (it may yet become it). */
    private int heldBack(String marker) {
        return partialEnd(buffer, marker);
    }

    /** The length of the longest end of {@code text} that begins {@code s}, shorter than s: what may yet become s as text comes. */
    static int partialEnd(CharSequence text, String s) {
        for (int k = Math.min(s.length() - 1, text.length()); k > 0; k--) {
            if (matches(text, text.length() - k, s, k)) return k;
        }
        return 0;
    }

    /** Whether {@code text} holds the first {@code n} chars of {@code s} at {@code at}. */
    private static boolean matches(CharSequence text, int at, String s, int n) {
        for (int i = 0; i < n; i++) if (text.charAt(at + i) != s.charAt(i)) return false;
        return true;
    }
}
