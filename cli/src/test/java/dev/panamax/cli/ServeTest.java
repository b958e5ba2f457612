package dev.panamax.cli;

import dev.panamax.moe.Batcher;
import dev.panamax.moe.DeepSeekModel;
import dev.panamax.moe.Generator;
import dev.panamax.moe.Mla;
import dev.panamax.moe.Sampler;
import dev.panamax.moe.Scoring;
import dev.panamax.moe.text.ChatTemplate;
import dev.panamax.moe.text.HfTokenizer;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code panamax serve}: OpenAI's API over HTTP, answered as the library generates (the same
 * tokens as {@link Generator} for the same prompt ids, decoded by the tokenizer), streamed and not,
 * cut at stop strings and at EOS, and a clear error for each kind of bad request.
 */
class ServeTest {
    private static final String TEMPLATE = "{% for m in messages %}<{{ m.role[0] }}>{{ m.content }}{% endfor %}"
            + "{% if tools %}[{{ tools | length }} tools]{% endif %}{% if add_generation_prompt %}<a>{% endif %}";
    private final HttpClient http = HttpClient.newHttpClient();

    /** The first reference checkpoint with a byte-level tokenizer and a chat template (and {@code eos}, unless null). */
    static Path checkpoint(Path dir, String eos) throws IOException {
        Files.createDirectories(dir);
        try (var files = Files.list(CliTest.referenceCase())) {
            for (Path f : files.toList()) if (Files.isRegularFile(f)) Files.copy(f, dir.resolve(f.getFileName()));
        }
        Files.move(CliTest.byteTokenizer(dir.resolve("t"), 0), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), Json.write(eos == null ? Map.of("chat_template", TEMPLATE)
                : Map.of("chat_template", TEMPLATE, "eos_token", eos)));
        return dir;
    }

    record Reply(int status, String body) {
        Map<String, Object> json() {
            return Json.parseObject(body);
        }

        /** The data of each server-sent event. */
        List<String> events() {
            List<String> out = new ArrayList<>();
            for (String block : body.split("\n\n")) if (!block.isBlank()) out.add(block.substring(block.indexOf("data: ") + 6));
            return out;
        }
    }

    Reply post(Serve.Server s, String path, String body) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + path))
                .POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body());
    }

    Reply get(Serve.Server s, String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body());
    }

    static Serve.Options options(Path dir, String speculative) {
        Decoding d = new Decoding();
        if (speculative != null) d.option("--speculative", speculative);
        return new Serve.Options(dir, "tiny", 64, d);
    }

    /** The library's greedy tokens for these prompt ids. */
    static long[] greedy(Path dir, long[] prompt, int n, Set<Long> stop) {
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(dir, false)) {
            return Generator.generate(m, List.of(prompt), n, stop, Sampler.greedy(), Mla.ABSORBED).completions().getFirst();
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> choice(Map<String, Object> reply) {
        return (Map<String, Object>) ((List<Object>) reply.get("choices")).getFirst();
    }

    /** The text of a stream's chunks, and its last finish_reason. */
    @SuppressWarnings("unchecked")
    static String[] streamed(Reply r, boolean chat) {
        StringBuilder text = new StringBuilder();
        String finish = null;
        for (String e : r.events()) {
            if (e.equals("[DONE]")) continue;
            Map<String, Object> m = Json.parseObject(e);
            if (((List<Object>) m.get("choices")).isEmpty()) continue;   // the usage chunk
            Map<String, Object> c = choice(m);
            Object piece = chat ? ((Map<String, Object>) c.get("delta")).get("content") : c.get("text");
            if (piece != null) text.append(piece);
            if (c.get("finish_reason") != null) finish = (String) c.get("finish_reason");
        }
        return new String[]{text.toString(), finish};
    }

    @Test
    @SuppressWarnings("unchecked")
    void completionsAreTheLibrarysTokensStreamedOrNot(@TempDir Path tmp) throws Exception {
        Path dir = checkpoint(tmp.resolve("m"), null);
        HfTokenizer tok = HfTokenizer.load(dir);
        long[] ids = greedy(dir, tok.encode("hi there"), 6, Set.of());
        String want = tok.decode(ids, true);
        try (Serve.Server s = Serve.Server.start(options(dir, null), "127.0.0.1", 0)) {
            assertThat(get(s, "/health").body()).isEqualTo("ok");
            assertThat(get(s, "/v1/models").json().toString()).contains("id=tiny");
            Reply r = post(s, "/v1/completions", "{\"model\": \"tiny\", \"prompt\": \"hi there\", \"max_tokens\": 6, \"temperature\": 0}");
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            assertThat(choice(r.json())).containsEntry("text", want).containsEntry("finish_reason", "length");
            assertThat((Map<String, Object>) r.json().get("usage")).containsEntry("prompt_tokens", 8L).containsEntry("completion_tokens", 6L)
                    .containsEntry("total_tokens", 14L);
            Reply st = post(s, "/v1/completions", "{\"prompt\": \"hi there\", \"max_tokens\": 6, \"temperature\": 0, \"stream\": true,"
                    + " \"stream_options\": {\"include_usage\": true}}");
            assertThat(st.status()).isEqualTo(200);
            assertThat(streamed(st, false)).containsExactly(want, "length");
            List<String> events = st.events();
            assertThat(events.getLast()).isEqualTo("[DONE]");
            assertThat(events.get(events.size() - 2)).contains("\"usage\"").contains("\"completion_tokens\":6");

            // a chat: the messages laid out by the template, tools passed to it
            String messages = "[{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"hi\"}]}]";
            long[] chatIds = greedy(dir, tok.encodeChat(List.of(ChatTemplate.message("system", "S"), ChatTemplate.message("user", "hi")), true), 5, Set.of());
            Reply chat = post(s, "/v1/chat/completions", "{\"messages\": " + messages + ", \"max_tokens\": 5, \"temperature\": 0}");
            assertThat(chat.status()).as(chat.body()).isEqualTo(200);
            assertThat((Map<String, Object>) choice(chat.json()).get("message")).containsEntry("role", "assistant").containsEntry("content", tok.decode(chatIds, true));
            Reply chatStream = post(s, "/v1/chat/completions", "{\"messages\": " + messages + ", \"max_tokens\": 5, \"temperature\": 0, \"stream\": true}");
            assertThat(streamed(chatStream, true)).containsExactly(tok.decode(chatIds, true), "length");
            assertThat(chatStream.events().getFirst()).contains("\"role\":\"assistant\"");
            Map<String, Object> tool = Map.of("type", "function", "function", Map.of("name", "f"));
            long[] toolIds = greedy(dir, tok.encodeChat(List.of(ChatTemplate.message("user", "hi")), true, Map.of("tools", List.of(tool, tool))), 3, Set.of());
            Reply tools = post(s, "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"tools\": ["
                    + Json.write(tool) + ", " + Json.write(tool) + "], \"max_tokens\": 3, \"temperature\": 0}");
            assertThat((Map<String, Object>) choice(tools.json()).get("message")).containsEntry("content", tok.decode(toolIds, true));

            // seeded sampling is repeatable
            String sampled = "{\"prompt\": \"hi\", \"max_tokens\": 6, \"temperature\": 0.9, \"top_p\": 0.9, \"top_k\": 20, \"seed\": 7}";
            assertThat(choice(post(s, "/v1/completions", sampled).json())).isEqualTo(choice(post(s, "/v1/completions", sampled).json()));
        }
    }

    @Test
    void theTextEndsBeforeAStopStringAndAtEos(@TempDir Path tmp) throws Exception {
        Path dir = checkpoint(tmp.resolve("m"), null);
        HfTokenizer tok = HfTokenizer.load(dir);
        long[] ids = greedy(dir, tok.encode("hi there"), 12, Set.of());
        String full = tok.decode(ids, true);
        String stop = full.substring(3, 5);   // two characters from the fourth on: the text ends before their first occurrence
        String want = full.substring(0, full.indexOf(stop));
        try (Serve.Server s = Serve.Server.start(options(dir, null), "127.0.0.1", 0)) {
            String body = "{\"prompt\": \"hi there\", \"max_tokens\": 12, \"temperature\": 0, \"stop\": [\"\\u0000never\", " + Json.write(stop) + "]";
            Reply r = post(s, "/v1/completions", body + "}");
            assertThat(choice(r.json())).containsEntry("text", want).containsEntry("finish_reason", "stop");
            // generation ended where the stop string appeared: no more tokens than the text and the stop string take
            assertThat((long) ((Map<?, ?>) r.json().get("usage")).get("completion_tokens")).isLessThanOrEqualTo(tok.encode(want + stop, false).length);
            // streamed, no piece of the stop string goes out before it is known not to be one
            assertThat(streamed(post(s, "/v1/completions", body + ", \"stream\": true}"), false)).containsExactly(want, "stop");
        }
        // EOS: a token the completion draws ends it, left out of the text
        String eos = tok.token(ids[4]).orElseThrow();
        Path withEos = checkpoint(tmp.resolve("eos"), eos);
        long[] upTo = greedy(withEos, tok.encode("hi there"), 12, Set.of(ids[4]));
        assertThat(upTo[upTo.length - 1]).isEqualTo(ids[4]);
        try (Serve.Server s = Serve.Server.start(options(withEos, null), "127.0.0.1", 0)) {
            Reply r = post(s, "/v1/completions", "{\"prompt\": \"hi there\", \"max_tokens\": 12, \"temperature\": 0, \"logprobs\": 1}");
            assertThat(choice(r.json())).containsEntry("text", tok.decode(Arrays.copyOf(upTo, upTo.length - 1), true)).containsEntry("finish_reason", "stop");
            // the EOS is not scored either
            assertThat((List<?>) ((Map<?, ?>) choice(r.json()).get("logprobs")).get("tokens")).hasSize(upTo.length - 1);
        }
    }

    @Test
    void speculativeServingGivesTheSameText(@TempDir Path tmp) throws Exception {
        Path dir = checkpoint(tmp.resolve("m"), null);
        HfTokenizer tok = HfTokenizer.load(dir);
        String want = tok.decode(greedy(dir, tok.encode("abcabcabc"), 10, Set.of()), true);
        try (Serve.Server s = Serve.Server.start(options(dir, "lookup:2:3"), "127.0.0.1", 0)) {
            assertThat(choice(post(s, "/v1/completions", "{\"prompt\": \"abcabcabc\", \"max_tokens\": 10, \"temperature\": 0}").json()))
                    .containsEntry("text", want);
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void badRequestsGetOpenAisErrorNamingTheField(@TempDir Path tmp) throws Exception {
        Path dir = checkpoint(tmp.resolve("m"), null);
        try (Serve.Server s = Serve.Server.start(options(dir, null), "127.0.0.1", 0)) {
            Object[][] cases = {
                    {"/v1/completions", "{not json", 400, null, "not a JSON object"},
                    {"/v1/chat/completions", "{}", 400, "messages", "messages must be a non-empty array"},
                    {"/v1/chat/completions", "{\"messages\": [{\"content\": \"x\"}]}", 400, "messages", "needs a role"},
                    {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}", 400, "messages", "content parts"},
                    {"/v1/completions", "{\"prompt\": 5}", 400, "prompt", "prompt must be a string"},
                    {"/v1/completions", "{\"prompt\": \"\"}", 400, "prompt", "the prompt is empty"},
                    {"/v1/completions", "{\"prompt\": \"hi\", \"model\": \"gpt-5\"}", 404, "model", "`gpt-5` does not exist"},
                    {"/v1/completions", "{\"prompt\": \"hi\", \"n\": 0}", 400, "n", "n must be in 1..64, got 0"},
                    {"/v1/completions", "{\"prompt\": [\"a\", \"b\"], \"n\": 40}", 400, "n", "2 prompts x n = 40 is 80 choices, more than 64"},
                    {"/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": 0}", 400, "max_tokens", "must be >= 1"},
                    {"/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": 63}", 400, "max_tokens", "leave room for 62"},
                    {"/v1/completions", "{\"prompt\": \"hi\", \"max_completion_tokens\": \"x\"}", 400, "max_completion_tokens", "must be an integer"},
                    {"/v1/completions", "{\"prompt\": \"hi\", \"temperature\": -1}", 400, "temperature", "temperature must be in"},
                    {"/v1/completions", "{\"prompt\": \"hi\", \"top_p\": 0}", 400, "top_p", "top_p must be in"},
                    {"/v1/completions", "{\"prompt\": \"hi\", \"stop\": [1]}", 400, "stop", "stop must be a string"},
                    {"/v1/completions", "{\"prompt\": \"hi\", \"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}", 400, "stop", "at most 4"},
                    {"/v1/completions", "{\"prompt\": \"hi\", \"stream\": \"yes\"}", 400, "stream", "true or false"},
                    {"/v1/completions", "{\"prompt\": \"hi\", \"logit_bias\": {\"1\": 5}}", 400, "logit_bias", "not supported"},
                    {"/v1/completions", "{\"prompt\": \"hi\", \"logprobs\": 21}", 400, "logprobs", "logprobs must be in 0..20"},
                    {"/v1/completions", "{\"prompt\": \"hi\", \"logprobs\": 1, \"stream\": true}", 400, "logprobs", "not streamed"},
                    {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"top_logprobs\": 2}", 400, "top_logprobs",
                            "needs logprobs: true"},
                    {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"echo\": true}", 400, "echo", "not supported"},
                    {"/v1/completions", "{\"prompt\": [1, 256]}", 400, "prompt", "token id 256 at 1 is not in the model's vocabulary of 256"},
                    {"/v1/completions", "{\"prompt\": [[1], {}]}", 400, "prompt", "an array of token ids"},
                    {"/v1/completions", "{\"prompt\": []}", 400, "prompt", "an array of token ids"},
                    {"/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": 0}", 400, "max_tokens", "must be >= 1"},
                    {"/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": -1, \"echo\": true}", 400, "max_tokens", "must be >= 0 (with echo)"},
                    {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"chat_template_kwargs\": {\"tools\": 3}}", 400,
                            "messages", "the chat template failed"},
                    {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"tools\": {}}", 400, "tools", "tools must be an array"},
                    {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"tools\": [{\"type\": \"function\"}]}", 400, "tools",
                            "each tool must be"},
                    {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"tools\": [" + TOOL + "], \"tool_choice\": \"required\"}",
                            400, "tool_choice", "cannot be forced"},
                    {"/v1/embeddings", "{}", 404, null, "no route /v1/embeddings"},
                    {"/v1/completions", "{\"prompt\": \"" + "x".repeat(Serve.MAX_BODY) + "\"}", 413, null, "over"},
            };
            for (Object[] c : cases) {
                Reply r = post(s, (String) c[0], (String) c[1]);
                String what = c[0] + " " + ((String) c[1]).substring(0, Math.min(60, ((String) c[1]).length()));
                assertThat(r.status()).as(what + ": " + r.body()).isEqualTo(c[2]);
                Map<String, Object> err = (Map<String, Object>) r.json().get("error");
                assertThat(err.get("param")).as(what).isEqualTo(c[3]);
                assertThat((String) err.get("message")).as(what).contains((String) c[4]);
            }
            assertThat(get(s, "/v1/completions").status()).isEqualTo(405);
            // the server still answers after all that
            assertThat(post(s, "/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": 2}").status()).isEqualTo(200);
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void logprobsEchoAndTokenIdPromptsAsEvaluationHarnessesSendThem(@TempDir Path tmp) throws Exception {
        Path dir = checkpoint(tmp.resolve("m"), null);
        HfTokenizer tok = HfTokenizer.load(dir);
        long[] p1 = tok.encode("hi there"), p2 = tok.encode("abc");
        long[] g1 = greedy(dir, p1, 5, Set.of()), g2 = greedy(dir, p2, 5, Set.of());
        long[] chatPrompt = tok.encodeChat(List.of(ChatTemplate.message("user", "hi")), true);
        long[] all1 = java.util.stream.LongStream.concat(Arrays.stream(p1), Arrays.stream(g1)).toArray();
        List<Scoring.Token> s1, e2, c1;
        try (Scope sc = Scope.open(); DeepSeekModel m = DeepSeekModel.load(dir, false)) {   // the library's scores of the same ids
            s1 = Scoring.score(m, all1, p1.length, 3, Mla.ABSORBED);
            e2 = Scoring.score(m, p2, 0, 1, Mla.ABSORBED);
            long[] chatGreedy = Generator.generate(m, List.of(chatPrompt), 4, Set.of(), Sampler.greedy(), Mla.ABSORBED).completions().getFirst();
            c1 = Scoring.score(m, java.util.stream.LongStream.concat(Arrays.stream(chatPrompt), Arrays.stream(chatGreedy)).toArray(), chatPrompt.length, 2,
                    Mla.ABSORBED);
        }
        try (Serve.Server s = Serve.Server.start(options(dir, null), "127.0.0.1", 0)) {
            // a prompt of token ids, logprobs with 3 alternatives
            Reply r = post(s, "/v1/completions", "{\"prompt\": " + Json.write(Arrays.stream(p1).boxed().toList()) + ", \"max_tokens\": 5, \"temperature\": 0,"
                    + " \"logprobs\": 3}");
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            Map<String, Object> c = choice(r.json());
            assertThat(c).containsEntry("text", tok.decode(g1, true)).containsEntry("finish_reason", "length");
            Map<String, Object> lp = (Map<String, Object>) c.get("logprobs");
            List<Object> tokens = (List<Object>) lp.get("tokens"), lps = (List<Object>) lp.get("token_logprobs"), tops = (List<Object>) lp.get("top_logprobs");
            assertThat(tokens).hasSize(5);
            long offset = 0;
            for (int i = 0; i < 5; i++) {
                String piece = text(tok, g1[i]);
                assertThat(tokens.get(i)).isEqualTo(piece);
                assertThat((double) lps.get(i)).isEqualTo(s1.get(i).logprob());
                Map<String, Object> top = (Map<String, Object>) tops.get(i);
                for (int k = 0; k < 3; k++) assertThat(top).containsEntry(text(tok, s1.get(i).topIds()[k]), s1.get(i).topLogprobs()[k]);
                assertThat(top.values().stream().mapToDouble(x -> (double) x).max().orElseThrow()).isEqualTo((double) lps.get(i));   // greedy: the top-1
                assertThat(((List<Object>) lp.get("text_offset")).get(i)).isEqualTo(offset);
                offset += piece.length();
            }

            // logprobs 0: each token's own, no alternatives
            r = post(s, "/v1/completions", "{\"prompt\": \"hi there\", \"max_tokens\": 5, \"temperature\": 0, \"logprobs\": 0}");
            List<Object> alone = (List<Object>) ((Map<String, Object>) choice(r.json()).get("logprobs")).get("top_logprobs");
            for (int i = 0; i < 5; i++) assertThat((Map<String, Object>) alone.get(i)).containsExactly(Map.entry(text(tok, g1[i]), s1.get(i).logprob()));

            // lm-evaluation-harness's loglikelihood: ids in a list, nothing generated, the prompt echoed and scored
            r = post(s, "/v1/completions", "{\"prompt\": [" + Json.write(Arrays.stream(p2).boxed().toList()) + "], \"max_tokens\": 0, \"echo\": true,"
                    + " \"logprobs\": 1, \"temperature\": 0}");
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            c = choice(r.json());
            assertThat(c).containsEntry("text", "abc").containsEntry("finish_reason", "length");
            lps = (List<Object>) ((Map<String, Object>) c.get("logprobs")).get("token_logprobs");
            assertThat(lps).hasSize(p2.length).first().isNull();
            for (int i = 1; i < p2.length; i++) assertThat((double) lps.get(i)).isEqualTo(e2.get(i).logprob());
            assertThat((Map<String, Object>) r.json().get("usage")).containsEntry("prompt_tokens", (long) p2.length).containsEntry("completion_tokens", 0L);

            // several prompts: a choice each, in order, usage summed
            r = post(s, "/v1/completions", "{\"prompt\": [\"hi there\", \"abc\"], \"max_tokens\": 5, \"temperature\": 0, \"echo\": true}");
            List<Object> choices = (List<Object>) r.json().get("choices");
            assertThat(choices).hasSize(2);
            assertThat((Map<String, Object>) choices.get(0)).containsEntry("index", 0L).containsEntry("text", "hi there" + tok.decode(g1, true));
            assertThat((Map<String, Object>) choices.get(1)).containsEntry("index", 1L).containsEntry("text", "abc" + tok.decode(g2, true));
            assertThat((Map<String, Object>) r.json().get("usage")).containsEntry("prompt_tokens", (long) (p1.length + p2.length))
                    .containsEntry("completion_tokens", 10L);

            // streamed, the echoed prompt comes first
            assertThat(streamed(post(s, "/v1/completions", "{\"prompt\": \"abc\", \"max_tokens\": 5, \"temperature\": 0, \"echo\": true, \"stream\": true}"),
                    false)).containsExactly("abc" + tok.decode(g2, true), "length");

            // a chat's logprobs: OpenAI's content entries
            r = post(s, "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 4, \"temperature\": 0,"
                    + " \"logprobs\": true, \"top_logprobs\": 2}");
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            List<Object> content = (List<Object>) ((Map<String, Object>) choice(r.json()).get("logprobs")).get("content");
            assertThat(content).hasSize(4);
            for (int i = 0; i < 4; i++) {
                Map<String, Object> e = (Map<String, Object>) content.get(i);
                assertThat(e).containsEntry("token", text(tok, c1.get(i).id())).containsEntry("logprob", c1.get(i).logprob());
                assertThat(e.get("bytes")).isEqualTo(bytesOf(tok, c1.get(i).id()));
                List<Object> top = (List<Object>) e.get("top_logprobs");
                assertThat(top).hasSize(2);
                assertThat(((Map<String, Object>) top.getFirst()).get("logprob")).isEqualTo(c1.get(i).logprob());   // greedy: the top-1
            }
        }
    }

    /** A token's bytes, as the JSON reads them back. */
    /** A stream's text and last finish_reason for each choice index. */
    @SuppressWarnings("unchecked")
    static Map<Long, String[]> streamedByChoice(Reply r, boolean chat) {
        Map<Long, String[]> out = new java.util.TreeMap<>();
        for (String e : r.events()) {
            if (e.equals("[DONE]")) continue;
            for (Object o : (List<Object>) Json.parseObject(e).get("choices")) {
                Map<String, Object> c = (Map<String, Object>) o;
                String[] have = out.computeIfAbsent((Long) c.get("index"), k -> new String[]{"", null});
                Object piece = chat ? ((Map<String, Object>) c.get("delta")).get("content") : c.get("text");
                if (piece != null) have[0] += piece;
                if (c.get("finish_reason") != null) have[1] = (String) c.get("finish_reason");
            }
        }
        return out;
    }

    @Test
    @SuppressWarnings("unchecked")
    void nChoicesAndSeveralPromptsRunAsOneBatchStreamedOrNot(@TempDir Path tmp) throws Exception {
        Path dir = checkpoint(tmp.resolve("m"), null);
        HfTokenizer tok = HfTokenizer.load(dir);
        long[] p1 = tok.encode("hi there"), p2 = tok.encode("abc");
        List<long[]> batched = new ArrayList<>(), serial;
        try (Scope sc = Scope.open(); DeepSeekModel m = DeepSeekModel.load(dir, false)) {
            // in the continuous batch, choice c is its prompt alone, sampled with the seed plus c
            List<long[]> rows = List.of(p1, p1, p2, p2);
            for (int c = 0; c < 4; c++) batched.add(Generator.generate(m, List.of(rows.get(c)), 6, Set.of(), Sampler.of(0.9, 0, 1.0, 11 + c), Mla.ABSORBED).completions().getFirst());
            // one request at a time: the library's batch, each prompt n = 2 times, one sampler
            serial = Generator.generate(m, rows, 6, Set.of(), Sampler.of(0.9, 0, 1.0, 11), Mla.ABSORBED).completions();
        }
        for (List<long[]> want : List.of(batched, serial)) assertThat(want.get(0)).isNotEqualTo(want.get(1));   // two samples of one prompt differ
        for (int seqs : new int[]{Serve.MAX_NUM_SEQS, 1}) {
            List<long[]> want = seqs > 1 ? batched : serial;
            nChoices(dir, tok, new Serve.Options(dir, "tiny", 64, new Decoding(), seqs), want, p1, p2);
        }
    }

    @SuppressWarnings("unchecked")
    private void nChoices(Path dir, HfTokenizer tok, Serve.Options o, List<long[]> want, long[] p1, long[] p2) throws Exception {
        try (Serve.Server s = Serve.Server.start(o, "127.0.0.1", 0)) {
            String body = "{\"prompt\": [\"hi there\", \"abc\"], \"n\": 2, \"max_tokens\": 6, \"temperature\": 0.9, \"seed\": 11, \"echo\": true";
            String[] echoed = {"hi there", "hi there", "abc", "abc"};
            Reply r = post(s, "/v1/completions", body + "}");
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            List<Object> choices = (List<Object>) r.json().get("choices");
            assertThat(choices).hasSize(4);
            for (int c = 0; c < 4; c++) {
                assertThat((Map<String, Object>) choices.get(c)).containsEntry("index", (long) c).containsEntry("text", echoed[c] + tok.decode(want.get(c), true))
                        .containsEntry("finish_reason", "length");
            }
            // the prompts are counted once, every choice's tokens
            assertThat((Map<String, Object>) r.json().get("usage")).containsEntry("prompt_tokens", (long) (p1.length + p2.length))
                    .containsEntry("completion_tokens", 24L);
            // streamed: each choice's chunks under its index, each with its finish_reason
            Map<Long, String[]> st = streamedByChoice(post(s, "/v1/completions", body + ", \"stream\": true}"), false);
            assertThat(st).hasSize(4);
            for (int c = 0; c < 4; c++) assertThat(st.get((long) c)).containsExactly(echoed[c] + tok.decode(want.get(c), true), "length");
            // a chat with n = 3, greedy: three equal choices, each streamed with its role chunk
            String chat = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"n\": 3, \"max_tokens\": 4, \"temperature\": 0";
            long[] ids = greedy(dir, tok.encodeChat(List.of(ChatTemplate.message("user", "hi")), true), 4, Set.of());
            List<Object> three = (List<Object>) post(s, "/v1/chat/completions", chat + "}").json().get("choices");
            assertThat(three).hasSize(3).allSatisfy(c -> assertThat(((Map<String, Object>) c).get("message").toString()).contains("content=" + tok.decode(ids, true)));
            Reply chatStream = post(s, "/v1/chat/completions", chat + ", \"stream\": true}");
            Map<Long, String[]> cs = streamedByChoice(chatStream, true);
            assertThat(cs.keySet()).containsExactly(0L, 1L, 2L);
            for (String[] c : cs.values()) assertThat(c).containsExactly(tok.decode(ids, true), "length");
            assertThat(chatStream.events().stream().filter(e -> e.contains("\"role\":\"assistant\"")).count()).isEqualTo(3);
        }
    }

    /**
     * Requests sent at once join one continuous batch: each reply, streamed or not, greedy or
     * seeded, is the library's generation for its prompt alone, though they ran as rows of shared
     * decode steps.
     */
    @Test
    @SuppressWarnings("unchecked")
    void concurrentRequestsShareDecodeStepsAndEachGetsItsOwnTokens(@TempDir Path tmp) throws Exception {
        Path dir = checkpoint(tmp.resolve("m"), null);
        HfTokenizer tok = HfTokenizer.load(dir);
        String[] prompts = {"hi there", "abc", "the quick brown fox", "x", "1 + 1 = ", "zz top"};
        int[] maxTokens = {12, 20, 9, 16, 14, 11};
        List<String> want = new ArrayList<>();
        try (Scope sc = Scope.open(); DeepSeekModel m = DeepSeekModel.load(dir, false)) {
            for (int i = 0; i < prompts.length; i++) {
                Sampler sampler = i % 2 == 0 ? Sampler.greedy() : Sampler.of(0.8, 0, 1.0, 40 + i);
                want.add(tok.decode(Generator.generate(m, List.of(tok.encode(prompts[i])), maxTokens[i], Set.of(), sampler, Mla.ABSORBED).completions().getFirst(), true));
            }
        }
        try (Serve.Server s = Serve.Server.start(options(dir, null), "127.0.0.1", 0)) {
            List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> replies = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) {
                String sampling = i % 2 == 0 ? "\"temperature\": 0" : "\"temperature\": 0.8, \"seed\": " + (40 + i);
                String body = "{\"prompt\": " + Json.write(prompts[i]) + ", \"max_tokens\": " + maxTokens[i] + ", " + sampling + (i >= 3 ? ", \"stream\": true}" : "}");
                replies.add(http.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/v1/completions"))
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString()));
            }
            for (int i = 0; i < prompts.length; i++) {
                HttpResponse<String> h = replies.get(i).get();
                Reply r = new Reply(h.statusCode(), h.body());
                assertThat(r.status()).as(r.body()).isEqualTo(200);
                String text = i >= 3 ? streamed(r, false)[0] : (String) choice(r.json()).get("text");
                assertThat(text).as("request " + i).isEqualTo(want.get(i));
            }
            Batcher b = s.batcher();
            assertThat(b.slots()).isEqualTo(Serve.MAX_NUM_SEQS);
            assertThat((double) b.stepRows() / b.steps()).as("sequences a decode step").isGreaterThan(1.3);
        }
    }

    /**
     * A chat's next turn repeats the conversation so far: the slot its first turn ended in still
     * holds those entries, so only the new part of the prompt runs through the model, and the reply
     * is the library's for the whole prompt.
     */
    @Test
    @SuppressWarnings("unchecked")
    void aChatsNextTurnReusesTheEntriesOfTheTurnBefore(@TempDir Path tmp) throws Exception {
        Path dir = checkpoint(tmp.resolve("m"), null);
        HfTokenizer tok = HfTokenizer.load(dir);
        List<Map<String, Object>> turn1 = List.of(ChatTemplate.message("user", "hi"));
        long[] prompt1 = tok.encodeChat(turn1, true);
        String reply1 = tok.decode(greedy(dir, prompt1, 6, Set.of()), true);
        List<Map<String, Object>> turn2 = List.of(ChatTemplate.message("user", "hi"), ChatTemplate.message("assistant", reply1), ChatTemplate.message("user", "more"));
        long[] prompt2 = tok.encodeChat(turn2, true);
        String reply2 = tok.decode(greedy(dir, prompt2, 6, Set.of()), true);
        try (Serve.Server s = Serve.Server.start(options(dir, null), "127.0.0.1", 0)) {
            String first = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 6, \"temperature\": 0}";
            assertThat(choice(post(s, "/v1/chat/completions", first).json()).get("message").toString()).contains("content=" + reply1);
            assertThat(s.batcher().reusedTokens()).isZero();
            String second = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": " + Json.write(reply1)
                    + "}, {\"role\": \"user\", \"content\": \"more\"}], \"max_tokens\": 6, \"temperature\": 0}";
            assertThat(choice(post(s, "/v1/chat/completions", second).json()).get("message").toString()).contains("content=" + reply2);
            assertThat(s.batcher().reusedTokens()).as("the first turn's prompt skipped").isGreaterThanOrEqualTo(prompt1.length);
            assertThat(s.batcher().prefilledTokens()).isEqualTo(prompt1.length + prompt2.length - s.batcher().reusedTokens());
        }
    }

    static List<Long> bytesOf(HfTokenizer tok, long id) {
        List<Long> out = new ArrayList<>();
        for (byte b : tok.bytes(id).orElseThrow()) out.add((long) (b & 0xFF));
        return out;
    }

    /** A token's text as OpenAI's logprobs write it: the text of a whole character, else {@code bytes:\\xNN}. */
    static String text(HfTokenizer tok, long id) {
        byte[] b = tok.bytes(id).orElseThrow();
        String s = new String(b, java.nio.charset.StandardCharsets.UTF_8);
        if (!s.contains("\uFFFD")) return s;
        StringBuilder out = new StringBuilder("bytes:");
        for (byte x : b) out.append(String.format("\\x%02x", x & 0xFF));
        return out.toString();
    }

    static final String TOOL = "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\"}}}";

    /**
     * A byte-level tokenizer whose ids 248-255 (bytes that UTF-8 never uses) are DeepSeek's reply
     * markers and an EOS, as added tokens: {@code <think>} and {@code </think>} not special, the
     * tool markers special (so only the server's keeping them lets a call be parsed), and a chat
     * template that opens {@code <think>} after the prompt, as R1's does.
     */
    static Path markerCheckpoint(Path dir) throws IOException {
        checkpoint(dir, null);
        Map<String, Object> tok = Json.parseObject(Files.readString(dir.resolve("tokenizer.json")));
        @SuppressWarnings("unchecked")
        Map<String, Object> vocab = (Map<String, Object>) ((Map<String, Object>) tok.get("model")).get("vocab");
        vocab.values().removeIf(id -> (long) id >= 248);
        List<String> added = List.of(ChatOutput.THINK, ChatOutput.END_THINK, ChatOutput.CALLS_BEGIN, ChatOutput.CALL_BEGIN, ChatOutput.SEP,
                ChatOutput.CALL_END, ChatOutput.CALLS_END, "<eos>");
        List<Object> tokens = new ArrayList<>();
        for (int i = 0; i < added.size(); i++) {
            tokens.add(Map.of("id", 248L + i, "content", added.get(i), "special", i >= 2, "single_word", false, "lstrip", false, "rstrip", false,
                    "normalized", false));
        }
        tok.put("added_tokens", tokens);
        Files.writeString(dir.resolve("tokenizer.json"), Json.write(tok));
        Map<String, Object> config = Json.parseObject(Files.readString(dir.resolve("config.json")));
        config.put("max_position_embeddings", 256L);   // room for a scripted reply (the engine reads no positions)
        Files.writeString(dir.resolve("config.json"), Json.write(config));
        Files.writeString(dir.resolve("tokenizer_config.json"), Json.write(Map.of("eos_token", "<eos>",
                "chat_template", "{% for m in messages %}<{{ m.role[0] }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<a><think>\n{% endif %}")));
        return dir;
    }

    /** An engine that writes {@code script} (then EOS, if there is room), a token at a time, as a model would. */
    static Serve.Engine scripted(HfTokenizer tok, String[] script) {
        return (r, prompts, stopIds, sink) -> {
            long[] ids = tok.encode(script[0], false);
            long all = 0;
            for (int p = 0; p < prompts.size(); p++) {
                long n = 0;
                for (long id : ids) {
                    if (n == r.maxTokens()) break;
                    sink.accept(p, id);
                    n++;
                    if (sink.ended(p)) break;
                }
                if (n < r.maxTokens() && !sink.ended(p)) {
                    sink.accept(p, tok.eosId().orElseThrow());
                    n++;
                }
                all += n;
            }
            return all;
        };
    }

    @Test
    @SuppressWarnings("unchecked")
    void aChatReplySplitsIntoReasoningContentAndToolCalls(@TempDir Path tmp) throws Exception {
        Path dir = markerCheckpoint(tmp.resolve("m"));
        HfTokenizer tok = HfTokenizer.load(dir);
        assertThat(tok.isSpecial(tok.id(ChatOutput.CALL_BEGIN).orElseThrow())).isTrue();
        String call = ChatOutput.CALL_BEGIN + "function" + ChatOutput.SEP + "get_weather\n```json\n{\"city\": \"Paris\"}\n```" + ChatOutput.CALL_END;
        String[] script = {"The user wants weather.\n</think>\n\nChecking." + ChatOutput.CALLS_BEGIN + call + ChatOutput.CALLS_END};
        String ask = "{\"messages\": [{\"role\": \"user\", \"content\": \"Weather in Paris?\"}], \"tools\": [" + TOOL + "], \"max_tokens\": 120";
        try (Serve.Server s = Serve.Server.start(options(dir, null), "127.0.0.1", 0, scripted(tok, script))) {
            Reply r = post(s, "/v1/chat/completions", ask + "}");
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            Map<String, Object> message = (Map<String, Object>) choice(r.json()).get("message");
            assertThat(message).containsEntry("reasoning_content", "The user wants weather.\n").containsEntry("content", "Checking.");
            assertThat(message.get("tool_calls").toString()).matches("\\[\\{id=call_\\w+, type=function, function=\\{name=get_weather, arguments=\\{\"city\": \"Paris\"}}}]");
            assertThat(choice(r.json())).containsEntry("finish_reason", "tool_calls");

            // streamed: reasoning and content deltas, then the call whole, with its index
            Reply st = post(s, "/v1/chat/completions", ask + ", \"stream\": true}");
            StringBuilder reasoning = new StringBuilder(), content = new StringBuilder();
            List<Object> calls = new ArrayList<>();
            String finish = null;
            for (String e : st.events()) {
                if (e.equals("[DONE]")) continue;
                Map<String, Object> c = choice(Json.parseObject(e));
                Map<String, Object> delta = (Map<String, Object>) c.get("delta");
                if (delta.get("reasoning_content") != null) reasoning.append(delta.get("reasoning_content"));
                if (delta.get("content") != null) content.append(delta.get("content"));
                if (delta.get("tool_calls") != null) calls.addAll((List<Object>) delta.get("tool_calls"));
                if (c.get("finish_reason") != null) finish = (String) c.get("finish_reason");
            }
            assertThat(reasoning.toString()).isEqualTo("The user wants weather.\n");
            assertThat(content.toString()).isEqualTo("Checking.");
            assertThat(calls.toString()).matches("\\[\\{index=0, id=call_\\w+, type=function, function=\\{name=get_weather, arguments=\\{\"city\": \"Paris\"}}}]");
            assertThat(finish).isEqualTo("tool_calls");

            // cut inside the call: its text stays in the content, markers and all
            Reply cut = post(s, "/v1/chat/completions", ask.replace("120", "50") + "}");
            message = (Map<String, Object>) choice(cut.json()).get("message");
            String upTo50 = tok.decode(java.util.Arrays.copyOf(tok.encode(script[0], false), 50), false);
            assertThat(message).containsEntry("content", "Checking." + upTo50.substring(upTo50.indexOf(ChatOutput.CALL_BEGIN))).doesNotContainKey("tool_calls");
            assertThat(choice(cut.json())).containsEntry("finish_reason", "length");

            // tool_choice "none": no parsing, and the special tool markers are left out of the text, as before
            Reply none = post(s, "/v1/chat/completions", ask + ", \"tool_choice\": \"none\"}");
            message = (Map<String, Object>) choice(none.json()).get("message");
            assertThat(message).containsEntry("content", "Checking.function" + "get_weather\n```json\n{\"city\": \"Paris\"}\n```").doesNotContainKey("tool_calls");
            assertThat(choice(none.json())).containsEntry("finish_reason", "stop");

            // a completion is not parsed: its text is the decoded tokens, special ones left out
            script[0] = "a</think>b" + call;
            Reply completion = post(s, "/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": 120}");
            assertThat(choice(completion.json())).containsEntry("text", tok.decode(tok.encode(script[0], false), true));
        }
    }

    @Test
    void theCommandRefusesBadOptions() {
        assertThat(CliTest.run("serve").status()).isEqualTo(2);
        assertThat(CliTest.run("serve", "--model", "x", "--port", "70000").err()).contains("--port must be in 0..65535");
        assertThat(CliTest.run("serve", "--model", "x", "--speculative", "fast").err()).contains("mtp, lookup or lookup:NGRAM:TOKENS");
        assertThat(CliTest.run("serve", "--model", "x", "--max-tokens", "0").err()).contains("--max-tokens must be >= 1");
        assertThat(CliTest.run("serve", "--model", "x", "--max-num-seqs", "0").err()).contains("--max-num-seqs must be in 1..1024, got 0");
        assertThat(CliTest.run("serve", "--model", "x", "--max-num-seqs", "many").err()).contains("not a number: many");
    }
}
