package dev.panamax.moe.text;

import dev.panamax.runtime.io.Json;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.UnaryOperator;

/**
 * A Hugging Face tokenizer read from {@code tokenizer.json}: the byte-level BPE that DeepSeek-V3,
 * DeepSeek-R1, their distilled models (Qwen2 and Llama 3 tokenizers) and GPT-2 use. It encodes as
 * the {@code tokenizers} library does, id for id: added tokens cut out first, then the normaliser,
 * the pre-tokenizer's splits, BPE merges within each word, and the post-processor's special
 * tokens; and decodes as its {@code ByteLevel} decoder does.
 *
 * <p>Beside {@code tokenizer.json}, {@code tokenizer_config.json} (when present) names the BOS and
 * EOS tokens. When it declares the {@code LlamaTokenizerFast} class (DeepSeek-V3, R1 and its
 * distilled models do) or sets {@code add_bos_token} or {@code add_eos_token}, those two settings
 * (true and false when absent) decide the special tokens added, in place of the post-processor's
 * template, as {@code transformers} rebuilds a Llama tokenizer's template from them. Its
 * {@code chat_template} (or a {@code chat_template.jinja} file beside it, which takes precedence)
 * is the {@link ChatTemplate} that {@link #applyChatTemplate} and {@link #encodeChat} run. Instances
 * are immutable and safe to share between threads.
 *
 * <pre>{@code
 * HfTokenizer tok = HfTokenizer.load(Path.of("DeepSeek-V3"));   // the checkpoint folder
 * long[] ids = tok.encode("1 + 1 = ");                          // BOS first, as transformers adds it
 * String text = tok.decode(ids, true);                           // "1 + 1 = "
 * }</pre>
 *
 * <p>What is read: models {@code BPE} (with {@code ignore_merges}, {@code unk_token},
 * {@code fuse_unk}); normalizers {@code NFC}, {@code NFD}, {@code NFKC}, {@code NFKD},
 * {@code Lowercase}, {@code Replace}, {@code Prepend}, {@code Strip}, {@code Sequence};
 * pre-tokenizers {@code Split}, {@code ByteLevel}, {@code Digits}, {@code Whitespace},
 * {@code WhitespaceSplit}, {@code Sequence}; post-processors {@code TemplateProcessing},
 * {@code ByteLevel}, {@code RobertaProcessing}, {@code BertProcessing}, {@code Sequence}; the
 * {@code ByteLevel} decoder. Anything else (SentencePiece-style byte fallback, WordPiece, Unigram,
 * Metaspace) is refused at load with the file and the field named. Unpaired surrogates in a Java
 * string, which a Rust string cannot hold, are encoded as {@code '?'}, as Java's UTF-8 encoder
 * writes them.
 */
public final class HfTokenizer {
    /** Largest {@code tokenizer.json} read (DeepSeek-V3's is 7.8 MB, Llama 3's 9 MB). */
    public static final long MAX_FILE_BYTES = 64L << 20;

    private final Path source;
    private final Bpe bpe;
    private final UnaryOperator<String> normalizer;
    private final List<PreTokenizers.Stage> preTokenizer, preTokenizerReference;
    private final AddedTokens added;
    private final int[] prefix, suffix;
    private final boolean byteLevelDecoder;
    private final int size;
    private final OptionalLong bos, eos;
    /** The special tokens transformers puts in a chat template's context ({@code bos_token}, ...). */
    private final Map<String, Object> specialTokens;
    /** Chat template sources by name ("default" for a single one), with where each was read. */
    private final Map<String, String[]> chatSources;
    private final Map<String, ChatTemplate> chatParsed = new ConcurrentHashMap<>();
    /** Per id: the bytes the ByteLevel decoder gives it (null for an unknown id), and whether skipping special tokens drops it. */
    private final byte[][] tokenBytes;
    private final boolean[] skipped;

