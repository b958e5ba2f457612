package dev.panamax.moe.text;

import java.util.List;
import java.util.Map;

/**
 * A JSON value of {@code tokenizer.json} together with where it sits ({@code file: a.b[2].c}),
 * so that every error names the file and the field. The root's {@code where} is the file name
 * followed by a colon.
 */
record TokJson(String where, Object value) {
    IllegalArgumentException error(String what) {
        return new IllegalArgumentException(where + (where.endsWith(":") ? " " : ": ") + what);
    }

    private String at(String key) {
        return where.endsWith(":") ? where + " " + key : where + "." + key;
    }

    boolean isNull() {
        return value == null;
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> map() {
        if (value instanceof Map<?, ?> m) return (Map<String, Object>) m;
        throw error("must be an object, got " + describe(value));
    }

    List<?> list() {
        if (value instanceof List<?> l) return l;
        throw error("must be an array, got " + describe(value));
    }

    /** The member {@code key}; JSON null when absent. */
    TokJson get(String key) {
        return new TokJson(at(key), map().get(key));
    }

    boolean has(String key) {
        return map().get(key) != null;
    }

    TokJson item(int i) {
        return new TokJson(where + "[" + i + "]", list().get(i));
    }

    String string() {
        if (value instanceof String s) return s;
        throw error(value == null ? "is missing" : "must be a string, got " + describe(value));
    }

    /** A string, or null when absent or JSON null. */
    String stringOrNull() {
        return value == null ? null : string();
    }

    boolean bool(boolean absent) {
        if (value == null) return absent;
        if (value instanceof Boolean b) return b;
        throw error("must be true or false, got " + describe(value));
    }

    long integer() {
        if (value instanceof Long l) return l;
        throw error(value == null ? "is missing" : "must be an integer, got " + describe(value));
    }

    /** The {@code type} member of a component (normalizer, pre-tokenizer, ...). */
    String type() {
        return get("type").string();
    }

    static String describe(Object v) {
        String s = String.valueOf(v);
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }
}
