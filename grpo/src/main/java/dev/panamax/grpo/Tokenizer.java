package dev.panamax.grpo;

import dev.panamax.moe.text.ChatTemplate;
import dev.panamax.moe.text.HfTokenizer;

import java.util.Arrays;
import java.util.function.Function;

/** Text to token ids and back, as the GRPO trainer needs them. The end-of-sequence id stops generation. */
public interface Tokenizer {
    /** Token ids of {@code text}. */
    long[] encode(String text);

    /** Text of {@code tokens}, up to the first end-of-sequence id. */
    String decode(long[] tokens);

    /** The id that ends a completion. */
    long eosId();

    /**
     * A checkpoint's Hugging Face tokenizer, as TRL uses it: prompts are encoded with the special
     * tokens the tokenizer adds (BOS for DeepSeek-V3 and R1), and completions decoded up to the
     * first EOS with the special tokens skipped (added tokens that are not special, such as R1's
     * {@code <think>}, stay in the text the rewards read).
     *
     * @throws IllegalArgumentException when {@code tokenizer_config.json} names no EOS token
     */
    static Tokenizer huggingFace(HfTokenizer tokenizer) {
        return huggingFace(tokenizer, tokenizer::encode);
    }

    /**
     * A checkpoint's Hugging Face tokenizer with its chat template, as TRL uses it for
     * conversational prompts: each prompt becomes a user message (after a system message when
     * {@code system} is not null), laid out by the template with the assistant's turn opened
     * ({@link HfTokenizer#encodeChat}); completions are decoded as {@link #huggingFace} decodes them.
     *
     * @throws IllegalArgumentException when {@code tokenizer_config.json} names no EOS token, or
     *     the chat template cannot be parsed
     * @throws IllegalStateException when the checkpoint has no chat template
     */
    static Tokenizer huggingFaceChat(HfTokenizer tokenizer, String system) {
        if (tokenizer.chatTemplate().isEmpty()) {
            throw new IllegalStateException(tokenizer.source().resolveSibling("tokenizer_config.json") + ": there is no chat_template to lay prompts out");
        }
        return huggingFace(tokenizer, prompt -> tokenizer.encodeChat(ChatTemplate.conversation(system, prompt), true));
    }

    private static Tokenizer huggingFace(HfTokenizer tokenizer, Function<String, long[]> encoder) {
        long eos = tokenizer.eosId().orElseThrow(() -> new IllegalArgumentException(
                tokenizer.source().resolveSibling("tokenizer_config.json") + ": no eos_token, which GRPO needs to end completions"));
        return new Tokenizer() {
            @Override
            public long[] encode(String text) {
                return encoder.apply(text);
            }

            @Override
            public String decode(long[] tokens) {
                int end = 0;
                while (end < tokens.length && tokens[end] != eos) end++;
                return tokenizer.decode(Arrays.copyOf(tokens, end), true);
            }

            @Override
            public long eosId() {
                return eos;
            }
        };
    }
}
