package dev.panamax.grpo;

/** Text to token ids and back, as the GRPO trainer needs them. The end-of-sequence id stops generation. */
public interface Tokenizer {
    /** Token ids of {@code text}. */
    long[] encode(String text);

    /** Text of {@code tokens}, up to the first end-of-sequence id. */
    String decode(long[] tokens);

    /** The id that ends a completion. */
    long eosId();
}
