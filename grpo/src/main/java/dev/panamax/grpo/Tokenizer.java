package dev.panamax.grpo;

import dev.panamax.moe.text.HfTokenizer;

import java.util.Arrays;

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
        long eos = tokenizer.eosId().orElseThrow(() -> new IllegalArgumentException(
                tokenizer.source().resolveSibling("tokenizer_config.json") + ": no eos_token, which GRPO needs to end completions"));
        return new Tokenizer() {
            @Override
            public long[] encode(String text) {
                return tokenizer.encode(text);
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
