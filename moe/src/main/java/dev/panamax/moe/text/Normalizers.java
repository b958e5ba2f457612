package dev.panamax.moe.text;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The {@code normalizer} of {@code tokenizer.json}: Unicode forms, lowercase, replace, prepend, strip, in sequence. */
final class Normalizers {
    private Normalizers() {}

    /** The normalizer described by {@code n}; the identity when it is JSON null. */
    static UnaryOperator<String> of(TokJson n) {
        if (n.isNull()) return s -> s;
        String type = n.type();
        return switch (type) {
            case "NFC" -> s -> Normalizer.normalize(s, Normalizer.Form.NFC);
            case "NFD" -> s -> Normalizer.normalize(s, Normalizer.Form.NFD);
            case "NFKC" -> s -> Normalizer.normalize(s, Normalizer.Form.NFKC);
            case "NFKD" -> s -> Normalizer.normalize(s, Normalizer.Form.NFKD);
            case "Lowercase" -> Normalizers::lowercase;
            case "Sequence" -> {
                List<UnaryOperator<String>> parts = new ArrayList<>();
                TokJson list = n.get("normalizers");
                for (int i = 0; i < list.list().size(); i++) parts.add(of(list.item(i)));
                yield s -> {
                    for (UnaryOperator<String> p : parts) s = p.apply(s);
                    return s;
                };
            }
            case "Replace" -> {
                Pattern p = pattern(n.get("pattern"));
                String content = Matcher.quoteReplacement(n.get("content").string());
                yield s -> p.matcher(s).replaceAll(content);
            }
            case "Prepend" -> {
                String prepend = n.get("prepend").string();
                yield s -> s.isEmpty() ? s : prepend + s;
            }
            case "Strip" -> {
                boolean left = n.get("strip_left").bool(false), right = n.get("strip_right").bool(false);
                yield s -> strip(s, left, right);
            }
            default -> throw n.get("type").error("normalizer " + type + " is not supported (NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, Strip, Sequence are)");
        };
    }

    /** A {@code {"String": ...}} or {@code {"Regex": ...}} pattern. */
    static Pattern pattern(TokJson p) {
        if (p.has("String")) return Pattern.compile(Pattern.quote(p.get("String").string()));
        if (p.has("Regex")) return Regexes.compile(p.get("Regex").string(), p.get("Regex").where());
        throw p.error("must hold \"String\" or \"Regex\"");
    }

    /** Each character lowercased on its own (no final-sigma rule), as Rust's {@code char::to_lowercase}. */
    static String lowercase(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (cp == 0x130) sb.append("i\u0307");
            else sb.appendCodePoint(Character.toLowerCase(cp));
        }
        return sb.toString();
    }

    static String strip(String s, boolean left, boolean right) {
        int a = 0, b = s.length();
        while (left && a < b && isWhitespace(s.codePointAt(a))) a += Character.charCount(s.codePointAt(a));
        while (right && b > a && isWhitespace(s.codePointBefore(b))) b -= Character.charCount(s.codePointBefore(b));
        return s.substring(a, b);
    }

    /** Unicode's White_Space, as Rust's {@code char::is_whitespace}. */
    static boolean isWhitespace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || Character.isSpaceChar(cp);
    }

    /** Rust's {@code char::is_alphanumeric}: Alphabetic or a number. */
    static boolean isAlphanumeric(int cp) {
        if (Character.isAlphabetic(cp)) return true;
        int t = Character.getType(cp);
        return t == Character.DECIMAL_DIGIT_NUMBER || t == Character.LETTER_NUMBER || t == Character.OTHER_NUMBER;
    }
}
