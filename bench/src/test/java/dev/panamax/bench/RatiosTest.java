package dev.panamax.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The GPU tables of bench/RESULTS.md from a JMH JSON result in JMH's own layout: every rate is the
 * operation count over the time, in the unit the benchmark reported, and every ratio is the
 * baseline's time over ours. The expected numbers are worked out here from the definitions.
 */
class RatiosTest {
    private static String row(String bench, String params, double score, String unit) {
        return String.format(Locale.ROOT,
                "{\"benchmark\":\"dev.panamax.bench.%s\",\"mode\":\"avgt\",\"params\":{%s},"
                        + "\"primaryMetric\":{\"score\":%s,\"scoreError\":0.5,\"scoreUnit\":\"%s\"}}", bench, params, score, unit);
    }

    /** A row with GpuBench.GpuTime's counters as JMH writes them: each summed over the iterations. */
    private static String timedRow(String bench, String params, double score, String unit, double gpuNanos, double gpuLaunches) {
        String r = row(bench, params, score, unit);
        return r.substring(0, r.length() - 1) + String.format(Locale.ROOT, ",\"secondaryMetrics\":{\"gpuLaunches\":{\"score\":%s,\"scoreUnit\":\"#\"},"
                + "\"gpuNanos\":{\"score\":%s,\"scoreUnit\":\"#\"}}}", gpuLaunches, gpuNanos);
    }

    /**
     * Where the rows carry the GPU's own times (CUDA events), the MLA decode's fractions of the copy
     * are also computed from those, against the copy timed alike; rows without them are left out.
     */
    @Test
    void mlaByTheGpusTimeDividesItsNanosecondsByItsLaunches(@TempDir Path dir) throws IOException {
        Path jmh = dir.resolve("gpu.json");
        Files.writeString(jmh, "[" + String.join(",", List.of(
                timedRow("GpuBench.deviceCopy", "", 1, "ms/op", 21 * 800e3, 21),   // 0.8 ms a copy by the events
                timedRow("GpuBench.mlaDecode", "\"batch\":\"64\",\"cache\":\"BF16\",\"heads\":\"16\",\"len\":\"1024\"", 50, "us/op", 35 * 40e3, 35),
                row("GpuBench.mlaDecode", "\"batch\":\"128\",\"cache\":\"BF16\",\"heads\":\"16\",\"len\":\"1024\"", 60, "us/op"))) + "]");
        String tables = Ratios.gpuTables(Ratios.read(jmh), null);
        double copy = 2.0 * (1L << 30) / 800e-6 / 1e9;
        double cache = 64.0 * 1024 * 576 * 2 / 40e-6 / 1e9, all = (64.0 * 1024 * 576 * 2 + 64.0 * 16 * (576 + 512) * 4) / 40e-6 / 1e9;
        assertThat(tables).contains(String.format(Locale.ROOT, "| BF16 | 64 | 16 | 1024 | auto | 50.0 | 40.0 | %.1f | %.2f | %.2f |", copy, cache / copy, all / copy));
        assertThat(tables.substring(tables.indexOf("by the GPU's time"))).doesNotContain("| BF16 | 128 | 16 |");
        // without the copy's events there is nothing to divide by: no such table
        Files.writeString(jmh, "[" + String.join(",", List.of(row("GpuBench.deviceCopy", "", 1, "ms/op"),
                timedRow("GpuBench.mlaDecode", "\"batch\":\"64\",\"cache\":\"BF16\",\"heads\":\"16\",\"len\":\"1024\"", 50, "us/op", 35 * 40e3, 35))) + "]");
        assertThat(Ratios.gpuTables(Ratios.read(jmh), null)).contains("| BF16 | 64 | 16 | 1024 | auto |").doesNotContain("by the GPU's time");
    }

