package dev.panamax.moe.text;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The {@code pre_tokenizer} of {@code tokenizer.json}: it cuts a text into the words that BPE
 * merges within. {@code Split} (by a regex or a string, with each of the library's five
 * behaviours, inverted or not), {@code ByteLevel} (an optional leading space, GPT-2's split, then
 * the byte-level alphabet), {@code Digits}, {@code Whitespace}, {@code WhitespaceSplit} and
 * {@code Sequence} are read.
 */
final class PreTokenizers {
    private PreTokenizers() {}

    /** One stage: replaces each piece by its parts, in order. */
    interface Stage {
        void split(String piece, List<String> out);
    }

    /** The whole pre-tokenizer; none gives each text as one word. */
    static List<String> apply(List<Stage> stages, String text) {
        List<String> pieces = new ArrayList<>();
        if (text.isEmpty()) return pieces;
        pieces.add(text);
        for (Stage st : stages) {
            List<String> next = new ArrayList<>(pieces.size() * 4);
            for (String p : pieces) st.split(p, next);
            pieces = next;
        }
        return pieces;
    }

    /**
     * The stages of {@code p} (flattening sequences). With {@code reference}, every split runs its
     * regex as written; without, a split whose regex {@link KnownPatterns} knows runs its hand
     * matcher instead.
     */
    static List<Stage> of(TokJson p, boolean reference) {
        List<Stage> out = new ArrayList<>();
        if (!p.isNull()) add(p, reference, out);
        return out;
    }

    private static void add(TokJson p, boolean reference, List<Stage> out) {
        String type = p.type();
        switch (type) {
            case "Sequence" -> {
                TokJson list = p.get("pretokenizers");
                for (int i = 0; i < list.list().size(); i++) add(list.item(i), reference, out);
            }
            case "Split" -> {
                TokJson pattern = p.get("pattern");
                KnownPatterns.Finder known = reference || !pattern.has("Regex") ? null : KnownPatterns.of(pattern.get("Regex").string());
                out.add(split(known != null ? known : finder(Normalizers.pattern(pattern)), behavior(p.get("behavior")), p.get("invert").bool(false)));
            }
            case "ByteLevel" -> {
                boolean prefix = p.get("add_prefix_space").bool(true), regex = p.get("use_regex").bool(true);
                out.add((piece, o) -> {
                    String s = prefix && !piece.startsWith(" ") ? " " + piece : piece;
                    if (regex) {
                        List<String> parts = new ArrayList<>();
                        split(finder(ByteLevel.GPT2_SPLIT), Behavior.ISOLATED, false).split(s, parts);
                        for (String part : parts) o.add(ByteLevel.encode(part));
                    } else {
                        o.add(ByteLevel.encode(s));
                    }
                });
            }
            // numbers as Rust's char::is_numeric counts them: Nd, Nl and No
            case "Digits" -> out.add(split(finder(Pattern.compile(p.get("individual_digits").bool(false) ? "\\p{N}" : "\\p{N}+", Pattern.UNICODE_CHARACTER_CLASS)), Behavior.ISOLATED, false));
            case "Whitespace" -> out.add(split(finder(Pattern.compile("\\w+|[^\\w\\s]+", Pattern.UNICODE_CHARACTER_CLASS)), Behavior.ISOLATED, true));
            case "WhitespaceSplit" -> out.add(split(finder(Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS)), Behavior.REMOVED, false));
            default -> throw p.get("type").error("pre-tokenizer " + type + " is not supported (Split, ByteLevel, Digits, Whitespace, WhitespaceSplit, Sequence are)");
        }
    }

    static KnownPatterns.Finder finder(Pattern p) {
        return s -> Regexes.matches(p, s);
    }

    /** What a split does with the text its pattern matches. */
    enum Behavior {
        REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS
    }

    private static Behavior behavior(TokJson b) {
        return switch (b.string()) {
            case "Removed" -> Behavior.REMOVED;
            case "Isolated" -> Behavior.ISOLATED;
            case "MergedWithPrevious" -> Behavior.MERGED_WITH_PREVIOUS;
            case "MergedWithNext" -> Behavior.MERGED_WITH_NEXT;
            case "Contiguous" -> Behavior.CONTIGUOUS;
            default -> throw b.error("unknown split behavior \"" + b.string() + "\"");
        };
    }

    /**
     * Cuts a piece into the pattern's matches and the text between them (with {@code invert},
     * the text between is the delimiter), then treats each delimiter by the behaviour as the Rust
     * library does: merged into the part before (or after) unless that part is a delimiter too;
     * runs of delimiters joined ({@code Contiguous}); removed; or kept on their own. No part is
     * empty (the library drops empty parts): finders give no empty matches, and the text between
     * two matches is kept only when there is some.
     */
    static Stage split(KnownPatterns.Finder finder, Behavior behavior, boolean invert) {
        return (piece, out) -> {
            int[] m = finder.matches(piece);
            int[] start = new int[m.length + 1], end = new int[m.length + 1];
            boolean[] delim = new boolean[m.length + 1];
            int n = 0, at = 0;
            for (int i = 0; i <= m.length; i += 2) {
                int s = i < m.length ? m[i] : piece.length();
                if (s > at) {
                    start[n] = at;
                    end[n] = s;
                    delim[n++] = invert;
                }
                if (i < m.length) {
                    start[n] = m[i];
                    end[n] = m[i + 1];
                    delim[n++] = !invert;
                    at = m[i + 1];
                }
            }
            switch (behavior) {
                case REMOVED -> {
                    for (int i = 0; i < n; i++) if (!delim[i]) out.add(piece.substring(start[i], end[i]));
                }
                case ISOLATED -> {
                    for (int i = 0; i < n; i++) out.add(piece.substring(start[i], end[i]));
                }
                case MERGED_WITH_PREVIOUS, CONTIGUOUS -> joined(piece, n, start, end, delim, false, behavior == Behavior.CONTIGUOUS, out);
                case MERGED_WITH_NEXT -> joined(piece, n, start, end, delim, true, false, out);
            }
        };
    }

    /**
     * Walks the segments forwards (or backwards, for {@code MergedWithNext}) joining each to the
     * part before it in the walk: a delimiter whose predecessor is not one, or with
     * {@code contiguous}, any segment of the same kind as its predecessor.
     */
    private static void joined(String piece, int n, int[] start, int[] end, boolean[] delim, boolean backwards, boolean contiguous, List<String> out) {
        List<String> parts = new ArrayList<>();
        int from = -1, to = -1;
        boolean previous = false;
        for (int k = 0; k < n; k++) {
            int i = backwards ? n - 1 - k : k;
            boolean join = contiguous ? delim[i] == previous : delim[i] && !previous;
            if (join && from >= 0) {
                from = Math.min(from, start[i]);
                to = Math.max(to, end[i]);
            } else {
                if (from >= 0) parts.add(piece.substring(from, to));
                from = start[i];
                to = end[i];
            }
            previous = delim[i];
        }
        if (from >= 0) parts.add(piece.substring(from, to));
        if (backwards) java.util.Collections.reverse(parts);
        out.addAll(parts);
    }
}
