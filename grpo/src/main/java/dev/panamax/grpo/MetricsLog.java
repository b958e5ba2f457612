package dev.panamax.grpo;

import dev.panamax.runtime.io.Json;
import dev.panamax.runtime.io.Safetensors;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The training metrics as JSON lines, one object per step, rewritten atomically after every step. */
public final class MetricsLog {
    private final Path file;
    private final List<Map<String, Object>> rows = new ArrayList<>();

    /** A log written to {@code file}. */
    public MetricsLog(Path file) {
        this.file = file;
    }

    /** Adds a step's metrics and rewrites the file (temporary file, then rename). */
    public void append(int step, Map<String, Double> metrics) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("step", step);
        metrics.forEach((k, v) -> row.put(k, Double.isFinite(v) ? v : null));
        rows.add(row);
        StringBuilder b = new StringBuilder();
        for (Map<String, Object> r : rows) b.append(Json.write(r)).append('\n');
        Safetensors.writeStringAtomically(file, b.toString());
    }

    /** Reads back the rows of an existing file (when resuming); a missing file means no rows. */
    @SuppressWarnings("unchecked")
    public void load() {
        rows.clear();
        if (!java.nio.file.Files.isRegularFile(file)) return;
        try {
            for (String line : java.nio.file.Files.readAllLines(file)) {
                if (!line.isBlank()) rows.add((Map<String, Object>) Json.parse(line));
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot read " + file, e);
        }
    }

    /** Drops rows after {@code step} (their steps are redone after a resume). */
    public void keepUpTo(int step) {
        rows.removeIf(r -> r.get("step") instanceof Number n && n.intValue() > step);
    }

    /** The rows so far. */
    public List<Map<String, Object>> rows() {
        return rows;
    }
}
