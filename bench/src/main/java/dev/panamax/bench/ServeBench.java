package dev.panamax.bench;

import dev.panamax.cli.Main;
import dev.panamax.moe.DeepSeekModel;
import dev.panamax.moe.Generator;
import dev.panamax.moe.Mla;
import dev.panamax.moe.Sampler;
import dev.panamax.moe.text.ChatTemplate;
import dev.panamax.moe.text.HfTokenizer;
import dev.panamax.runtime.io.Json;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * {@code panamax serve} against its baseline, the library call it answers with, run beside it:
 * {@link #library} lays a one-message chat out by the template, generates {@code tokens} greedy
 * tokens with {@link Generator} and decodes them; {@link #http} and {@link #httpStream} send the
 * same request to the server (in this JVM, on the loopback) as OpenAI's chat completion, whole or
 * as server-sent events; {@link #httpLogprobs} asks for logprobs too, and {@link #httpN4} for 4
 * choices. These go to the server as it runs by default, its requests' sequences in one continuous
 * batch; {@link #httpSerial} sends the request of {@link #http} to a second server that answers one
 * request at a time ({@code --max-num-seqs 1}, the library's loop under a lock).
 * {@link #concurrent4} sends four chats with prompts of different lengths at once to the batching
 * server, {@link #concurrent4Serial} the same four to the serial one: the time until all four
 * have their replies. The checkpoint is the first DeepSeek reference case (tiny: a token takes well under a
 * millisecond, so what the server adds shows), with a byte-level tokenizer and a one-line chat
 * template. Setup checks that the server's reply is the library's text.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class ServeBench {
    /** New tokens per request. */
    @Param({"8", "32"})
    public int tokens;

    private static final String TEMPLATE = "{% for m in messages %}<{{ m.role[0] }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<a>{% endif %}";

    Path dir;
    DeepSeekModel model;
    HfTokenizer tok;
    HttpClient client;
    URI uri, serialUri;
    String body, streamBody, logprobsBody, n4Body;
    List<String> four;

    @Setup(Level.Trial)
    public void setup() throws Exception {
        Path ref = Path.of(System.getProperty("panamax.reference.deepseek", "../shared/reference/deepseek_v3"));
        Path src;
        try (var s = Files.list(ref)) {
            src = s.filter(d -> Files.isRegularFile(d.resolve("config.json"))).sorted().findFirst().orElseThrow();
        }
        dir = Files.createTempDirectory("serve-bench");
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        Files.writeString(dir.resolve("tokenizer.json"), Json.write(byteTokenizer()));
        Files.writeString(dir.resolve("tokenizer_config.json"), Json.write(Map.of("chat_template", TEMPLATE)));
        model = DeepSeekModel.load(dir, false);
        tok = HfTokenizer.load(dir);
        client = HttpClient.newHttpClient();
        uri = serve();
        serialUri = serve("--max-num-seqs", "1");
        body = "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"What is 12 + 30?\"}], \"max_tokens\": " + tokens + ", \"temperature\": 0}";
        streamBody = body.substring(0, body.length() - 1) + ", \"stream\": true}";
        logprobsBody = body.substring(0, body.length() - 1) + ", \"logprobs\": true, \"top_logprobs\": 5}";
        n4Body = body.substring(0, body.length() - 1) + ", \"n\": 4}";
        four = List.of("What is 12 + 30?", "Hi", "Name three colours.", "Count to five, please.").stream()
                .map(q -> body.replace("What is 12 + 30?", q)).toList();
        String want = library();
        for (URI server : List.of(uri, serialUri)) {
            String got = null;
            for (int i = 0; i < 600 && got == null; i++) {   // the server loads the model
                try {
                    got = http(server, body);
                } catch (IOException notYet) {
                    Thread.sleep(100);
                }
            }
            if (got == null || !got.contains(Json.write(want))) throw new IllegalStateException(server + "'s reply " + got + " is not the library's text " + want);
        }
        List<String> batched = concurrent(uri), serial = concurrent(serialUri);
        if (!batched.equals(serial)) throw new IllegalStateException("the batching server's replies " + batched + " are not the serial one's " + serial);
    }

    /** Starts a server (in this JVM, on a free port, with {@code options}) and returns its chat URI. */
    private URI serve(String... options) throws IOException {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        List<String> args = new java.util.ArrayList<>(List.of("serve", "--model", dir.toString(), "--port", Integer.toString(port), "--served-model-name", "tiny"));
        args.addAll(List.of(options));
        Thread server = new Thread(() -> Main.run(args.toArray(String[]::new), new PrintStream(new ByteArrayOutputStream()), System.err), "panamax serve");
        server.setDaemon(true);
        server.start();
        return URI.create("http://127.0.0.1:" + port + "/v1/chat/completions");
    }

    /** The four chats sent at once to {@code server}; their replies' texts, in order. */
    private List<String> concurrent(URI server) {
        List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> sent = four.stream()
                .map(b -> client.sendAsync(HttpRequest.newBuilder(server).POST(HttpRequest.BodyPublishers.ofString(b)).build(),
                        HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8))).toList();
        List<String> out = new java.util.ArrayList<>();
        for (var f : sent) {
            HttpResponse<String> r = f.join();
            if (r.statusCode() != 200) throw new IllegalStateException("status " + r.statusCode() + ": " + r.body());
            Object message = ((Map<?, ?>) ((List<?>) Json.parseObject(r.body()).get("choices")).getFirst()).get("message");
            out.add(String.valueOf(((Map<?, ?>) message).get("content")));
        }
        return out;
    }

    private static Map<String, Object> byteTokenizer() {
        Map<String, Object> vocab = new LinkedHashMap<>();
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            vocab.put(String.valueOf((char) (printable ? b : 256 + n++)), (long) b);
        }
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("pre_tokenizer", Map.of("type", "ByteLevel", "add_prefix_space", false, "use_regex", true));
        t.put("decoder", Map.of("type", "ByteLevel"));
        t.put("model", Map.of("type", "BPE", "vocab", vocab, "merges", List.of()));
        return t;
    }

    private String http(String request) throws IOException, InterruptedException {
        return http(uri, request);
    }

    private String http(URI server, String request) throws IOException, InterruptedException {
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(server).POST(HttpRequest.BodyPublishers.ofString(request)).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        if (r.statusCode() != 200) throw new IllegalStateException("status " + r.statusCode() + ": " + r.body());
        return r.body();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        model.close();
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) Files.delete(f);
        }
        Files.delete(dir);
    }

    /** The baseline: the chat laid out, generated and decoded by the library. */
    @Benchmark
    public String library() {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open()) {
            long[] prompt = tok.encodeChat(List.of(ChatTemplate.message("user", "What is 12 + 30?")), true);
            long[] ids = Generator.generate(model, List.of(prompt), tokens, Set.of(), Sampler.greedy(), Mla.ABSORBED).completions().getFirst();
            return tok.decode(ids, true);
        }
    }

    /** The same chat as one HTTP request and JSON reply. */
    @Benchmark
    public String http() throws IOException, InterruptedException {
        return http(body);
    }

    /** The same chat with logprobs (5 alternatives a token): one scoring pass over prompt and reply after generation. */
    @Benchmark
    public String httpLogprobs() throws IOException, InterruptedException {
        return http(logprobsBody);
    }

    /** The same chat with {@code n} 4: four choices as rows of one batch (against four {@link #http} requests). */
    @Benchmark
    public String httpN4() throws IOException, InterruptedException {
        return http(n4Body);
    }

    /** The chat of {@link #http} to the server that answers one request at a time. */
    @Benchmark
    public String httpSerial() throws IOException, InterruptedException {
        return http(serialUri, body);
    }

    /** Four chats at once to the batching server: their sequences share decode steps. */
    @Benchmark
    public List<String> concurrent4() {
        return concurrent(uri);
    }

    /** The same four chats at once to the serial server: one after another. */
    @Benchmark
    public List<String> concurrent4Serial() {
        return concurrent(serialUri);
    }

    /** The same chat streamed: an event per token. */
    @Benchmark
    public String httpStream() throws IOException, InterruptedException {
        return http(streamBody);
    }
}
