package dev.panamax.moe;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Fp8;
import dev.panamax.runtime.Half;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.io.Safetensors;
import dev.panamax.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * FP8 checkpoints in DeepSeek-V3's layout: every reference case's linear weights quantised to
 * E4M3 in blocks with F32 {@code weight_scale_inv} (scale = the block's largest magnitude / 448, as
 * DeepSeek quantises), loaded, and compared with a plain loop over the stored codes
 * ({@code code value x its block's scale}). The codec itself is held to CUDA's in Fp8Test.
 */
class Fp8CheckpointTest {
    private static final int BR = 16, BC = 32;   // blocks that split the tiny models' dims, with ragged edges

    /** Whether a checkpoint stores this weight in FP8: the linear layers, as DeepSeek-V3's release does. */
    static boolean quantisable(String name, long[] shape) {
        return shape.length == 2 && name.startsWith("model.layers.") && !name.endsWith("mlp.gate.weight");
    }

    private static String config(Path src, String quantisation) throws IOException {
        String cfg = Files.readString(src.resolve("config.json")).trim();
        return quantisation == null ? cfg : cfg.substring(0, cfg.lastIndexOf('}')) + ", \"quantization_config\": " + quantisation + "}";
    }

    static String fp8Config(int br, int bc) {
        return "{\"activation_scheme\": \"dynamic\", \"fmt\": \"e4m3\", \"quant_method\": \"fp8\", \"weight_block_size\": [" + br + ", " + bc + "]}";
    }

    /** Writes {@code src} as an FP8 checkpoint into {@code dir}; returns each quantised weight's dequantised values (the plain loop). */
    static Map<String, float[]> writeFp8(Path src, Path dir, int br, int bc) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), config(src, fp8Config(br, bc)));
        Map<String, float[]> dequantised = new LinkedHashMap<>();
        try (Scope s = Scope.open(); SafetensorsFile f = SafetensorsFile.open(src.resolve("model.safetensors"))) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (String n : f.names()) {
                Tensor w = f.tensor(n);
                if (!quantisable(n, w.dims())) {
                    out.put(n, w);
                    continue;
                }
                int rows = (int) w.dim(0), cols = (int) w.dim(1), sr = Math.ceilDiv(rows, br), sc = Math.ceilDiv(cols, bc);
                float[] x = w.to(DType.F32).toFloatArray(), scales = new float[sr * sc], deq = new float[x.length];
                byte[] codes = new byte[x.length];
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < cols; j++) {
                        int b = i / br * sc + j / bc;
                        scales[b] = Math.max(scales[b], Math.abs(x[i * cols + j]) / 448f);
                    }
                }
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < cols; j++) {
                        float scale = scales[i / br * sc + j / bc];
                        codes[i * cols + j] = Fp8.floatToE4m3(scale == 0 ? 0 : x[i * cols + j] / scale);
                        deq[i * cols + j] = Fp8.e4m3ToFloat(codes[i * cols + j]) * scale;
                    }
                }
                Tensor q = Tensor.zeros(DType.F8_E4M3, rows, cols);
                java.lang.foreign.MemorySegment.copy(codes, 0, q.segment(), ValueLayout.JAVA_BYTE, 0, codes.length);
                out.put(n, q);
                out.put(n + Fp8Quantization.SCALE_SUFFIX, Tensor.of(scales, sr, sc));
                dequantised.put(n, deq);
            }
            Safetensors.write(dir.resolve("model.safetensors"), out, Map.of());
        }
        return dequantised;
    }

    static List<Path> cases() throws IOException {
        try (Stream<Path> s = Files.list(DeepSeekReferenceTest.casesRoot())) {
            return s.filter(d -> Files.isRegularFile(d.resolve("config.json"))).sorted().toList();
        }
    }

    @TestFactory
    Stream<DynamicTest> everyReferenceCaseLoadsFromFp8(@TempDir Path tmp) throws IOException {
        List<Path> cases = cases();
        assertThat(cases).isNotEmpty();
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.getFileName().toString(), () -> checkCase(c, tmp.resolve(c.getFileName()))));
    }

    private static void checkCase(Path src, Path dir) throws IOException {
        Map<String, float[]> deq = writeFp8(src, dir, BR, BC);
        assertThat(deq).isNotEmpty();
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
            assertThat(f.info(deq.keySet().iterator().next()).dtype()).isEqualTo(DType.F8_E4M3);
        }
        try (Scope s = Scope.open(); DeepSeekModel train = DeepSeekModel.load(dir, true); DeepSeekModel infer = DeepSeekModel.load(dir, false);
             DeepSeekModel emulated = DeepSeekModel.load(dir, false, Device.EMULATED); DeepSeekModel f32 = DeepSeekModel.load(src, false)) {
            Map<String, Tensor> t = train.stateDict(), b = infer.stateDict(), e = emulated.stateDict(), ref = f32.stateDict();
            for (Map.Entry<String, Tensor> w : ref.entrySet()) {
                String n = w.getKey();
                float[] want = deq.get(n);
                if (want == null) {   // stored as it was
                    assertThat(t.get(n).toFloatArray()).as(n).containsExactly(w.getValue().toFloatArray());
                    continue;
                }
                assertThat(t.get(n).dtype()).isEqualTo(DType.F32);
                assertThat(t.get(n).toFloatArray()).as("%s dequantised to F32", n).containsExactly(want);
                assertThat(b.get(n).dtype()).as(n).isEqualTo(DType.BF16);
                float[] bf = b.get(n).toFloatArray(), em = e.get(n).to(Device.CPU).toFloatArray();
                for (int i = 0; i < want.length; i++) {
                    float r = Half.bf16ToFloat(Half.floatToBf16(want[i]));
                    assertThat(bf[i]).as("%s[%d] dequantised to BF16", n, i).isEqualTo(r);
                    assertThat(em[i]).as("%s[%d] on the emulated device", n, i).isEqualTo(r);
                }
            }
            // the FP8 model runs exactly as an F32 checkpoint of the plain loop's values does
            Path plain = dir.resolveSibling(dir.getFileName() + "-dequantised");
            Files.createDirectories(plain);
            Files.writeString(plain.resolve("config.json"), config(src, null));
            Map<String, Tensor> values = new LinkedHashMap<>();
            for (Map.Entry<String, Tensor> w : ref.entrySet()) {
                float[] v = deq.get(w.getKey());
                values.put(w.getKey(), v == null ? w.getValue() : Tensor.of(v, w.getValue().dims()));
            }
            Safetensors.write(plain.resolve("model.safetensors"), values, Map.of());
            try (DeepSeekModel same = DeepSeekModel.load(plain, false); SafetensorsFile exp = SafetensorsFile.open(src.resolve("expected.safetensors"))) {
                Tensor ids = exp.tensor("input_ids");
                float[] got = train.forward(ids, 0, null, Mla.ABSORBED, false, null).toFloatArray();
                assertThat(got).containsExactly(same.forward(ids, 0, null, Mla.ABSORBED, false, null).toFloatArray());
                float[] want = exp.tensor("logits").toFloatArray();
                double err = 0, scale = 0;
                for (int i = 0; i < got.length; i++) {
                    err = Math.max(err, Math.abs(got[i] - want[i]));
                    scale = Math.max(scale, Math.abs(want[i]));
                }
                // information only: 3 mantissa bits move these random tiny models' logits (and routes) a lot
                System.out.printf("%s: FP8 (%d x %d blocks) logits vs the official F32 logits: largest difference %.3g (largest logit %.3g)%n",
                        src.getFileName(), BR, BC, err, scale);
            }
        }
    }

    @Test
    void aShardedFp8CheckpointFindsEachScaleInItsOwnShard(@TempDir Path tmp) throws Exception {
        // DeepSeek-V3's release is sharded; a weight and its scales may sit in different shards
        Path src = GenerationTest.firstCase(), one = tmp.resolve("one"), sharded = tmp.resolve("sharded");
        writeFp8(src, one, BR, BC);
        Files.createDirectories(sharded);
        Files.copy(one.resolve("config.json"), sharded.resolve("config.json"));
        StringBuilder index = new StringBuilder("{\"metadata\": {}, \"weight_map\": {");
        int split = 0;
        try (Scope s = Scope.open(); SafetensorsFile f = SafetensorsFile.open(one.resolve("model.safetensors"))) {
            Map<String, Tensor> a = new LinkedHashMap<>(), b = new LinkedHashMap<>();
            int i = 0;
            for (String n : f.names()) {
                boolean first = i++ % 2 == 0;
                (first ? a : b).put(n, f.tensor(n));
                index.append(i > 1 ? ", " : "").append('"').append(n).append("\": \"").append(first ? "a.safetensors" : "b.safetensors").append('"');
                if (n.endsWith(Fp8Quantization.SCALE_SUFFIX)) {
                    String w = n.substring(0, n.length() - Fp8Quantization.SCALE_SUFFIX.length());
                    if (a.containsKey(w) != first) split++;
                }
            }
            Safetensors.write(sharded.resolve("a.safetensors"), a, Map.of());
            Safetensors.write(sharded.resolve("b.safetensors"), b, Map.of());
        }
        Files.writeString(sharded.resolve("model.safetensors.index.json"), index.append("}}").toString());
        assertThat(split).as("weights whose scales are in the other shard").isPositive();
        try (Scope s = Scope.open(); DeepSeekModel whole = DeepSeekModel.load(one, false); DeepSeekModel parts = DeepSeekModel.load(sharded, false)) {
            Map<String, Tensor> w = whole.stateDict(), p = parts.stateDict();
            assertThat(p.keySet()).isEqualTo(w.keySet());
            for (String n : w.keySet()) assertThat(p.get(n).toFloatArray()).as(n).containsExactly(w.get(n).toFloatArray());
        }
    }

    @Test
    void malformedFp8CheckpointsAreRefusedByName(@TempDir Path tmp) throws Exception {
        Path src = GenerationTest.firstCase();
        Path dir = tmp.resolve("fp8");
        writeFp8(src, dir, BR, BC);
        String name = "model.layers.0.self_attn.kv_a_proj_with_mqa.weight", scale = name + Fp8Quantization.SCALE_SUFFIX;
        Path cfg = dir.resolve("config.json");
        String good = Files.readString(cfg);

        Files.writeString(cfg, config(src, null));
        assertThatThrownBy(() -> DeepSeekModel.load(dir, false)).hasMessageContaining(name).hasMessageContaining("no quantization_config");
        Files.writeString(cfg, config(src, fp8Config(32, 32)));
        assertThatThrownBy(() -> DeepSeekModel.load(dir, false)).hasMessageContaining(name)
                .hasMessageContaining("has shape [3, 2], but blocks of 32 x 32 need [2, 2]");
        Files.writeString(cfg, config(src, fp8Config(BR, BC).replace("e4m3", "e5m2")));
        assertThatThrownBy(() -> DeepSeekModel.load(dir, false)).hasMessageContaining(name).hasMessageContaining("quantization_config says F8_E5M2");
        for (String[] q : new String[][]{
                {fp8Config(BR, BC).replace("\"fp8\"", "\"gptq\""), "quantization_config.quant_method must be fp8"},
                {fp8Config(BR, BC).replace("e4m3", "e3m4"), "quantization_config.fmt must be e4m3 or e5m2"},
                {fp8Config(BR, BC).replace("dynamic", "static"), "quantization_config.activation_scheme must be dynamic"},
                {fp8Config(BR, BC).replace("[16, 32]", "[16]"), "quantization_config.weight_block_size"},
                {fp8Config(BR, BC).replace("[16, 32]", "[0, 32]"), "quantization_config.weight_block_size"},
                {"{\"fmt\": \"e4m3\"}", "quantization_config.quant_method is missing"}}) {
            Files.writeString(cfg, config(src, q[0]));
            assertThatThrownBy(() -> DeepSeekModel.load(dir, false)).hasMessageContaining("config.json").hasMessageContaining(q[1]);
        }
        Files.writeString(cfg, good);

        // a missing scale, a scale of the wrong dtype, and a scale beside a weight that is not FP8
        Path model = dir.resolve("model.safetensors");
        try (Scope s = Scope.open()) {
            Map<String, Tensor> all = new LinkedHashMap<>();
            try (SafetensorsFile f = SafetensorsFile.open(model)) {
                for (String n : f.names()) all.put(n, Tensor.placed(f.tensor(n), Device.CPU, f.tensor(n).dtype()));   // copies: the file is rewritten
            }
            Map<String, Tensor> m = new LinkedHashMap<>(all);
            m.remove(scale);
            m.put("model.norm.weight" + Fp8Quantization.SCALE_SUFFIX, Tensor.ones(DType.F32, 1, 1));
            Safetensors.write(model, m, Map.of());
            assertThatThrownBy(() -> DeepSeekModel.load(dir, false)).hasMessageContaining("missing: [" + scale + "]")
                    .hasMessageContaining("unexpected: [model.norm.weight_scale_inv]");
            m = new LinkedHashMap<>(all);
            m.put(scale, all.get(scale).to(DType.I32));
            Safetensors.write(model, m, Map.of());
            assertThatThrownBy(() -> DeepSeekModel.load(dir, false)).hasMessageContaining(name).hasMessageContaining("is I32; F32, BF16 or F16 expected");
        }
    }
}
