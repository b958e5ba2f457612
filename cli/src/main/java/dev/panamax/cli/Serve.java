package dev.panamax.cli;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.panamax.moe.Batcher;
import dev.panamax.moe.DeepSeekConfig;
import dev.panamax.moe.DeepSeekModel;
import dev.panamax.moe.Generator;
import dev.panamax.moe.Mla;
import dev.panamax.moe.MultiTokenPredictor;
import dev.panamax.moe.Sampler;
import dev.panamax.moe.Scoring;
import dev.panamax.moe.text.HfTokenizer;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.io.Json;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code panamax serve --model DIR [--host H] [--port P] [--served-model-name NAME] [--max-tokens N]
 * [--device cpu|cuda|cuda:N] [--kv-cache f32|bf16] [--naive] [--speculative mtp|lookup[:NGRAM:TOKENS]]}:
 * an HTTP server with OpenAI's API for a DeepSeek checkpoint and its tokenizer:
 * <ul>
 *   <li>{@code POST /v1/chat/completions}: the messages laid out by the checkpoint's chat template
 *       ({@code tools} passed to it), the reply as reasoning, text and tool calls;</li>
 *   <li>{@code POST /v1/completions}: a text prompt (BOS added as the tokenizer says), token ids,
 *       or an array of either (a choice each);</li>
 *   <li>{@code GET /v1/models}, {@code GET /health}.</li>
 * </ul>
 * Both completions take {@code max_tokens} (or {@code max_completion_tokens}), {@code temperature}
 * (1 by default, 0 greedy), {@code top_p}, {@code top_k}, {@code seed}, {@code stop} (strings, up
 * to 4; the text ends before the first that appears), {@code stream} (server-sent events, ending
 * with {@code data: [DONE]}) and {@code stream_options.include_usage}. Generation stops at the
 * tokenizer's EOS ({@code finish_reason} {@code "stop"}) or after the tokens asked for
 * ({@code "length"}). A chat's reply is split into {@code reasoning_content}, {@code content} and
 * {@code tool_calls} (when {@code tools} are offered, {@code tool_choice} {@code "auto"}) as
 * {@link ChatOutput} reads DeepSeek's markers; {@code finish_reason} is then {@code "tool_calls"}.
 * Completions take {@code logprobs} (0-20 alternatives) and {@code echo} ({@code max_tokens} 0
 * then scores the prompt alone), chats {@code logprobs} and {@code top_logprobs}: the model's raw
 * log-probabilities, from one {@link Scoring} pass after generation (so not streamed).
 * {@code n} choices a prompt (up to {@value Request#MAX_CHOICES} a request) are generated as one
 * batch with the prompts of the same length, streamed under their indices. Requests are served one
 * at a time, in order. A bad request gets status 400 with OpenAI's error
 * object naming the field.
 */
final class Serve {
    /** The JDK HTTP server's switch for TCP_NODELAY on its connections. */
    static final String NODELAY = "sun.net.httpserver.nodelay";

    /** The largest request body read (a bigger one gets status 413). */
    static final int MAX_BODY = 8 << 20;

    private Serve() {
    }

    /** The most sequences in the continuous batch, unless {@code --max-num-seqs} says. */
    static final int MAX_NUM_SEQS = 8;

    /**
     * What the server runs: the model and how it generates; {@code maxNumSeqs} sequences at most
     * in its continuous batch (1: requests one at a time, each generated as a batch of its own).
     */
    record Options(Path model, String name, int maxTokens, Decoding decoding, int maxNumSeqs) {
        Options(Path model, String name, int maxTokens, Decoding decoding) {
            this(model, name, maxTokens, decoding, MAX_NUM_SEQS);
        }
    }

    static int run(String[] args, PrintStream out) throws InterruptedException {
        Path model = null;
        String host = "127.0.0.1", name = null;
        int port = 8000, maxTokens = 512, maxNumSeqs = MAX_NUM_SEQS;
        Decoding d = new Decoding();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (d.flag(a)) continue;
            if (i + 1 >= args.length) throw new Main.UsageException("option " + a + " needs a value");
            String v = args[++i];
            try {
                switch (a) {
                    case "--model" -> model = Path.of(v);
                    case "--host" -> host = v;
                    case "--port" -> port = Integer.parseInt(v);
                    case "--served-model-name" -> name = v;
                    case "--max-tokens" -> maxTokens = Integer.parseInt(v);
                    case "--max-num-seqs" -> maxNumSeqs = Integer.parseInt(v);
                    default -> {
                        if (!d.option(a, v)) throw new Main.UsageException("unknown option " + a);
                    }
                }
            } catch (NumberFormatException e) {
                throw new Main.UsageException("option " + a + ": not a number: " + v);
            } catch (IllegalArgumentException e) {
                throw new Main.UsageException("option " + a + ": " + e.getMessage());
            }
        }
        if (model == null) throw new Main.UsageException("--model DIR is required");
        if (port < 0 || port > 65535) throw new Main.UsageException("--port must be in 0..65535, got " + port);
        if (maxTokens < 1) throw new Main.UsageException("--max-tokens must be >= 1, got " + maxTokens);
        if (maxNumSeqs < 1 || maxNumSeqs > 1024) throw new Main.UsageException("--max-num-seqs must be in 1..1024, got " + maxNumSeqs);
        d.checkDevice();
        Options o = new Options(model, name != null ? name : model.toAbsolutePath().normalize().getFileName().toString(), maxTokens, d, maxNumSeqs);
        CountDownLatch stopped = new CountDownLatch(1);
        try (Server s = Server.start(o, host, port)) {
            out.printf(Locale.ROOT, "serving %s as \"%s\" at http://%s:%d/v1 (Ctrl-C stops)%n", model, o.name(), host, s.port());
            out.flush();
            Runtime.getRuntime().addShutdownHook(new Thread(stopped::countDown));
            stopped.await();
        }
        return 0;
    }

    /** A running server; {@link #close()} stops it and frees the model. */
    static final class Server implements AutoCloseable {
        private final Options o;
        private final Scope scope;
        private final DeepSeekModel model;
        private final MultiTokenPredictor mtp;
        private final HfTokenizer tok;
        private final HttpServer http;
        private final ExecutorService threads;
        private final ReentrantLock generating = new ReentrantLock(true);
        private final AtomicLong ids = new AtomicLong();
        private final Engine engine;
        private final Batcher batcher;   // the continuous batch every request's sequences join, or null: one request at a time

        private Server(Options o, String host, int port, Engine engine) throws IOException {
            this.o = o;
            tok = HfTokenizer.load(o.model());
            scope = Scope.open();
            DeepSeekModel m = null;
            MultiTokenPredictor p = null;
            try {
                m = DeepSeekModel.load(o.model(), false, o.decoding().device);
                if (tok.vocabSize() > m.config().vocabSize()) {
                    throw new IllegalArgumentException(tok.source() + " has " + tok.vocabSize() + " tokens, more than the model's vocab_size of " + m.config().vocabSize());
                }
                if ("mtp".equals(o.decoding().speculative)) p = MultiTokenPredictor.load(o.model(), m);
                // each streamed event goes out at once, not held by Nagle's algorithm for the client's
                // delayed ACK (40 ms an event); read when the JDK's server is first made
                if (System.getProperty(NODELAY) == null) System.setProperty(NODELAY, "true");
                http = HttpServer.create(new InetSocketAddress(host, port), 0);
            } catch (IOException | RuntimeException e) {
                if (p != null) p.close();
                if (m != null) m.close();
                scope.close();
                throw e;
            }
            model = m;
            mtp = p;
            Decoding d = o.decoding();
            // speculation verifies several tokens a step, and the naive path has no decode at positions of each sequence's own
            boolean batching = engine == null && o.maxNumSeqs() > 1 && d.speculative == null && d.path == Mla.ABSORBED;
            batcher = batching ? new Batcher(model, o.maxNumSeqs(), d.cache) : null;
            this.engine = engine != null ? engine : batching ? this::generateBatched : this::generate;
            // platform threads: the kernels' fork-join work runs from the generating thread, and a
            // virtual thread cost 0.1 ms a token more (ServeBench)
            threads = Executors.newCachedThreadPool(r -> {
                Thread t = new Thread(r, "panamax serve");
                t.setDaemon(true);
                return t;
            });
            http.setExecutor(threads);
            http.createContext("/", this::handle);
            http.start();
        }

        /** Loads the model and its tokenizer and starts serving at {@code host:port} (port 0: any free one). */
        static Server start(Options o, String host, int port) {
            return start(o, host, port, null);
        }

        /** {@link #start(Options, String, int)}, generating with {@code engine} (a test's script) instead of the model, if not null. */
        static Server start(Options o, String host, int port, Engine engine) {
            try {
                return new Server(o, host, port, engine);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot serve at " + host + ":" + port + ": " + e.getMessage(), e);
            }
        }

        /** The continuous batch the requests' sequences join, or null where requests run one at a time. */
        Batcher batcher() {
            return batcher;
        }

        /** The port served. */
        int port() {
            return http.getAddress().getPort();
        }

        @Override
        public void close() {
            http.stop(0);
            threads.close();
            if (batcher != null) batcher.close();
            generating.lock();   // a generation under way finishes first
            try {
                if (mtp != null) mtp.close();
                model.close();
                scope.close();
            } finally {
                generating.unlock();
            }
        }

        private void handle(HttpExchange ex) {
            try (ex) {   // closed after the answer, an error's included
                try {
                    route(ex);
                } catch (ApiError e) {
                    sendError(ex, e);
                } catch (RuntimeException e) {
                    sendError(ex, new ApiError(500, e.getClass().getSimpleName() + ": " + e.getMessage(), null));
                } catch (IOException e) {
                    // the client went away: nothing to answer
                }
            }
        }

        private void route(HttpExchange ex) throws IOException {
            String route = ex.getRequestURI().getPath();
            switch (route) {
                case "/health" -> {
                    requireMethod(ex, "GET");
                    send(ex, 200, "text/plain", "ok");
                }
                case "/v1/models" -> {
                    requireMethod(ex, "GET");
                    Map<String, Object> list = new LinkedHashMap<>();
                    list.put("object", "list");
                    list.put("data", List.of(modelEntry()));
                    send(ex, 200, list);
                }
                case "/v1/chat/completions", "/v1/completions" -> {
                    requireMethod(ex, "POST");
                    complete(ex, route.equals("/v1/chat/completions"), readBody(ex));
                }
                default -> throw new ApiError(404, "no route " + route, null);
            }
        }

        private Map<String, Object> modelEntry() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", o.name());
            m.put("object", "model");
            m.put("created", 0L);
            m.put("owned_by", "panamax");
            m.put("max_model_len", (long) model.config().maxPositionEmbeddings());
            return m;
        }

        private static void requireMethod(HttpExchange ex, String method) {
            if (!ex.getRequestMethod().equals(method)) throw new ApiError(405, ex.getRequestURI().getPath() + " takes " + method + ", not " + ex.getRequestMethod(), null);
        }

        private static Map<String, Object> readBody(HttpExchange ex) throws IOException {
            byte[] body;
            try (InputStream in = ex.getRequestBody()) {
                body = in.readNBytes(MAX_BODY + 1);
            }
            if (body.length > MAX_BODY) throw new ApiError(413, "the request body is over " + MAX_BODY + " bytes", null);
            try {
                return Json.parseObject(new String(body, StandardCharsets.UTF_8));
            } catch (Json.JsonException e) {
                throw new ApiError(400, "the body is not a JSON object: " + e.getMessage(), null);
            }
        }

        /**
         * One request: read, each prompt's tokens generated (in the continuous batch, or under the
         * lock where there is none) and scored, where logprobs are asked for, the reply sent or
         * streamed.
         */
        private void complete(HttpExchange ex, boolean chat, Map<String, Object> req) throws IOException {
            Request r = Request.read(req, chat, tok, o, model.config());
            String id = (chat ? "chatcmpl-" : "cmpl-") + ids.incrementAndGet();
            long created = System.currentTimeMillis() / 1000;
            Reply reply = new Reply(ex, r, id, created);
            boolean serial = batcher == null;
            if (serial) generating.lock();
            try {
                List<Completion> done = completions(r, reply);
                List<Map<String, Object>> choices = new ArrayList<>();
                long promptTokens = 0, completionTokens = 0;
                for (long[] prompt : r.prompts()) promptTokens += prompt.length;
                for (int c = 0; c < done.size(); c++) {
                    int prompt = c / r.n();
                    completionTokens += done.get(c).tokens();
                    choices.add(reply.choice(c, done.get(c), r.echo() ? r.promptTexts().get(prompt) : "", logprobs(r, prompt, done.get(c))));
                }
                reply.finish(choices, promptTokens, completionTokens);
            } finally {
                if (serial) generating.unlock();
            }
        }

        /**
         * Every choice's completion: {@code n} a prompt, choice {@code i * n + j} the j-th of prompt
         * i, generated as one batch where the prompts are of one length (the library batches by
         * length), each choice's parts handed to {@code reply} as they come when streaming.
         */
        private List<Completion> completions(Request r, Reply reply) {
            List<long[]> rows = new ArrayList<>();
            for (long[] prompt : r.prompts()) for (int j = 0; j < r.n(); j++) rows.add(prompt);
            int count = rows.size();
            ChatOutput[] parts = new ChatOutput[count];
            Text[] text = new Text[count];
            List<List<Long>> generated = new ArrayList<>();
            Set<Long> keep = r.chat() ? markers(r.tools()) : Set.of();
            for (int c = 0; c < count; c++) {
                parts[c] = r.chat() ? new ChatOutput(r.thinking(), r.tools()) : null;
                text[c] = new Text(tok, r.stop(), keep);
                generated.add(new ArrayList<>());
                if (r.echo()) reply.delta(c, r.promptTexts().get(c / r.n()));   // streamed first (a whole reply has it in its choice)
            }
            Set<Long> stopIds = new HashSet<>();
            tok.eosId().ifPresent(stopIds::add);
            Generator.TokenSink sink = new Generator.TokenSink() {
                @Override
                public void accept(int c, long token) {
                    generated.get(c).add(token);
                    hand(reply, c, parts[c], text[c].add(token, stopIds.contains(token)));
                }

                @Override
                public boolean ended(int c) {
                    return text[c].stopped() || reply.gone();
                }
            };
            if (r.maxTokens() > 0) {   // 0: only the prompts, echoed and scored
                try (Scope s = Scope.open()) {
                    engine.generate(r, rows, stopIds, sink);
                }
            }
            List<Completion> out = new ArrayList<>();
            for (int c = 0; c < count; c++) {
                hand(reply, c, parts[c], text[c].finish());
                if (parts[c] != null) for (ChatOutput.Delta d : parts[c].finish()) reply.part(c, d);
                List<Long> ids = generated.get(c);
                long tokens = ids.size();
                boolean eos = !ids.isEmpty() && stopIds.contains(ids.getLast());
                String finish = text[c].stopped() || eos ? "stop" : "length";
                if (parts[c] != null && !parts[c].calls().isEmpty() && finish.equals("stop")) finish = "tool_calls";
                if (eos) ids.removeLast();   // not in the text, nor scored
                out.add(new Completion(text[c].text(), parts[c], finish, tokens, ids.stream().mapToLong(Long::longValue).toArray()));
            }
            return out;
        }

        /** The library's generation of a batch of prompts: the request's sampler, the server's decoding options. */
        private long generate(Request r, List<long[]> prompts, Set<Long> stopIds, Generator.TokenSink sink) {
            Sampler sampler = sampler(r, 0);
            Decoding d = o.decoding();
            return d.speculative == null
                    ? Generator.generate(model, prompts, r.maxTokens(), stopIds, sampler, d.path, d.cache, sink).tokens()
                    : d.speculation(mtp).generate(model, prompts, r.maxTokens(), stopIds, sampler, d.path, d.cache, sink).tokens();
        }

        /** The request's sampler (its seed plus {@code offset}: each choice its own in the continuous batch). */
        private static Sampler sampler(Request r, long offset) {
            return r.temperature() == 0 ? Sampler.greedy() : Sampler.of(r.temperature(), r.topK(), r.topP(), r.seed() + offset);
        }

        /**
         * Generation in the continuous batch: each prompt a sequence of its own, choice c drawn
         * with the request's seed plus c, its tokens handed from the batcher's thread to this one
         * (which writes them out, so that a slow client holds up only itself). A choice whose sink
         * has ended is cancelled, its tokens after that dropped.
         */
        private long generateBatched(Request r, List<long[]> prompts, Set<Long> stopIds, Generator.TokenSink sink) {
            int count = prompts.size();
            java.util.concurrent.LinkedBlockingQueue<long[]> events = new java.util.concurrent.LinkedBlockingQueue<>();   // {choice, token}, or {choice} at its end
            Batcher.Sequence[] seqs = new Batcher.Sequence[count];
            try {
                for (int c = 0; c < count; c++) {
                    int choice = c;
                    seqs[c] = batcher.submit(prompts.get(c), r.maxTokens(), stopIds, sampler(r, c), new Batcher.Listener() {
                        @Override
                        public void token(long id) {
                            events.add(new long[]{choice, id});
                        }

                        @Override
                        public void done(Throwable failure) {
                            events.add(new long[]{choice});
                        }
                    });
                }
                boolean[] ended = new boolean[count];
                long total = 0;
                for (int open = count; open > 0; ) {
                    long[] e = events.take();
                    int c = (int) e[0];
                    if (e.length == 1) {
                        open--;
                    } else if (!ended[c]) {
                        sink.accept(c, e[1]);
                        total++;
                        if (sink.ended(c)) {
                            ended[c] = true;
                            seqs[c].cancel();
                        }
                    }
                }
                for (Batcher.Sequence q : seqs) q.await();   // a failure's exception
                return total;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while generating", e);
            } finally {
                for (Batcher.Sequence q : seqs) if (q != null) q.cancel();
            }
        }

        /**
         * The logprobs of the prompt at {@code index}'s completion (its prompt's too, echoed), in
         * OpenAI's layout, or null where none were asked for: the model's raw log-probabilities
         * ({@link Scoring}, one pass over prompt and completion), each token's text the tokenizer's
         * for it alone.
         */
        private Map<String, Object> logprobs(Request r, int index, Completion c) {
            if (r.logprobs() < 0) return null;
            long[] prompt = r.prompts().get(index);
            long[] all = Arrays.copyOf(prompt, prompt.length + c.ids().length);
            System.arraycopy(c.ids(), 0, all, prompt.length, c.ids().length);
            java.util.function.Supplier<List<Scoring.Token>> score = () -> {
                try (Scope s = Scope.open()) {
                    return Scoring.score(model, all, r.echo() ? 0 : prompt.length, r.logprobs(), o.decoding().path);
                }
            };
            List<Scoring.Token> scored;
            try {
                scored = batcher != null ? batcher.call(score) : score.get();   // the batcher's thread alone uses the model while it runs
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while scoring", e);
            }
            Map<String, Object> out = new LinkedHashMap<>();
            if (r.chat()) {
                List<Object> content = new ArrayList<>();
                for (Scoring.Token t : scored) {
                    Map<String, Object> entry = logprob(t.id(), t.logprob());
                    List<Object> top = new ArrayList<>();
                    for (int k = 0; k < t.topIds().length; k++) top.add(logprob(t.topIds()[k], t.topLogprobs()[k]));
                    entry.put("top_logprobs", top);
                    content.add(entry);
                }
                out.put("content", content);
                return out;
            }
            List<Object> tokens = new ArrayList<>(), lps = new ArrayList<>(), tops = new ArrayList<>(), offsets = new ArrayList<>();
            long offset = 0;
            for (Scoring.Token t : scored) {
                String piece = tokenText(t.id());
                tokens.add(piece);
                offsets.add(offset);
                offset += piece.length();
                if (Double.isNaN(t.logprob())) {   // the first token: nothing predicts it
                    lps.add(null);
                    tops.add(null);
                    continue;
                }
                lps.add(t.logprob());
                Map<String, Object> top = new LinkedHashMap<>();   // the token itself too, as vLLM gives it
                for (int k = 0; k < t.topIds().length; k++) top.putIfAbsent(tokenText(t.topIds()[k]), t.topLogprobs()[k]);
                top.putIfAbsent(piece, t.logprob());
                tops.add(top);
            }
            out.put("tokens", tokens);
            out.put("token_logprobs", lps);
            out.put("top_logprobs", tops);
            out.put("text_offset", offsets);
            return out;
        }

        /** A chat logprob entry: the token's text, its logprob, and its bytes. */
        private Map<String, Object> logprob(long id, double lp) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("token", tokenText(id));
            m.put("logprob", lp);
            List<Object> bytes = new ArrayList<>();
            for (byte b : tok.bytes(id).orElse(new byte[0])) bytes.add((long) (b & 0xFF));
            m.put("bytes", bytes);
            return m;
        }

        /**
         * A token's text in logprobs: its bytes as UTF-8, or, where they are part of a character,
         * {@code bytes:\xNN...} as OpenAI writes such a token.
         */
        private String tokenText(long id) {
            byte[] b = tok.bytes(id).orElse(new byte[0]);
            try {
                return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(b)).toString();
            } catch (java.nio.charset.CharacterCodingException e) {
                StringBuilder out = new StringBuilder("bytes:");
                for (byte x : b) out.append(String.format(Locale.ROOT, "\\x%02x", x & 0xFF));
                return out.toString();
            }
        }

        /** Choice {@code c}'s text safe to hand out: a completion's as it is, a chat's split into reasoning, content and tool calls. */
        private static void hand(Reply reply, int c, ChatOutput parts, String piece) {
            if (piece.isEmpty()) return;
            if (parts == null) reply.delta(c, piece);
            else for (ChatOutput.Delta d : parts.add(piece)) reply.part(c, d);
        }

        /**
         * The ids of the markers a chat reply is parsed at (the tool calls' only where tools are
         * offered), kept in its text though the tokenizer may mark them special.
         */
        private Set<Long> markers(boolean tools) {
            Set<Long> keep = new HashSet<>();
            for (String m : tools ? ChatOutput.MARKERS : List.of(ChatOutput.THINK, ChatOutput.END_THINK)) tok.id(m).ifPresent(keep::add);
            return keep;
        }
    }

    /** How the server generates its prompts' tokens: the library's loops, or a test's script. */
    @FunctionalInterface
    interface Engine {
        /**
         * Generates up to {@code r.maxTokens()} tokens after each of {@code prompts}, handing each
         * to {@code sink} with its prompt's index; returns how many in all.
         */
        long generate(Request r, List<long[]> prompts, Set<Long> stopIds, Generator.TokenSink sink);
    }

    /**
     * One prompt's completion: its text (cut at a stop string), a chat's parts, why it ended,
     * tokens generated, and the ids scored for logprobs (those generated, less an EOS).
     */
    record Completion(String text, ChatOutput parts, String finish, long tokens, long[] ids) {
    }

    /**
     * A request, read and checked: the prompts' ids (and their text, to echo), the choices a
     * prompt ({@code n}), how to generate, and what to return. {@code logprobs}: the alternatives a
     * token to return (-1: no logprobs).
     */
    record Request(List<long[]> prompts, List<String> promptTexts, int n, boolean chat, int maxTokens, double temperature, double topP, int topK,
                   long seed, List<String> stop, boolean stream, boolean includeUsage, String model, boolean tools, boolean thinking, boolean echo,
                   int logprobs) {
        /** The most alternatives a token that logprobs return (vLLM's default limit; OpenAI's is 5 for completions). */
        static final int MAX_LOGPROBS = 20;
        /** The most choices a request (prompts x {@code n}): each is a row of one batch, with its own KV cache rows. */
        static final int MAX_CHOICES = 64;

        static Request read(Map<String, Object> req, boolean chat, HfTokenizer tok, Options o, DeepSeekConfig cfg) {
            String model = req.containsKey("model") ? string(req, "model") : o.name();
            if (!model.equals(o.name())) throw new ApiError(404, "the model `" + model + "` does not exist; this server has `" + o.name() + "`", "model");
            long n = integer(req, "n", 1);
            if (n < 1 || n > MAX_CHOICES) throw new ApiError(400, "n must be in 1.." + MAX_CHOICES + ", got " + n, "n");
            for (String unsupported : chat ? List.of("logit_bias", "best_of", "suffix", "echo") : List.of("logit_bias", "best_of", "suffix", "top_logprobs")) {
                Object v = req.get(unsupported);
                if (v != null && !Boolean.FALSE.equals(v)) throw new ApiError(400, unsupported + " is not supported", unsupported);
            }
            List<long[]> prompts = new ArrayList<>();
            List<String> texts = new ArrayList<>();
            boolean tools = false;
            String promptField = chat ? "messages" : "prompt";
            try {
                if (chat) {
                    Object messages = req.get("messages");
                    if (!(messages instanceof List<?> list) || list.isEmpty()) throw new ApiError(400, "messages must be a non-empty array", "messages");
                    List<Map<String, Object>> ms = new ArrayList<>();
                    for (Object m : list) ms.add(message(m));
                    Map<String, Object> variables = new LinkedHashMap<>();
                    tools = tools(req);
                    if (req.get("tools") != null) variables.put("tools", req.get("tools"));
                    if (req.get("chat_template_kwargs") instanceof Map<?, ?> kw) kw.forEach((k, v) -> variables.put(String.valueOf(k), v));
                    prompts.add(tok.encodeChat(ms, true, variables));
                    texts.add("");
                } else {
                    for (Object p : promptList(req.get("prompt"))) {
                        if (p instanceof String text) {
                            prompts.add(tok.encode(text));
                            texts.add(text);
                        } else {
                            long[] ids = ids((List<?>) p, cfg.vocabSize());
                            prompts.add(ids);
                            texts.add(tok.decode(ids, false));
                        }
                    }
                }
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw new ApiError(400, (chat ? "the chat template failed: " : "the prompt cannot be encoded: ") + e.getMessage(), promptField);
            }
            int maxPositions = cfg.maxPositionEmbeddings();
            long room = Long.MAX_VALUE;
            for (long[] prompt : prompts) {
                if (prompt.length == 0) throw new ApiError(400, "the prompt is empty", promptField);
                if (prompt.length > maxPositions) throw new ApiError(400, "the prompt has " + prompt.length + " tokens; the model reads at most " + maxPositions, promptField);
                room = Math.min(room, maxPositions - (long) prompt.length);
            }
            boolean echo = Boolean.TRUE.equals(bool(req, "echo"));
            String maxField = req.get("max_completion_tokens") != null ? "max_completion_tokens" : "max_tokens";
            if (room < 1 && !echo) throw new ApiError(400, "the prompt has " + (maxPositions - room) + " tokens; the model reads at most " + maxPositions, promptField);
            long max = integer(req, maxField, Math.min(o.maxTokens(), room));
            if (max < (echo ? 0 : 1)) throw new ApiError(400, maxField + " must be >= " + (echo ? "0 (with echo)" : "1") + ", got " + max, maxField);
            if (max > room) {
                throw new ApiError(400, maxField + " is " + max + ", but the prompt's " + (maxPositions - room) + " tokens leave room for " + room
                        + " of the model's " + maxPositions, maxField);
            }
            double temperature = number(req, "temperature", 1.0), topP = number(req, "top_p", 1.0);
            long topK = integer(req, "top_k", 0);
            if (!(temperature >= 0 && temperature <= 100)) throw new ApiError(400, "temperature must be in [0, 100], got " + temperature, "temperature");
            if (!(topP > 0 && topP <= 1)) throw new ApiError(400, "top_p must be in (0, 1], got " + topP, "top_p");
            if (topK == -1) topK = 0;   // vLLM's "all"
            if (topK < 0 || topK > Integer.MAX_VALUE) throw new ApiError(400, "top_k must be >= 0 (or -1 for all), got " + topK, "top_k");
            long seed = req.get("seed") != null ? integer(req, "seed", 0) : System.nanoTime();
            List<String> stop = new ArrayList<>();
            Object s = req.get("stop");
            if (s instanceof String one) {
                stop.add(one);
            } else if (s instanceof List<?> many) {
                for (Object x : many) {
                    if (!(x instanceof String str)) throw new ApiError(400, "stop must be a string or an array of strings", "stop");
                    stop.add(str);
                }
            } else if (s != null) {
                throw new ApiError(400, "stop must be a string or an array of strings", "stop");
            }
            if (stop.size() > 4) throw new ApiError(400, "stop takes at most 4 strings, got " + stop.size(), "stop");
            if (stop.stream().anyMatch(String::isEmpty)) throw new ApiError(400, "a stop string is empty", "stop");
            boolean stream = Boolean.TRUE.equals(bool(req, "stream"));
            boolean usage = req.get("stream_options") instanceof Map<?, ?> so && Boolean.TRUE.equals(so.get("include_usage"));
            if (prompts.size() * n > MAX_CHOICES) {
                throw new ApiError(400, prompts.size() + " prompts x n = " + n + " is " + prompts.size() * n + " choices, more than " + MAX_CHOICES, "n");
            }
            int logprobs = logprobs(req, chat);
            if (stream && logprobs >= 0) throw new ApiError(400, "logprobs are not streamed: ask without stream", "logprobs");
            boolean thinking = chat && ChatOutput.opensThinking(tok.decode(Arrays.copyOfRange(prompts.getFirst(), Math.max(0, prompts.getFirst().length - 4),
                    prompts.getFirst().length), false));
            return new Request(List.copyOf(prompts), List.copyOf(texts), (int) n, chat, (int) max, temperature, topP, (int) topK, seed, List.copyOf(stop), stream,
                    usage, model, tools, thinking, echo, logprobs);
        }

        /** A completion's prompt field as a list of prompts: a string, token ids, or an array of either. */
        private static List<?> promptList(Object p) {
            String shape = "prompt must be a string, an array of token ids, or an array of those";
            if (p instanceof String) return List.of(p);
            if (!(p instanceof List<?> list) || list.isEmpty()) throw new ApiError(400, shape, "prompt");
            if (list.stream().allMatch(x -> x instanceof Long)) return List.of(list);   // one prompt of ids
            for (Object x : list) if (!(x instanceof String) && !(x instanceof List<?>)) throw new ApiError(400, shape, "prompt");
            return list;
        }

        /** A prompt of token ids, each checked against the vocabulary. */
        private static long[] ids(List<?> list, long vocab) {
            long[] ids = new long[list.size()];
            for (int i = 0; i < ids.length; i++) {
                if (!(list.get(i) instanceof Long id) || id < 0 || id >= vocab) {
                    throw new ApiError(400, "token id " + Json.write(list.get(i)) + " at " + i + " is not in the model's vocabulary of " + vocab, "prompt");
                }
                ids[i] = id;
            }
            return ids;
        }

        /**
         * The alternatives a token that logprobs return, -1 for none: a completion's
         * {@code logprobs} (0..20), a chat's {@code top_logprobs} (0..20, with {@code logprobs} true).
         */
        private static int logprobs(Map<String, Object> req, boolean chat) {
            String field = chat ? "top_logprobs" : "logprobs";
            boolean asked = chat ? Boolean.TRUE.equals(bool(req, "logprobs")) : req.get("logprobs") != null && !Boolean.FALSE.equals(req.get("logprobs"));
            if (chat && !asked && req.get("top_logprobs") != null) throw new ApiError(400, "top_logprobs needs logprobs: true", "top_logprobs");
            if (!asked) return -1;
            long k = integer(req, field, 0);
            if (k < 0 || k > MAX_LOGPROBS) throw new ApiError(400, field + " must be in 0.." + MAX_LOGPROBS + ", got " + k, field);
            return (int) k;
        }

        /**
         * Whether the reply is searched for tool calls: {@code tools} offers some and
         * {@code tool_choice} is {@code "auto"} (or absent), not {@code "none"}. Each tool must be
         * {@code {"type": "function", "function": {"name": ...}}}. A call cannot be forced
         * ({@code "required"}, a named function): generation is not constrained.
         */
        private static boolean tools(Map<String, Object> req) {
            Object tools = req.get("tools");
            if (tools == null) return false;
            if (!(tools instanceof List<?> list)) throw new ApiError(400, "tools must be an array", "tools");
            for (Object t : list) {
                if (!(t instanceof Map<?, ?> tool) || !"function".equals(tool.get("type")) || !(tool.get("function") instanceof Map<?, ?> f)
                        || !(f.get("name") instanceof String name) || name.isEmpty()) {
                    throw new ApiError(400, "each tool must be {\"type\": \"function\", \"function\": {\"name\": ...}}", "tools");
                }
            }
            Object choice = req.get("tool_choice");
            if (choice == null || "auto".equals(choice)) return !list.isEmpty();
            if ("none".equals(choice)) return false;
            throw new ApiError(400, "tool_choice must be \"auto\" or \"none\": a call cannot be forced (generation is not constrained)", "tool_choice");
        }

        /** A message as the chat template reads it: its content a string (text parts joined by newlines). */
        private static Map<String, Object> message(Object m) {
            if (!(m instanceof Map<?, ?> map)) throw new ApiError(400, "each message must be an object", "messages");
            if (!(map.get("role") instanceof String)) throw new ApiError(400, "each message needs a role (a string)", "messages");
            Map<String, Object> out = new LinkedHashMap<>();
            map.forEach((k, v) -> out.put(String.valueOf(k), v));
            if (map.get("content") instanceof List<?> parts) {
                List<String> texts = new ArrayList<>();
                for (Object p : parts) {
                    if (!(p instanceof Map<?, ?> part) || !"text".equals(part.get("type")) || !(part.get("text") instanceof String t)) {
                        throw new ApiError(400, "content parts must be {\"type\": \"text\", \"text\": ...}; others are not supported", "messages");
                    }
                    texts.add(t);
                }
                out.put("content", String.join("\n", texts));
            }
            return out;
        }

        private static String string(Map<String, Object> req, String field) {
            if (!(req.get(field) instanceof String v)) throw new ApiError(400, field + " must be a string", field);
            return v;
        }

        private static long integer(Map<String, Object> req, String field, long otherwise) {
            Object v = req.get(field);
            if (v == null) return otherwise;
            if (v instanceof Long l) return l;
            if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < 1e15) return d.longValue();
            throw new ApiError(400, field + " must be an integer, got " + Json.write(v), field);
        }

        private static double number(Map<String, Object> req, String field, double otherwise) {
            Object v = req.get(field);
            if (v == null) return otherwise;
            if (v instanceof Long l) return l;
            if (v instanceof Double d) return d;
            throw new ApiError(400, field + " must be a number, got " + Json.write(v), field);
        }

        private static Boolean bool(Map<String, Object> req, String field) {
            Object v = req.get(field);
            if (v == null || v instanceof Boolean) return (Boolean) v;
            throw new ApiError(400, field + " must be true or false, got " + Json.write(v), field);
        }
    }

    /**
     * The completion's text as its tokens come: decoded (special tokens left out, but for those
     * kept), cut before the first stop string, and handed out only where no stop string can still begin.
     */
    static final class Text {
        private final HfTokenizer tok;
        private final HfTokenizer.DecodeStream decode;
        private final List<String> stop;
        private final Set<Long> keep;
        private final StringBuilder text = new StringBuilder();
        private int handed;          // chars of text handed out
        private boolean stopped;     // a stop string appeared

        /** The text of tokens from {@code tok}, cut at {@code stop}; {@code keep}: special tokens whose text is kept. */
        Text(HfTokenizer tok, List<String> stop, Set<Long> keep) {
            this.tok = tok;
            this.decode = tok.decodeStream(false);
            this.stop = stop;
            this.keep = keep;
        }

        /** Takes a token (a stop token adds no text); returns the text now safe to hand out. */
        String add(long token, boolean stopToken) {
            if (stopped || stopToken || (tok.isSpecial(token) && !keep.contains(token))) return "";
            text.append(decode.next(token));
            return release(false);
        }

        /** Ends the text; returns what is left to hand out. */
        String finish() {
            if (!stopped) text.append(decode.flush());
            return release(true);
        }

        boolean stopped() {
            return stopped;
        }

        String text() {
            return text.toString();
        }

        private String release(boolean last) {
            if (!stopped) {
                int cut = -1;
                for (String s : stop) {
                    // none begins in the text handed out: what could begin one was held back
                    int at = text.indexOf(s, handed);
                    if (at >= 0 && (cut < 0 || at < cut)) cut = at;
                }
                if (cut >= 0) {
                    text.setLength(cut);
                    stopped = true;
                }
            }
            int safe = text.length();
            if (!stopped && !last) safe -= heldBack();
            if (safe <= handed) return "";
            String out = text.substring(handed, safe);
            handed = safe;
            return out;
        }

        /** The length of the longest end of the text that begins a stop string (it may yet become one). */
        private int heldBack() {
            int held = 0;
            for (String s : stop) held = Math.max(held, ChatOutput.partialEnd(text, s));
            return held;
        }
    }

    /** The answer to a completion request: one JSON object, or server-sent events as the text comes. */
    static final class Reply {
        private final HttpExchange ex;
        private final Request r;
        private final boolean chat;
        private final String id, object;
        private final long created;
        private OutputStream events;   // open once streaming has begun
        private final Set<Integer> roles = new HashSet<>();   // the choices whose role chunk has gone
        private boolean gone;          // the client stopped reading

        Reply(HttpExchange ex, Request r, String id, long created) {
            this.ex = ex;
            this.r = r;
            this.chat = r.chat();
            this.id = id;
            this.created = created;
            this.object = chat ? (r.stream() ? "chat.completion.chunk" : "chat.completion") : "text_completion";
        }

        boolean gone() {
            return gone;
        }

        /** New text of choice {@code c}: an event when streaming. */
        void delta(int c, String piece) {
            if (!open(c)) return;
            event(chunk(c, chat ? Map.of("content", piece) : piece, null));
        }

        /** A new part of choice {@code c}'s chat reply: an event when streaming. */
        void part(int c, ChatOutput.Delta d) {
            if (!open(c)) return;
            event(chunk(c, switch (d.kind()) {
                case REASONING -> Map.of("reasoning_content", d.text());
                case CONTENT -> Map.of("content", d.text());
                case TOOL_CALL -> Map.of("tool_calls", List.of(call(d.call(), true)));
            }, null));
        }

        /** A tool call as OpenAI writes it; in a stream's delta with its index among the reply's calls. */
        private static Map<String, Object> call(ChatOutput.ToolCall c, boolean indexed) {
            Map<String, Object> m = new LinkedHashMap<>();
            if (indexed) m.put("index", (long) c.index());
            m.put("id", c.id());
            m.put("type", "function");
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("name", c.name());
            f.put("arguments", c.arguments());
            m.put("function", f);
            return m;
        }

        /**
         * Whether choice {@code c}'s events can be sent: streaming, and the client still reading.
         * Opens the stream once (status 200), and, for a chat, sends each choice's first chunk,
         * with the role, before its first event.
         */
        private boolean open(int c) {
            if (!r.stream() || gone) return false;
            if (events == null) {
                ex.getResponseHeaders().set("Content-Type", "text/event-stream");
                ex.getResponseHeaders().set("Cache-Control", "no-cache");
                try {
                    ex.sendResponseHeaders(200, 0);
                } catch (IOException e) {
                    gone = true;
                    return false;
                }
                events = ex.getResponseBody();
            }
            if (chat && roles.add(c)) event(chunk(c, Map.of("role", "assistant", "content", ""), null));
            return !gone;
        }

        /**
         * A choice of the whole reply: a chat's message (its parts) or a completion's text (after
         * {@code echo}, the prompt's text), with its logprobs (or null) and why it ended.
         */
        Map<String, Object> choice(int index, Completion c, String echo, Map<String, Object> logprobs) {
            Map<String, Object> choice = new LinkedHashMap<>();
            choice.put("index", (long) index);
            if (chat) {
                ChatOutput parts = c.parts();
                Map<String, Object> message = new LinkedHashMap<>();
                message.put("role", "assistant");
                message.put("content", parts.content().isEmpty() && !parts.calls().isEmpty() ? null : parts.content());
                if (parts.thought()) message.put("reasoning_content", parts.reasoning());
                if (!parts.calls().isEmpty()) message.put("tool_calls", parts.calls().stream().map(t -> call(t, false)).toList());
                choice.put("message", message);
            } else {
                choice.put("text", echo + c.text());
            }
            choice.put("logprobs", logprobs);
            choice.put("finish_reason", c.finish());
            return choice;
        }

        /** The end: the whole reply, or the stream's last events (each choice's finish_reason, the usage, [DONE]). */
        void finish(List<Map<String, Object>> choices, long promptTokens, long completionTokens) throws IOException {
            Map<String, Object> usage = new LinkedHashMap<>();
            usage.put("prompt_tokens", promptTokens);
            usage.put("completion_tokens", completionTokens);
            usage.put("total_tokens", promptTokens + completionTokens);
            if (!r.stream()) {
                Map<String, Object> body = head();
                body.put("choices", choices);
                body.put("usage", usage);
                send(ex, 200, body);
                return;
            }
            for (int c = 0; c < choices.size(); c++) {
                if (!open(c)) return;   // (a choice that had no text gets its role chunk here)
                event(chunk(c, chat ? Map.of() : "", (String) choices.get(c).get("finish_reason")));
            }
            if (r.includeUsage()) {
                Map<String, Object> last = head();
                last.put("choices", List.of());
                last.put("usage", usage);
                event(Json.write(last));
            }
            write("data: [DONE]\n\n");
        }

        private Map<String, Object> head() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", id);
            m.put("object", object);
            m.put("created", created);
            m.put("model", r.model());
            return m;
        }

        /** A stream chunk of choice {@code c}: a chat delta (an object) or a completion's text (a string). */
        private String chunk(int c, Object delta, String reason) {
            Map<String, Object> choice = new LinkedHashMap<>();
            choice.put("index", (long) c);
            if (chat) {
                choice.put("delta", delta);
            } else {
                choice.put("text", delta);
                choice.put("logprobs", null);
            }
            choice.put("finish_reason", reason);
            Map<String, Object> m = head();
            m.put("choices", List.of(choice));
            return Json.write(m);
        }

        private void event(String json) {
            write("data: " + json + "\n\n");
        }

        private void write(String s) {
            if (gone) return;
            try {
                events.write(s.getBytes(StandardCharsets.UTF_8));
                events.flush();
            } catch (IOException e) {
                gone = true;
            }
        }
    }

    /** An answer other than 200: its status, message and the request field at fault (or null). */
    static final class ApiError extends RuntimeException {
        final int status;
        final String param;

        ApiError(int status, String message, String param) {
            super(message);
            this.status = status;
            this.param = param;
        }
    }

    private static void sendError(HttpExchange ex, ApiError e) {
        if (ex.getResponseCode() != -1) return;   // a stream has begun: the status is sent
        Map<String, Object> err = new LinkedHashMap<>();
        err.put("message", e.getMessage());
        err.put("type", e.status == 404 ? "not_found_error" : e.status >= 500 ? "internal_error" : "invalid_request_error");
        err.put("param", e.param);
        err.put("code", (long) e.status);
        try {
            send(ex, e.status, Map.of("error", err));
        } catch (IOException gone) {
            // the client went away
        }
    }

    private static void send(HttpExchange ex, int status, Map<String, Object> body) throws IOException {
        send(ex, status, "application/json", Json.write(body));
    }

    private static void send(HttpExchange ex, int status, String type, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }
}
