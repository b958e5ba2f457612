package dev.panamax.moe.text;

import dev.panamax.moe.text.Jinja.Expr;
import dev.panamax.moe.text.Jinja.Node;
import dev.panamax.moe.text.JinjaValues.Namespace;
import dev.panamax.moe.text.JinjaValues.Tuple;
import dev.panamax.moe.text.JinjaValues.Undefined;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.panamax.moe.text.JinjaValues.asLong;
import static dev.panamax.moe.text.JinjaValues.eq;
import static dev.panamax.moe.text.JinjaValues.error;
import static dev.panamax.moe.text.JinjaValues.isNumber;
import static dev.panamax.moe.text.JinjaValues.str;
import static dev.panamax.moe.text.JinjaValues.truthy;
import static dev.panamax.moe.text.JinjaValues.typeName;

/**
 * Renders a parsed template as Jinja2 does in {@code transformers}' sandbox: each loop iteration
 * and each macro call opens a scope, so {@code set} inside them does not leak out (hence
 * {@code namespace()}); macros see the template's variables at the time they are called;
 * lists and dicts are read-only.
 */
final class JinjaRun {
    /** Something a template can call: a global function, a macro, or a bound method. */
    interface Callable {
        Object call(int line, List<Object> args, Map<String, Object> kwargs);
    }

    /** A method of a str, list or dict, bound to its receiver; {@link JinjaBuiltins#method} runs it. */
    record Method(Object self, String name) implements Callable {
        @Override
        public Object call(int line, List<Object> args, Map<String, Object> kwargs) {
            return JinjaBuiltins.method(line, self, name, args, kwargs);
        }
    }

    /** Names bound in one scope, and the scope they sit in. */
    static final class Frame {
        final Frame parent;
        final Map<String, Object> vars = new HashMap<>();

        Frame(Frame parent) {
            this.parent = parent;
        }
    }

    /** A loop's {@code loop} variable. */
    static final class Loop {
        final List<?> items;
        int index0;

        Loop(List<?> items) {
            this.items = items;
        }

        Object attribute(String name) {
            int n = items.size();
            return switch (name) {
                case "index" -> (long) index0 + 1;
                case "index0" -> (long) index0;
                case "revindex" -> (long) (n - index0);
                case "revindex0" -> (long) (n - index0 - 1);
                case "first" -> index0 == 0;
                case "last" -> index0 == n - 1;
                case "length" -> (long) n;
                case "depth" -> 1L;
                case "depth0" -> 0L;
                case "previtem" -> index0 > 0 ? items.get(index0 - 1) : new Undefined("there is no previous item");
                case "nextitem" -> index0 + 1 < n ? items.get(index0 + 1) : new Undefined("there is no next item");
                case "cycle" -> (Callable) (line, args, kw) -> {
                    if (args.isEmpty()) throw error(line, "no items for cycling given");
                    return args.get(index0 % args.size());
                };
                default -> new Undefined("'LoopContext object' has no attribute '" + name + "'");
            };
        }
    }

    private static final int CONTINUE = 1, BREAK = 2;
    private static final int MAX_CALL_DEPTH = 200;

    private final Frame root;
    private final Clock clock;
    private final StringBuilder out = new StringBuilder();
    private int callDepth;

    private JinjaRun(Map<String, Object> variables, Clock clock) {
        Frame globals = new Frame(null);
        globals.vars.putAll(JinjaBuiltins.globals(clock));
        globals.vars.putAll(variables);
        this.root = new Frame(globals);
        this.clock = clock;
    }

    /** Renders {@code body} with {@code variables} (already Python values). */
    static String render(List<Node> body, Map<String, Object> variables, Clock clock) {
        JinjaRun run = new JinjaRun(variables, clock);
        run.exec(body, run.root, run.out);
        return run.out.toString();
    }

    private int exec(List<Node> body, Frame f, StringBuilder out) {
        for (Node node : body) {
            int signal = exec(node, f, out);
            if (signal != 0) return signal;
        }
        return 0;
    }

