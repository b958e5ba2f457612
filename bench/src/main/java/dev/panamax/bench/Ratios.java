package dev.panamax.bench;

import dev.panamax.runtime.io.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns a JMH JSON result ({@code -rf json -rff FILE}) of {@link MatmulBench} into the rates and
 * ratios that bench/RESULTS.md records: GFLOP/s and ours/OpenBLAS for SGEMM, 2-thread scaling,
 * GB/s of weights read for matrix-vector products and their fraction of the copy bandwidth
 * measured in the same run. Usage: {@code java -cp benchmarks.jar dev.panamax.bench.Ratios FILE}.
 */
public final class Ratios {
    private Ratios() {
    }

    record Row(String bench, Map<String, String> params, double usPerOp, double error) {
        String p(String k) {
            return params.getOrDefault(k, "");
        }
    }

    /** Prints the tables. */
    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: Ratios JMH_RESULT.json");
            System.exit(2);
        }
        List<Row> rows = read(Path.of(args[0]));
        Map<String, Row> by = new LinkedHashMap<>();
        for (Row r : rows) by.put(key(r.bench, r.params), r);
        StringBuilder out = new StringBuilder();
        out.append("| SGEMM n | threads | ours GFLOP/s | OpenBLAS GFLOP/s | ours / OpenBLAS | ours 2T / ours 1T |\n|---|---|---|---|---|---|\n");
        for (String n : new String[]{"512", "1024", "2048"}) {
            for (String t : new String[]{"1", "2"}) {
                Row ours = by.get(key("sgemm", Map.of("n", n, "threads", t)));
                if (ours == null) continue;
                Row blas = by.get(key("sgemmOpenBlas", Map.of("n", n, "threads", t)));
                Row one = by.get(key("sgemm", Map.of("n", n, "threads", "1")));
                double flops = 2.0 * Math.pow(Double.parseDouble(n), 3);
                out.append(String.format(Locale.ROOT, "| %s | %s | %.1f | %s | %s | %s |%n", n, t, gflops(flops, ours),
                        blas == null ? "n/a" : String.format(Locale.ROOT, "%.1f", gflops(flops, blas)),
                        blas == null ? "n/a" : String.format(Locale.ROOT, "%.2f", blas.usPerOp / ours.usPerOp),
                        t.equals("2") && one != null ? String.format(Locale.ROOT, "%.2f", one.usPerOp / ours.usPerOp) : ""));
            }
        }
        Row scalar = by.get(key("sgemmScalar", Map.of("n", "512")));
        Row vec512 = by.get(key("sgemm", Map.of("n", "512", "threads", "1")));
        if (scalar != null && vec512 != null) {
            out.append(String.format(Locale.ROOT, "%nScalar SGEMM 512: %.2f GFLOP/s; vector kernels on 1 thread are %.0fx faster.%n",
                    gflops(2.0 * 512 * 512 * 512, scalar), scalar.usPerOp / vec512.usPerOp));
        }
        out.append("\n| decode 1xKxN | threads | BF16 GB/s | F16 GB/s | F32 GB/s | OpenBLAS sgemv F32 GB/s | copy GB/s | BF16 / copy |\n|---|---|---|---|---|---|---|---|\n");
        for (String shape : new String[]{"2048x2048", "2048x10944", "7168x2048"}) {
            for (String t : new String[]{"1", "2"}) {
                Map<String, String> p = Map.of("shape", shape, "threads", t);
                Row bf = by.get(key("gemvBf16", p));
                if (bf == null) continue;
                String[] kn = shape.split("x");
                double elems = Double.parseDouble(kn[0]) * Double.parseDouble(kn[1]);
                Row copy = by.get(key("copy", Map.of("threads", t)));
                double copyBw = copy == null ? Double.NaN : 2.0 * (64 << 20) / (copy.usPerOp * 1e-6) / 1e9;
                double bfBw = gbs(2 * elems, bf);
                out.append(String.format(Locale.ROOT, "| 1x%s | %s | %.1f | %s | %s | %s | %.1f | %.2f |%n", shape, t, bfBw,
                        fmt(gbs(2 * elems, by.get(key("gemvF16", p)))), fmt(gbs(4 * elems, by.get(key("gemvF32", p)))),
                        fmt(gbs(4 * elems, by.get(key("sgemvOpenBlas", p)))), copyBw, bfBw / copyBw));
            }
        }
        Row gs = by.get(key("gemvBf16Scalar", Map.of("shape", "7168x2048")));
        if (gs != null) out.append(String.format(Locale.ROOT, "%nScalar BF16 matrix-vector 1x7168x2048: %.2f GB/s.%n", gbs(2.0 * 7168 * 2048, gs)));
        System.out.print(out);
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.1f", v);
    }

    private static double gflops(double flops, Row r) {
        return flops / (r.usPerOp * 1e-6) / 1e9;
    }

    private static double gbs(double bytes, Row r) {
        return r == null ? Double.NaN : bytes / (r.usPerOp * 1e-6) / 1e9;
    }

    private static String key(String bench, Map<String, String> params) {
        return bench + new java.util.TreeMap<>(params);
    }

    @SuppressWarnings("unchecked")
    static List<Row> read(Path file) throws IOException {
        List<Object> list = (List<Object>) Json.parse(Files.readString(file));
        return list.stream().map(o -> {
            Map<String, Object> m = (Map<String, Object>) o;
            String b = (String) m.get("benchmark");
            b = b.substring(b.lastIndexOf('.') + 1);
            Map<String, String> params = new LinkedHashMap<>();
            if (m.get("params") instanceof Map<?, ?> pm) pm.forEach((k, v) -> params.put((String) k, (String) v));
            Map<String, Object> pmx = (Map<String, Object>) m.get("primaryMetric");
            if (!"us/op".equals(pmx.get("scoreUnit"))) throw new IllegalArgumentException(b + ": expected us/op, got " + pmx.get("scoreUnit"));
            double err = pmx.get("scoreError") instanceof Number n ? n.doubleValue() : Double.NaN;
            return new Row(b, params, ((Number) pmx.get("score")).doubleValue(), err);
        }).toList();
    }
}
