package dev.panamax.bench;

import dev.panamax.runtime.io.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns a JMH JSON result ({@code -rf json -rff FILE}) of {@link MatmulBench} into the rates and
 * ratios that bench/RESULTS.md records: GFLOP/s and ours/OpenBLAS for SGEMM, 2-thread scaling,
 * GB/s of weights read for matrix-vector products and their fraction of the copy bandwidth
 * measured in the same run; and, for {@link GpuBench}, the GPU tables of {@link #gpuTables}. Usage:
 * {@code java -cp benchmarks.jar dev.panamax.bench.Ratios FILE [TORCH_MATMUL_JSON]}.
 */
public final class Ratios {
    private Ratios() {
    }

    /**
     * A JMH result: its benchmark, parameters, time per op and error (us), and the GPU's own time per
     * launch ({@link GpuBench.GpuTime}, us; NaN where the benchmark has none).
     */
    record Row(String bench, Map<String, String> params, double usPerOp, double error, double gpuUsPerLaunch) {
        String p(String k) {
            return params.getOrDefault(k, "");
        }

        /** GpuBench's gemm parameter: how the product ran (rows without it ran the default, cuBLAS). */
        String gemmPath() {
            return params.getOrDefault("gemm", "cublas");
        }

        /**
         * GpuBench's mla parameter: the MLA decode kernel (rows without it ran the default, auto), and
         * its merge, splits and pdl parameters where they were not the default ("auto, tail merge, 1 split, pdl").
         */
        String mlaKernel() {
            String kernel = params.getOrDefault("mla", "auto"), merge = params.getOrDefault("merge", "auto"), splits = params.getOrDefault("splits", "auto");
            return kernel + (merge.equals("auto") ? "" : ", " + merge + " merge") + (splits.equals("auto") ? "" : ", " + splits + (splits.equals("1") ? " split" : " splits"))
                    + (pdl() ? ", pdl" : "");
        }

        /** Whether the row ran with programmatic dependent launch (the pdl parameter of GpuBench and DeepSeekBench). */
        boolean pdl() {
            return params.getOrDefault("pdl", "off").equals("on");
        }
    }

    /** Prints the tables. */
    public static void main(String[] args) throws IOException {
        if (args.length != 1 && args.length != 2) {
            System.err.println("usage: Ratios JMH_RESULT.json [TORCH_MATMUL.json]");
            System.exit(2);
        }
        List<Row> rows = read(Path.of(args[0]));
        System.out.print(gpuTables(rows, args.length == 2 ? Path.of(args[1]) : null));
        if (rows.stream().noneMatch(r -> r.bench.startsWith("sgemm") || r.bench.startsWith("gemv"))) return;   // no MatmulBench rows
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

    /**
     * The {@link GpuBench} tables (empty when the result has none of its rows): GEMM TFLOP/s and
     * ours/torch (torch's times from {@code bench/gpu/torch_matmul.py}'s JSON, when given), MLA
     * decode GB/s against the device copy (of the cache read, and of every byte moved as FlashMLA
     * counts them: {@link #mlaBytesMoved}), batched matmul against one call per item,
     * a MoE layer's grouped expert products against one product per expert, and whole-model decode
     * GPU versus CPU.
     */
    @SuppressWarnings("unchecked")
    static String gpuTables(List<Row> rows, Path torchFile) throws IOException {
        Map<String, Row> by = new LinkedHashMap<>();
        for (Row r : rows) by.put(key(r.bench, r.params), r);
        Map<String, Double> torchMs = new LinkedHashMap<>();
        if (torchFile != null) {
            for (Object o : (List<Object>) Json.parse(Files.readString(torchFile))) {
                Map<String, Object> m = (Map<String, Object>) o;
                torchMs.put(m.get("dtype") + "/" + ((Number) m.get("n")).intValue(), ((Number) m.get("ms")).doubleValue());
            }
        }
        StringBuilder out = new StringBuilder();
        // one row per dtype, size and path (GpuBench's gemm parameter: cublas, lt, tune; rows without it ran cuBLAS)
        List<String> paths = List.of("cublas", "lt", "tune");
        List<Row> gemms = rows.stream().filter(r -> r.bench.equals("gemm") && (r.p("dtype").equals("F32") || r.p("dtype").equals("BF16")))
                .sorted(java.util.Comparator.comparing((Row r) -> r.p("dtype").equals("F32") ? 0 : 1).thenComparingInt(r -> Integer.parseInt(r.p("n")))
                        .thenComparingInt(r -> paths.indexOf(r.gemmPath()))).toList();
        if (!gemms.isEmpty()) out.append("| GPU GEMM | n | path | ours TFLOP/s | torch.matmul TFLOP/s | ours / torch |\n|---|---|---|---|---|---|\n");
        for (Row ours : gemms) {
            String dt = ours.p("dtype"), n = ours.p("n");
            double flops = 2.0 * Math.pow(Double.parseDouble(n), 3);
            Double t = torchMs.get(dt + "/" + n);
            double oursT = gflops(flops, ours) / 1e3, torchT = t == null ? Double.NaN : flops / (t * 1e-3) / 1e12;
            out.append(String.format(Locale.ROOT, "| %s | %s | %s | %.1f | %s | %s |%n", dt, n, ours.gemmPath(), oursT, fmt(torchT),
                    t == null ? "n/a" : String.format(Locale.ROOT, "%.2f", oursT / torchT)));
        }
        Row copy = by.get(key("deviceCopy", Map.of()));
        double copyBw = copy == null ? Double.NaN : gbs(2.0 * (1L << 30), copy);
        // one row per MLA decode configuration and kernel (GpuBench's mla parameter; rows without it ran the default)
        List<Row> mla = rows.stream().filter(r -> r.bench.equals("mlaDecode"))
                .sorted(java.util.Comparator.comparing((Row r) -> r.p("cache").equals("BF16"))
                        .thenComparingInt(r -> Integer.parseInt(r.p("batch"))).thenComparingInt(r -> Integer.parseInt(r.p("heads")))
                        .thenComparingInt(r -> Integer.parseInt(r.p("len"))).thenComparing(Row::mlaKernel))
                .toList();
        // GB/s of the cache alone, and of every byte the decode must move as FlashMLA's benchmark counts them (cache, queries, outputs)
        if (!mla.isEmpty()) out.append("\n| MLA decode cache | batch | heads | cache len | kernel | GB/s of cache | device copy GB/s | fraction of copy "
                + "| GB/s with queries and outputs | its fraction of copy |\n|---|---|---|---|---|---|---|---|---|---|\n");
        for (Row r : mla) {
            double bw = mlaGbs(r), all = gbs(mlaBytesMoved(r), r);
            out.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %.0f | %s | %.2f | %.0f | %.2f |%n", r.p("cache"), r.p("batch"), r.p("heads"), r.p("len"),
                    r.mlaKernel(), bw, fmt(copyBw), bw / copyBw, all, all / copyBw));
        }
        // the same rows by the GPU's own time (CUDA events over launches 2 to 8 of each invocation), against the copy timed alike
        double copyGpuBw = copy == null ? Double.NaN : gbsIn(2.0 * (1L << 30), copy.gpuUsPerLaunch);
        List<Row> mlaTimed = mla.stream().filter(r -> !Double.isNaN(r.gpuUsPerLaunch)).toList();
        if (!mlaTimed.isEmpty() && !Double.isNaN(copyGpuBw)) {
            out.append("\n| MLA decode cache, by the GPU's time | batch | heads | cache len | kernel | us a call (JMH) | us a call (CUDA events) "
                    + "| device copy GB/s (CUDA events) | fraction of copy | with queries and outputs |\n|---|---|---|---|---|---|---|---|---|---|\n");
            for (Row r : mlaTimed) {
                double us = r.gpuUsPerLaunch;
                out.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %.1f | %.1f | %.1f | %.2f | %.2f |%n", r.p("cache"), r.p("batch"), r.p("heads"), r.p("len"),
                        r.mlaKernel(), r.usPerOp, us, copyGpuBw, gbsIn(mlaCacheBytes(r), us) / copyGpuBw, gbsIn(mlaBytesMoved(r), us) / copyGpuBw));
            }
        }
        // where kernels were compared: each shape's fastest named kernel against auto and tune (a shape's rows are neighbours)
        Map<List<String>, List<Row>> shapes = new LinkedHashMap<>();
        for (Row r : mla) shapes.computeIfAbsent(List.of(r.p("cache"), r.p("batch"), r.p("heads"), r.p("len")), k -> new ArrayList<>()).add(r);
        if (shapes.values().stream().anyMatch(g -> g.size() > 1)) {
            out.append("\n| MLA decode cache | batch | heads | cache len | fastest named kernel | its fraction of copy | auto's | tune's |\n|---|---|---|---|---|---|---|---|\n");
            for (var e : shapes.entrySet()) {
                if (e.getValue().size() < 2) continue;   // one kernel ran: nothing compared
                Row auto = null, tune = null, best = null;
                for (Row r : e.getValue()) {
                    String k = r.mlaKernel();
                    if (k.equals("auto")) auto = r;
                    else if (k.equals("tune")) tune = r;
                    else if (best == null || r.usPerOp < best.usPerOp) best = r;
                }
                List<String> s = e.getKey();
                out.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s |%n", s.get(0), s.get(1), s.get(2), s.get(3),
                        best == null ? "n/a" : best.mlaKernel(), fraction(best, copyBw), fraction(auto, copyBw), fraction(tune, copyBw)));
            }
        }
        boolean header = false;
        for (String dt : new String[]{"F32", "BF16"}) {
            for (String path : paths) {
                Row batched = gemmRow(by, "batchedMatmul", dt, path), perItem = gemmRow(by, "perItemMatmul", dt, path);
                if (batched == null || perItem == null) continue;
                if (!header) out.append("\n| batched matmul, 128 items of 512x192x512 | path | batched TFLOP/s | one call per item TFLOP/s | batched / per item |\n|---|---|---|---|---|\n");
                header = true;
                double f = GpuBench.Batched.flops();
                out.append(String.format(Locale.ROOT, "| %s | %s | %.1f | %.1f | %.2f |%n", dt, path, gflops(f, batched) / 1e3, gflops(f, perItem) / 1e3,
                        perItem.usPerOp / batched.usPerOp));
            }
        }
        header = false;
        for (Row grouped : rows) {
            if (!grouped.bench.equals("moeGrouped") || !grouped.p("device").startsWith("cuda")) continue;
            Row perExpert = by.get(key("moePerExpert", grouped.params)), forward = by.get(key("moeForward", grouped.params));
            if (perExpert == null && forward == null) continue;
            if (!header) {
                out.append("\n| MoE layer (V2-Lite shapes, 64 experts top-6, BF16), tokens | MoE.forward ms | grouped ms | one product per expert ms "
                        + "| grouped / forward | per expert / grouped |\n|---|---|---|---|---|---|\n");
            }
            header = true;
            out.append(String.format(Locale.ROOT, "| %s | %s | %.3f | %s | %s | %s |%n", grouped.p("tokens"), ms(forward), grouped.usPerOp / 1e3, ms(perExpert),
                    ratio(grouped, forward), ratio(perExpert, grouped)));
        }
        // whole-model decode, GPU against CPU, for each KV cache dtype that ran on both
        Map<String, Row> gpuDecode = new java.util.TreeMap<>(), cpuDecode = new java.util.TreeMap<>();
        for (Row r : rows) {
            if (!r.bench.equals("decodeToken") || !r.p("dtype").equals("BF16") || r.pdl()) continue;   // pdl=on: its own table below
            String cache = r.params.getOrDefault("kvCache", "F32");
            if (r.p("device").equals("cuda")) gpuDecode.put(cache, r);
            else if (r.p("device").equals("cpu")) cpuDecode.put(cache, r);
        }
        if (!gpuDecode.isEmpty()) {   // a CPU-only DeepSeekBench run has its own table
            out.append("\n| whole-model decode (V2-Lite shapes, BF16 weights) | KV cache | ms/token | tokens/s | GPU / CPU speed |\n|---|---|---|---|---|\n");
            for (Map.Entry<String, Row> e : gpuDecode.entrySet()) {
                Row gpu = e.getValue(), cpu = cpuDecode.get(e.getKey());
                out.append(String.format(Locale.ROOT, "| cuda | %s | %.2f | %.1f | %s |%n", e.getKey(), gpu.usPerOp / 1e3, 1e6 / gpu.usPerOp,
                        cpu == null ? "n/a" : String.format(Locale.ROOT, "%.1fx", cpu.usPerOp / gpu.usPerOp)));
                if (cpu != null) out.append(String.format(Locale.ROOT, "| cpu, %s threads | %s | %.2f | %.1f | |%n", cpu.p("threads"), e.getKey(), cpu.usPerOp / 1e3, 1e6 / cpu.usPerOp));
            }
        }
        // decode steps replayed as one CUDA graph against the same steps launched kernel by kernel, same device and run
        header = false;
        for (Row graph : rows) {
            if (!graph.bench.equals("decodeTokenGraph") || !graph.p("device").startsWith("cuda")) continue;
            Row eager = by.get(key("decodeToken", graph.params));
            if (!header) out.append("\n| decode step on the GPU (V2-Lite shapes) | weights | KV cache | kernel by kernel ms | one graph ms | speed-up |\n|---|---|---|---|---|---|\n");
            header = true;
            out.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %.3f | %s |%n", graph.p("device"), graph.p("dtype"), graph.params.getOrDefault("kvCache", "F32"),
                    ms(eager), graph.usPerOp / 1e3, ratio(eager, graph)));
        }
        // programmatic dependent launch: each row run with pdl=on against the same row with pdl=off, same run
        header = false;
        for (Row on : rows) {
            if (!on.pdl()) continue;
            Map<String, String> rest = new java.util.TreeMap<>(on.params);
            rest.put("pdl", "off");
            Row off = by.get(key(on.bench, rest));
            rest.remove("pdl");
            if (!header) out.append("\n| programmatic dependent launch (GPU) | parameters | pdl=off us | pdl=on us | off / on |\n|---|---|---|---|---|\n");
            header = true;
            out.append(String.format(Locale.ROOT, "| %s | %s | %s | %.1f | %s |%n", on.bench, rest.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                    .collect(java.util.stream.Collectors.joining(" ")), off == null ? "n/a" : String.format(Locale.ROOT, "%.1f", off.usPerOp), on.usPerOp, ratio(off, on)));
        }
        // GRPO's loss and backward on the GPU against one device copy of its logits, same run (GrpoLossBench)
        header = false;
        for (Row loss : rows) {
            if (!loss.bench.equals("loss")) continue;
            Row logitsCopy = by.get(key("logitsCopy", loss.params));
            if (!header) out.append("\n| GRPO loss + backward on the GPU, (8, 128, V) logits | loss ms | logits copy ms | loss / copy |\n|---|---|---|---|\n");
            header = true;
            out.append(String.format(Locale.ROOT, "| V = %s | %.3f | %s | %s |%n", loss.p("vocab"), loss.usPerOp / 1e3, ms(logitsCopy), ratio(loss, logitsCopy)));
        }
        // the next token of 8 rows drawn on the GPU against the read-back of their logits, same run (DeviceSamplingBench)
        header = false;
        for (Row draw : rows) {
            if (!draw.bench.equals("drawOnDevice")) continue;
            Row readBack = by.get(key("logitsReadBack", draw.params)), host = by.get(key("drawOnHost", draw.params)),
                    argmax = by.get(key("argmaxOnDevice", draw.params));
            if (!header) out.append("\n| next token of 8 rows, logits on the GPU | draw on the GPU us | argmax on the GPU us | logits read-back us"
                    + " | read-back + draw on the host us | GPU draw / read-back | host / GPU |\n|---|---|---|---|---|---|---|\n");
            header = true;
            out.append(String.format(Locale.ROOT, "| V = %s | %.1f | %s | %s | %s | %s | %s |%n", draw.p("vocab"), draw.usPerOp, us(argmax), us(readBack), us(host),
                    ratio(draw, readBack), ratio(host, draw)));
        }
        // top-k and top-p: the candidates selected on the GPU against the logits read back and ranked on the host
        String[][] ranked = {{"TopK", "top-k 50, top-p 0.95", "top 50 selected"}, {"TopP", "top-p 0.95 alone", "top 1,024 + denominator"}};
        for (String[] kind : ranked) {
            header = false;
            for (Row draw : rows) {
                if (!draw.bench.equals("draw" + kind[0] + "OnDevice")) continue;
                Row readBack = by.get(key("logitsReadBack", draw.params)), host = by.get(key("draw" + kind[0] + "OnHost", draw.params));
                if (!header) out.append("\n| " + kind[1] + ", 8 rows on the GPU | " + kind[2] + " on the GPU us | logits read-back us"
                        + " | read-back + selection on the host us | GPU / read-back | host / GPU |\n|---|---|---|---|---|---|\n");
                header = true;
                out.append(String.format(Locale.ROOT, "| V = %s | %.1f | %s | %s | %s | %s |%n", draw.p("vocab"), draw.usPerOp, us(readBack), us(host),
                        ratio(draw, readBack), ratio(host, draw)));
            }
        }
        // indexing ops on the GPU against their old route through the host, same run (DeviceIndexingBench)
        header = false;
        for (Row dev : rows) {
            if (!dev.bench.equals("onDevice")) continue;
            Row host = by.get(key("throughHost", dev.params));
            if (!header) out.append("\n| indexing op, operands on the GPU | one kernel us | through the host us | host / GPU |\n|---|---|---|---|\n");
            header = true;
            out.append(String.format(Locale.ROOT, "| %s | %.1f | %s | %s |%n", dev.p("op"), dev.usPerOp, us(host), ratio(host, dev)));
        }
        // whole-model generation with the decode loop pipelined against the plain loop, same run (GenerateBench)
        header = false;
        for (Row piped : rows) {
            if (!piped.bench.equals("pipelined")) continue;
            Row plain = by.get(key("plain", piped.params));
            if (!header) out.append("\n| generation on the GPU, " + GenerateBench.TOKENS + " tokens a prompt | pipelined ms | plain ms"
                    + " | pipelined tokens/s | plain / pipelined |\n|---|---|---|---|---|\n");
            header = true;
            double tokens = Double.parseDouble(piped.p("batch")) * GenerateBench.TOKENS;
            out.append(String.format(Locale.ROOT, "| batch %s | %.2f | %s | %.1f | %s |%n", piped.p("batch"), piped.usPerOp / 1e3, ms(plain),
                    tokens / (piped.usPerOp * 1e-6), ratio(plain, piped)));
        }
        // continuous batching against the prompts one after another, same run (BatcherBench)
        header = false;
        for (Row batched : rows) {
            if (!batched.bench.equals("batcher")) continue;
            Row alone = by.get(key("oneByOne", batched.params)), uniform = by.get(key("uniformBatch", batched.params));
            if (!header) out.append("\n| 4 prompts x " + BatcherBench.NEW_TOKENS + " tokens | continuous batch ms | one by one ms | one prompt length, one batch ms"
                    + " | one by one / batch |\n|---|---|---|---|---|\n");
            header = true;
            out.append(String.format(Locale.ROOT, "| %s on %s | %.2f | %s | %s | %s |%n", batched.p("model"), batched.p("device"), batched.usPerOp / 1e3, ms(alone),
                    ms(uniform), ratio(alone, batched)));
        }
        // prefix reuse: the prompt's prefix held by the slot, against the whole prompt run (BatcherBench)
        header = false;
        for (Row warm : rows) {
            if (!warm.bench.equals("sharedPrefix")) continue;
            Row cold = by.get(key("sharedPrefixCold", warm.params));
            if (!header) out.append("\n| 40-token prefix + 1, 4 new tokens | prefix reused ms | whole prompt run ms | run / reused |\n|---|---|---|---|\n");
            header = true;
            out.append(String.format(Locale.ROOT, "| %s on %s | %.2f | %s | %s |%n", warm.p("model"), warm.p("device"), warm.usPerOp / 1e3, ms(cold), ratio(cold, warm)));
        }
        if (out.length() > 0) out.append('\n');
        return out.toString();
    }

    private static String us(Row r) {
        return r == null ? "n/a" : String.format(Locale.ROOT, "%.1f", r.usPerOp);
    }

    private static String ms(Row r) {
        return r == null ? "n/a" : String.format(Locale.ROOT, "%.3f", r.usPerOp / 1e3);
    }

    /** How many times slower {@code slow} is than {@code fast}, or n/a when either did not run. */
    private static String ratio(Row slow, Row fast) {
        return slow == null || fast == null ? "n/a" : String.format(Locale.ROOT, "%.2f", slow.usPerOp / fast.usPerOp);
    }

    /** The bytes of cache an MLA decode row read: batch x len entries of latent 512 + rope 64, 4 or 2 bytes each. */
    static double mlaCacheBytes(Row r) {
        return Double.parseDouble(r.p("batch")) * Double.parseDouble(r.p("len")) * (512 + 64) * (r.p("cache").equals("F32") ? 4 : 2);
    }

    /**
     * Every byte an MLA decode row must move, as FlashMLA's own benchmark (tests/test_flash_mla.py)
     * counts an MLA decode's bandwidth: the cache, plus the queries read (batch x heads x 576, F32
     * in GpuBench) and the outputs written (batch x heads x 512, F32). Not the partials of the splits,
     * which are the kernel's own choice.
     */
    static double mlaBytesMoved(Row r) {
        return mlaCacheBytes(r) + Double.parseDouble(r.p("batch")) * Double.parseDouble(r.p("heads")) * (576 + 512) * 4;
    }

    /** The GB/s of cache an MLA decode row read. */
    private static double mlaGbs(Row r) {
        return gbs(mlaCacheBytes(r), r);
    }

    /** An MLA decode row's fraction of the copy bandwidth, or n/a without the row. */
    private static String fraction(Row r, double copyBw) {
        return r == null ? "n/a" : String.format(Locale.ROOT, "%.2f", mlaGbs(r) / copyBw);
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.1f", v);
    }

    private static double gflops(double flops, Row r) {
        return flops / (r.usPerOp * 1e-6) / 1e9;
    }

    private static double gbs(double bytes, Row r) {
        return r == null ? Double.NaN : gbsIn(bytes, r.usPerOp);
    }

    /** GB/s of {@code bytes} moved in {@code us} microseconds. */
    private static double gbsIn(double bytes, double us) {
        return bytes / (us * 1e-6) / 1e9;
    }

    /** GpuBench's row of {@code bench} for dtype {@code dt} run along {@code path} (a row without the gemm parameter ran cuBLAS). */
    private static Row gemmRow(Map<String, Row> by, String bench, String dt, String path) {
        Row r = by.get(key(bench, Map.of("dtype", dt, "gemm", path)));
        return r != null || !path.equals("cublas") ? r : by.get(key(bench, Map.of("dtype", dt)));
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
            // every time in microseconds, whatever unit the benchmark reports in
            double us = switch (String.valueOf(pmx.get("scoreUnit"))) {
                case "ns/op" -> 1e-3;
                case "us/op" -> 1;
                case "ms/op" -> 1e3;
                case "s/op" -> 1e6;
                default -> throw new IllegalArgumentException(b + ": expected a time per op, got " + pmx.get("scoreUnit"));
            };
            double err = pmx.get("scoreError") instanceof Number n ? n.doubleValue() * us : Double.NaN;
            // GpuBench.GpuTime's counters, each summed over the iterations: nanoseconds over launches
            double gpuUs = Double.NaN;
            if (m.get("secondaryMetrics") instanceof Map<?, ?> sec && sec.get("gpuNanos") instanceof Map<?, ?> nanos
                    && sec.get("gpuLaunches") instanceof Map<?, ?> launches && launches.get("score") instanceof Number n && n.doubleValue() > 0) {
                gpuUs = ((Number) nanos.get("score")).doubleValue() / n.doubleValue() / 1e3;
            }
            return new Row(b, params, ((Number) pmx.get("score")).doubleValue() * us, err, gpuUs);
        }).toList();
    }
}