    /**
     * Rows run with pdl=on are set against the same rows with pdl=off: off's time over on's. The
     * MLA table names them, and the whole-model decode table keeps pdl=off's row.
     */
    @Test
    void programmaticLaunchRowsAreSetAgainstTheSameRowsWithout(@TempDir Path dir) throws IOException {
        Path jmh = dir.resolve("gpu.json");
        String shape = "\"batch\":\"64\",\"cache\":\"BF16\",\"heads\":\"16\",\"len\":\"1024\"";
        String decode = "\"device\":\"cuda\",\"dtype\":\"BF16\",\"kvCache\":\"BF16\",";
        Files.writeString(jmh, "[" + String.join(",", List.of(
                row("GpuBench.deviceCopy", "", 1, "ms/op"),
                row("GpuBench.mlaDecode", shape + ",\"pdl\":\"off\"", 48, "us/op"),
                row("GpuBench.mlaDecode", shape + ",\"pdl\":\"on\"", 40, "us/op"),
                row("DeepSeekBench.decodeToken", decode + "\"pdl\":\"off\",\"threads\":\"16\"", 720, "us/op"),
                row("DeepSeekBench.decodeToken", decode + "\"pdl\":\"on\",\"threads\":\"16\"", 600, "us/op"),
                row("DeepSeekBench.decodeTokenGraph", decode + "\"pdl\":\"on\",\"threads\":\"16\"", 500, "us/op"))) + "]");
        String tables = Ratios.gpuTables(Ratios.read(jmh), null);
        assertThat(tables).contains("| mlaDecode | batch=64 cache=BF16 heads=16 len=1024 | 48.0 | 40.0 | 1.20 |")
                .contains("| decodeToken | device=cuda dtype=BF16 kvCache=BF16 threads=16 | 720.0 | 600.0 | 1.20 |")
                .contains("| decodeTokenGraph | device=cuda dtype=BF16 kvCache=BF16 threads=16 | n/a | 500.0 | n/a |")
                .contains("| BF16 | 64 | 16 | 1024 | auto, pdl |").contains("| BF16 | 64 | 16 | 1024 | auto |")
                .contains("| cuda | BF16 | 0.72 |");
    }

    /** BatcherBench's rows: the continuous batch against one by one, and the prefix reused against the whole prompt run. */
    @Test
    void batcherRowsAreSetAgainstTheirBaselines(@TempDir Path dir) throws IOException {
        Path jmh = dir.resolve("batch.json");
        String p = "\"device\":\"cuda\",\"model\":\"v2lite\"";
        Files.writeString(jmh, "[" + String.join(",", List.of(
                row("BatcherBench.batcher", p, 100, "ms/op"), row("BatcherBench.oneByOne", p, 250, "ms/op"), row("BatcherBench.uniformBatch", p, 90, "ms/op"),
                row("BatcherBench.sharedPrefix", p, 20, "ms/op"), row("BatcherBench.sharedPrefixCold", p, 50, "ms/op"))) + "]");
        String tables = Ratios.gpuTables(Ratios.read(jmh), null);
        assertThat(tables).contains("| v2lite on cuda | 100.00 | 250.000 | 90.000 | 2.50 |").contains("| v2lite on cuda | 20.00 | 50.000 | 2.50 |");
    }