    private HfTokenizer(Path source, TokJson root, TokJson config, String jinjaFile, Path jinjaPath) {
        this.source = source;
        TokJson model = root.get("model");
        String type = model.has("type") ? model.type() : model.has("merges") ? "BPE" : model.get("type").string();
        if (!type.equals("BPE")) throw model.get("type").error("model " + type + " is not supported; Panamax reads byte-level BPE");
        bpe = new Bpe(model);
        normalizer = Normalizers.of(root.get("normalizer"));
        preTokenizer = PreTokenizers.of(root.get("pre_tokenizer"), false);
        preTokenizerReference = PreTokenizers.of(root.get("pre_tokenizer"), true);
        added = new AddedTokens(root.get("added_tokens"), normalizer);
        TokJson dec = root.get("decoder");
        byteLevelDecoder = !dec.isNull();
        if (byteLevelDecoder && !dec.type().equals("ByteLevel")) throw dec.get("type").error("decoder " + dec.type() + " is not supported (ByteLevel is)");
        int n = bpe.size();
        for (AddedTokens.Token t : added.tokens()) n = Math.max(n, t.id() + 1);
        size = n;
        tokenBytes = new byte[size][];
        skipped = new boolean[tokenBytes.length];
        for (int id = 0; id < tokenBytes.length; id++) {
            String t = tokenText(id);
            if (t == null) continue;
            tokenBytes[id] = ByteLevel.bytes(t);
            AddedTokens.Token a = added.byContent(t);
            skipped[id] = a != null && a.special();
        }
        bos = config == null ? OptionalLong.empty() : configToken(config, "bos_token");
        eos = config == null ? OptionalLong.empty() : configToken(config, "eos_token");
        List<Integer> pre = new ArrayList<>(), post = new ArrayList<>();
        if (config != null && llamaTemplate(config)) {
            if (config.get("add_bos_token").bool(true)) {
                if (bos.isEmpty()) throw config.get("bos_token").error("is needed: add_bos_token is true");
                pre.add((int) bos.getAsLong());
            }
            if (config.get("add_eos_token").bool(false)) {
                if (eos.isEmpty()) throw config.get("eos_token").error("is needed: add_eos_token is true");
                post.add((int) eos.getAsLong());
            }
        } else {
            template(root.get("post_processor"), pre, post);
        }
        prefix = pre.stream().mapToInt(Integer::intValue).toArray();
        suffix = post.stream().mapToInt(Integer::intValue).toArray();
        specialTokens = new LinkedHashMap<>();
        chatSources = new LinkedHashMap<>();
        if (config != null) {
            for (String name : List.of("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")) {
                TokJson f = config.get(name);
                if (!f.isNull()) specialTokens.put(name, f.value() instanceof String s ? s : f.get("content").string());
            }
            TokJson extra = config.get("additional_special_tokens");
            if (!extra.isNull()) {
                List<String> names = new ArrayList<>();
                for (int i = 0; i < extra.list().size(); i++) {
                    TokJson t = extra.item(i);
                    names.add(t.value() instanceof String s ? s : t.get("content").string());
                }
                specialTokens.put("additional_special_tokens", List.copyOf(names));
            }
            TokJson chat = config.get("chat_template");
            if (chat.value() instanceof String s) {
                chatSources.put("default", new String[] {s, chat.where()});
            } else if (!chat.isNull()) {
                for (int i = 0; i < chat.list().size(); i++) {
                    TokJson named = chat.item(i);
                    chatSources.put(named.get("name").string(), new String[] {named.get("template").string(), named.get("template").where()});
                }
            }
        }
        if (jinjaFile != null) chatSources.put("default", new String[] {jinjaFile, jinjaPath.toString()});
    }

