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

    /** The rows so far. */
    public List<Map<String, Object>> rows() {
        return rows;
    }
}