    private int exec(Node node, Frame f, StringBuilder out) {
        switch (node) {
            case Jinja.Text t -> append(out, t.text());
            case Jinja.Output o -> append(out, str(eval(o.value(), f)));
            case Jinja.If s -> {
                for (int i = 0; i < s.tests().size(); i++) {
                    if (truthy(eval(s.tests().get(i), f))) return exec(s.bodies().get(i), f, out);
                }
                return exec(s.orElse(), f, out);
            }
            case Jinja.For s -> {
                return loop(s, f, out);
            }
            case Jinja.Assign s -> {
                Object v = eval(s.value(), f);
                if (s.attribute() != null) {
                    Object ns = lookup(f, s.names().get(0));
                    if (!(ns instanceof Namespace n)) {
                        throw error(s.line(), "cannot assign attribute on non-namespace object '" + s.names().get(0) + "'");
                    }
                    n.attributes.put(s.attribute(), v);
                } else {
                    bind(s.line(), f, s.names(), s.unpack(), v);
                }
            }
            case Jinja.AssignBlock s -> {
                StringBuilder inner = new StringBuilder();
                exec(s.body(), f, inner);
                Object v = inner.toString();
                for (Expr.Filter filter : s.filters()) v = filter(filter, v, f);
                if (s.name() == null) append(out, str(v));
                else f.vars.put(s.name(), v);
            }
            case Jinja.Macro m -> f.vars.put(m.name(), macro(m));
            case Jinja.With w -> {
                Frame scope = new Frame(f);
                for (int i = 0; i < w.names().size(); i++) scope.vars.put(w.names().get(i), eval(w.values().get(i), f));
                return exec(w.body(), scope, out);
            }
            case Jinja.Break b -> {
                return BREAK;
            }
            case Jinja.Continue c -> {
                return CONTINUE;
            }
        }
        return 0;
    }

    private static void append(StringBuilder out, String text) {
        if (out.length() + (long) text.length() > ChatTemplate.MAX_OUTPUT_CHARS) {
            throw new IllegalArgumentException("chat template: the output passed " + ChatTemplate.MAX_OUTPUT_CHARS + " characters");
        }
        out.append(text);
    }

    private int loop(Jinja.For s, Frame f, StringBuilder out) {
        List<?> all = JinjaValues.items(s.line(), eval(s.iter(), f));
        List<Object> items = new ArrayList<>();
        for (Object item : all) {
            if (s.test() != null) {
                Frame probe = new Frame(f);
                bind(s.line(), probe, s.names(), s.unpack(), item);
                if (!truthy(eval(s.test(), probe))) continue;
            }
            items.add(item);
        }
        if (items.isEmpty()) return exec(s.orElse(), f, out);
        Loop loop = new Loop(items);
        for (int i = 0; i < items.size(); i++) {
            loop.index0 = i;
            Frame iteration = new Frame(f);
            iteration.vars.put("loop", loop);
            bind(s.line(), iteration, s.names(), s.unpack(), items.get(i));
            if (exec(s.body(), iteration, out) == BREAK) break;
        }
        return 0;
    }

    private static void bind(int line, Frame f, List<String> names, boolean unpack, Object v) {
        if (!unpack) {
            f.vars.put(names.get(0), v);
            return;
        }
        List<?> parts = JinjaValues.items(line, v);
        if (parts.size() != names.size()) {
            throw error(line, (parts.size() < names.size() ? "not enough" : "too many") + " values to unpack (expected "
                    + names.size() + ", got " + parts.size() + ")");
        }
        for (int i = 0; i < names.size(); i++) f.vars.put(names.get(i), parts.get(i));
    }

