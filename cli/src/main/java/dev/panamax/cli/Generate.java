package dev.panamax.cli;

import dev.panamax.moe.DeepSeekModel;
import dev.panamax.moe.Generator;
import dev.panamax.moe.MultiTokenPredictor;
import dev.panamax.moe.Sampler;
import dev.panamax.moe.Speculation;
import dev.panamax.moe.text.ChatTemplate;
import dev.panamax.moe.text.HfTokenizer;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code panamax generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3) --max-new-tokens N
 * [--chat] [--system TEXT] [--tokenizer PATH] [--temperature T] [--top-p P] [--top-k K] [--seed S]
 * [--stop ID,...] [--naive] [--device cpu|cuda|cuda:N] [--kv-cache f32|bf16]
 * [--speculative mtp|lookup[:NGRAM:TOKENS]]}: prints the generated
 * ids and tokens/s. With a tokenizer (a text prompt, encoded by the checkpoint's
 * {@code tokenizer.json}, or {@code --tokenizer}), the completion's text is printed first, as it is
 * generated, then a line {@code ids: ...}; generation stops at the tokenizer's EOS unless
 * {@code --stop} says otherwise. {@code --chat} (or {@code --system}) lays the prompt out as a user
 * message (after the system message) by the checkpoint's chat template, opening the assistant's
 * turn. {@code --speculative} decodes speculatively ({@link Speculation}): drafting with the
 * checkpoint's multi-token-prediction module ({@code mtp}), or by prompt lookup (n-grams of 3,
 * 4 tokens a step, unless given), and prints the drafts' acceptance.
 */
final class Generate {
    private Generate() {
    }

    static int run(String[] args, PrintStream out) {
        Path model = null;
        long[] prompt = null;
        String text = null, system = null;
        boolean chat = false;
        Path tokenizerPath = null;
        int maxNew = 32, topK = 0;
        double temperature = 0, topP = 1;
        long seed = 0;
        Set<Long> stop = new HashSet<>();
        Decoding d = new Decoding();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (d.flag(a)) continue;
            if (a.equals("--chat")) {
                chat = true;
                continue;
            }
            if (i + 1 >= args.length) throw new Main.UsageException("option " + a + " needs a value");
            String v = args[++i];
            try {
                switch (a) {
                    case "--model" -> model = Path.of(v);
                    case "--prompt-ids" -> prompt = ids(v);
                    case "--prompt" -> text = v;
                    case "--system" -> system = v;
                    case "--tokenizer" -> tokenizerPath = Path.of(v);
                    case "--max-new-tokens" -> maxNew = Integer.parseInt(v);
                    case "--temperature" -> temperature = Double.parseDouble(v);
                    case "--top-p" -> topP = Double.parseDouble(v);
                    case "--top-k" -> topK = Integer.parseInt(v);
                    case "--seed" -> seed = Long.parseLong(v);
                    case "--stop" -> Arrays.stream(ids(v)).forEach(stop::add);
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
        if ((prompt == null) == (text == null)) throw new Main.UsageException("one of --prompt TEXT and --prompt-ids 1,2,3 is required");
        HfTokenizer tokenizer = text != null || tokenizerPath != null ? HfTokenizer.load(tokenizerPath != null ? tokenizerPath : model) : null;
        if ((chat || system != null) && text == null) throw new Main.UsageException("--chat and --system take a text --prompt");
        if (text != null) prompt = chat || system != null ? tokenizer.encodeChat(ChatTemplate.conversation(system, text), true) : tokenizer.encode(text);
        if (prompt.length == 0) throw new Main.UsageException("the prompt is empty");
        if (tokenizer != null && stop.isEmpty()) tokenizer.eosId().ifPresent(stop::add);
        d.checkDevice();
        Sampler sampler = temperature == 0 ? Sampler.greedy() : Sampler.of(temperature, topK, topP, seed);
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open(); DeepSeekModel m = DeepSeekModel.load(model, false, d.device)) {
            if (tokenizer != null && tokenizer.vocabSize() > m.config().vocabSize()) {
                throw new IllegalArgumentException(tokenizer.source() + " has " + tokenizer.vocabSize() + " tokens, more than the model's vocab_size of " + m.config().vocabSize());
            }
            for (long id : prompt) {
                if (id < 0 || id >= m.config().vocabSize()) throw new IllegalArgumentException("prompt id " + id + " is outside the vocabulary of " + m.config().vocabSize());
            }
            Generator.TokenSink sink = null;
            HfTokenizer.DecodeStream stream = tokenizer == null ? null : tokenizer.decodeStream(true);
            if (stream != null) {   // the completion's text as it grows, then its ids
                sink = (p, token) -> {
                    out.print(stream.next(token));
                    out.flush();
                };
            }
            List<long[]> completions;
            long tokens;
            double seconds;
            String acceptance = null;
            if (d.speculative == null) {
                Generator.Result r = Generator.generate(m, List.of(prompt), maxNew, stop, sampler, d.path, d.cache, sink);
                completions = r.completions();
                tokens = r.tokens();
                seconds = r.seconds();
            } else {
                try (MultiTokenPredictor mtp = d.speculative.equals("mtp") ? MultiTokenPredictor.load(model, m) : null) {
                    Speculation.Result r = d.speculation(mtp).generate(m, List.of(prompt), maxNew, stop, sampler, d.path, d.cache, sink);
                    completions = r.completions();
                    tokens = r.tokens();
                    seconds = r.seconds();
                    acceptance = String.format(Locale.ROOT, "speculative (%s): %d of %d drafts kept (%.1f%%), %d steps after the prefill",
                            d.speculative, r.accepted(), r.drafted(), 100 * r.acceptanceRate(), r.steps());
                }
            }
            if (stream != null) {
                out.println(stream.flush());
                out.print("ids: ");
            }
            long[] ids = completions.getFirst();
            out.println(Arrays.stream(ids).mapToObj(Long::toString).reduce((x, y) -> x + "," + y).orElse(""));
            out.printf(Locale.ROOT, "%d tokens in %.3f s: %.1f tokens/s (prefill of %d included)%n", tokens, seconds, tokens / Math.max(seconds, 1e-9), prompt.length);
            if (acceptance != null) out.println(acceptance);
        }
        return 0;
    }

    /** Ids written as {@code 1,2,3}. */
    static long[] ids(String csv) {
        return Arrays.stream(csv.split(",")).map(String::trim).filter(x -> !x.isEmpty()).mapToLong(Long::parseLong).toArray();
    }
}
