package dev.panamax.grpo;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A rule-based reward: a score for a completion of a prompt, with the reason kept for logging.
 * Implementations must be deterministic and thread-safe.
 */
@FunctionalInterface
public interface Reward {
    /**
     * A score and why.
     *
     * @param value  the reward
     * @param reason a short explanation for logs
     */
    record Score(double value, String reason) {
    }

    /** Scores {@code completion} (decoded text, stop token removed) for {@code prompt}. */
    Score score(String prompt, String completion);

    /** R1-Zero's answer pattern: a {@code <think>} section, then the answer in {@code <answer>} tags, nothing else. */
    Pattern R1_FORMAT = Pattern.compile("^<think>(.*?)</think><answer>(.*?)</answer>$", Pattern.DOTALL);

    /** The text inside the first {@code <answer>...</answer>}, or null. */
    static String extractAnswer(String completion) {
        Matcher m = Pattern.compile("<answer>(.*?)</answer>", Pattern.DOTALL).matcher(completion);
        return m.find() ? m.group(1).trim() : null;
    }

    /** 1 when the extracted answer equals {@code expected.answerFor(prompt)} exactly, else 0. */
    static Reward accuracy(java.util.function.Function<String, String> expected) {
        return (prompt, completion) -> {
            String want = expected.apply(prompt);
            String got = extractAnswer(completion);
            if (got == null) return new Score(0, "no <answer> tag");
            return got.equals(want) ? new Score(1, "correct: " + got) : new Score(0, "wrong: " + got + " != " + want);
        };
    }

    /** 1 when the completion is exactly {@code <think>...</think><answer>...</answer>}, else 0. */
    static Reward format() {
        return (prompt, completion) -> R1_FORMAT.matcher(completion).matches()
                ? new Score(1, "format ok") : new Score(0, "format broken");
    }

    /** A weighted sum of rewards; the reason lists each part. */
    static Reward weighted(List<Reward> rewards, List<Double> weights) {
        if (rewards.size() != weights.size() || rewards.isEmpty()) throw new IllegalArgumentException("need one weight per reward");
        List<Reward> rs = new ArrayList<>(rewards);
        List<Double> ws = new ArrayList<>(weights);
        return (prompt, completion) -> {
            double v = 0;
            StringBuilder why = new StringBuilder();
            for (int i = 0; i < rs.size(); i++) {
                Score s = rs.get(i).score(prompt, completion);
                v += ws.get(i) * s.value();
                if (i > 0) why.append("; ");
                why.append(ws.get(i)).append(" x ").append(s.reason());
            }
            return new Score(v, why.toString());
        };
    }
}
