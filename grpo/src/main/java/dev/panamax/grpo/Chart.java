package dev.panamax.grpo;

import dev.panamax.runtime.io.Safetensors;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** A self-contained SVG line chart of reward, accuracy and KL against step. */
public final class Chart {
    private Chart() {
    }

    /** Writes the chart (atomically). */
    public static void write(Path file, List<Map<String, Object>> rows) {
        int w = 720, h = 360, pad = 50;
        String[] keys = {"reward", "accuracy", "kl"};
        String[] colours = {"#1f77b4", "#2ca02c", "#d62728"};
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">%n", w, h));
        s.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", w, h));
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"20\" font-size=\"14\">GRPO: reward, accuracy and KL per step</text>%n", pad));
        s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>%n", pad, h - pad, w - pad, h - pad));
        s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>%n", pad, pad, pad, h - pad));
        int n = rows.size();
        double maxKl = 1e-9;
        for (Map<String, Object> r : rows) if (r.get("kl") instanceof Number k) maxKl = Math.max(maxKl, k.doubleValue());
        for (int i = 0; i <= 4; i++) {
            double y = h - pad - i * (h - 2.0 * pad) / 4;
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>%n", pad - 5, y + 4, i / 4.0 * 1.1));
        }
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">step (1..%d)</text>%n", w / 2, h - 15, n));
        for (int k = 0; k < keys.length; k++) {
            double scale = keys[k].equals("kl") ? 1.0 / maxKl : 1.0 / 1.1;
            StringBuilder pts = new StringBuilder();
            for (int i = 0; i < n; i++) {
                if (!(rows.get(i).get(keys[k]) instanceof Number v)) continue;
                double x = pad + (n == 1 ? 0 : i * (w - 2.0 * pad) / (n - 1));
                double y = h - pad - Math.min(1, v.doubleValue() * scale) * (h - 2.0 * pad);
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", x, y));
            }
            if (pts.isEmpty()) continue;
            s.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>%n", colours[k], pts.toString().trim()));
            String label = keys[k].equals("kl") ? String.format(Locale.ROOT, "kl (scaled, max %.4f)", maxKl) : keys[k];
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>%n", w - pad - 150, pad + 15 * k, colours[k], label));
        }
        s.append("</svg>\n");
        Safetensors.writeStringAtomically(file, s.toString());
    }
}
