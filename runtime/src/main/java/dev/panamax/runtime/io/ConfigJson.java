package dev.panamax.runtime.io;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.nio.ByteBuffer;

/**
 * Typed access to a JSON configuration such as Hugging Face's {@code config.json}. Every
 * accessor names the file and the field when the field is missing or of the wrong type.
 */
public final class ConfigJson {
    private final Path source;
    private final Map<String, Object> fields;

    /** Wraps parsed fields; {@code source} is used in messages. */
    public ConfigJson(Path source, Map<String, Object> fields) {
        this.source = source;
        this.fields = Map.copyOf(nullSafe(fields));
    }

    private static Map<String, Object> nullSafe(Map<String, Object> m) {
        java.util.HashMap<String, Object> h = new java.util.HashMap<>();
        for (Map.Entry<String, Object> e : m.entrySet()) h.put(e.getKey(), e.getValue() == null ? NULL : e.getValue());
        return h;
    }

    private static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };

    /** A problem with one field (or the file); the message names both. */
    public static final class ConfigException extends IllegalArgumentException {
        /** Creates the exception. */
        public ConfigException(String message) {
            super(message);
        }
    }

    /** Reads and parses a JSON object file. */
    public static ConfigJson read(Path file) {
        String text;
        try {
            byte[] bytes = Files.readAllBytes(file);
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new ConfigException(file + ": not valid UTF-8");
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot be read: " + e.getMessage());
        }
        try {
            return new ConfigJson(file, Json.parseObject(text));
        } catch (RuntimeException e) {
            throw new ConfigException(file + ": invalid JSON: " + e.getMessage());
        }
    }

    /** The file the fields came from. */
    public Path source() {
        return source;
    }

    /** Whether the field is present (possibly null). */
    public boolean has(String field) {
        return fields.containsKey(field);
    }

    /** Whether the field is absent or JSON null. */
    public boolean isNull(String field) {
        Object v = fields.get(field);
        return v == null || v == NULL;
    }

    private ConfigException err(String field, String what) {
        return new ConfigException(source + ": field \"" + field + "\" " + what);
    }

    private Object require(String field) {
        if (!fields.containsKey(field)) throw err(field, "is missing");
        Object v = fields.get(field);
        if (v == NULL) throw err(field, "is null");
        return v;
    }

    /** A required integer field. */
    public long requireLong(String field) {
        Object v = require(field);
        if (v instanceof Long l) return l;
        if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < 9e15) return d.longValue();
        if (v instanceof BigInteger) throw err(field, "is too large: " + v);
        throw err(field, "must be an integer, got " + v);
    }

    /** A required integer field that fits an int. */
    public int requireInt(String field) {
        long v = requireLong(field);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) throw err(field, "is out of range: " + v);
        return (int) v;
    }

    /** A required number field. */
    public double requireDouble(String field) {
        Object v = require(field);
        if (v instanceof Number n) return n.doubleValue();
        throw err(field, "must be a number, got " + v);
    }

    /** A required string field. */
    public String requireString(String field) {
        Object v = require(field);
        if (v instanceof String s) return s;
        throw err(field, "must be a string, got " + v);
    }

    /** A required boolean field. */
    public boolean requireBoolean(String field) {
        Object v = require(field);
        if (v instanceof Boolean b) return b;
        throw err(field, "must be true or false, got " + v);
    }

    /** An optional object field (null when absent or JSON null). */
    @SuppressWarnings("unchecked")
    public ConfigJson object(String field) {
        if (isNull(field)) return null;
        Object v = fields.get(field);
        if (v instanceof Map<?, ?> m) return new ConfigJson(source, (Map<String, Object>) m);
        throw err(field, "must be an object, got " + v);
    }

    /** The raw value (null when absent or JSON null). */
    public Object raw(String field) {
        Object v = fields.get(field);
        return v == NULL ? null : v;
    }
}
