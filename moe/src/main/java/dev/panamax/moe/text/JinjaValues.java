package dev.panamax.moe.text;

import java.math.BigDecimal;
import java.util.AbstractList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Python values a Jinja2 template computes with, and Python's rules for them: {@code None}
 * is {@code null}; {@code bool}, {@code int} and {@code float} are {@link Boolean}, {@link Long}
 * and {@link Double}; {@code str} is {@link String}; a list is a {@link List}, a tuple a
 * {@link Tuple}; a dict a {@link Map} in insertion order. {@link Undefined} is Jinja2's default
 * undefined value. Strings are indexed and measured in code points, as Python's are.
 */
final class JinjaValues {
    private JinjaValues() {}

    /**
     * Jinja2's default {@code Undefined}: prints as nothing, is false, iterates as empty;
     * arithmetic on it, or an attribute of it, fails with {@code message}.
     */
    record Undefined(String message) {}

    /** A read-only list that Python tells apart from a list: a {@link Tuple} or a {@link Lazy}. */
    abstract static sealed class Sequence extends AbstractList<Object> permits Tuple, Lazy {
        private final List<Object> items;

        Sequence(List<Object> items) {
            this.items = items;
        }

        @Override
        public Object get(int index) {
            return items.get(index);
        }

        @Override
        public int size() {
            return items.size();
        }
    }

    /** A Python tuple: a list that prints with parentheses and is not equal to a list. */
    static final class Tuple extends Sequence {
        Tuple(List<Object> items) {
            super(items);
        }
    }

    /**
     * What Jinja2 returns as a generator ({@code select}, {@code map}, {@code unique},
     * {@code items}, {@code batch}, {@code reverse}): iterable, but always true, with no length,
     * no items by index, and printed as a generator object.
     */
    static final class Lazy extends Sequence {
        Lazy(List<Object> items) {
            super(items);
        }
    }

    /** Jinja2's {@code namespace()}: the one object whose attributes a template may set. */
    static final class Namespace {
        final Map<String, Object> attributes = new LinkedHashMap<>();
    }

    /** A template error, as Jinja2 raises it (an undefined value misused, a type error, raise_exception). */
    static IllegalArgumentException error(int line, String what) {
        return new IllegalArgumentException("chat template line " + line + ": " + what);
    }

    static String typeName(Object v) {
        return switch (v) {
            case null -> "NoneType";
            case Undefined u -> "Undefined";
            case Boolean b -> "bool";
            case Long l -> "int";
            case Double d -> "float";
            case String s -> "str";
            case Tuple t -> "tuple";
            case Lazy l -> "generator";
            case List<?> l -> "list";
            case Map<?, ?> m -> "dict";
            case Namespace n -> "Namespace";
            default -> v instanceof JinjaRun.Callable ? "function" : v.getClass().getSimpleName();
        };
    }

    static boolean truthy(Object v) {
        return switch (v) {
            case null -> false;
            case Undefined u -> false;
            case Lazy l -> true;
            case Boolean b -> b;
            case Long l -> l != 0;
            case Double d -> d != 0;
            case String s -> !s.isEmpty();
            case List<?> l -> !l.isEmpty();
            case Map<?, ?> m -> !m.isEmpty();
            default -> true;
        };
    }

    static boolean isNumber(Object v) {
        return v instanceof Long || v instanceof Double || v instanceof Boolean;
    }

    /** An int (or bool) as a long, else null. */
    static Long asLong(Object v) {
        if (v instanceof Long l) return l;
        if (v instanceof Boolean b) return b ? 1L : 0L;
        return null;
    }

    static double asDouble(Object v) {
        if (v instanceof Double d) return d;
        Long l = asLong(v);
        if (l == null) throw new IllegalStateException(typeName(v));
        return l;
    }