    private Callable macro(Jinja.Macro m) {
        return (line, args, kwargs) -> {
            if (args.size() > m.params().size()) {
                throw error(line, "macro '" + m.name() + "' takes " + m.params().size() + " arguments, got " + args.size());
            }
            Frame frame = new Frame(root);
            int firstDefault = m.params().size() - m.defaults().size();
            for (int i = 0; i < m.params().size(); i++) {
                String p = m.params().get(i);
                Object v;
                if (i < args.size()) {
                    if (kwargs.containsKey(p)) throw error(line, "macro '" + m.name() + "' got multiple values for '" + p + "'");
                    v = args.get(i);
                } else if (kwargs.containsKey(p)) {
                    v = kwargs.get(p);
                } else if (i >= firstDefault) {
                    v = eval(m.defaults().get(i - firstDefault), frame);
                } else {
                    v = new Undefined("parameter '" + p + "' was not provided");
                }
                frame.vars.put(p, v);
            }
            for (String k : kwargs.keySet()) {
                if (!m.params().contains(k)) throw error(line, "macro '" + m.name() + "' takes no keyword argument '" + k + "'");
            }
            if (++callDepth > MAX_CALL_DEPTH) throw error(line, "macros call each other deeper than " + MAX_CALL_DEPTH);
            try {
                StringBuilder inner = new StringBuilder();
                exec(m.body(), frame, inner);
                return inner.toString();
            } finally {
                callDepth--;
            }
        };
    }

    private static Object lookup(Frame f, String name) {
        for (Frame s = f; s != null; s = s.parent) {
            Object v = s.vars.get(name);
            if (v != null || s.vars.containsKey(name)) return v;
        }
        return new Undefined("'" + name + "' is undefined");
    }

    Object eval(Expr e, Frame f) {
        return switch (e) {
            case Expr.Literal l -> l.value();
            case Expr.Name n -> lookup(f, n.name());
            case Expr.ListOf l -> {
                List<Object> items = new ArrayList<>(l.items().size());
                for (Expr x : l.items()) items.add(eval(x, f));
                yield l.tuple() ? new Tuple(items) : items;
            }
            case Expr.DictOf d -> {
                Map<Object, Object> m = new LinkedHashMap<>();
                for (int i = 0; i < d.keys().size(); i++) {
                    Object k = eval(d.keys().get(i), f);
                    m.put(JinjaBuiltins.hashable(d.line(), k), eval(d.values().get(i), f));
                }
                yield m;
            }
            case Expr.Attr a -> JinjaBuiltins.attribute(a.line(), eval(a.target(), f), a.name());
            case Expr.Item i -> JinjaBuiltins.item(i.line(), eval(i.target(), f), eval(i.key(), f));
            case Expr.Slice s -> JinjaBuiltins.slice(s.line(), eval(s.target(), f),
                    s.start() == null ? null : eval(s.start(), f), s.stop() == null ? null : eval(s.stop(), f),
                    s.step() == null ? null : eval(s.step(), f));
            case Expr.Call c -> {
                Object target = eval(c.target(), f);
                List<Object> args = new ArrayList<>();
                for (Expr x : c.args()) args.add(eval(x, f));
                Map<String, Object> kwargs = keywords(c.keys(), c.keyValues(), f);
                if (target instanceof Callable fn) yield fn.call(c.line(), args, kwargs);
                if (target instanceof Undefined u) throw JinjaValues.undefined(c.line(), u);
                throw error(c.line(), "'" + typeName(target) + "' object is not callable");
            }
            case Expr.Filter fl -> filter(fl, eval(fl.value(), f), f);
            case Expr.Test t -> {
                List<Object> args = new ArrayList<>();
                for (Expr x : t.args()) args.add(eval(x, f));
                boolean r = JinjaBuiltins.test(t.line(), t.name(), eval(t.value(), f), args);
                yield r != t.negated();
            }
            case Expr.Unary u -> unary(u, eval(u.operand(), f));
            case Expr.Binary b -> switch (b.op()) {
                case "and" -> {
                    Object l = eval(b.left(), f);
                    yield truthy(l) ? eval(b.right(), f) : l;
                }
                case "or" -> {
                    Object l = eval(b.left(), f);
                    yield truthy(l) ? l : eval(b.right(), f);
                }
                case "**" -> power(b, f);
                default -> JinjaBuiltins.binary(b.line(), b.op(), eval(b.left(), f), eval(b.right(), f));
            };
            case Expr.Compare c -> {
                Object left = eval(c.first(), f);
                boolean r = true;
                for (int i = 0; i < c.ops().size() && r; i++) {
                    Object right = eval(c.rest().get(i), f);
                    r = JinjaBuiltins.compare(c.line(), c.ops().get(i), left, right);
                    left = right;
                }
                yield r;
            }
            case Expr.Cond c -> truthy(eval(c.test(), f)) ? eval(c.then(), f)
                    : c.orElse() == null ? new Undefined("the conditional expression had no else") : eval(c.orElse(), f);
        };
    }

