package dev.panamax.moe.text;

import dev.panamax.moe.text.JinjaRun.Callable;
import dev.panamax.moe.text.JinjaRun.Method;
import dev.panamax.moe.text.JinjaValues.Lazy;
import dev.panamax.moe.text.JinjaValues.Namespace;
import dev.panamax.moe.text.JinjaValues.Tuple;
import dev.panamax.moe.text.JinjaValues.Undefined;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Clock;
import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.panamax.moe.text.JinjaValues.asDouble;
import static dev.panamax.moe.text.JinjaValues.asLong;
import static dev.panamax.moe.text.JinjaValues.eq;
import static dev.panamax.moe.text.JinjaValues.error;
import static dev.panamax.moe.text.JinjaValues.isNumber;
import static dev.panamax.moe.text.JinjaValues.items;
import static dev.panamax.moe.text.JinjaValues.str;
import static dev.panamax.moe.text.JinjaValues.truthy;
import static dev.panamax.moe.text.JinjaValues.typeName;

/**
 * Jinja2's operators, filters, tests and globals, the Python methods of {@code str}, {@code list}
 * and {@code dict} its sandbox allows, and {@code transformers}' additions ({@code tojson} without
 * HTML escaping, {@code raise_exception}, {@code strftime_now}). A generator that Jinja2 returns
 * lazily ({@code select}, {@code map}, {@code items}, {@code reverse}) is a list here.
 */
final class JinjaBuiltins {
    private JinjaBuiltins() {}

    private static final Set<String> STR_METHODS = Set.of("strip", "lstrip", "rstrip", "split", "rsplit", "splitlines",
            "startswith", "endswith", "upper", "lower", "title", "capitalize", "replace", "find", "rfind", "count", "join",
            "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower", "format", "index", "rindex");
    private static final Set<String> DICT_METHODS = Set.of("items", "keys", "values", "get", "copy");
    private static final Set<String> LIST_METHODS = Set.of("index", "count", "copy");
    /** Methods the immutable sandbox refuses: they would change a list or dict. */
    private static final Set<String> UNSAFE = Set.of("append", "extend", "insert", "pop", "remove", "clear", "sort",
            "reverse", "update", "setdefault", "popitem", "add", "discard");

    // ---------------------------------------------------------------- attributes and items

    /** {@code obj.name}: Python's getattr first, then the item {@code name}. */
    static Object attribute(int line, Object obj, String name) {
        switch (obj) {
            case Undefined u -> throw JinjaValues.undefined(line, u);
            case Map<?, ?> m -> {
                if (DICT_METHODS.contains(name)) return new Method(m, name);
                if (UNSAFE.contains(name)) return unsafe(name, m);
                Object v = m.get(name);
                return v != null || m.containsKey(name) ? v : missing(m, name);
            }
            case String s -> {
                return STR_METHODS.contains(name) ? new Method(s, name) : missing(s, name);
            }
            case List<?> l -> {
                if (LIST_METHODS.contains(name) && !(name.equals("copy") && l instanceof Tuple)) return new Method(l, name);
                if (UNSAFE.contains(name)) return unsafe(name, l);
                return missing(l, name);
            }
            case Namespace n -> {
                Object v = n.attributes.get(name);
                return v != null || n.attributes.containsKey(name) ? v : missing(n, name);
            }
            case JinjaRun.Loop loop -> {
                return loop.attribute(name);
            }
            case null, default -> {
                return missing(obj, name);
            }
        }
    }

    private static Undefined unsafe(String name, Object obj) {
        return new Undefined("access to attribute '" + name + "' of '" + typeName(obj) + "' object is unsafe.");
    }

    private static Undefined missing(Object obj, Object name) {
        String what = obj == null ? "'None'" : "'" + typeName(obj) + " object'";
        return new Undefined(what + " has no attribute " + (name instanceof String s ? "'" + s + "'" : str(name)));
    }

    /** {@code obj[key]}: the item first, then (for a str key) the attribute. */
    static Object item(int line, Object obj, Object key) {
        if (obj instanceof Undefined u) throw JinjaValues.undefined(line, u);
        if (obj instanceof Map<?, ?> m) {
            Object k = key instanceof Boolean b ? (Object) (b ? 1L : 0L) : key;
            if (m.containsKey(k)) return m.get(k);
            if (k instanceof Double d && d == Math.rint(d) && m.containsKey((long) (double) d)) return m.get((long) (double) d);
        } else if (obj instanceof Lazy) {
            return new Undefined("'generator' object is not subscriptable");
        } else if ((obj instanceof List<?> || obj instanceof String) && asLong(key) != null) {
            long i = asLong(key);
            long n = JinjaValues.length(line, obj);
            if (i < 0) i += n;
            if (i >= 0 && i < n) {
                if (obj instanceof List<?> l) return l.get((int) i);
                String s = (String) obj;
                return Character.toString(s.codePointAt(s.offsetByCodePoints(0, (int) i)));
            }
            return new Undefined(typeName(obj) + " object has no element " + asLong(key));
        }
        if (key instanceof String name) return attribute(line, obj, name);
        return missing(obj, key);
    }

    /** {@code obj[start:stop:step]} on a str, list or tuple, with Python's slice rules. */
    static Object slice(int line, Object obj, Object start, Object stop, Object step) {
        if (obj instanceof Undefined u) throw JinjaValues.undefined(line, u);
        if (!(obj instanceof List<?> || obj instanceof String) || obj instanceof Lazy) throw error(line, "'" + typeName(obj) + "' object cannot be sliced");
        long n = JinjaValues.length(line, obj);
        long st = step == null ? 1 : sliceIndex(line, step);
        if (st == 0) throw error(line, "slice step cannot be zero");
        long lo, hi;
        if (st > 0) {
            lo = start == null ? 0 : clamp(sliceIndex(line, start), n, 0, n);
            hi = stop == null ? n : clamp(sliceIndex(line, stop), n, 0, n);
        } else {
            lo = start == null ? n - 1 : clamp(sliceIndex(line, start), n, -1, n - 1);
            hi = stop == null ? -1 : clamp(sliceIndex(line, stop), n, -1, n - 1);
        }
        List<Object> picked = new ArrayList<>();
        List<?> source = obj instanceof List<?> l ? l : items(line, obj);
        for (long i = lo; st > 0 ? i < hi : i > hi; i += st) picked.add(source.get((int) i));
        if (obj instanceof String) {
            StringBuilder b = new StringBuilder();
            for (Object c : picked) b.append((String) c);
            return b.toString();
        }
        return obj instanceof Tuple ? new Tuple(picked) : picked;
    }

    private static long sliceIndex(int line, Object v) {
        if (v == null) throw new IllegalStateException();
        Long l = asLong(v);
        if (l == null) throw error(line, "slice indices must be integers or None, not " + typeName(v));
        return l;
    }

