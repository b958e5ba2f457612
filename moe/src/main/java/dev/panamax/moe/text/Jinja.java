package dev.panamax.moe.text;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Jinja2 template language as {@code transformers} compiles chat templates: a lexer with
 * {@code trim_blocks} and {@code lstrip_blocks} on and {@code -}/{@code +} whitespace control,
 * and a recursive-descent parser with Jinja2's precedence, to a tree of {@link Node}s and
 * {@link Expr}s that {@link JinjaRun} renders.
 */
final class Jinja {
    private Jinja() {}

    // ---------------------------------------------------------------- tree

    /** A statement of a template body. */
    sealed interface Node {}

    record Text(String text) implements Node {}

    record Output(Expr value) implements Node {}

    record If(List<Expr> tests, List<List<Node>> bodies, List<Node> orElse) implements Node {}

    /** {@code for a[, b] in iter [if test]}: {@code names} has one name, or several to unpack. */
    record For(int line, List<String> names, boolean unpack, Expr iter, Expr test, List<Node> body, List<Node> orElse) implements Node {}

    /** {@code set a = v}, {@code set a, b = v} (unpack), or {@code set ns.a = v} ({@code attribute} not null). */
    record Assign(int line, List<String> names, boolean unpack, String attribute, Expr value) implements Node {}

    /**
     * {@code set a %}...{% endset}, its body filtered by {@code filters} (applied in order); with
     * {@code name} null, {@code filter f %}...{% endfilter}, which outputs the filtered body.
     */
    record AssignBlock(String name, List<Expr.Filter> filters, List<Node> body) implements Node {}

    record Macro(int line, String name, List<String> params, List<Expr> defaults, List<Node> body) implements Node {}

    /** {@code with a = x, b = y %}...{% endwith}: a scope, its names bound to values computed outside it. */
    record With(List<String> names, List<Expr> values, List<Node> body) implements Node {}

    record Break() implements Node {}

    record Continue() implements Node {}

    /** An expression, with the template line it starts on. */
    sealed interface Expr {
        int line();

        record Literal(int line, Object value) implements Expr {}

        record Name(int line, String name) implements Expr {}

        record ListOf(int line, List<Expr> items, boolean tuple) implements Expr {}

        record DictOf(int line, List<Expr> keys, List<Expr> values) implements Expr {}

        record Attr(int line, Expr target, String name) implements Expr {}

        record Item(int line, Expr target, Expr key) implements Expr {}

        record Slice(int line, Expr target, Expr start, Expr stop, Expr step) implements Expr {}

        record Call(int line, Expr target, List<Expr> args, List<String> keys, List<Expr> keyValues) implements Expr {}

        /** {@code value|name(args)}; {@code value} is null inside a filter block's header. */
        record Filter(int line, Expr value, String name, List<Expr> args, List<String> keys, List<Expr> keyValues) implements Expr {}

        record Test(int line, Expr value, String name, List<Expr> args, boolean negated) implements Expr {}

        /** {@code op} is one of {@code - + not}. */
        record Unary(int line, String op, Expr operand) implements Expr {}

        /** {@code op} is one of {@code + - * / // % ** ~ and or}. */
        record Binary(int line, String op, Expr left, Expr right) implements Expr {}

        /** A chain {@code a < b <= c}: {@code ops.get(i)} compares operand i with operand i + 1. */
        record Compare(int line, Expr first, List<String> ops, List<Expr> rest) implements Expr {}

        /** {@code then if test else orElse}; {@code orElse} may be null (undefined). */
        record Cond(int line, Expr test, Expr then, Expr orElse) implements Expr {}
    }

    // ---------------------------------------------------------------- lexer

    enum Kind { TEXT, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INT, FLOAT, OP, EOF }

    record Tok(Kind kind, String text, Object value, int offset) {}

    /** Template text with its line starts, for error messages. */
    static final class Source {
        final String text;
        private final int[] lineStarts;

        Source(String raw) {
            String s = raw.replace("\r\n", "\n").replace('\r', '\n');
            if (s.endsWith("\n")) s = s.substring(0, s.length() - 1); // keep_trailing_newline=False
            text = s;
            List<Integer> starts = new ArrayList<>();
            starts.add(0);
            for (int i = 0; i < s.length(); i++) if (s.charAt(i) == '\n') starts.add(i + 1);
            lineStarts = starts.stream().mapToInt(Integer::intValue).toArray();
        }

