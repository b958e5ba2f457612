package dev.panamax.moe.text;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The regular expressions of {@code tokenizer.json} (written for Oniguruma, which the Rust library
 * uses) as {@link Pattern}s. With {@link Pattern#UNICODE_CHARACTER_CLASS}, {@code \s}, {@code \w},
 * {@code \d} and case folding are Unicode's, as in Oniguruma; a script name written bare,
 * {@code \p{Han}}, becomes Java's {@code \p{IsHan}}, and {@code \p{^L}} becomes {@code \P{L}}.
 */
final class Regexes {
    private static final Pattern PROPERTY = Pattern.compile("\\\\([pP])\\{\\^?([A-Za-z_ ]+)}");

    private Regexes() {}

    /** Compiles {@code regex}; a syntax error names {@code where}. */
    static Pattern compile(String regex, String where) {
        try {
            return Pattern.compile(properties(regex), Pattern.UNICODE_CHARACTER_CLASS);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException(where + ": regex " + TokJson.describe(regex) + " is not supported: " + e.getDescription());
        }
    }

    private static String properties(String regex) {
        Matcher m = PROPERTY.matcher(regex);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            String name = m.group(2);
            boolean negated = m.group().contains("{^");
            String letter = negated ? (m.group(1).equals("p") ? "P" : "p") : m.group(1);
            String fixed = "\\" + letter + "{" + name + "}";
            if (!accepted(letter + "{" + name + "}") && accepted(letter + "{Is" + name + "}")) fixed = "\\" + letter + "{Is" + name + "}";
            m.appendReplacement(sb, Matcher.quoteReplacement(fixed));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    private static boolean accepted(String property) {
        try {
            Pattern.compile("\\" + property);
            return true;
        } catch (PatternSyntaxException e) {
            return false;
        }
    }

    /**
     * The matches of {@code p} in {@code s} as {@code [start, end)} pairs, empty matches left out.
     * A pattern whose backtracking recurses too deeply for this input is an error naming it, not
     * a {@link StackOverflowError}.
     */
    static int[] matches(Pattern p, String s) {
        int[] out = new int[8];
        int n = 0;
        Matcher m = p.matcher(s);
        try {
            while (m.find()) {
                if (m.end() == m.start()) continue;
                if (n + 2 > out.length) out = java.util.Arrays.copyOf(out, out.length * 2);
                out[n++] = m.start();
                out[n++] = m.end();
            }
        } catch (StackOverflowError e) {
            throw new IllegalArgumentException("the tokenizer's regex " + TokJson.describe(p.pattern()) + " recursed too deeply on a text of " + s.length() + " characters");
        }
        return java.util.Arrays.copyOf(out, n);
    }
}