    /** Python's {@code ==}. */
    static boolean eq(Object a, Object b) {
        if (a == b) return true;
        if (a == null || b == null) return false;
        if (isNumber(a) && isNumber(b)) {
            Long x = asLong(a), y = asLong(b);
            return x != null && y != null ? x.longValue() == y.longValue() : asDouble(a) == asDouble(b);
        }
        if (a instanceof String s) return s.equals(b);
        if (a instanceof Lazy || b instanceof Lazy) return false;
        if (a instanceof List<?> x && b instanceof List<?> y) {
            if ((a instanceof Tuple) != (b instanceof Tuple) || x.size() != y.size()) return false;
            for (int i = 0; i < x.size(); i++) if (!eq(x.get(i), y.get(i))) return false;
            return true;
        }
        if (a instanceof Map<?, ?> x && b instanceof Map<?, ?> y) {
            if (x.size() != y.size()) return false;
            for (Map.Entry<?, ?> e : x.entrySet()) {
                if (!y.containsKey(e.getKey()) || !eq(e.getValue(), y.get(e.getKey()))) return false;
            }
            return true;
        }
        if (a instanceof Undefined && b instanceof Undefined) return true;
        return a.equals(b);
    }

    /** Python's ordering of two values: negative, zero or positive; fails for unordered types. */
    static int compare(int line, Object a, Object b, String op) {
        if (isNumber(a) && isNumber(b)) {
            Long x = asLong(a), y = asLong(b);
            return x != null && y != null ? Long.compare(x, y) : Double.compare(asDouble(a), asDouble(b));
        }
        if (a instanceof String x && b instanceof String y) return compareCodePoints(x, y);
        if (a instanceof List<?> x && b instanceof List<?> y && (a instanceof Tuple) == (b instanceof Tuple)) {
            for (int i = 0; i < Math.min(x.size(), y.size()); i++) {
                if (!eq(x.get(i), y.get(i))) return compare(line, x.get(i), y.get(i), op);
            }
            return Integer.compare(x.size(), y.size());
        }
        if (a instanceof Undefined || b instanceof Undefined) throw undefined(line, a instanceof Undefined u ? u : (Undefined) b);
        throw error(line, "'" + op + "' not supported between instances of '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    static int compareCodePoints(String x, String y) {
        int i = 0, j = 0;
        while (i < x.length() && j < y.length()) {
            int a = x.codePointAt(i), b = y.codePointAt(j);
            if (a != b) return Integer.compare(a, b);
            i += Character.charCount(a);
            j += Character.charCount(b);
        }
        return Boolean.compare(i < x.length(), j < y.length());
    }

    static IllegalArgumentException undefined(int line, Undefined u) {
        return error(line, u.message());
    }

    /** Python's {@code str()}: what {@code {{ v }}} prints. */
    static String str(Object v) {
        return switch (v) {
            case null -> "None";
            case Undefined u -> "";
            case String s -> s;
            case Boolean b -> b ? "True" : "False";
            case Long l -> l.toString();
            case Double d -> floatRepr(d);
            default -> repr(v);
        };
    }

    /** Python's {@code repr()}. */
    static String repr(Object v) {
        StringBuilder b = new StringBuilder();
        repr(b, v, 0);
        return b.toString();
    }

    private static void repr(StringBuilder b, Object v, int depth) {
        if (depth > 64) throw new IllegalArgumentException("chat template: a value nests deeper than 64");
        switch (v) {
            case String s -> quote(b, s);
            case Lazy l -> b.append("<generator object>");
            case Tuple t -> {
                b.append('(');
                for (int i = 0; i < t.size(); i++) {
                    if (i > 0) b.append(", ");
                    repr(b, t.get(i), depth + 1);
                }
                b.append(t.size() == 1 ? ",)" : ")");
            }
            case List<?> l -> {
                b.append('[');
                for (int i = 0; i < l.size(); i++) {
                    if (i > 0) b.append(", ");
                    repr(b, l.get(i), depth + 1);
                }
                b.append(']');
            }
            case Map<?, ?> m -> {
                b.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) b.append(", ");
                    first = false;
                    repr(b, e.getKey(), depth + 1);
                    b.append(": ");
                    repr(b, e.getValue(), depth + 1);
                }
                b.append('}');
            }
            case Namespace n -> {
                b.append("<Namespace {");
                boolean first = true;
                for (Map.Entry<String, Object> e : n.attributes.entrySet()) {
                    if (!first) b.append(", ");
                    first = false;
                    quote(b, e.getKey());
                    b.append(": ");
                    repr(b, e.getValue(), depth + 1);
                }
                b.append("}>");
            }
            case Undefined u -> b.append("Undefined");
            case null, default -> b.append(str(v));
        }
    }

    /** Python's repr of a str: single quotes unless it holds ' and no ". */
    private static void quote(StringBuilder b, String s) {
        char q = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        b.append(q);
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            i += Character.charCount(c);
            if (c == q || c == '\\') b.append('\\').appendCodePoint(c);
            else if (c == '\n') b.append("\\n");
            else if (c == '\r') b.append("\\r");
            else if (c == '\t') b.append("\\t");
            else if (printable(c)) b.appendCodePoint(c);
            else if (c < 0x100) b.append(String.format(java.util.Locale.ROOT, "\\x%02x", c));
            else if (c < 0x10000) b.append(String.format(java.util.Locale.ROOT, "\\u%04x", c));
            else b.append(String.format(java.util.Locale.ROOT, "\\U%08x", c));
        }
        b.append(q);
    }

    /** Python's {@code str.isprintable} for one code point. */
    private static boolean printable(int c) {
        if (c == ' ') return true;
        int t = Character.getType(c);
        return !(t == Character.CONTROL || t == Character.FORMAT || t == Character.SURROGATE || t == Character.PRIVATE_USE
                || t == Character.UNASSIGNED || t == Character.LINE_SEPARATOR || t == Character.PARAGRAPH_SEPARATOR
                || t == Character.SPACE_SEPARATOR);
    }

    /** Python's {@code repr(float)}: the shortest round-tripping digits, exponent form below 1e-4 and from 1e16. */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
        BigDecimal x = new BigDecimal(Double.toString(d)).stripTrailingZeros(); // Java's toString is the shortest (JDK 19+)
        String digits = x.unscaledValue().abs().toString();
        int exp = digits.length() - 1 - x.scale(); // decimal exponent of the first digit
        String sign = d < 0 ? "-" : "";
        if (exp < -4 || exp >= 16) {
            String mant = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            return sign + mant + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
        }
        String plain = x.abs().toPlainString();
        return sign + (plain.indexOf('.') < 0 ? plain + ".0" : plain);
    }

    /** Python's {@code str.isspace} for one character. */
    static boolean isSpace(int c) {
        return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f) || c == 0x85
                || Character.getType(c) == Character.SPACE_SEPARATOR || c == 0x2028 || c == 0x2029;
    }

    static String rstrip(String s) {
        int e = s.length();
        while (e > 0 && isSpace(s.charAt(e - 1))) e--;
        return s.substring(0, e);
    }

    static String strip(String s, String chars, boolean left, boolean right) {
        int b = 0, e = s.length();
        if (left) while (b < e && stripped(s.codePointAt(b), chars)) b += Character.charCount(s.codePointAt(b));
        if (right) while (e > b && stripped(s.codePointBefore(e), chars)) e -= Character.charCount(s.codePointBefore(e));
        return s.substring(b, e);
    }

    private static boolean stripped(int c, String chars) {
        return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
    }

    /** The items a value iterates over, as Python's {@code iter()}: a dict gives its keys, a str its characters. */
    static List<?> items(int line, Object v) {
        return switch (v) {
            case Undefined u -> List.of();
            case List<?> l -> l;
            case Map<?, ?> m -> List.copyOf(m.keySet());
            case String s -> s.codePoints().mapToObj(Character::toString).toList();
            case Namespace n -> throw error(line, "'Namespace' object is not iterable");
            case null, default -> throw error(line, "'" + typeName(v) + "' object is not iterable");
        };
    }

    /** Python's {@code len()}; an undefined value has length 0. */
    static long length(int line, Object v) {
        return switch (v) {
            case Undefined u -> 0;
            case Lazy l -> throw error(line, "object of type 'generator' has no len()");
            case String s -> s.codePointCount(0, s.length());
            case List<?> l -> l.size();
            case Map<?, ?> m -> m.size();
            case null, default -> throw error(line, "object of type '" + typeName(v) + "' has no len()");
        };
    }

    /** Python's {@code json.dumps(v, ensure_ascii=False, indent=indent, separators=..., sort_keys=sortKeys)}. */
    static String json(int line, Object v, Integer indent, String itemSep, String keySep, boolean sortKeys) {
        StringBuilder b = new StringBuilder();
        String is = itemSep != null ? itemSep : indent == null ? ", " : ",";
        String ks = keySep != null ? keySep : ": ";
        json(line, b, v, indent, is, ks, sortKeys, 0);
        return b.toString();
    }

    private static void json(int line, StringBuilder b, Object v, Integer indent, String is, String ks, boolean sort, int depth) {
        if (depth > 64) throw error(line, "tojson: a value nests deeper than 64");
        switch (v) {
            case null -> b.append("null");
            case Boolean x -> b.append(x ? "true" : "false");
            case Long x -> b.append(x);
            case Double x -> b.append(Double.isNaN(x) ? "NaN" : Double.isInfinite(x) ? (x > 0 ? "Infinity" : "-Infinity") : floatRepr(x));
            case String s -> jsonString(b, s);
            case Lazy l -> throw error(line, "tojson: object of type generator is not JSON serializable");
            case List<?> l -> {
                if (l.isEmpty()) {
                    b.append("[]");
                    return;
                }
                b.append('[');
                for (int i = 0; i < l.size(); i++) {
                    if (i > 0) b.append(is);
                    newline(b, indent, depth + 1);
                    json(line, b, l.get(i), indent, is, ks, sort, depth + 1);
                }
                newline(b, indent, depth);
                b.append(']');
            }
            case Map<?, ?> m -> {
                if (m.isEmpty()) {
                    b.append("{}");
                    return;
                }
                List<? extends Map.Entry<?, ?>> entries = List.copyOf(m.entrySet());
                if (sort) {
                    entries = entries.stream().sorted((x, y) -> compare(line, x.getKey(), y.getKey(), "<")).toList();
                }
                b.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : entries) {
                    if (!first) b.append(is);
                    first = false;
                    newline(b, indent, depth + 1);
                    Object k = e.getKey();
                    if (k instanceof String s) jsonString(b, s);
                    else if (k == null || isNumber(k)) jsonString(b, k == null ? "null" : k instanceof Boolean t ? (t ? "true" : "false") : str(k));
                    else throw error(line, "tojson: keys must be str, int, float, bool or None, not " + typeName(k));
                    b.append(ks);
                    json(line, b, e.getValue(), indent, is, ks, sort, depth + 1);
                }
                newline(b, indent, depth);
                b.append('}');
            }
            default -> throw error(line, "tojson: object of type " + typeName(v) + " is not JSON serializable");
        }
    }

    private static void newline(StringBuilder b, Integer indent, int depth) {
        if (indent == null) return;
        b.append('\n');
        b.append(" ".repeat(indent * depth));
    }

    private static void jsonString(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c < 0x20) b.append(String.format(java.util.Locale.ROOT, "\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        b.append('"');
    }

    /** The Python value of a JSON-like Java value (Integer to Long, Float to Double, arrays and collections to lists). */
    static Object fromJava(Object v) {
        return switch (v) {
            case null -> null;
            case Integer i -> (long) i;
            case Short i -> (long) i;
            case Byte i -> (long) i;
            case Float f -> (double) f;
            case Character c -> String.valueOf(c);
            case Map<?, ?> m -> {
                Map<Object, Object> out = new LinkedHashMap<>();
                for (Map.Entry<?, ?> e : m.entrySet()) out.put(fromJava(e.getKey()), fromJava(e.getValue()));
                yield out;
            }
            case Iterable<?> it -> {
                List<Object> out = new java.util.ArrayList<>();
                for (Iterator<?> i = it.iterator(); i.hasNext(); ) out.add(fromJava(i.next()));
                yield out;
            }
            case Object[] a -> fromJava(java.util.Arrays.asList(a));
            case Boolean b -> b;
            case Long l -> l;
            case Double d -> d;
            case String s -> s;
            default -> throw new IllegalArgumentException("chat template: a " + v.getClass().getName()
                    + " cannot be a template value (use maps, lists, strings, numbers, booleans and null)");
        };
    }
}
