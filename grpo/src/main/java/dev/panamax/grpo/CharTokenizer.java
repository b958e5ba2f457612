package dev.panamax.grpo;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A character-level tokenizer with special tokens: id 0 is padding, id 1 end of sequence,
 * then R1-Zero's tags {@code <think>}, {@code </think>}, {@code <answer>}, {@code </answer>} as
 * single tokens, then one id per character of the alphabet.
 */
public final class CharTokenizer implements Tokenizer {
    /** Padding id. */
    public static final int PAD = 0;
    /** End-of-sequence id. */
    public static final int EOS = 1;
    private static final String[] TAGS = {"<think>", "</think>", "<answer>", "</answer>"};
    private final String alphabet;
    private final Map<Character, Integer> ids = new LinkedHashMap<>();

    /** A tokenizer for the given characters. */
    public CharTokenizer(String alphabet) {
        this.alphabet = alphabet;
        for (int i = 0; i < alphabet.length(); i++) {
            if (ids.put(alphabet.charAt(i), 2 + TAGS.length + i) != null) throw new IllegalArgumentException("duplicate character in alphabet: " + alphabet.charAt(i));
        }
    }

    @Override
    public long eosId() {
        return EOS;
    }

    /** Vocabulary size. */
    public int vocabSize() {
        return 2 + TAGS.length + alphabet.length();
    }

    /** Token ids of {@code text} (tags are single tokens; unknown characters are an error). */
    @Override
    public long[] encode(String text) {
        List<Long> out = new ArrayList<>();
        int i = 0;
        outer:
        while (i < text.length()) {
            for (int t = 0; t < TAGS.length; t++) {
                if (text.startsWith(TAGS[t], i)) {
                    out.add((long) (2 + t));
                    i += TAGS[t].length();
                    continue outer;
                }
            }
            Integer id = ids.get(text.charAt(i));
            if (id == null) throw new IllegalArgumentException("character '" + text.charAt(i) + "' is not in the alphabet \"" + alphabet + "\"");
            out.add((long) id);
            i++;
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    /** Text of ids up to (not including) the first EOS; padding is skipped. */
    @Override
    public String decode(long[] tokens) {
        StringBuilder b = new StringBuilder();
        for (long t : tokens) {
            if (t == EOS) break;
            if (t == PAD) continue;
            if (t >= 2 && t < 2 + TAGS.length) b.append(TAGS[(int) t - 2]);
            else if (t >= 2 + TAGS.length && t < vocabSize()) b.append(alphabet.charAt((int) t - 2 - TAGS.length));
            else b.append('?');
        }
        return b.toString();
    }
}
