package dev.panamax.grpo;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The demo's verifiable task: two-digit addition, {@code "47+38="}, answered R1-Zero style as
 * {@code <think>15,8</think><answer>85</answer>}: the think section lists the column sums from
 * the units up (with the carry added in), the answer tag holds the sum. Problems are split once,
 * by a fixed rule, into training and held-out sets that never overlap.
 */
public final class ArithmeticTask {
    /** Characters the task uses. */
    public static final String ALPHABET = "0123456789+=,";

    /**
     * One problem.
     *
     * @param a first operand (10..99)
     * @param b second operand (10..99)
     */
    public record Problem(int a, int b) {
        /** The prompt text. */
        public String prompt() {
            return a + "+" + b + "=";
        }

        /** The correct answer text. */
        public String answer() {
            return Integer.toString(a + b);
        }

        /** The column sums, units first, with carries: "15,8" for 47+38. */
        public String reasoning() {
            int u = a % 10 + b % 10;
            int t = a / 10 + b / 10 + u / 10;
            return u + "," + t;
        }

        /** A correct demonstration. */
        public String demonstration() {
            return "<think>" + reasoning() + "</think><answer>" + answer() + "</answer>";
        }
    }

    private final List<Problem> train = new ArrayList<>(), heldOut = new ArrayList<>();

    /** All 8100 problems, split: about one in five is held out (a fixed hash of the operands). */
    public ArithmeticTask() {
        for (int a = 10; a < 100; a++) {
            for (int b = 10; b < 100; b++) {
                Problem p = new Problem(a, b);
                if (((a * 31 + b * 17) * 2654435761L >>> 7) % 5 == 0) heldOut.add(p);
                else train.add(p);
            }
        }
    }

    /** Training problems. */
    public List<Problem> train() {
        return train;
    }

    /** Held-out problems (never used for training). */
    public List<Problem> heldOut() {
        return heldOut;
    }

    /** The answer for a prompt text ("47+38=" gives "85"). */
    public static String answerFor(String prompt) {
        String[] ab = prompt.substring(0, prompt.length() - 1).split("\\+");
        return Integer.toString(Integer.parseInt(ab[0]) + Integer.parseInt(ab[1]));
    }

    /**
     * A noisy demonstration: with probability {@code slip} the answer is off by one in one digit
     * (the reasoning stays right), and with probability {@code noThink} the think section is missing.
     */
    public static String noisyDemonstration(Problem p, SplittableRandom r, double slip, double noThink) {
        String answer = p.answer();
        if (r.nextDouble() < slip) {
            char[] d = answer.toCharArray();
            int i = r.nextInt(d.length);
            int v = d[i] - '0';
            v = v == 0 ? 1 : v == 9 ? 8 : v + (r.nextBoolean() ? 1 : -1);
            if (i == 0 && v == 0) v = 1;
            d[i] = (char) ('0' + v);
            answer = new String(d);
        }
        String think = r.nextDouble() < noThink ? "" : "<think>" + p.reasoning() + "</think>";
        return think + "<answer>" + answer + "</answer>";
    }

    /** The task's reward: accuracy plus 0.1 for R1-Zero format. */
    public static Reward reward() {
        return Reward.weighted(List.of(Reward.accuracy(ArithmeticTask::answerFor), Reward.format()), List.of(1.0, 0.1));
    }
}