    @Test
    void gpuTablesComputeRatesAndRatiosFromTheirDefinitions(@TempDir Path dir) throws IOException {
        Path jmh = dir.resolve("gpu.json"), torch = dir.resolve("torch.json");
        Files.writeString(jmh, "[" + String.join(",", List.of(
                row("GpuBench.gemm", "\"dtype\":\"BF16\",\"n\":\"8192\"", 2000, "us/op"),
                row("GpuBench.gemm", "\"dtype\":\"BF16\",\"gemm\":\"tune\",\"n\":\"8192\"", 1600, "us/op"),
                row("GpuBench.gemm", "\"dtype\":\"F32\",\"gemm\":\"lt\",\"n\":\"8192\"", 20, "ms/op"),
                row("GpuBench.deviceCopy", "", 1, "ms/op"),
                row("GpuBench.mlaDecode", "\"batch\":\"64\",\"cache\":\"F32\",\"heads\":\"16\",\"len\":\"1024\"", 100, "us/op"),
                row("GpuBench.mlaDecode", "\"batch\":\"128\",\"cache\":\"BF16\",\"heads\":\"128\",\"len\":\"8192\",\"mla\":\"mla_decode_ks64\"", 400, "us/op"),
                row("GpuBench.mlaDecode", "\"batch\":\"128\",\"cache\":\"BF16\",\"heads\":\"128\",\"len\":\"8192\"", 800, "us/op"),
                row("GpuBench.mlaDecode", "\"batch\":\"128\",\"cache\":\"BF16\",\"heads\":\"128\",\"len\":\"8192\",\"mla\":\"mla_decode_wg64\"", 500, "us/op"),
                row("GpuBench.mlaDecode", "\"batch\":\"128\",\"cache\":\"BF16\",\"heads\":\"128\",\"len\":\"8192\",\"merge\":\"tail\",\"mla\":\"mla_decode_wg64\"", 450, "us/op"),
                row("GpuBench.mlaDecode", "\"batch\":\"128\",\"cache\":\"BF16\",\"heads\":\"128\",\"len\":\"8192\",\"mla\":\"mla_decode_wg64\",\"splits\":\"1\"", 480, "us/op"),
                row("GpuBench.mlaDecode", "\"batch\":\"128\",\"cache\":\"BF16\",\"heads\":\"128\",\"len\":\"8192\",\"mla\":\"tune\"", 410, "us/op"),
                row("GpuBench.batchedMatmul", "\"dtype\":\"F32\"", 500, "us/op"),
                row("GpuBench.perItemMatmul", "\"dtype\":\"F32\"", 2, "ms/op"),
                row("GpuBench.batchedMatmul", "\"dtype\":\"BF16\",\"gemm\":\"lt\"", 250, "us/op"),
                row("GpuBench.perItemMatmul", "\"dtype\":\"BF16\",\"gemm\":\"lt\"", 1, "ms/op"),
                row("DeepSeekBench.decodeToken", "\"device\":\"cuda\",\"dtype\":\"BF16\",\"kvCache\":\"F32\",\"threads\":\"16\"", 4, "ms/op"),
                row("DeepSeekBench.decodeToken", "\"device\":\"cpu\",\"dtype\":\"BF16\",\"kvCache\":\"F32\",\"threads\":\"16\"", 100, "ms/op"),
                row("DeepSeekBench.decodeToken", "\"device\":\"cuda\",\"dtype\":\"BF16\",\"kvCache\":\"BF16\",\"threads\":\"16\"", 2, "ms/op"),
                row("DeepSeekBench.decodeTokenGraph", "\"device\":\"cuda\",\"dtype\":\"BF16\",\"kvCache\":\"BF16\",\"threads\":\"16\"", 500, "us/op"),
                row("DeepSeekBench.decodeTokenGraph", "\"device\":\"cpu\",\"dtype\":\"BF16\",\"kvCache\":\"BF16\",\"threads\":\"16\"", 90, "ms/op"),
                row("DeepSeekBench.moeForward", "\"device\":\"cuda\",\"tokens\":\"1\"", 100, "us/op"),
                row("DeepSeekBench.moeGrouped", "\"device\":\"cuda\",\"tokens\":\"1\"", 250, "us/op"),
                row("DeepSeekBench.moePerExpert", "\"device\":\"cuda\",\"tokens\":\"1\"", 1, "ms/op"),
                row("DeepSeekBench.moeGrouped", "\"device\":\"cuda\",\"tokens\":\"64\"", 2, "ms/op"),
                row("DeepSeekBench.moePerExpert", "\"device\":\"cuda\",\"tokens\":\"64\"", 3, "ms/op"),
                row("GrpoLossBench.loss", "\"vocab\":\"32000\"", 6, "ms/op"),
                row("GrpoLossBench.logitsCopy", "\"vocab\":\"32000\"", 1500, "us/op"),
                row("DeviceSamplingBench.drawOnDevice", "\"vocab\":\"102400\"", 40, "us/op"),
                row("DeviceSamplingBench.logitsReadBack", "\"vocab\":\"102400\"", 400, "us/op"),
                row("DeviceSamplingBench.drawOnHost", "\"vocab\":\"102400\"", 4, "ms/op"),
                row("DeviceSamplingBench.argmaxOnDevice", "\"vocab\":\"102400\"", 25, "us/op"),
                row("DeviceSamplingBench.drawTopKOnDevice", "\"vocab\":\"102400\"", 50, "us/op"),
                row("DeviceSamplingBench.drawTopKOnHost", "\"vocab\":\"102400\"", 1, "ms/op"),
                row("DeviceSamplingBench.drawTopPOnDevice", "\"vocab\":\"102400\"", 80, "us/op"),
                row("DeviceSamplingBench.drawTopPOnHost", "\"vocab\":\"102400\"", 4, "ms/op"),
                row("DeviceIndexingBench.onDevice", "\"op\":\"gather\"", 50, "us/op"),
                row("DeviceIndexingBench.throughHost", "\"op\":\"gather\"", 20, "ms/op"),
                row("DeviceIndexingBench.onDevice", "\"op\":\"where\"", 80, "us/op"),
                row("GenerateBench.pipelined", "\"batch\":\"8\"", 64, "ms/op"),
                row("GenerateBench.plain", "\"batch\":\"8\"", 80000, "us/op"),
                row("GenerateBench.pipelined", "\"batch\":\"1\"", 40, "ms/op"))) + "]");
        Files.writeString(torch, "[{\"dtype\":\"BF16\",\"n\":8192,\"ms\":1.6}]");
        String tables = Ratios.gpuTables(Ratios.read(jmh), torch);

        double flops = 2.0 * 8192 * 8192 * 8192;
        String ours = String.format(Locale.ROOT, "%.1f", flops / 2000e-6 / 1e12), theirs = String.format(Locale.ROOT, "%.1f", flops / 1.6e-3 / 1e12);
        String cublasRow = "| BF16 | 8192 | cublas | " + ours + " | " + theirs + " | 0.80 |";
        String tuneRow = "| BF16 | 8192 | tune | " + theirs + " | " + theirs + " | 1.00 |";
        String ltF32 = String.format(Locale.ROOT, "| F32 | 8192 | lt | %.1f | n/a | n/a |", flops / 20e-3 / 1e12);   // no torch F32 anchor
        assertThat(tables).contains(cublasRow, tuneRow, ltF32);
        // F32 before BF16, and each size's paths in the order cublas, lt, tune
        assertThat(tables.indexOf(ltF32)).isLessThan(tables.indexOf(cublasRow));
        assertThat(tables.indexOf(cublasRow)).isLessThan(tables.indexOf(tuneRow));

        double copy = 2.0 * (1L << 30) / 1e-3 / 1e9, mla = 64.0 * 1024 * (512 + 64) * 4 / 100e-6 / 1e9;
        // the cache alone, then with FlashMLA's count: F32 queries (576 a head) and outputs (512 a head) besides
        double mlaAll = (64.0 * 1024 * (512 + 64) * 4 + 64.0 * 16 * (576 + 512) * 4) / 100e-6 / 1e9;
        assertThat(tables).contains(String.format(Locale.ROOT, "| F32 | 64 | 16 | 1024 | auto | %.0f | %.1f | %.2f | %.0f | %.2f |", mla, copy, mla / copy,
                mlaAll, mlaAll / copy));
        double mlaBf16 = 128.0 * 8192 * (512 + 64) * 2 / 800e-6 / 1e9;   // two bytes an entry
        String auto = String.format(Locale.ROOT, "| BF16 | 128 | 128 | 8192 | auto | %.0f | %.1f | %.2f |", mlaBf16, copy, mlaBf16 / copy);
        String ks64 = String.format(Locale.ROOT, "| BF16 | 128 | 128 | 8192 | mla_decode_ks64 | %.0f | %.1f | %.2f |", 2 * mlaBf16, copy, 2 * mlaBf16 / copy);
        // one row per kernel, the default first; F32 before BF16; a merge other than the default named beside its kernel
        assertThat(tables).contains(auto, ks64, String.format(Locale.ROOT, "| BF16 | 128 | 128 | 8192 | mla_decode_wg64, tail merge | %.0f |", mlaBf16 * 800 / 450),
                String.format(Locale.ROOT, "| BF16 | 128 | 128 | 8192 | mla_decode_wg64, 1 split | %.0f |", mlaBf16 * 800 / 480));
        assertThat(tables.indexOf(auto)).isLessThan(tables.indexOf(ks64)).isGreaterThan(tables.indexOf("| F32 | 64 | 16 | 1024 |"));
        // where kernels were compared, the fastest named one (ks64 at 400 us, not wg64 at 500 nor tune at 410) against auto and tune;
        // the F32 shape ran auto alone, so it has no row there
        assertThat(tables).contains(String.format(Locale.ROOT, "| BF16 | 128 | 128 | 8192 | mla_decode_ks64 | %.2f | %.2f | %.2f |",
                2 * mlaBf16 / copy, mlaBf16 / copy, mlaBf16 * 800 / 410 / copy));
        assertThat(tables.substring(tables.indexOf("fastest named kernel"))).doesNotContain("| F32 | 64 | 16 |");

        double batched = 2.0 * 128 * 512 * 512 * 192 / 500e-6 / 1e12, perItem = 2.0 * 128 * 512 * 512 * 192 / 2e-3 / 1e12;
        // rows without the gemm parameter ran cuBLAS
        assertThat(tables).contains(String.format(Locale.ROOT, "| F32 | cublas | %.1f | %.1f | 4.00 |", batched, perItem))
                .contains(String.format(Locale.ROOT, "| BF16 | lt | %.1f | %.1f | 4.00 |", 2 * batched, 2 * perItem));

        assertThat(tables).contains("| cuda | F32 | 4.00 | 250.0 | 25.0x |").contains("| cpu, 16 threads | F32 | 100.00 | 10.0 | |")
                .contains("| cuda | BF16 | 2.00 | 500.0 | n/a |");   // no CPU row for the BF16 cache: no ratio
        // a graph's decode step against the kernel-by-kernel one on the same GPU (the CPU's graph row has no table)
        assertThat(tables).contains("| cuda | BF16 | BF16 | 2.000 | 0.500 | 4.00 |").doesNotContain("| cpu | BF16 | BF16 |");
        // the MoE layer: MoE.forward against the grouped products, and those against one product per expert
        assertThat(tables).contains("| 1 | 0.100 | 0.250 | 1.000 | 2.50 | 4.00 |").contains("| 64 | n/a | 2.000 | 3.000 | n/a | 1.50 |");
        // GRPO's loss against one copy of its logits, both in ms
        assertThat(tables).contains("| V = 32000 | 6.000 | 1.500 | 4.00 |");
        assertThat(tables).contains("| V = 102400 | 40.0 | 25.0 | 400.0 | 4000.0 | 0.10 | 100.00 |");
        assertThat(tables).contains("| V = 102400 | 50.0 | 400.0 | 1000.0 | 0.13 | 20.00 |");
        assertThat(tables).contains("| top-p 0.95 alone, 8 rows on the GPU |").contains("| V = 102400 | 80.0 | 400.0 | 4000.0 | 0.20 | 50.00 |");
        // an indexing op's one kernel against its old route through the host (where's baseline did not run: n/a)
        assertThat(tables).contains("| gather | 50.0 | 20000.0 | 400.00 |").contains("| where | 80.0 | n/a | n/a |");
        // generation pipelined against the plain loop: 8 x 32 tokens in 64 ms is 4,000 tokens/s
        assertThat(tables).contains("| batch 8 | 64.00 | 80.000 | 4000.0 | 1.25 |").contains("| batch 1 | 40.00 | n/a | 800.0 | n/a |");
        assertThat(tables).doesNotContain("| F32 | 4096").doesNotContain("| F32 | 128 | 128 |");   // rows not measured are left out
    }

    @Test
    void aResultWithoutGpuRowsHasNoGpuTables(@TempDir Path dir) throws IOException {
        Path jmh = dir.resolve("cpu.json");
        Files.writeString(jmh, "[" + row("MatmulBench.sgemm", "\"n\":\"512\",\"threads\":\"1\"", 3, "ms/op") + "]");
        assertThat(Ratios.gpuTables(Ratios.read(jmh), null)).isEmpty();
    }
}
