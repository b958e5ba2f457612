package dev.panamax.moe.text;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;

/**
 * The {@code added_tokens} of {@code tokenizer.json}: strings cut out of the text whole, before
 * normalisation (those with {@code "normalized": false}) or after it, each with its own id. They
 * are found leftmost-longest and without overlap; a {@code single_word} token only when no word
 * character touches it; {@code lstrip} and {@code rstrip} take the whitespace beside it into it.
 */
final class AddedTokens {
    private static final Pattern WORD_CHAR = Pattern.compile("\\w", Pattern.UNICODE_CHARACTER_CLASS);

    /**
     * One added token; {@code text} is what its id decodes to: the content, normalised when the
     * token is matched after normalisation (as the Rust library's id-to-token map holds it).
     */
    record Token(int id, String content, boolean special, boolean singleWord, boolean lstrip, boolean rstrip, boolean normalized, String text) {}

    /** A part of the text: an added token's id, or -1 for text still to tokenize. */
    record Part(String text, int id) {}

    private final List<Token> tokens = new ArrayList<>();
    private final Map<Integer, Token> byId = new HashMap<>();
    private final Map<String, Token> byContent = new HashMap<>();
    private final Trie raw = new Trie(), normalized = new Trie();
    private final UnaryOperator<String> normalizer;

    AddedTokens(TokJson list, UnaryOperator<String> normalizer) {
        this.normalizer = normalizer;
        if (list.isNull()) return;
        for (int i = 0; i < list.list().size(); i++) {
            TokJson t = list.item(i);
            long id = t.get("id").integer();
            if (id < 0 || id > Integer.MAX_VALUE - 8) throw t.get("id").error("is out of range: " + id);
            String content = t.get("content").string();
            if (content.isEmpty()) throw t.get("content").error("is empty");
            boolean special = t.get("special").bool(false), norm = t.get("normalized").bool(!special);
            Token tok = new Token((int) id, content, special, t.get("single_word").bool(false), t.get("lstrip").bool(false),
                    t.get("rstrip").bool(false), norm, norm ? normalizer.apply(content) : content);
            Token before = byId.putIfAbsent(tok.id(), tok);
            if (before != null) throw t.get("id").error(id + " is given to both \"" + before.content() + "\" and \"" + content + "\"");
            byContent.put(content, tok);
            tokens.add(tok);
        }
        for (Token t : tokens) {
            if (t.normalized()) {
                if (!t.text().isEmpty()) normalized.add(t.text(), t);
            } else {
                raw.add(t.content(), t);
            }
        }
    }

    List<Token> tokens() {
        return tokens;
    }

    Token byId(int id) {
        return byId.get(id);
    }

    Token byContent(String content) {
        return byContent.get(content);
    }

    /** The text cut at the added tokens, the remaining parts normalised, as the Rust library does. */
    List<Part> split(String text) {
        List<Part> parts = new ArrayList<>();
        if (tokens.isEmpty()) {
            parts.add(new Part(normalizer.apply(text), -1));
            return parts;
        }
        List<Part> first = new ArrayList<>();
        cut(text, raw, first);
        for (Part p : first) {
            if (p.id() >= 0) parts.add(p);
            else cut(normalizer.apply(p.text()), normalized, parts);
        }
        return parts;
    }

    private static void cut(String s, Trie trie, List<Part> out) {
        if (trie.isEmpty()) {
            out.add(new Part(s, -1));
            return;
        }
        int startOffset = 0;
        for (int[] mat : trie.findAll(s)) {
            int start = mat[0], stop = mat[1];
            Token t = trie.tokens.get(mat[2]);
            if (t.singleWord()) {
                boolean wordBefore = start > 0 && WORD_CHAR.matcher(new String(Character.toChars(s.codePointBefore(start)))).matches();
                boolean wordAfter = stop < s.length() && WORD_CHAR.matcher(new String(Character.toChars(s.codePointAt(stop)))).matches();
                if (wordBefore || wordAfter) continue;
            }
            if (t.lstrip()) {
                int ns = start;
                while (ns > 0 && Normalizers.isWhitespace(s.codePointBefore(ns))) ns -= Character.charCount(s.codePointBefore(ns));
                start = Math.max(ns, startOffset);
            }
            if (t.rstrip()) {
                while (stop < s.length() && Normalizers.isWhitespace(s.codePointAt(stop))) stop += Character.charCount(s.codePointAt(stop));
            }
            if (startOffset < start) out.add(new Part(s.substring(startOffset, start), -1));
            out.add(new Part(s.substring(start, stop), t.id()));
            startOffset = stop;
        }
        if (startOffset < s.length() || s.isEmpty()) out.add(new Part(s.substring(Math.min(startOffset, s.length())), -1));
    }

    /** Leftmost-longest, non-overlapping matching of a set of strings over UTF-16 units. */
    private static final class Trie {
        private final List<Map<Character, Integer>> edges = new ArrayList<>();
        private final List<Integer> accept = new ArrayList<>();
        final List<Token> tokens = new ArrayList<>();

        Trie() {
            edges.add(new HashMap<>());
            accept.add(-1);
        }

        boolean isEmpty() {
            return tokens.isEmpty();
        }

        void add(String s, Token t) {
            int node = 0;
            for (int i = 0; i < s.length(); i++) {
                Integer next = edges.get(node).get(s.charAt(i));
                if (next == null) {
                    next = edges.size();
                    edges.add(new HashMap<>());
                    accept.add(-1);
                    edges.get(node).put(s.charAt(i), next);
                }
                node = next;
            }
            if (accept.get(node) < 0) {
                accept.set(node, tokens.size());
                tokens.add(t);
            }
        }

        /** {@code [start, end, token index]} of each match, left to right. */
        List<int[]> findAll(String s) {
            List<int[]> out = new ArrayList<>();
            Map<Character, Integer> root = edges.get(0);
            int i = 0;
            while (i < s.length()) {
                if (!root.containsKey(s.charAt(i))) {
                    i++;
                    continue;
                }
                int node = 0, bestEnd = -1, best = -1;
                for (int j = i; j < s.length(); j++) {
                    Integer next = edges.get(node).get(s.charAt(j));
                    if (next == null) break;
                    node = next;
                    if (accept.get(node) >= 0) {
                        bestEnd = j + 1;
                        best = accept.get(node);
                    }
                }
                if (best >= 0) {
                    out.add(new int[] {i, bestEnd, best});
                    i = bestEnd;
                } else {
                    i++;
                }
            }
            return out;
        }
    }
}