    private static long clamp(long i, long n, long min, long max) {
        if (i < 0) i += n;
        return Math.max(min, Math.min(max, i));
    }

    // ---------------------------------------------------------------- operators

    static Object binary(int line, String op, Object a, Object b) {
        if (op.equals("~")) return str(a) + str(b);
        if (op.equals("%") && a instanceof String s) return format(line, s, b);
        if (a instanceof Undefined u) throw JinjaValues.undefined(line, u);
        if (b instanceof Undefined u) throw JinjaValues.undefined(line, u);
        Long x = asLong(a), y = asLong(b);
        boolean ints = x != null && y != null, nums = isNumber(a) && isNumber(b);
        try {
            switch (op) {
                case "+" -> {
                    if (ints) return Math.addExact(x, y);
                    if (nums) return asDouble(a) + asDouble(b);
                    if (a instanceof String s && b instanceof String t) return s + t;
                    if (a instanceof List<?> l && b instanceof List<?> m && (a instanceof Tuple) == (b instanceof Tuple)) {
                        List<Object> r = new ArrayList<>(l);
                        r.addAll(m);
                        return a instanceof Tuple ? new Tuple(r) : r;
                    }
                }
                case "-" -> {
                    if (ints) return Math.subtractExact(x, y);
                    if (nums) return asDouble(a) - asDouble(b);
                }
                case "*" -> {
                    if (ints) return Math.multiplyExact(x, y);
                    if (nums) return asDouble(a) * asDouble(b);
                    if (y != null && (a instanceof String || a instanceof List<?>)) return repeat(line, a, y);
                    if (x != null && (b instanceof String || b instanceof List<?>)) return repeat(line, b, x);
                }
                case "/" -> {
                    if (nums) {
                        if (asDouble(b) == 0) throw error(line, "division by zero");
                        return asDouble(a) / asDouble(b);
                    }
                }
                case "//" -> {
                    if (nums && asDouble(b) == 0) throw error(line, "integer division or modulo by zero");
                    if (ints) return Math.floorDiv(x, y);
                    if (nums) return Math.floor(asDouble(a) / asDouble(b));
                }
                case "%" -> {
                    if (a instanceof String s) return format(line, s, b);
                    if (nums && asDouble(b) == 0) throw error(line, "integer division or modulo by zero");
                    if (ints) return Math.floorMod(x, y);
                    if (nums) {
                        double p = asDouble(a), q = asDouble(b), r = p % q;
                        if (r == 0) return Math.copySign(0.0, q); // Python's zero takes the divisor's sign
                        return (r < 0) != (q < 0) ? r + q : r;
                    }
                }
                case "**" -> {
                    if (ints && y >= 0) return power(line, x, y);
                    if (nums) {
                        if (asDouble(a) == 0 && asDouble(b) < 0) throw error(line, "0.0 cannot be raised to a negative power");
                        return Math.pow(asDouble(a), asDouble(b));
                    }
                }
                default -> throw new IllegalStateException(op);
            }
        } catch (ArithmeticException e) {
            throw error(line, "integer overflow in '" + op + "'");
        }
        throw error(line, "unsupported operand type(s) for " + op + ": '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    private static long power(int line, long base, long exp) {
        long r = 1;
        for (long i = 0; i < exp; i++) {
            r = Math.multiplyExact(r, base);
            if (r == 0 || r == 1 && base == 1) return r;
        }
        return r;
    }

    private static Object repeat(int line, Object seq, long times) {
        if (times <= 0) return seq instanceof String ? "" : seq instanceof Tuple ? new Tuple(List.of()) : new ArrayList<>();
        if (JinjaValues.length(line, seq) * times > 1 << 26) throw error(line, "a repeated value of more than 64M items");
        if (seq instanceof String s) return s.repeat((int) times);
        List<Object> r = new ArrayList<>();
        for (long i = 0; i < times; i++) r.addAll((List<?>) seq);
        return seq instanceof Tuple ? new Tuple(r) : r;
    }

    private static final Pattern FORMAT_SPEC = Pattern.compile("%(?:%|([-+ 0#]*)(\\d+)?(?:\\.(\\d+))?([sdirfxXoeEgG]))");

    /** Python's printf-style {@code str % args}: %s %r %d %i %f %x %o %e %g with flags, width and precision. */
    static String format(int line, String fmt, Object arg) {
        List<?> args = arg instanceof Tuple t ? t : java.util.Collections.singletonList(arg);
        StringBuilder b = new StringBuilder();
        Matcher m = FORMAT_SPEC.matcher(fmt);
        int at = 0, used = 0;
        while (m.find()) {
            b.append(plain(line, fmt.substring(at, m.start())));
            at = m.end();
            if (m.group(4) == null) {
                b.append('%');
                continue;
            }
            if (used >= args.size()) throw error(line, "not enough arguments for format string");
            Object v = args.get(used++);
            String flags = m.group(1), conv = m.group(4);
            String s = switch (conv) {
                case "s" -> str(v);
                case "r" -> JinjaValues.repr(v);
                case "d", "i" -> {
                    if (!isNumber(v)) throw error(line, "%" + conv + " format: a real number is required, not " + typeName(v));
                    Long l = asLong(v);
                    yield Long.toString(l != null ? l : (long) asDouble(v));
                }
                default -> {
                    if (!isNumber(v)) throw error(line, "%" + conv + " format: a real number is required, not " + typeName(v));
                    String javaConv = conv.equals("i") ? "d" : conv;
                    Object jv = "xXo".contains(conv) ? (Object) asLong(v) : (Object) asDouble(v);
                    String prec = m.group(3) != null ? "." + m.group(3) : "fFeEgG".contains(conv) ? ".6" : "";
                    yield String.format(Locale.ROOT, "%" + prec + javaConv, jv);
                }
            };
            if (flags.contains("+") && "dif".contains(conv) && !s.startsWith("-")) s = "+" + s;
            int width = m.group(2) == null ? 0 : Integer.parseInt(m.group(2));
            if (s.length() < width) {
                String pad = (flags.contains("0") && !flags.contains("-") && !conv.equals("s") && !conv.equals("r") ? "0" : " ").repeat(width - s.length());
                s = flags.contains("-") ? s + pad.replace('0', ' ') : pad.charAt(0) == '0' && (s.startsWith("-") || s.startsWith("+")) ? s.charAt(0) + pad + s.substring(1) : pad + s;
            }
            b.append(s);
        }
        b.append(plain(line, fmt.substring(at)));
        // A dict, list or undefined argument is taken as a mapping by Python, whose unused keys are no error.
        boolean mapping = arg instanceof Map<?, ?> || (arg instanceof List<?> && !(arg instanceof Tuple)) || arg instanceof Undefined;
        if (used < args.size() && !mapping) throw error(line, "not all arguments converted during string formatting");
        return b.toString();
    }

    /** Text between conversions, where a '%' that starts none is Python's ValueError. */
    private static String plain(int line, String text) {
        int i = text.indexOf('%');
        if (i >= 0) throw error(line, i + 1 < text.length() ? "unsupported format character '" + text.charAt(i + 1) + "'" : "incomplete format");
        return text;
    }

    static boolean compare(int line, String op, Object a, Object b) {
        return switch (op) {
            case "==" -> eq(a, b);
            case "!=" -> !eq(a, b);
            case "<" -> JinjaValues.compare(line, a, b, op) < 0;
            case "<=" -> JinjaValues.compare(line, a, b, op) <= 0;
            case ">" -> JinjaValues.compare(line, a, b, op) > 0;
            case ">=" -> JinjaValues.compare(line, a, b, op) >= 0;
            case "in" -> contains(line, b, a);
            case "not in" -> !contains(line, b, a);
            default -> throw new IllegalStateException(op);
        };
    }

    static boolean contains(int line, Object container, Object item) {
        switch (container) {
            case Undefined u -> {
                return false;
            }
            case String s -> {
                if (!(item instanceof String t)) throw error(line, "'in <string>' requires string as left operand, not " + typeName(item));
                return s.contains(t);
            }
            case List<?> l -> {
                for (Object x : l) if (eq(x, item)) return true;
                return false;
            }
            case Map<?, ?> m -> {
                hashable(line, item);
                for (Object k : m.keySet()) if (eq(k, item)) return true;
                return false;
            }
            case null, default -> throw error(line, "argument of type '" + typeName(container) + "' is not iterable");
        }
    }

    // ---------------------------------------------------------------- globals

    static Map<String, Object> globals(Clock clock) {
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("namespace", (Callable) (line, args, kw) -> {
            Namespace ns = new Namespace();
            for (Object a : args) {
                if (!(a instanceof Map<?, ?> m)) throw error(line, "namespace() takes a dict, got " + typeName(a));
                for (Map.Entry<?, ?> e : m.entrySet()) ns.attributes.put(str(e.getKey()), e.getValue());
            }
            ns.attributes.putAll(kw);
            return ns;
        });
        g.put("dict", (Callable) (line, args, kw) -> {
            Map<Object, Object> m = new LinkedHashMap<>();
            for (Object a : args) {
                if (!(a instanceof Map<?, ?> x)) throw error(line, "dict() takes a dict, got " + typeName(a));
                m.putAll(x);
            }
            m.putAll(kw);
            return m;
        });
        g.put("range", (Callable) (line, args, kw) -> {
            if (args.isEmpty() || args.size() > 3 || !kw.isEmpty()) throw error(line, "range() takes 1 to 3 integers");
            long[] a = new long[args.size()];
            for (int i = 0; i < a.length; i++) {
                Long v = asLong(args.get(i));
                if (v == null) throw error(line, "range() takes integers, not " + typeName(args.get(i)));
                a[i] = v;
            }
            long start = a.length == 1 ? 0 : a[0], stop = a.length == 1 ? a[0] : a[1], step = a.length == 3 ? a[2] : 1;
            if (step == 0) throw error(line, "range() arg 3 must not be zero");
            List<Object> r = new ArrayList<>();
            for (long i = start; step > 0 ? i < stop : i > stop; i += step) {
                if (r.size() >= 100_000) throw error(line, "range() of more than 100000 items (the sandbox's limit)");
                r.add(i);
            }
            return r;
        });
        g.put("raise_exception", (Callable) (line, args, kw) -> {
            throw error(line, args.isEmpty() ? "raise_exception" : str(args.get(0)));
        });
        g.put("strftime_now", (Callable) (line, args, kw) -> {
            if (args.size() != 1 || !(args.get(0) instanceof String fmt)) throw error(line, "strftime_now takes one format string");
            return strftime(line, ZonedDateTime.now(clock), fmt);
        });
        return g;
    }

    /** Python's {@code datetime.strftime} for the directives of the C locale. */
    static String strftime(int line, ZonedDateTime t, String fmt) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%' || i + 1 == fmt.length()) {
                b.append(c);
                continue;
            }
            char d = fmt.charAt(++i);
            switch (d) {
                case 'Y' -> b.append(t.getYear());
                case 'y' -> b.append(String.format(Locale.ROOT, "%02d", t.getYear() % 100));
                case 'm' -> b.append(String.format(Locale.ROOT, "%02d", t.getMonthValue()));
                case 'd' -> b.append(String.format(Locale.ROOT, "%02d", t.getDayOfMonth()));
                case 'e' -> b.append(String.format(Locale.ROOT, "%2d", t.getDayOfMonth()));
                case 'H' -> b.append(String.format(Locale.ROOT, "%02d", t.getHour()));
                case 'I' -> b.append(String.format(Locale.ROOT, "%02d", (t.getHour() + 11) % 12 + 1));
                case 'M' -> b.append(String.format(Locale.ROOT, "%02d", t.getMinute()));
                case 'S' -> b.append(String.format(Locale.ROOT, "%02d", t.getSecond()));
                case 'p' -> b.append(t.getHour() < 12 ? "AM" : "PM");
                case 'j' -> b.append(String.format(Locale.ROOT, "%03d", t.getDayOfYear()));
                case 'B' -> b.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'b', 'h' -> b.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'w' -> b.append(t.getDayOfWeek().getValue() % 7);
                case 'u' -> b.append(t.getDayOfWeek().getValue());
                case 'Z' -> b.append(t.getZone().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'f' -> b.append(String.format(Locale.ROOT, "%06d", t.getNano() / 1000));
                case '%' -> b.append('%');
                default -> throw error(line, "strftime_now: the directive %" + d + " is not supported");
            }
        }
        return b.toString();
    }

    // ---------------------------------------------------------------- tests

    static boolean test(int line, String name, Object v, List<Object> args) {
        if (args.size() > (ONE_ARGUMENT.contains(name) ? 1 : 0)) {
            if (!TESTS.contains(name)) throw error(line, "no test named '" + name + "'");
            throw error(line, "the test '" + name + "' takes " + (ONE_ARGUMENT.contains(name) ? "one argument" : "no arguments") + ", got " + args.size());
        }
        return switch (name) {
            case "defined" -> !(v instanceof Undefined);
            case "undefined" -> v instanceof Undefined;
            case "none" -> v == null;
            case "boolean" -> v instanceof Boolean;
            case "true" -> Boolean.TRUE.equals(v);
            case "false" -> Boolean.FALSE.equals(v);
            case "integer" -> v instanceof Long;
            case "float" -> v instanceof Double;
            case "number" -> isNumber(v);
            case "string" -> v instanceof String;
            case "mapping" -> v instanceof Map<?, ?>;
            case "iterable" -> v instanceof String || v instanceof List<?> || v instanceof Map<?, ?> || v instanceof Undefined;
            case "sequence" -> v instanceof String || v instanceof List<?> || v instanceof Map<?, ?> || v instanceof Undefined;
            case "callable" -> v instanceof Callable;
            case "sameas" -> same(v, arg(line, name, args));
            case "escaped" -> false;
            case "in" -> contains(line, arg(line, name, args), v);
            case "divisibleby" -> eq(binary(line, "%", v, arg(line, name, args)), 0L);
            case "even" -> eq(binary(line, "%", v, 2L), 0L);
            case "odd" -> eq(binary(line, "%", v, 2L), 1L);
            case "eq", "equalto", "==" -> eq(v, arg(line, name, args));
            case "ne", "!=" -> !eq(v, arg(line, name, args));
            case "lt", "lessthan", "<" -> JinjaValues.compare(line, v, arg(line, name, args), "<") < 0;
            case "le", "<=" -> JinjaValues.compare(line, v, arg(line, name, args), "<=") <= 0;
            case "gt", "greaterthan", ">" -> JinjaValues.compare(line, v, arg(line, name, args), ">") > 0;
            case "ge", ">=" -> JinjaValues.compare(line, v, arg(line, name, args), ">=") >= 0;
            case "lower" -> str(v).equals(str(v).toLowerCase(Locale.ROOT)) && hasCased(str(v));
            case "upper" -> str(v).equals(str(v).toUpperCase(Locale.ROOT)) && hasCased(str(v));
            case "filter" -> FILTERS.contains(str(v));
            case "test" -> TESTS.contains(str(v));
            default -> throw error(line, "no test named '" + name + "'");
        };
    }

    /** Python's {@code is}, as far as it is defined for values: None, bools, and equal numbers or strings of one type. */
    private static boolean same(Object a, Object b) {
        return a == b || (a != null && b != null && a.getClass() == b.getClass() && !(a instanceof List<?>) && !(a instanceof Map<?, ?>) && eq(a, b));
    }

    private static Object arg(int line, String name, List<Object> args) {
        if (args.isEmpty()) throw error(line, "the test '" + name + "' takes an argument");
        return args.get(0);
    }

    private static boolean hasCased(String s) {
        return s.codePoints().anyMatch(c -> Character.isUpperCase(c) || Character.isLowerCase(c) || Character.isTitleCase(c));
    }

    private static final Set<String> ONE_ARGUMENT = Set.of("sameas", "in", "divisibleby", "eq", "equalto", "==", "ne", "!=",
            "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=");

    static final Set<String> TESTS = Set.of("defined", "undefined", "none", "boolean", "true", "false", "integer", "float",
            "number", "string", "mapping", "iterable", "sequence", "callable", "sameas", "escaped", "in", "divisibleby",
            "even", "odd", "eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">",
            "ge", ">=", "lower", "upper", "filter", "test");

    // ---------------------------------------------------------------- filters

    static final Set<String> FILTERS = Set.of("abs", "attr", "batch", "capitalize", "center", "count", "d", "default",
            "dictsort", "e", "escape", "first", "float", "format", "indent", "int", "items", "join", "last", "length", "list",
            "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select",
            "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "unique", "upper", "wordcount");

    /** Keyword and positional arguments of one filter call, by name and position. */
    private record Args(int line, String filter, List<Object> positional, Map<String, Object> keywords) {
        Object get(int i, String name, Object absent) {
            if (i < positional.size()) {
                if (keywords.containsKey(name)) throw error(line, filter + "() got multiple values for '" + name + "'");
                return positional.get(i);
            }
            return keywords.containsKey(name) ? keywords.get(name) : absent;
        }

        void allow(int count, String... names) {
            if (positional.size() > count) throw error(line, filter + "() takes at most " + count + " arguments");
            for (String k : keywords.keySet()) if (!List.of(names).contains(k)) throw error(line, filter + "() got an unexpected keyword '" + k + "'");
        }
    }

    static Object filter(int line, String name, Object v, List<Object> positional, Map<String, Object> kw, Clock clock) {
        Args a = new Args(line, name, positional, kw);
        switch (name) {
            case "abs" -> {
                a.allow(0);
                if (v instanceof Long l) return Math.abs(l);
                if (v instanceof Boolean) return asLong(v);
                if (v instanceof Double d) return Math.abs(d);
                throw error(line, "bad operand type for abs(): '" + typeName(v) + "'");
            }
            case "attr" -> { // getattr only: a dict's keys are not its attributes
                a.allow(1, "name");
                String attr = str(a.get(0, "name", ""));
                if (v instanceof Map<?, ?> m) return DICT_METHODS.contains(attr) ? new Method(m, attr) : missing(m, attr);
                return attribute(line, v, attr);
            }
            case "batch" -> {
                a.allow(2, "linecount", "fill_with");
                Long size = asLong(a.get(0, "linecount", null));
                if (size == null || size <= 0) throw error(line, "batch() takes a positive count");
                Object fill = a.get(1, "fill_with", null);
                boolean filling = a.positional().size() > 1 || kw.containsKey("fill_with");
                List<Object> out = new ArrayList<>();
                List<Object> cur = new ArrayList<>();
                for (Object x : items(line, v)) {
                    cur.add(x);
                    if (cur.size() == size) {
                        out.add(cur);
                        cur = new ArrayList<>();
                    }
                }
                if (!cur.isEmpty()) {
                    while (filling && cur.size() < size) cur.add(fill);
                    out.add(cur);
                }
                return new Lazy(out);
            }
            case "capitalize" -> {
                a.allow(0);
                String s = str(v);
                return s.isEmpty() ? s : Character.toString(Character.toTitleCase(s.codePointAt(0)))
                        + s.substring(Character.charCount(s.codePointAt(0))).toLowerCase(Locale.ROOT);
            }
            case "center" -> {
                a.allow(1, "width");
                String s = str(v);
                long width = asLong(a.get(0, "width", 80L));
                long len = s.codePointCount(0, s.length());
                if (len >= width) return s;
                long pad = width - len, left = pad / 2 + (pad & width & 1);
                return " ".repeat((int) left) + s + " ".repeat((int) (pad - left));
            }
            case "count", "length" -> {
                a.allow(0);
                return JinjaValues.length(line, v);
            }
            case "d", "default" -> {
                a.allow(2, "default_value", "boolean");
                Object dflt = a.get(0, "default_value", "");
                boolean bool = truthy(a.get(1, "boolean", false));
                return v instanceof Undefined || (bool && !truthy(v)) ? dflt : v;
            }
            case "dictsort" -> {
                a.allow(3, "case_sensitive", "by", "reverse");
                if (!(v instanceof Map<?, ?> m)) throw error(line, "dictsort() takes a dict, not " + typeName(v));
                boolean cs = truthy(a.get(0, "case_sensitive", false));
                String by = str(a.get(1, "by", "key"));
                if (!by.equals("key") && !by.equals("value")) throw error(line, "dictsort(): by must be 'key' or 'value'");
                boolean reverse = truthy(a.get(2, "reverse", false));
                List<Object> pairs = new ArrayList<>();
                for (Map.Entry<?, ?> e : m.entrySet()) pairs.add(new Tuple(java.util.Arrays.asList(e.getKey(), e.getValue())));
                int pick = by.equals("key") ? 0 : 1;
                return sorted(line, pairs, x -> sortKey(((List<?>) x).get(pick), cs), reverse);
            }
            case "e", "escape" -> {
                a.allow(0);
                return str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&#34;").replace("'", "&#39;");
            }
            case "first" -> {
                a.allow(0);
                List<?> l = items(line, v);
                return l.isEmpty() ? new Undefined("No first item, sequence was empty.") : l.get(0);
            }
            case "last" -> {
                a.allow(0);
                List<?> l = items(line, v);
                return l.isEmpty() ? new Undefined("No last item, sequence was empty.") : l.get(l.size() - 1);
            }
            case "float" -> {
                a.allow(1, "default");
                if (v instanceof Undefined u) throw JinjaValues.undefined(line, u);
                Object dflt = a.get(0, "default", 0.0);
                Double d = toFloat(v);
                return d == null ? dflt : d;
            }
            case "int" -> {
                a.allow(2, "default", "base");
                if (v instanceof Undefined u) throw JinjaValues.undefined(line, u);
                Object dflt = a.get(0, "default", 0L);
                Long base = asLong(a.get(1, "base", 10L));
                if (v instanceof String s) {
                    Long l = parseInt(s, base == null ? 10 : base.intValue());
                    if (l != null) return l;
                    Double d = toFloat(v);
                    return d == null || d.isNaN() || d.isInfinite() ? dflt : (long) (double) d;
                }
                Long l = asLong(v);
                if (l != null) return l;
                if (v instanceof Double d) return d.isNaN() || d.isInfinite() ? dflt : (long) (double) d;
                return dflt;
            }
            case "format" -> {
                if (!kw.isEmpty()) throw error(line, "format() with keyword arguments is not supported");
                return format(line, str(v), positional.size() == 1 ? positional.get(0) : new Tuple(new ArrayList<>(positional)));
            }
            case "indent" -> {
                a.allow(3, "width", "first", "blank");
                Object w = a.get(0, "width", 4L);
                String pad = w instanceof String s ? s : " ".repeat((int) Math.max(0, asLongOr(line, w, "width")));
                boolean first = truthy(a.get(1, "first", false)), blank = truthy(a.get(2, "blank", false));
                if (v instanceof Undefined u) throw JinjaValues.undefined(line, u);
                if (!(v instanceof String text)) throw error(line, "indent() takes a str, not " + typeName(v));
                List<String> lines = splitlines(text + "\n");
                String r;
                if (blank) {
                    r = String.join("\n" + pad, lines);
                } else {
                    StringBuilder b = new StringBuilder(lines.get(0));
                    for (int i = 1; i < lines.size(); i++) b.append('\n').append(lines.get(i).isEmpty() ? "" : pad + lines.get(i));
                    r = b.toString();
                }
                return first ? pad + r : r;
            }
            case "items" -> {
                a.allow(0);
                if (v instanceof Undefined) return new Lazy(new ArrayList<>());
                if (!(v instanceof Map<?, ?> m)) throw error(line, "items() takes a mapping, not " + typeName(v));
                return new Lazy(pairs(m));
            }
            case "join" -> {
                a.allow(2, "d", "attribute");
                String sep = str(a.get(0, "d", ""));
                Object attr = a.get(1, "attribute", null);
                StringBuilder b = new StringBuilder();
                boolean firstItem = true;
                for (Object x : items(line, v)) {
                    if (!firstItem) b.append(sep);
                    firstItem = false;
                    b.append(str(attr == null ? x : attributePath(line, x, attr)));
                }
                return b.toString();
            }
            case "list" -> {
                a.allow(0);
                return new ArrayList<>(items(line, v));
            }
            case "lower" -> {
                a.allow(0);
                return str(v).toLowerCase(Locale.ROOT);
            }
            case "upper" -> {
                a.allow(0);
                return str(v).toUpperCase(Locale.ROOT);
            }
            case "map" -> {
                List<Object> out = new ArrayList<>();
                if (!truthy(v)) return new Lazy(out); // Jinja2 maps nothing over a false value, None included
                if (kw.containsKey("attribute")) {
                    if (!positional.isEmpty()) throw error(line, "map() takes either an attribute or a filter");
                    for (String k : kw.keySet()) if (!k.equals("attribute") && !k.equals("default")) throw error(line, "map() got an unexpected keyword '" + k + "'");
                    for (Object x : items(line, v)) {
                        Object r = attributePath(line, x, kw.get("attribute"));
                        out.add(r instanceof Undefined && kw.containsKey("default") ? kw.get("default") : r);
                    }
                    return new Lazy(out);
                }
                if (positional.isEmpty()) throw error(line, "map() needs a filter name or an attribute");
                String f = str(positional.get(0));
                List<Object> rest = positional.subList(1, positional.size());
                for (Object x : items(line, v)) out.add(filter(line, f, x, rest, kw, clock));
                return new Lazy(out);
            }
            case "max", "min" -> {
                a.allow(2, "case_sensitive", "attribute");
                boolean cs = truthy(a.get(0, "case_sensitive", false));
                Object attr = a.get(1, "attribute", null);
                List<?> l = items(line, v);
                if (l.isEmpty()) return new Undefined("No aggregated item, sequence was empty.");
                Object best = l.get(0);
                for (Object x : l) {
                    int c = JinjaValues.compare(line, sortKey(attr == null ? x : attributePath(line, x, attr), cs),
                            sortKey(attr == null ? best : attributePath(line, best, attr), cs), "<");
                    if (name.equals("max") ? c > 0 : c < 0) best = x;
                }
                return best;
            }
            case "select", "reject", "selectattr", "rejectattr" -> {
                boolean attr = name.endsWith("attr"), keep = name.startsWith("select");
                if (!kw.isEmpty()) throw error(line, name + "() takes no keyword arguments");
                if (attr && positional.isEmpty()) throw error(line, name + "() needs an attribute name");
                Object attribute = attr ? positional.get(0) : null;
                List<Object> rest = positional.subList(attr ? 1 : 0, positional.size());
                List<Object> out = new ArrayList<>();
                if (!truthy(v)) return new Lazy(out);
                for (Object x : items(line, v)) {
                    Object probe = attr ? attributePath(line, x, attribute) : x;
                    boolean pass = rest.isEmpty() ? truthy(probe) : test(line, str(rest.get(0)), probe, rest.subList(1, rest.size()));
                    if (pass == keep) out.add(x);
                }
                return new Lazy(out);
            }
            case "replace" -> {
                a.allow(3, "old", "new", "count");
                Object count = a.get(2, "count", null);
                return replace(line, str(v), str(a.get(0, "old", "")), str(a.get(1, "new", "")), count == null ? -1 : asLongOr(line, count, "count"));
            }
            case "reverse" -> {
                a.allow(0);
                if (v instanceof String s) return new StringBuilder(s).reverse().toString();
                List<Object> l = new ArrayList<>(items(line, v));
                java.util.Collections.reverse(l);
                return new Lazy(l);
            }
            case "round" -> {
                a.allow(2, "precision", "method");
                long precision = asLongOr(line, a.get(0, "precision", 0L), "precision");
                String method = str(a.get(1, "method", "common"));
                if (!isNumber(v)) throw error(line, "round() takes a number, not " + typeName(v));
                if (method.equals("common")) {
                    if (asLong(v) != null) return asLong(v);
                    double d = asDouble(v);
                    if (Double.isNaN(d) || Double.isInfinite(d)) return d;
                    return new BigDecimal(d).setScale((int) precision, RoundingMode.HALF_EVEN).doubleValue();
                }
                if (!method.equals("ceil") && !method.equals("floor")) throw error(line, "round(): method must be common, ceil or floor");
                double scale = Math.pow(10, precision), d = asDouble(v) * scale;
                return (method.equals("ceil") ? Math.ceil(d) : Math.floor(d)) / scale;
            }
            case "safe", "string" -> {
                a.allow(0);
                return str(v);
            }
            case "sort" -> {
                a.allow(3, "reverse", "case_sensitive", "attribute");
                boolean reverse = truthy(a.get(0, "reverse", false)), cs = truthy(a.get(1, "case_sensitive", false));
                Object attr = a.get(2, "attribute", null);
                return sorted(line, new ArrayList<>(items(line, v)), x -> sortKey(attr == null ? x : attributePath(line, x, attr), cs), reverse);
            }
            case "sum" -> {
                a.allow(2, "attribute", "start");
                Object attr = a.get(0, "attribute", null);
                Object total = a.get(1, "start", 0L);
                for (Object x : items(line, v)) total = binary(line, "+", total, attr == null ? x : attributePath(line, x, attr));
                return total;
            }
            case "title" -> {
                a.allow(0);
                StringBuilder b = new StringBuilder();
                for (String part : splitKeep(str(v), WORD_BEGIN)) {
                    if (part.isEmpty()) continue;
                    int c = part.codePointAt(0);
                    b.append(Character.toString(c).toUpperCase(Locale.ROOT)).append(part.substring(Character.charCount(c)).toLowerCase(Locale.ROOT));
                }
                return b.toString();
            }
            case "tojson" -> {
                a.allow(4, "ensure_ascii", "indent", "separators", "sort_keys");
                boolean ascii = truthy(a.get(0, "ensure_ascii", false));
                Object indent = a.get(1, "indent", null);
                Object seps = a.get(2, "separators", null);
                boolean sortKeys = truthy(a.get(3, "sort_keys", false));
                Integer ind = indent == null ? null : (int) asLongOr(line, indent, "indent");
                String is = null, ks = null;
                if (seps != null) {
                    List<?> l = items(line, seps);
                    if (l.size() != 2) throw error(line, "tojson(): separators must be a pair");
                    is = str(l.get(0));
                    ks = str(l.get(1));
                }
                String json = JinjaValues.json(line, v, ind, is, ks, sortKeys);
                return ascii ? asciiEscape(json) : json;
            }
            case "trim" -> {
                a.allow(1, "chars");
                Object chars = a.get(0, "chars", null);
                return JinjaValues.strip(str(v), chars == null ? null : str(chars), true, true);
            }
            case "unique" -> {
                a.allow(2, "case_sensitive", "attribute");
                boolean cs = truthy(a.get(0, "case_sensitive", false));
                Object attr = a.get(1, "attribute", null);
                List<Object> out = new ArrayList<>(), seen = new ArrayList<>();
                for (Object x : items(line, v)) {
                    Object key = hashable(line, sortKey(attr == null ? x : attributePath(line, x, attr), cs));
                    if (seen.stream().noneMatch(s -> eq(s, key))) {
                        seen.add(key);
                        out.add(x);
                    }
                }
                return new Lazy(out);
            }
            case "wordcount" -> {
                a.allow(0);
                Matcher m = WORD.matcher(str(v));
                long n = 0;
                while (m.find()) n++;
                return n;
            }
            default -> throw error(line, "no filter named '" + name + "'");
        }
    }

    private static final Pattern WORD_BEGIN = Pattern.compile("([-\\s({\\[<]+)", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern WORD = Pattern.compile("\\w+", Pattern.UNICODE_CHARACTER_CLASS);

    /** Python's {@code re.split} with a capturing group: the separators are kept. */
    private static List<String> splitKeep(String s, Pattern p) {
        List<String> out = new ArrayList<>();
        Matcher m = p.matcher(s);
        int at = 0;
        while (m.find()) {
            out.add(s.substring(at, m.start()));
            out.add(m.group());
            at = m.end();
        }
        out.add(s.substring(at));
        return out;
    }

    /** {@code v}, or a TypeError where Python could not hash it (a list or a dict). */
    static Object hashable(int line, Object v) {
        if ((v instanceof List<?> && !(v instanceof Tuple)) || v instanceof Map<?, ?>) throw error(line, "unhashable type: '" + typeName(v) + "'");
        return v;
    }

    private static long asLongOr(int line, Object v, String what) {
        Long l = asLong(v);
        if (l == null) throw error(line, what + " must be an integer, not " + typeName(v));
        return l;
    }

    private static List<Object> pairs(Map<?, ?> m) {
        List<Object> out = new ArrayList<>();
        for (Map.Entry<?, ?> e : m.entrySet()) out.add(new Tuple(java.util.Arrays.asList(e.getKey(), e.getValue())));
        return out;
    }

    /** Jinja2's attribute path {@code "a.b.0"}, or an integer index. */
    private static Object attributePath(int line, Object v, Object path) {
        if (asLong(path) != null) return item(line, v, path);
        Object r = v;
        for (String part : str(path).split("\\.", -1)) {
            Object key = part.chars().allMatch(Character::isDigit) && !part.isEmpty() ? (Object) Long.parseLong(part) : part;
            r = item(line, r, key);
            if (r instanceof Undefined) return r;
        }
        return r;
    }

    private static Object sortKey(Object v, boolean caseSensitive) {
        return !caseSensitive && v instanceof String s ? s.toLowerCase(Locale.ROOT) : v;
    }

    private static List<Object> sorted(int line, List<Object> l, java.util.function.Function<Object, Object> key, boolean reverse) {
        Comparator<Object> c = (x, y) -> JinjaValues.compare(line, key.apply(x), key.apply(y), "<");
        l.sort(reverse ? c.reversed() : c); // stable, as Python's sort
        return l;
    }

    private static String asciiEscape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) b.append(c);
            else b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
        }
        return b.toString();
    }

    private static Double toFloat(Object v) {
        if (isNumber(v)) return asDouble(v);
        if (!(v instanceof String s)) return null;
        String t = JinjaValues.strip(s, null, true, true).replace("_", "");
        switch (t.toLowerCase(Locale.ROOT)) {
            case "inf", "+inf", "infinity", "+infinity" -> {
                return Double.POSITIVE_INFINITY;
            }
            case "-inf", "-infinity" -> {
                return Double.NEGATIVE_INFINITY;
            }
            case "nan", "+nan", "-nan" -> {
                return Double.NaN;
            }
            default -> { }
        }
        if (!t.matches("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?")) return null;
        return Double.parseDouble(t);
    }

    /** Python's {@code int(s, base)}: a 0x/0o/0b prefix where the base matches it, or base 0 to read it. */
    private static Long parseInt(String s, int base) {
        String t = JinjaValues.strip(s, null, true, true).replace("_", "");
        boolean negative = t.startsWith("-");
        if (negative || t.startsWith("+")) t = t.substring(1);
        String lower = t.toLowerCase(Locale.ROOT);
        int prefixed = lower.startsWith("0x") ? 16 : lower.startsWith("0o") ? 8 : lower.startsWith("0b") ? 2 : 0;
        if (prefixed != 0 && (base == 0 || base == prefixed)) {
            t = t.substring(2);
            base = prefixed;
        } else if (base == 0) {
            if (t.length() > 1 && t.startsWith("0") && !t.chars().allMatch(c -> c == '0')) return null;
            base = 10;
        }
        if (base < 2 || base > 36 || t.isEmpty() || t.startsWith("+") || t.startsWith("-")) return null;
        try {
            long v = Long.parseLong(t, base);
            return negative ? -v : v;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** Python's {@code str.splitlines()}. */
    static List<String> splitlines(String s) {
        List<String> out = new ArrayList<>();
        int at = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e || c == 0x85 || c == 0x2028 || c == 0x2029) {
                out.add(s.substring(at, i));
                if (c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n') i++;
                at = i + 1;
            }
        }
        if (at < s.length()) out.add(s.substring(at));
        return out;
    }

    private static String replace(int line, String s, String old, String with, long count) {
        if (count < 0) {
            if (old.isEmpty()) {
                StringBuilder b = new StringBuilder(with);
                s.codePoints().forEach(c -> b.appendCodePoint(c).append(with));
                return b.toString();
            }
            return s.replace(old, with);
        }
        StringBuilder b = new StringBuilder();
        int at = 0;
        for (long n = 0; n < count; n++) {
            if (old.isEmpty()) {
                if (at > s.length()) break;
                b.append(with);
                if (at < s.length()) {
                    int c = s.codePointAt(at);
                    b.appendCodePoint(c);
                    at += Character.charCount(c);
                } else {
                    at++;
                }
                continue;
            }
            int i = s.indexOf(old, at);
            if (i < 0) break;
            b.append(s, at, i).append(with);
            at = i + old.length();
        }
        if (at <= s.length()) b.append(s, at, s.length());
        return b.toString();
    }

    // ---------------------------------------------------------------- methods

    static Object method(int line, Object self, String name, List<Object> args, Map<String, Object> kw) {
        Args a = new Args(line, name, args, kw);
        if (self instanceof Map<?, ?> m) {
            switch (name) {
                case "items" -> {
                    a.allow(0);
                    return pairs(m);
                }
                case "keys" -> {
                    a.allow(0);
                    return new ArrayList<>(m.keySet());
                }
                case "values" -> {
                    a.allow(0);
                    return new ArrayList<>(m.values());
                }
                case "get" -> {
                    if (args.isEmpty() || args.size() > 2 || !kw.isEmpty()) throw error(line, "get() takes a key and perhaps a default");
                    Object r = item(line, m, args.get(0));
                    return m.containsKey(args.get(0)) ? r : args.size() > 1 ? args.get(1) : null;
                }
                case "copy" -> {
                    a.allow(0);
                    return new LinkedHashMap<>(m);
                }
                default -> throw new IllegalStateException(name);
            }
        }
        if (self instanceof List<?> l) {
            switch (name) {
                case "index", "count" -> {
                    if (args.size() != 1 || !kw.isEmpty()) throw error(line, name + "() takes one argument");
                    long n = 0;
                    for (int i = 0; i < l.size(); i++) {
                        if (eq(l.get(i), args.get(0))) {
                            if (name.equals("index")) return (long) i;
                            n++;
                        }
                    }
                    if (name.equals("index")) throw error(line, JinjaValues.repr(args.get(0)) + " is not in list");
                    return n;
                }
                case "copy" -> {
                    a.allow(0);
                    return new ArrayList<>(l);
                }
                default -> throw new IllegalStateException(name);
            }
        }
        String s = (String) self;
        switch (name) {
            case "strip", "lstrip", "rstrip" -> {
                a.allow(1);
                Object chars = args.isEmpty() ? null : args.get(0);
                if (chars != null && !(chars instanceof String)) throw error(line, name + " arg must be None or str");
                return JinjaValues.strip(s, (String) chars, !name.equals("rstrip"), !name.equals("lstrip"));
            }
            case "split", "rsplit" -> {
                a.allow(2, "sep", "maxsplit");
                Object sep = a.get(0, "sep", null);
                long max = asLongOr(line, a.get(1, "maxsplit", -1L), "maxsplit");
                if (sep != null && !(sep instanceof String)) throw error(line, "must be str or None, not " + typeName(sep));
                if ("".equals(sep)) throw error(line, "empty separator");
                return split(s, (String) sep, max, name.equals("rsplit"));
            }
            case "splitlines" -> {
                a.allow(0);
                return new ArrayList<Object>(splitlines(s));
            }
            case "startswith", "endswith" -> {
                if (args.isEmpty() || args.size() > 3 || !kw.isEmpty()) throw error(line, name + "() takes 1 to 3 arguments");
                String part = pySlice(line, s, args.size() > 1 ? args.get(1) : null, args.size() > 2 ? args.get(2) : null);
                List<?> options = args.get(0) instanceof Tuple t ? t : List.of(args.get(0));
                for (Object o : options) {
                    if (!(o instanceof String p)) throw error(line, name + " first arg must be str or a tuple of str, not " + typeName(o));
                    if (name.equals("startswith") ? part.startsWith(p) : part.endsWith(p)) return true;
                }
                return false;
            }
            case "upper" -> {
                a.allow(0);
                return s.toUpperCase(Locale.ROOT);
            }
            case "lower" -> {
                a.allow(0);
                return s.toLowerCase(Locale.ROOT);
            }
            case "title" -> {
                a.allow(0);
                StringBuilder b = new StringBuilder();
                boolean prevCased = false;
                for (int i = 0; i < s.length(); ) {
                    int c = s.codePointAt(i);
                    i += Character.charCount(c);
                    boolean cased = Character.isUpperCase(c) || Character.isLowerCase(c) || Character.isTitleCase(c);
                    b.append(prevCased ? Character.toString(c).toLowerCase(Locale.ROOT) : Character.toString(Character.toTitleCase(c)));
                    prevCased = cased;
                }
                return b.toString();
            }
            case "capitalize" -> {
                a.allow(0);
                return filter(line, "capitalize", s, List.of(), Map.of(), null);
            }
            case "replace" -> {
                if (args.size() < 2 || args.size() > 3 || !kw.isEmpty()) throw error(line, "replace() takes 2 or 3 arguments");
                return replace(line, s, str(args.get(0)), str(args.get(1)), args.size() > 2 ? asLongOr(line, args.get(2), "count") : -1);
            }
            case "find", "rfind", "index", "rindex", "count" -> {
                if (args.isEmpty() || args.size() > 3 || !kw.isEmpty() || !(args.get(0) instanceof String sub)) {
                    throw error(line, name + "() takes a str and perhaps a start and an end");
                }
                String part = pySlice(line, s, args.size() > 1 ? args.get(1) : null, args.size() > 2 ? args.get(2) : null);
                long n = s.codePointCount(0, s.length());
                long start = args.size() > 1 && args.get(1) != null ? clamp(asLongOr(line, args.get(1), "start"), n, 0, n) : 0;
                if (name.equals("count")) {
                    if (sub.isEmpty()) return (long) part.codePointCount(0, part.length()) + 1;
                    long hits = 0;
                    for (int i = part.indexOf(sub); i >= 0; i = part.indexOf(sub, i + sub.length())) hits++;
                    return hits;
                }
                int i = name.startsWith("r") ? part.lastIndexOf(sub) : part.indexOf(sub);
                if (i < 0) {
                    if (name.contains("index")) throw error(line, "substring not found");
                    return -1L;
                }
                return start + part.codePointCount(0, i);
            }
            case "join" -> {
                if (args.size() != 1 || !kw.isEmpty()) throw error(line, "join() takes one iterable");
                StringBuilder b = new StringBuilder();
                boolean first = true;
                for (Object x : items(line, args.get(0))) {
                    if (!(x instanceof String t)) throw error(line, "sequence item: expected str instance, " + typeName(x) + " found");
                    if (!first) b.append(s);
                    first = false;
                    b.append(t);
                }
                return b.toString();
            }
            case "isdigit", "isalpha", "isalnum", "isspace" -> {
                a.allow(0);
                java.util.function.IntPredicate each = switch (name) {
                    case "isdigit" -> Character::isDigit;
                    case "isalpha" -> Character::isLetter;
                    case "isalnum" -> Character::isLetterOrDigit;
                    default -> JinjaValues::isSpace;
                };
                return !s.isEmpty() && s.codePoints().allMatch(each);
            }
            case "isupper" -> {
                a.allow(0);
                return (boolean) test(line, "upper", s, List.of());
            }
            case "islower" -> {
                a.allow(0);
                return (boolean) test(line, "lower", s, List.of());
            }
            case "format" -> {
                return strFormat(line, s, args, kw);
            }
            default -> throw new IllegalStateException(name);
        }
    }

    private static String pySlice(int line, String s, Object start, Object end) {
        if (start == null && end == null) return s;
        return (String) slice(line, s, start, end, null);
    }

    private static List<Object> split(String s, String sep, long max, boolean fromRight) {
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            List<int[]> words = new ArrayList<>();
            int i = 0;
            while (i < s.length()) {
                while (i < s.length() && JinjaValues.isSpace(s.charAt(i))) i++;
                if (i >= s.length()) break;
                int b = i;
                while (i < s.length() && !JinjaValues.isSpace(s.charAt(i))) i++;
                words.add(new int[] {b, i});
            }
            if (max < 0 || words.size() <= max + 1) {
                for (int[] w : words) out.add(s.substring(w[0], w[1]));
                return out;
            }
            if (!fromRight) {
                for (int k = 0; k < max; k++) out.add(s.substring(words.get(k)[0], words.get(k)[1]));
                out.add(JinjaValues.rstrip(s.substring(words.get((int) max)[0])));
            } else {
                int keep = words.size() - (int) max;
                out.add(JinjaValues.strip(s.substring(0, words.get(keep - 1)[1]), null, true, false));
                for (int k = keep; k < words.size(); k++) out.add(s.substring(words.get(k)[0], words.get(k)[1]));
            }
            return out;
        }
        if (!fromRight) {
            int at = 0;
            for (int i = s.indexOf(sep); i >= 0 && (max < 0 || out.size() < max); i = s.indexOf(sep, at)) {
                out.add(s.substring(at, i));
                at = i + sep.length();
            }
            out.add(s.substring(at));
            return out;
        }
        int end = s.length();
        List<Object> rev = new ArrayList<>();
        for (int i = s.lastIndexOf(sep, end - sep.length()); i >= 0 && (max < 0 || rev.size() < max); i = end - sep.length() < 0 ? -1 : s.lastIndexOf(sep, end - sep.length())) {
            rev.add(s.substring(i + sep.length(), end));
            end = i;
        }
        rev.add(s.substring(0, end));
        java.util.Collections.reverse(rev);
        return rev;
    }

    private static final Pattern FORMAT_FIELD = Pattern.compile("\\{\\{|\\}\\}|\\{([^{}:!]*)\\}");

    /** Python's {@code str.format} for plain fields: {@code {}}, {@code {0}}, {@code {name}}, doubled braces. */
    private static String strFormat(int line, String s, List<Object> args, Map<String, Object> kw) {
        StringBuilder b = new StringBuilder();
        Matcher m = FORMAT_FIELD.matcher(s);
        int at = 0, auto = 0;
        while (m.find()) {
            literal(line, b, s.substring(at, m.start()));
            at = m.end();
            if (m.group(1) == null) {
                b.append(m.group().charAt(0));
                continue;
            }
            String field = m.group(1);
            Object v;
            if (field.isEmpty()) {
                if (auto >= args.size()) throw error(line, "format(): not enough positional arguments");
                v = args.get(auto++);
            } else if (field.chars().allMatch(Character::isDigit)) {
                int i = Integer.parseInt(field);
                if (i >= args.size()) throw error(line, "format(): no positional argument " + i);
                v = args.get(i);
            } else {
                if (!kw.containsKey(field)) throw error(line, "format(): no argument named '" + field + "'");
                v = kw.get(field);
            }
            b.append(str(v));
        }
        literal(line, b, s.substring(at));
        return b.toString();
    }

    private static void literal(int line, StringBuilder b, String text) {
        if (text.contains("{") || text.contains("}")) throw error(line, "format(): only plain {} fields are supported (no format specs or conversions)");
        b.append(text);
    }
}