    /**
     * {@code a ** b}. Jinja2 folds a constant left operand and writes it into Python source, where
     * {@code -2 ** x} reads as {@code -(2 ** x)}: so a negative constant raised to a value that
     * is not constant gives the negated power, as there.
     */
    private Object power(Expr.Binary b, Frame f) {
        Object left = eval(b.left(), f), right = eval(b.right(), f);
        if (constant(b.left()) && !constant(b.right()) && isNumber(left) && JinjaValues.asDouble(left) < 0) {
            Expr.Unary neg = new Expr.Unary(b.line(), "-", null);
            return unary(neg, JinjaBuiltins.binary(b.line(), "**", unary(neg, left), right));
        }
        return JinjaBuiltins.binary(b.line(), "**", left, right);
    }

    /**
     * Whether Jinja2's optimizer folds {@code e} to a constant: literals and what is computed from
     * them alone, filters and tests included, except the filters handed the render context; in its
     * sandbox no call is folded.
     */
    private static boolean constant(Expr e) {
        return switch (e) {
            case Expr.Literal l -> true;
            case Expr.Unary u -> constant(u.operand());
            case Expr.Binary b -> constant(b.left()) && constant(b.right());
            case Expr.ListOf l -> l.items().stream().allMatch(JinjaRun::constant);
            case Expr.DictOf d -> d.keys().stream().allMatch(JinjaRun::constant) && d.values().stream().allMatch(JinjaRun::constant);
            case Expr.Compare c -> constant(c.first()) && c.rest().stream().allMatch(JinjaRun::constant);
            case Expr.Cond c -> constant(c.test()) && constant(c.then()) && (c.orElse() == null || constant(c.orElse()));
            case Expr.Attr a -> constant(a.target());
            case Expr.Item i -> constant(i.target()) && constant(i.key());
            case Expr.Test t -> constant(t.value()) && t.args().stream().allMatch(JinjaRun::constant);
            case Expr.Filter f -> f.value() != null && !CONTEXT_FILTERS.contains(f.name()) && constant(f.value())
                    && f.args().stream().allMatch(JinjaRun::constant) && f.keyValues().stream().allMatch(JinjaRun::constant);
            default -> false;
        };
    }

    /** Jinja2's filters that take the render context, which its optimizer never folds. */
    private static final java.util.Set<String> CONTEXT_FILTERS = java.util.Set.of("map", "select", "reject", "selectattr", "rejectattr");

    private Map<String, Object> keywords(List<String> keys, List<Expr> values, Frame f) {
        if (keys.isEmpty()) return Map.of();
        Map<String, Object> kw = new LinkedHashMap<>();
        for (int i = 0; i < keys.size(); i++) kw.put(keys.get(i), eval(values.get(i), f));
        return kw;
    }

    private Object filter(Expr.Filter fl, Object value, Frame f) {
        List<Object> args = new ArrayList<>();
        for (Expr x : fl.args()) args.add(eval(x, f));
        return JinjaBuiltins.filter(fl.line(), fl.name(), value, args, keywords(fl.keys(), fl.keyValues(), f), clock);
    }

    private static Object unary(Expr.Unary u, Object v) {
        if (u.op().equals("not")) return !truthy(v);
        if (v instanceof Undefined x) throw JinjaValues.undefined(u.line(), x);
        if (!isNumber(v)) throw error(u.line(), "bad operand type for unary " + u.op() + ": '" + typeName(v) + "'");
        Long l = asLong(v);
        if (u.op().equals("+")) return l != null ? (Object) l : v;
        if (l != null) {
            if (l == Long.MIN_VALUE) throw error(u.line(), "integer overflow");
            return -l;
        }
        return -(Double) v;
    }
}
