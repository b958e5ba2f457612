package dev.panamax.moe.text;

import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A chat template: the Jinja2 program a Hugging Face checkpoint ships (in
 * {@code tokenizer_config.json} or {@code chat_template.jinja}) to lay a conversation out as the
 * text its model was trained on. It renders as {@code transformers}' {@code apply_chat_template}
 * does: Jinja2 3.1 in an immutable sandbox with {@code trim_blocks} and {@code lstrip_blocks},
 * {@code loop} controls ({@code break}, {@code continue}), the {@code generation} tag, and the
 * globals {@code raise_exception} and {@code strftime_now} and the JSON {@code tojson} that
 * transformers adds.
 *
 * <p>What it runs: text, {@code {{ }}} output and comments with {@code -}/{@code +} whitespace
 * control; {@code if}/{@code elif}/{@code else}, {@code for} (with {@code if}, {@code else},
 * unpacking and {@code loop.*}), {@code set} (plain, unpacking, {@code ns.attr}, block),
 * {@code macro}, {@code with}, {@code filter} and {@code raw}; every Jinja2 operator and literal, with Python's
 * semantics for {@code str}, {@code int}, {@code float}, {@code list}, {@code tuple}, {@code dict}
 * and {@code None}; the Python methods of str, list and dict that read; Jinja2's common filters and
 * all its tests; {@code namespace}, {@code range} and {@code dict}. Tags that load other templates
 * ({@code include}, {@code import}, {@code extends}, {@code block}, {@code call}) are refused when
 * parsed, naming the line, as are {@code *args}. As in Jinja2, an unknown filter or test fails
 * the parse, except inside an {@code if} or a conditional expression, where it fails only when
 * run. What Jinja2 returns as a generator ({@code select}, {@code map}, {@code items},
 * {@code reverse}, ...) is true even when empty and has no length, as there; only its printed form
 * differs (Jinja2 prints a memory address). {@link #continueFinalMessage} cuts a rendering for a
 * prefilled reply.
 *
 * <p>Values passed in are Java {@link Map}s (dicts, in their iteration order), {@link List}s and
 * arrays, {@link String}s, numbers ({@code Integer}/{@code Long} are ints, {@code Float}/{@code
 * Double} floats), {@link Boolean}s and {@code null} (None). Errors, the template's own
 * {@code raise_exception} among them, are {@link IllegalArgumentException}s naming the template
 * line. Instances are immutable and safe to share between threads.
 */
public final class ChatTemplate {
    /** Most characters one rendering may produce, so that a hostile template cannot exhaust memory. */
    public static final int MAX_OUTPUT_CHARS = 64 << 20;

    private final String source;
    private final String origin;
    private final List<Jinja.Node> body;
    private final Clock clock;

    private ChatTemplate(String source, String origin, List<Jinja.Node> body, Clock clock) {
        this.source = source;
        this.origin = origin;
        this.body = body;
        this.clock = clock;
    }

    /**
     * Parses a template.
     *
     * @throws IllegalArgumentException naming the line of a syntax error or of an unsupported tag
     */
    public static ChatTemplate parse(String source) {
        return parse(source, null);
    }

    /** Parses a template read from {@code origin} (a file and field), which error messages name. */
    static ChatTemplate parse(String source, String origin) {
        Objects.requireNonNull(source, "source");
        try {
            return new ChatTemplate(source, origin, Jinja.parse(new Jinja.Source(source)), Clock.systemDefaultZone());
        } catch (IllegalArgumentException e) {
            throw origin == null ? e : new IllegalArgumentException(origin + ": " + e.getMessage(), e);
        } catch (StackOverflowError e) {
            throw new IllegalArgumentException((origin == null ? "" : origin + ": ") + "chat template nests too deeply to parse");
        }
    }

    /** This template, with {@code strftime_now} reading {@code clock} (the system clock by default). */
    public ChatTemplate withClock(Clock clock) {
        return new ChatTemplate(source, origin, body, Objects.requireNonNull(clock, "clock"));
    }

    /** The template's text. */
    public String source() {
        return source;
    }

    /**
     * Renders the template with {@code variables} as its context.
     *
     * @throws IllegalArgumentException for an error while rendering (an undefined value used in
     *     arithmetic, a type error, the template's {@code raise_exception}), naming the line
     */
    public String render(Map<String, ?> variables) {
        Map<String, Object> context = new LinkedHashMap<>();
        for (Map.Entry<String, ?> e : variables.entrySet()) context.put(e.getKey(), JinjaValues.fromJava(e.getValue()));
        try {
            return JinjaRun.render(body, context, clock);
        } catch (IllegalArgumentException e) {
            throw origin == null ? e : new IllegalArgumentException(origin + ": " + e.getMessage(), e);
        } catch (StackOverflowError e) {
            throw new IllegalArgumentException((origin == null ? "" : origin + ": ") + "chat template recursed too deeply");
        }
    }

    /**
     * Lays out {@code messages} as {@code transformers}' {@code apply_chat_template} does: the
     * context holds {@code messages}, {@code add_generation_prompt}, {@code tools} and
     * {@code documents} (None unless {@code variables} gives them), and {@code variables}: the
     * special tokens ({@code bos_token}, {@code eos_token}, ...) and any template arguments
     * ({@code date_string}, ...). {@link HfTokenizer#applyChatTemplate} supplies a checkpoint's
     * special tokens.
     */
    public String apply(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt, Map<String, ?> variables) {
        Map<String, Object> context = new LinkedHashMap<>();
        context.put("tools", null);
        context.put("documents", null);
        context.putAll(variables);
        context.put("messages", messages);
        context.put("add_generation_prompt", addGenerationPrompt);
        return render(context);
    }

    /**
     * Cuts {@code rendered}, a rendering of {@code messages} made without the generation prompt,
     * just after the final message's text, so that a model continues that message (a prefilled
     * reply), as {@code transformers}' {@code apply_chat_template(..., continue_final_message=True)}
     * cuts it: at the last occurrence of the final message's content (or of its last text block),
     * keeping the content's trailing space only where the template kept it.
     *
     * @throws IllegalArgumentException when the final message has no text, or its text does not
     *     appear in {@code rendered}
     */
    public static String continueFinalMessage(String rendered, List<? extends Map<String, ?>> messages) {
        if (messages.isEmpty()) throw new IllegalArgumentException("continue_final_message: there are no messages");
        Object content = messages.getLast().get("content");
        String text = null;
        if (content instanceof String str) {
            text = str;
        } else if (content instanceof List<?> blocks) {
            for (int i = blocks.size() - 1; i >= 0 && text == null; i--) {
                if (blocks.get(i) instanceof Map<?, ?> block && block.get("text") instanceof String str) text = str;
            }
        }
        if (text == null) throw new IllegalArgumentException("continue_final_message: the final message has no text to continue");
        String stripped = JinjaValues.strip(text, null, true, true), leftStripped = JinjaValues.strip(text, null, true, false);
        int at = rendered.lastIndexOf(stripped);
        if (at < 0) throw new IllegalArgumentException("continue_final_message: the final message does not appear in the rendered chat");
        // transformers compares len(text.lstrip()) characters from there with the whole text
        boolean kept = rendered.substring(at, Math.min(rendered.length(), at + leftStripped.length())).equals(text);
        return rendered.substring(0, at + (kept ? leftStripped.length() : stripped.length()));
    }

    /** A one-question conversation: a user message, after a system message when {@code system} is not null. */
    public static List<Map<String, Object>> conversation(String system, String user) {
        List<Map<String, Object>> messages = new java.util.ArrayList<>();
        if (system != null) messages.add(message("system", system));
        messages.add(message("user", user));
        return messages;
    }

    /** A message of a conversation: {@code {"role": role, "content": content}}. */
    public static Map<String, Object> message(String role, String content) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", Objects.requireNonNull(role, "role"));
        m.put("content", content);
        return m;
    }
}