    /**
     * Reads a tokenizer: {@code path} is a checkpoint folder holding {@code tokenizer.json} (and
     * perhaps {@code tokenizer_config.json}), or a {@code tokenizer.json} itself.
     *
     * @throws IllegalArgumentException naming the file and the field for a missing, malformed or
     *     unsupported tokenizer
     */
    public static HfTokenizer load(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + ": no tokenizer.json here");
        Path configFile = file.resolveSibling("tokenizer_config.json");
        TokJson config = Files.isRegularFile(configFile) ? read(configFile) : null;
        Path jinja = file.resolveSibling("chat_template.jinja");
        String jinjaText = Files.isRegularFile(jinja) ? readText(jinja) : null;
        return new HfTokenizer(file, read(file), config, jinjaText, jinja);
    }

    private static TokJson read(Path file) {
        String text = readText(file);
        try {
            return new TokJson(file + ":", Json.parseObject(text));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": invalid JSON: " + e.getMessage(), e);
        }
    }

    private static String readText(Path file) {
        String text;
        try {
            long size = Files.size(file);
            if (size > MAX_FILE_BYTES) throw new IllegalArgumentException(file + ": " + size + " bytes is more than a tokenizer file can be (" + MAX_FILE_BYTES + ")");
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(file + ": not valid UTF-8");
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot be read: " + e.getMessage(), e);
        }
        return text;
    }

    /** transformers rebuilds a Llama fast tokenizer's template from these settings. */
    private static boolean llamaTemplate(TokJson config) {
        String cls = config.get("tokenizer_class").value() instanceof String s ? s : "";
        return cls.equals("LlamaTokenizerFast") || cls.equals("LlamaTokenizer") || config.has("add_bos_token") || config.has("add_eos_token");
    }

    /** A {@code bos_token}/{@code eos_token} of tokenizer_config.json: a string, or an object with {@code content}. */
    private OptionalLong configToken(TokJson config, String field) {
        TokJson f = config.get(field);
        if (f.isNull()) return OptionalLong.empty();
        String content = f.value() instanceof String s ? s : f.get("content").string();
        OptionalLong id = id(content);
        if (id.isEmpty()) throw f.error("\"" + content + "\" is not a token of the vocabulary");
        return id;
    }

    private void template(TokJson p, List<Integer> pre, List<Integer> post) {
        if (p.isNull()) return;
        switch (p.type()) {
            case "ByteLevel" -> { }
            case "Sequence" -> {
                TokJson list = p.get("processors");
                for (int i = 0; i < list.list().size(); i++) template(list.item(i), pre, post);
            }
            case "RobertaProcessing", "BertProcessing" -> {
                pre.add(pairId(p.get("cls")));
                post.add(pairId(p.get("sep")));
            }
            case "TemplateProcessing" -> {
                TokJson single = p.get("single");
                boolean seenSequence = false;
                for (int i = 0; i < single.list().size(); i++) {
                    TokJson piece = single.item(i);
                    if (piece.has("Sequence")) {
                        if (seenSequence) throw piece.error("a single-sequence template holds the sequence once");
                        seenSequence = true;
                    } else if (piece.has("SpecialToken")) {
                        String name = piece.get("SpecialToken").get("id").string();
                        TokJson st = p.get("special_tokens").get(name);
                        if (st.isNull()) throw p.get("special_tokens").error("has no \"" + name + "\", which the template uses");
                        TokJson ids = st.get("ids");
                        for (int k = 0; k < ids.list().size(); k++) {
                            long id = ids.item(k).integer();
                            if (id < 0 || id >= vocabSize()) throw ids.item(k).error("id " + id + " is outside the vocabulary");
                            (seenSequence ? post : pre).add((int) id);
                        }
                    } else {
                        throw piece.error("must be a Sequence or a SpecialToken");
                    }
                }
                if (!seenSequence) throw single.error("has no Sequence");
            }
            default -> throw p.get("type").error("post-processor " + p.type() + " is not supported (TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence are)");
        }
    }

    private int pairId(TokJson pair) {
        long id = pair.item(1).integer();
        if (id < 0 || id >= vocabSize()) throw pair.item(1).error("id " + id + " is outside the vocabulary");
        return (int) id;
    }

    /** The file read. */
    public Path source() {
        return source;
    }

    /** Ids of {@code text} with the special tokens the tokenizer adds (BOS for DeepSeek-V3 and R1). */
    public long[] encode(String text) {
        return encode(text, true);
    }

    /** Ids of {@code text}; {@code addSpecialTokens} adds the post-processor's tokens (BOS, EOS) around them. */
    public long[] encode(String text, boolean addSpecialTokens) {
        int[] ids = encodeInts(text, false);
        int p = addSpecialTokens ? prefix.length : 0, s = addSpecialTokens ? suffix.length : 0;
        long[] out = new long[p + ids.length + s];
        for (int i = 0; i < p; i++) out[i] = prefix[i];
        for (int i = 0; i < ids.length; i++) out[p + i] = ids[i];
        for (int i = 0; i < s; i++) out[p + ids.length + i] = suffix[i];
        return out;
    }

    /**
     * The ids of each text, as {@link #encode(String, boolean)} gives them, the texts spread over
     * the runtime's threads ({@link dev.panamax.runtime.Parallel#threads()}), each thread taking the
     * next text when it is done with one.
     */
    public List<long[]> encodeBatch(List<String> texts, boolean addSpecialTokens) {
        long[][] out = new long[texts.size()][];
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        dev.panamax.runtime.Parallel.forEachTask(Math.min(texts.size(), dev.panamax.runtime.Parallel.threads()), (from, to) -> {
            for (int i = next.getAndIncrement(); i < out.length; i = next.getAndIncrement()) out[i] = encode(texts.get(i), addSpecialTokens);
        });
        return Arrays.asList(out);
    }

    /**
     * The ids of {@code text} without special tokens, by the specification: the pre-tokenizer's
     * regexes as written (no hand matchers), and the plain merge loop of BPE (the pair of lowest
     * rank, leftmost first, again and again) with no cache. What {@link #encode(String, boolean)}
     * is tested and benchmarked against; slow, quadratic on long words, not for production use.
     */
    public long[] encodeReference(String text) {
        return Arrays.stream(encodeInts(text, true)).asLongStream().toArray();
    }

    /** The ids, no special tokens added; {@code reference} merges by the plain loop (tests, benchmarks). */
    int[] encodeInts(String text, boolean reference) {
        int[] out = new int[Math.max(16, text.length() / 2)];
        int n = 0;
        for (AddedTokens.Part part : added.split(text)) {
            if (part.id() >= 0) {
                if (n == out.length) out = Arrays.copyOf(out, out.length * 2);
                out[n++] = part.id();
                continue;
            }
            for (String word : PreTokenizers.apply(reference ? preTokenizerReference : preTokenizer, part.text())) {
                int[] ids = reference ? bpe.encodeWordReference(word) : bpe.encodeWord(word);
                if (n + ids.length > out.length) out = Arrays.copyOf(out, Math.max(out.length * 2, n + ids.length));
                System.arraycopy(ids, 0, out, n, ids.length);
                n += ids.length;
            }
        }
        return Arrays.copyOf(out, n);
    }

    Bpe bpe() {
        return bpe;
    }

    /** The text of {@code ids}, special tokens included. */
    public String decode(long[] ids) {
        return decode(ids, false);
    }

    /**
     * The text of {@code ids}; {@code skipSpecialTokens} leaves out the added tokens marked special
     * (BOS, EOS, padding). Ids the tokenizer does not know are left out, as the Rust library does;
     * bytes that do not form UTF-8 become U+FFFD.
     */
    public String decode(long[] ids, boolean skipSpecialTokens) {
        if (!byteLevelDecoder) {
            List<String> tokens = new ArrayList<>(ids.length);
            for (long id : ids) {
                int i = known(id);
                if (i >= 0 && !(skipSpecialTokens && skipped[i])) tokens.add(tokenText(i));
            }
            return String.join(" ", tokens);
        }
        int n = 0;
        for (long id : ids) {
            int i = known(id);
            if (i >= 0 && !(skipSpecialTokens && skipped[i])) n += tokenBytes[i].length;
        }
        byte[] out = new byte[n];
        int at = 0;
        for (long id : ids) {
            int i = known(id);
            if (i < 0 || (skipSpecialTokens && skipped[i])) continue;
            byte[] b = tokenBytes[i];
            System.arraycopy(b, 0, out, at, b.length);
            at += b.length;
        }
        return ByteLevel.lossyUtf8(out);
    }

    /** {@code id} as an index of the tables when the tokenizer knows it, else -1. */
    private int known(long id) {
        return id >= 0 && id < tokenBytes.length && tokenBytes[(int) id] != null ? (int) id : -1;
    }

    /**
     * A decoder for tokens that arrive one at a time, as generation makes them: see
     * {@link DecodeStream}.
     */
    public DecodeStream decodeStream(boolean skipSpecialTokens) {
        return new DecodeStream(skipSpecialTokens);
    }

    /**
     * Decodes a growing list of ids a token at a time. {@link #next} gives the text the token adds,
     * holding back the bytes of a character that later tokens complete (a byte-level vocabulary
     * splits many characters across tokens). The pieces {@code next} returns, followed by
     * {@link #flush}, join to {@link #decode(long[], boolean)} of all the ids. Not thread-safe:
     * one stream a sequence.
     */
    public final class DecodeStream {
        private final boolean skip;
        private byte[] pending = new byte[16];
        private int length;
        private boolean first = true;

        private DecodeStream(boolean skip) {
            this.skip = skip;
        }

        /** The text that {@code id} adds (perhaps empty, while a character is incomplete). */
        public String next(long id) {
            int i = known(id);
            if (i < 0 || (skip && skipped[i])) return "";
            if (!byteLevelDecoder) {
                String t = (first ? "" : " ") + tokenText(i);
                first = false;
                return t;
            }
            byte[] b = tokenBytes[i];
            if (length + b.length > pending.length) pending = Arrays.copyOf(pending, Math.max(pending.length * 2, length + b.length));
            System.arraycopy(b, 0, pending, length, b.length);
            length += b.length;
            int cut = completeUpTo(pending, length);
            String out = new String(pending, 0, cut, StandardCharsets.UTF_8);
            System.arraycopy(pending, cut, pending, 0, length - cut);
            length -= cut;
            return out;
        }

        /** The text of bytes still held back (U+FFFD for an incomplete character); empties the stream. */
        public String flush() {
            String out = new String(pending, 0, length, StandardCharsets.UTF_8);
            length = 0;
            return out;
        }
    }

    /**
     * How many of the first {@code n} bytes can be decoded now: all of them, unless they end in a
     * character's first bytes (a lead byte followed by fewer continuation bytes than it announces),
     * which are held. Cutting before a lead byte never changes the decoding, since no sequence
     * begun before it can reach past it.
     */
    static int completeUpTo(byte[] b, int n) {
        for (int k = n - 1; k >= Math.max(0, n - 4); k--) {
            int v = b[k] & 0xFF;
            if ((v & 0xC0) == 0x80) continue;   // a continuation byte
            int need = v >= 0xF0 ? 4 : v >= 0xE0 ? 3 : v >= 0xC0 ? 2 : 1;
            return n - k < need ? k : n;
        }
        return n;
    }

    private String tokenText(int id) {
        AddedTokens.Token a = added.byId(id);
        return a != null ? a.text() : bpe.token(id);
    }

    /**
     * The bytes of {@code id}'s text: what decoding it alone gives before UTF-8 is read (for some
     * tokens of a byte-level vocabulary, part of a character); empty for an id the tokenizer does
     * not know.
     */
    public Optional<byte[]> bytes(long id) {
        int i = known(id);
        if (i < 0) return Optional.empty();
        return Optional.of(byteLevelDecoder ? tokenBytes[i].clone() : tokenText(i).getBytes(StandardCharsets.UTF_8));
    }

    /** The token string of {@code id} (an added token's content, or the vocabulary's byte-level string). */
    public Optional<String> token(long id) {
        return Optional.ofNullable(id < 0 || id > Integer.MAX_VALUE ? null : tokenText((int) id));
    }

    /** The id of the token string {@code token} (added tokens first, then the vocabulary). */
    public OptionalLong id(String token) {
        AddedTokens.Token a = added.byContent(token);
        if (a != null) return OptionalLong.of(a.id());
        Integer id = bpe.id(token);
        return id == null ? OptionalLong.empty() : OptionalLong.of(id);
    }

    /** Whether {@code id} is an added token marked special. */
    public boolean isSpecial(long id) {
        AddedTokens.Token a = id < 0 || id > Integer.MAX_VALUE ? null : added.byId((int) id);
        return a != null && a.special();
    }

    /** One more than the largest id, added tokens included. */
    public int vocabSize() {
        return size;
    }

    /** The BOS id named by {@code tokenizer_config.json}, if any. */
    public OptionalLong bosId() {
        return bos;
    }

    /** The EOS id named by {@code tokenizer_config.json}, if any: where generation stops. */
    public OptionalLong eosId() {
        return eos;
    }

    /**
     * The special tokens a chat template sees, as {@code transformers}' {@code special_tokens_map}
     * gives them: {@code bos_token}, {@code eos_token}, {@code unk_token}, {@code sep_token},
     * {@code pad_token}, {@code cls_token}, {@code mask_token} (those {@code tokenizer_config.json}
     * sets, as strings) and {@code additional_special_tokens} (a list).
     */
    public Map<String, Object> specialTokens() {
        return java.util.Collections.unmodifiableMap(specialTokens);
    }

    /** The checkpoint's chat template ("default" where it names several), if it ships one. */
    public Optional<ChatTemplate> chatTemplate() {
        return chatTemplate("default");
    }

    /**
     * The chat template named {@code name} ({@code tokenizer_config.json} may hold a list of named
     * templates, e.g. "default" and "tool_use"), parsed when first asked for.
     *
     * @throws IllegalArgumentException naming the file and line when the template cannot be parsed
     */
    public Optional<ChatTemplate> chatTemplate(String name) {
        String[] src = chatSources.get(name);
        if (src == null) return Optional.empty();
        return Optional.of(chatParsed.computeIfAbsent(name, n -> ChatTemplate.parse(src[0], src[1])));
    }

    /**
     * Lays out a conversation as the model was trained on it, as {@code transformers}'
     * {@code apply_chat_template(messages, tokenize=False, add_generation_prompt=...)} does: the
     * default chat template, with {@link #specialTokens()}, {@code tools} and {@code documents}
     * None. Each message is a map with {@code role} and {@code content} (see
     * {@link ChatTemplate#message}); templates read further keys such as {@code tool_calls}.
     *
     * @param addGenerationPrompt whether to end with the opening of the assistant's turn, for
     *     generating its reply
     * @throws IllegalStateException when the checkpoint has no chat template
     * @throws IllegalArgumentException when the template fails, naming the file and line
     */
    public String applyChatTemplate(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt) {
        return applyChatTemplate(messages, addGenerationPrompt, Map.of());
    }

    /**
     * {@link #applyChatTemplate(List, boolean)} with further template arguments, as
     * {@code apply_chat_template(messages, tools=..., documents=..., **kwargs)} takes them:
     * {@code tools} (a list of function schemas, as maps), {@code documents}, or whatever else the
     * template reads ({@code date_string}, ...). They take precedence over the special tokens.
     */
    public String applyChatTemplate(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt, Map<String, ?> variables) {
        ChatTemplate t = chatTemplate().orElseThrow(() -> new IllegalStateException(
                source.resolveSibling("tokenizer_config.json") + ": there is no chat_template (nor chat_template.jinja beside it)"));
        Map<String, Object> context = new LinkedHashMap<>(specialTokens);
        context.putAll(variables);
        return t.apply(messages, addGenerationPrompt, context);
    }

    /**
     * The ids of {@link #applyChatTemplate}'s text, encoded with no special tokens added (the
     * template writes them), as {@code apply_chat_template(..., tokenize=True)} gives them.
     */
    public long[] encodeChat(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt) {
        return encodeChat(messages, addGenerationPrompt, Map.of());
    }

    /** {@link #encodeChat(List, boolean)} with further template arguments ({@code tools}, ...). */
    public long[] encodeChat(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt, Map<String, ?> variables) {
        return encode(applyChatTemplate(messages, addGenerationPrompt, variables), false);
    }
}