        int line(int offset) {
            int lo = 0, hi = lineStarts.length - 1;
            while (lo < hi) {
                int mid = (lo + hi + 1) >>> 1;
                if (lineStarts[mid] <= offset) lo = mid;
                else hi = mid - 1;
            }
            return lo + 1;
        }

        IllegalArgumentException error(int offset, String what) {
            return new IllegalArgumentException("chat template line " + line(offset) + ": " + what);
        }
    }

    /** After "{%" and its modifier: no trim_blocks here, as in Jinja2's raw_begin rule. */
    private static final Pattern RAW_BEGIN = Pattern.compile("\\G\\s*raw\\s*(-%}\\s*|%})");
    private static final Pattern RAW_END = Pattern.compile("\\{%([-+]?)\\s*endraw\\s*(-%}\\s*|\\+%}|%}\\n?)");
    private static final Pattern NUMBER = Pattern.compile(
            "\\G(\\d+_)*\\d+((\\.(\\d+_)*\\d+)?[eE][+-]?(\\d+_)*\\d+|\\.(\\d+_)*\\d+)?");
    private static final String[] OPERATORS = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "/", "*", "%", "~", "|",
        ".", ",", ":", ";", "(", ")", "[", "]", "{", "}", "<", ">", "="};

    static List<Tok> lex(Source src) {
        String s = src.text;
        int n = s.length();
        List<Tok> out = new ArrayList<>();
        int pos = 0;
        boolean lineStarting = true;
        while (pos < n) {
            int tag = nextTag(s, pos);
            String text = s.substring(pos, tag < 0 ? n : tag);
            if (tag < 0) {
                out.add(new Tok(Kind.TEXT, text, text, pos));
                break;
            }
            char kind = s.charAt(tag + 1);
            char mod = tag + 2 < n ? s.charAt(tag + 2) : 0;
            if (mod == '-') {
                text = JinjaValues.rstrip(text);
            } else if (mod != '+' && kind != '{') { // lstrip_blocks: only blank space between the line start and the tag
                int l = text.lastIndexOf('\n') + 1;
                if ((l > 0 || lineStarting) && text.substring(l).chars().allMatch(c -> c == ' ' || c == '\t')) text = text.substring(0, l);
            }
            if (!text.isEmpty()) out.add(new Tok(Kind.TEXT, text, text, pos));
            int p = tag + 2 + (mod == '-' || mod == '+' ? 1 : 0);
            if (kind == '#') {
                int e = s.indexOf("#}", p);
                if (e < 0) throw src.error(tag, "unclosed comment");
                pos = blockEnd(s, e, e > p && s.charAt(e - 1) == '-', e > p && s.charAt(e - 1) == '+');
                lineStarting = s.charAt(pos - 1) == '\n';
                continue;
            }
            if (kind == '%') {
                Matcher raw = RAW_BEGIN.matcher(s).region(p, n);
                if (raw.lookingAt()) {
                    Matcher end = RAW_END.matcher(s).region(raw.end(), n);
                    if (!end.find()) throw src.error(tag, "raw block never closed by endraw");
                    String body = s.substring(raw.end(), end.start());
                    if (end.group(1).equals("-")) {
                        body = JinjaValues.rstrip(body);
                    } else if (end.group(1).isEmpty()) { // lstrip_blocks holds for endraw too
                        int l = body.lastIndexOf('\n') + 1;
                        boolean starting = s.charAt(raw.end() - 1) == '\n';
                        if ((l > 0 || starting) && body.substring(l).chars().allMatch(c -> c == ' ' || c == '\t')) body = body.substring(0, l);
                    }
                    if (!body.isEmpty()) out.add(new Tok(Kind.TEXT, body, body, raw.end()));
                    pos = end.end();
                    lineStarting = s.charAt(pos - 1) == '\n';
                    continue;
                }
            }
            out.add(new Tok(kind == '{' ? Kind.VAR_BEGIN : Kind.BLOCK_BEGIN, s.substring(tag, p), null, tag));
            pos = lexTag(src, p, kind == '{', out, tag);
            lineStarting = s.charAt(pos - 1) == '\n';
        }
        out.add(new Tok(Kind.EOF, "end of template", null, n));
        return out;
    }

    private static int nextTag(String s, int from) {
        for (int i = s.indexOf('{', from); i >= 0 && i + 1 < s.length(); i = s.indexOf('{', i + 1)) {
            char c = s.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') return i;
        }
        return -1;
    }

    /** Where text resumes after a block or comment end at {@code at} ("%}" or "#}"), with trim_blocks. */
    private static int blockEnd(String s, int at, boolean strip, boolean plus) {
        int p = at + 2;
        if (strip) {
            while (p < s.length() && JinjaValues.isSpace(s.charAt(p))) p++;
        } else if (!plus && p < s.length() && s.charAt(p) == '\n') {
            p++;
        }
        return p;
    }

    /** Lexes the inside of a tag from {@code p}; returns where text resumes. */
    private static int lexTag(Source src, int p, boolean variable, List<Tok> out, int begin) {
        String s = src.text;
        int n = s.length();
        int depth = 0;
        while (true) {
            while (p < n && JinjaValues.isSpace(s.charAt(p))) p++;
            if (p >= n) throw src.error(begin, "tag never closed");
            if (depth == 0) {
                String close = variable ? "}}" : "%}";
                if (s.startsWith(close, p) || ((s.charAt(p) == '-' || s.charAt(p) == '+') && s.startsWith(close, p + 1))) {
                    char m = s.charAt(p);
                    int at = m == '-' || m == '+' ? p + 1 : p;
                    out.add(new Tok(variable ? Kind.VAR_END : Kind.BLOCK_END, s.substring(p, at + 2), null, p));
                    if (variable) {
                        int q = at + 2;
                        if (m == '-') while (q < n && JinjaValues.isSpace(s.charAt(q))) q++;
                        return q;
                    }
                    return blockEnd(s, at, m == '-', m == '+');
                }
            }
            char c = s.charAt(p);
            if (c == '\'' || c == '"') {
                int q = p + 1;
                while (q < n && s.charAt(q) != c) q += s.charAt(q) == '\\' ? 2 : 1;
                if (q >= n) throw src.error(p, "unterminated string");
                out.add(new Tok(Kind.STRING, s.substring(p, q + 1), unescape(src, s.substring(p + 1, q), p), p));
                p = q + 1;
            } else if (c >= '0' && c <= '9') {
                Matcher m = NUMBER.matcher(s).region(p, n);
                m.lookingAt();
                String t = m.group().replace("_", "");
                boolean real = t.indexOf('.') >= 0 || t.indexOf('e') >= 0 || t.indexOf('E') >= 0;
                Object v;
                try {
                    v = real ? (Object) Double.parseDouble(t) : (Object) Long.parseLong(t);
                } catch (NumberFormatException e) {
                    throw src.error(p, "number " + t + " is out of range");
                }
                out.add(new Tok(real ? Kind.FLOAT : Kind.INT, m.group(), v, p));
                p = m.end();
            } else if (Character.isLetter(c) || c == '_') {
                int q = p + 1;
                while (q < n && (Character.isLetterOrDigit(s.charAt(q)) || s.charAt(q) == '_')) q++;
                out.add(new Tok(Kind.NAME, s.substring(p, q), null, p));
                p = q;
            } else {
                String op = null;
                for (String o : OPERATORS) if (s.startsWith(o, p)) { op = o; break; }
                if (op == null) throw src.error(p, "unexpected character '" + c + "'");
                if (op.equals("(") || op.equals("[") || op.equals("{")) depth++;
                if (op.equals(")") || op.equals("]") || op.equals("}")) {
                    if (depth == 0) throw src.error(p, "unexpected '" + op + "'");
                    depth--;
                }
                out.add(new Tok(Kind.OP, op, null, p));
                p += op.length();
            }
        }
    }

    /** Python's unicode-escape decoding of a string literal's body, as Jinja2 applies it. */
    private static String unescape(Source src, String body, int at) {
        if (body.indexOf('\\') < 0) return body;
        StringBuilder b = new StringBuilder(body.length());
        for (int i = 0; i < body.length(); i++) {
            char c = body.charAt(i);
            if (c != '\\' || i + 1 >= body.length()) {
                b.append(c);
                continue;
            }
            char e = body.charAt(++i);
            switch (e) {
                case 'n' -> b.append('\n');
                case 't' -> b.append('\t');
                case 'r' -> b.append('\r');
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'v' -> b.append('\u000b');
                case 'a' -> b.append('\u0007');
                case '0', '1', '2', '3', '4', '5', '6', '7' -> {
                    int j = i, v = 0;
                    while (j < body.length() && j < i + 3 && body.charAt(j) >= '0' && body.charAt(j) <= '7') v = v * 8 + body.charAt(j++) - '0';
                    b.append((char) v);
                    i = j - 1;
                }
                case 'x', 'u', 'U' -> {
                    int len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    String hex = body.substring(i + 1, Math.min(body.length(), i + 1 + len));
                    int cp;
                    try {
                        if (hex.length() != len) throw new NumberFormatException();
                        cp = Integer.parseInt(hex, 16);
                    } catch (NumberFormatException ex) {
                        throw src.error(at, "truncated \\" + e + " escape");
                    }
                    if (!Character.isValidCodePoint(cp)) throw src.error(at, "\\" + e + hex + " is not a code point");
                    b.appendCodePoint(cp);
                    i += len;
                }
                case '\n' -> { } // a backslash at a line's end joins the lines
                case '\\', '\'', '"' -> b.append(e);
                default -> b.append('\\').append(e);
            }
        }
        return b.toString();
    }

    // ---------------------------------------------------------------- parser

    /** Parses a template into its body. */
    static List<Node> parse(Source src) {
        Parser p = new Parser(src, lex(src));
        List<Node> body = p.body(Set.of());
        if (p.peek().kind() != Kind.EOF) throw p.fail("unexpected '" + p.peek().text() + "'");
        if (!p.unknown.isEmpty()) throw p.unknown.getFirst();
        return body;
    }

    private static final Set<String> ENDS_OF_PRIMARY = Set.of("else", "or", "and");

    private static final class Parser {
        private final Source src;
        private final List<Tok> toks;
        private int i;
        private int loops;
        /**
         * Inside an {@code if} or a conditional expression, and no deeper scope: there Jinja2
         * lets an unknown filter or test fail only when it runs; elsewhere it fails to compile.
         */
        private boolean soft;
        /** Unknown filters and tests met outside soft scopes: the first fails the parse at its end. */
        private final List<IllegalArgumentException> unknown = new ArrayList<>();
        /** The block tag that ended the last body, e.g. "endif" or "elif". */
        private String ended;

        Parser(Source src, List<Tok> toks) {
            this.src = src;
            this.toks = toks;
        }

        Tok peek() {
            return toks.get(i);
        }

        Tok peek(int ahead) {
            return toks.get(Math.min(i + ahead, toks.size() - 1));
        }

        Tok next() {
            return toks.get(i++);
        }

        int line() {
            return src.line(peek().offset());
        }

        IllegalArgumentException fail(String what) {
            return src.error(peek().offset(), what);
        }

        boolean isOp(String op) {
            return peek().kind() == Kind.OP && peek().text().equals(op);
        }

        boolean isName(String name) {
            return peek().kind() == Kind.NAME && peek().text().equals(name);
        }

        boolean skipOp(String op) {
            if (!isOp(op)) return false;
            i++;
            return true;
        }

        boolean skipName(String name) {
            if (!isName(name)) return false;
            i++;
            return true;
        }

        void expectOp(String op) {
            if (!skipOp(op)) throw fail("expected '" + op + "', got '" + peek().text() + "'");
        }

        String expectName() {
            if (peek().kind() != Kind.NAME) throw fail("expected a name, got '" + peek().text() + "'");
            return next().text();
        }

        void endBlock() {
            if (peek().kind() != Kind.BLOCK_END) throw fail("expected the end of the tag, got '" + peek().text() + "'");
            i++;
        }

        /** Statements until a block tag named in {@code stops} (consumed up to its name, kept in {@link #ended}). */
        List<Node> body(Set<String> stops) {
            List<Node> out = new ArrayList<>();
            while (true) {
                Tok t = peek();
                switch (t.kind()) {
                    case EOF -> {
                        if (!stops.isEmpty()) throw fail("missing " + String.join(" or ", stops.stream().sorted().toList()));
                        return out;
                    }
                    case TEXT -> {
                        next();
                        out.add(new Text((String) t.value()));
                    }
                    case VAR_BEGIN -> {
                        next();
                        out.add(new Output(tuple(true)));
                        if (peek().kind() != Kind.VAR_END) throw fail("expected '}}', got '" + peek().text() + "'");
                        next();
                    }
                    case BLOCK_BEGIN -> {
                        next();
                        if (peek().kind() == Kind.NAME && stops.contains(peek().text())) {
                            ended = next().text();
                            return out;
                        }
                        Node node = statement();
                        if (node != null) out.add(node);
                    }
                    default -> throw fail("unexpected '" + t.text() + "'");
                }
            }
        }

        Node statement() {
            int line = line();
            String tag = expectName();
            boolean saved = soft;
            if (!tag.equals("if") && !tag.equals("set") && !tag.equals("break") && !tag.equals("continue")) soft = false; // a scope of its own
            try {
                return statement(line, tag);
            } finally {
                soft = saved;
            }
        }

        Node statement(int line, String tag) {
            switch (tag) {
                case "if" -> {
                    boolean saved = soft;
                    soft = true;
                    try {
                        return ifStatement();
                    } finally {
                        soft = saved;
                    }
                }
                case "for" -> {
                    boolean saved = soft;
                    soft = false;
                    try {
                        return forStatement(line);
                    } finally {
                        soft = saved;
                    }
                }
                case "set" -> {
                    if (peek().kind() == Kind.NAME && peek(1).kind() == Kind.OP && peek(1).text().equals(".")) {
                        String ns = next().text();
                        next();
                        String attr = expectName();
                        expectOp("=");
                        Expr v = tuple(false);
                        endBlock();
                        return new Assign(line, List.of(ns), false, attr, v);
                    }
                    List<String> names = new ArrayList<>();
                    boolean unpack = targets(names);
                    if (skipOp("=")) {
                        Expr v = tuple(false);
                        endBlock();
                        return new Assign(line, names, unpack, null, v);
                    }
                    if (unpack) throw fail("a block set takes one name");
                    soft = false;
                    List<Expr.Filter> filters = new ArrayList<>();
                    while (skipOp("|")) filters.add(filter(null));
                    endBlock();
                    List<Node> body = body(Set.of("endset"));
                    endBlock();
                    return new AssignBlock(names.get(0), filters, body);
                }
                case "macro" -> {
                    String name = expectName();
                    List<String> params = new ArrayList<>();
                    List<Expr> defaults = new ArrayList<>();
                    expectOp("(");
                    while (!skipOp(")")) {
                        if (!params.isEmpty()) expectOp(",");
                        if (skipOp(")")) break;
                        params.add(expectName());
                        if (skipOp("=")) defaults.add(expression(true));
                        else if (!defaults.isEmpty()) throw fail("a parameter without a default follows one with a default");
                    }
                    endBlock();
                    int saved = loops;
                    loops = 0;
                    List<Node> body = body(Set.of("endmacro"));
                    loops = saved;
                    endBlock();
                    return new Macro(line, name, params, defaults, body);
                }
                case "filter" -> {
                    Expr.Filter f = filter(null);
                    List<Expr.Filter> chain = new ArrayList<>();
                    chain.add(f);
                    while (skipOp("|")) chain.add(filter(null));
                    endBlock();
                    List<Node> body = body(Set.of("endfilter"));
                    endBlock();
                    return new AssignBlock(null, chain, body);
                }
                case "with" -> {
                    List<String> names = new ArrayList<>();
                    List<Expr> values = new ArrayList<>();
                    while (peek().kind() != Kind.BLOCK_END) {
                        if (!names.isEmpty()) expectOp(",");
                        names.add(expectName());
                        expectOp("=");
                        values.add(expression(true));
                    }
                    endBlock();
                    List<Node> body = body(Set.of("endwith"));
                    endBlock();
                    return new With(names, values, body);
                }
                case "generation" -> { // transformers' AssistantTracker: renders its body as it is
                    endBlock();
                    List<Node> body = body(Set.of("endgeneration"));
                    endBlock();
                    return new If(List.of(new Expr.Literal(line, true)), List.of(body), List.of());
                }
                case "break", "continue" -> {
                    if (loops == 0) throw src.error(toks.get(i - 1).offset(), "'" + tag + "' outside a loop");
                    endBlock();
                    return tag.equals("break") ? new Break() : new Continue();
                }
                default -> throw src.error(toks.get(i - 1).offset(), "the '" + tag + "' tag is not supported in chat templates");
            }
        }

        Node ifStatement() {
            List<Expr> tests = new ArrayList<>();
            List<List<Node>> bodies = new ArrayList<>();
            tests.add(tuple(false));
            endBlock();
            while (true) {
                bodies.add(body(Set.of("elif", "else", "endif")));
                if (ended.equals("elif")) {
                    tests.add(tuple(false));
                    endBlock();
                    continue;
                }
                List<Node> orElse = List.of();
                if (ended.equals("else")) {
                    endBlock();
                    orElse = body(Set.of("endif"));
                }
                endBlock();
                return new If(tests, bodies, orElse);
            }
        }

        Node forStatement(int line) {
            List<String> names = new ArrayList<>();
            boolean unpack = targets(names);
            if (!skipName("in")) throw fail("expected 'in' in the for tag");
            Expr iter = tuple(false, true);
            Expr test = skipName("if") ? tuple(false) : null;
            if (isName("recursive")) throw fail("recursive loops are not supported");
            endBlock();
            loops++;
            List<Node> body = body(Set.of("else", "endfor"));
            loops--;
            List<Node> orElse = List.of();
            if (ended.equals("else")) {
                endBlock();
                orElse = body(Set.of("endfor"));
            }
            endBlock();
            return new For(line, names, unpack, iter, test, body, orElse);
        }

        /** Assignment targets: {@code a}, {@code a, b} or {@code (a, b)}; returns whether to unpack. */
        boolean targets(List<String> names) {
            boolean paren = skipOp("(");
            names.add(expectName());
            boolean unpack = paren;
            while (skipOp(",")) {
                unpack = true;
                if (peek().kind() != Kind.NAME) break;
                names.add(expectName());
            }
            if (paren) expectOp(")");
            return unpack;
        }

        Expr tuple(boolean top) {
            return tuple(top, false);
        }

        /** An expression, or several separated by commas (a tuple). */
        Expr tuple(boolean top, boolean noCond) {
            int line = line();
            Expr first = expression(!noCond);
            if (!isOp(",")) return first;
            List<Expr> items = new ArrayList<>();
            items.add(first);
            while (skipOp(",")) {
                if (atTupleEnd()) break;
                items.add(expression(!noCond));
            }
            return new Expr.ListOf(line, items, true);
        }

        private boolean atTupleEnd() {
            Tok t = peek();
            return t.kind() == Kind.VAR_END || t.kind() == Kind.BLOCK_END || (t.kind() == Kind.OP && (t.text().equals(")") || t.text().equals("]") || t.text().equals("}")))
                    || (t.kind() == Kind.NAME && (t.text().equals("if") || t.text().equals("in")));
        }

        Expr expression(boolean withCond) {
            return withCond ? condition() : or();
        }

        Expr condition() {
            int mark = unknown.size();
            boolean saved = soft;
            Expr e = or();
            if (!isName("if")) return e;
            // a conditional expression: its parts are soft, the first one included
            while (unknown.size() > mark) unknown.removeLast();
            soft = true;
            try {
                while (isName("if")) {
                    int line = line();
                    next();
                    Expr test = or();
                    Expr orElse = skipName("else") ? condition() : null;
                    e = new Expr.Cond(line, test, e, orElse);
                }
                return e;
            } finally {
                soft = saved;
            }
        }

        /** One level of left-associative binary operators: operands from {@code operand}, joined by what {@code op} accepts. */
        private Expr leftAssociative(java.util.function.Supplier<Expr> operand, java.util.function.Predicate<Tok> op) {
            Expr e = operand.get();
            while (op.test(peek())) {
                int line = line();
                String o = next().text();
                e = new Expr.Binary(line, o, e, operand.get());
            }
            return e;
        }

        private static java.util.function.Predicate<Tok> ops(String... ops) {
            Set<String> set = Set.of(ops);
            return t -> t.kind() == Kind.OP && set.contains(t.text());
        }

        private static java.util.function.Predicate<Tok> word(String name) {
            return t -> t.kind() == Kind.NAME && t.text().equals(name);
        }

        Expr or() {
            return leftAssociative(this::and, word("or"));
        }

        Expr and() {
            return leftAssociative(this::not, word("and"));
        }

        Expr not() {
            if (isName("not")) {
                int line = line();
                next();
                return new Expr.Unary(line, "not", not());
            }
            return compare();
        }

        Expr compare() {
            int line = line();
            Expr first = math1();
            List<String> ops = new ArrayList<>();
            List<Expr> rest = new ArrayList<>();
            while (true) {
                Tok t = peek();
                if (t.kind() == Kind.OP && Set.of("==", "!=", "<", "<=", ">", ">=").contains(t.text())) {
                    next();
                    ops.add(t.text());
                } else if (isName("in")) {
                    next();
                    ops.add("in");
                } else if (isName("not") && peek(1).kind() == Kind.NAME && peek(1).text().equals("in")) {
                    i += 2;
                    ops.add("not in");
                } else {
                    break;
                }
                rest.add(math1());
            }
            return ops.isEmpty() ? first : new Expr.Compare(line, first, ops, rest);
        }

        Expr math1() {
            return leftAssociative(this::concat, ops("+", "-"));
        }

        /** {@code ~} binds tighter than {@code +}, as in Jinja2. */
        Expr concat() {
            return leftAssociative(this::math2, ops("~"));
        }

        Expr math2() {
            return leftAssociative(this::pow, ops("*", "/", "//", "%"));
        }

        /** Left-associative, as in Jinja2 ({@code 2 ** 3 ** 2} is 64). */
        Expr pow() {
            return leftAssociative(() -> unary(true), ops("**"));
        }

        Expr unary(boolean withFilter) {
            int line = line();
            Expr e;
            if (isOp("-") || isOp("+")) {
                String op = next().text();
                e = new Expr.Unary(line, op, unary(false));
            } else {
                e = primary();
            }
            e = postfix(e);
            return withFilter ? filters(e) : e;
        }

        Expr primary() {
            Tok t = peek();
            int line = line();
            switch (t.kind()) {
                case NAME -> {
                    next();
                    return switch (t.text()) {
                        case "true", "True" -> new Expr.Literal(line, true);
                        case "false", "False" -> new Expr.Literal(line, false);
                        case "none", "None" -> new Expr.Literal(line, null);
                        default -> new Expr.Name(line, t.text());
                    };
                }
                case STRING -> {
                    StringBuilder b = new StringBuilder();
                    while (peek().kind() == Kind.STRING) b.append((String) next().value());
                    return new Expr.Literal(line, b.toString());
                }
                case INT, FLOAT -> {
                    next();
                    return new Expr.Literal(line, t.value());
                }
                case OP -> {
                    switch (t.text()) {
                        case "(" -> {
                            next();
                            if (skipOp(")")) return new Expr.ListOf(line, List.of(), true);
                            Expr e = tuple(false);
                            expectOp(")");
                            return e;
                        }
                        case "[" -> {
                            next();
                            List<Expr> items = new ArrayList<>();
                            while (!skipOp("]")) {
                                if (!items.isEmpty()) expectOp(",");
                                if (skipOp("]")) break;
                                items.add(expression(true));
                            }
                            return new Expr.ListOf(line, items, false);
                        }
                        case "{" -> {
                            next();
                            List<Expr> keys = new ArrayList<>(), values = new ArrayList<>();
                            while (!skipOp("}")) {
                                if (!keys.isEmpty()) expectOp(",");
                                if (skipOp("}")) break;
                                keys.add(expression(true));
                                expectOp(":");
                                values.add(expression(true));
                            }
                            return new Expr.DictOf(line, keys, values);
                        }
                        default -> { }
                    }
                }
                default -> { }
            }
            throw fail("unexpected '" + t.text() + "'");
        }

        Expr postfix(Expr e) {
            while (true) {
                int line = line();
                if (skipOp(".")) {
                    Tok t = next();
                    if (t.kind() == Kind.NAME) e = new Expr.Attr(line, e, t.text());
                    else if (t.kind() == Kind.INT) e = new Expr.Item(line, e, new Expr.Literal(line, t.value()));
                    else throw src.error(t.offset(), "expected an attribute name after '.'");
                } else if (skipOp("[")) {
                    e = subscript(e, line);
                } else if (isOp("(")) {
                    e = call(e);
                } else {
                    return e;
                }
            }
        }

        Expr subscript(Expr target, int line) {
            Expr[] parts = new Expr[3];
            int part = 0;
            boolean slice = false;
            while (!isOp("]")) {
                if (skipOp(":")) {
                    slice = true;
                    if (++part > 2) throw fail("a slice takes at most three parts");
                    continue;
                }
                if (parts[part] != null) throw fail("expected ':' or ']'");
                parts[part] = expression(true);
                if (!slice && isOp(",")) throw fail("tuple subscripts are not supported");
            }
            next();
            if (!slice) {
                if (parts[0] == null) throw fail("empty subscript");
                return new Expr.Item(line, target, parts[0]);
            }
            return new Expr.Slice(line, target, parts[0], parts[1], parts[2]);
        }

        Expr call(Expr target) {
            int line = line();
            List<Expr> args = new ArrayList<>();
            List<String> keys = new ArrayList<>();
            List<Expr> values = new ArrayList<>();
            callArgs(args, keys, values);
            return new Expr.Call(line, target, args, keys, values);
        }

        void callArgs(List<Expr> args, List<String> keys, List<Expr> values) {
            expectOp("(");
            boolean first = true;
            while (!skipOp(")")) {
                if (!first) expectOp(",");
                first = false;
                if (skipOp(")")) break;
                if (isOp("*") || isOp("**")) throw fail("*args and **kwargs are not supported");
                if (peek().kind() == Kind.NAME && peek(1).kind() == Kind.OP && peek(1).text().equals("=")) {
                    keys.add(next().text());
                    next();
                    values.add(expression(true));
                } else {
                    if (!keys.isEmpty()) throw fail("a positional argument follows a keyword argument");
                    args.add(expression(true));
                }
            }
        }

        Expr filters(Expr e) {
            while (true) {
                if (skipOp("|")) {
                    e = filter(e);
                } else if (isName("is")) {
                    e = test(e);
                } else if (isOp("(")) {
                    e = call(e);
                } else {
                    return e;
                }
            }
        }

        Expr.Filter filter(Expr value) {
            int line = line();
            int at = peek().offset();
            String name = expectName();
            while (skipOp(".")) name += "." + expectName();
            if (!soft && !JinjaBuiltins.FILTERS.contains(name)) unknown.add(src.error(at, "no filter named '" + name + "'"));
            List<Expr> args = new ArrayList<>();
            List<String> keys = new ArrayList<>();
            List<Expr> values = new ArrayList<>();
            if (isOp("(")) callArgs(args, keys, values);
            return new Expr.Filter(line, value, name, args, keys, values);
        }

        Expr test(Expr value) {
            int line = line();
            next(); // is
            boolean negated = skipName("not");
            int at = peek().offset();
            String name = expectName();
            while (skipOp(".")) name += "." + expectName();
            if (!soft && !JinjaBuiltins.TESTS.contains(name)) unknown.add(src.error(at, "no test named '" + name + "'"));
            List<Expr> args = new ArrayList<>();
            Tok t = peek();
            if (isOp("(")) {
                List<String> keys = new ArrayList<>();
                List<Expr> values = new ArrayList<>();
                callArgs(args, keys, values);
                if (!keys.isEmpty()) throw fail("tests take no keyword arguments");
            } else if ((t.kind() == Kind.NAME || t.kind() == Kind.STRING || t.kind() == Kind.INT || t.kind() == Kind.FLOAT
                    || (t.kind() == Kind.OP && (t.text().equals("[") || t.text().equals("{"))))
                    && !(t.kind() == Kind.NAME && ENDS_OF_PRIMARY.contains(t.text()))) {
                if (isName("is")) throw fail("tests cannot be chained with 'is'");
                args.add(postfix(primary()));
            }
            return new Expr.Test(line, value, name, args, negated);
        }
    }
}
