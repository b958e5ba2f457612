package dev.panamax.moe;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.io.Safetensors;
import dev.panamax.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Checkpoints are checked against the config before use; BF16 and F16 checkpoints load and run in their storage dtype. */
class CheckpointValidationTest {
    @Test
    void missingUnexpectedAndMisShapedTensorsAreListed(@TempDir Path dir) throws Exception {
        Path src = GenerationTest.firstCase();
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        try (Scope s = Scope.open(); SafetensorsFile f = SafetensorsFile.open(src.resolve("model.safetensors"))) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            for (String n : f.names()) m.put(n, f.tensor(n));
            m.remove("model.norm.weight");
            m.put("model.layers.0.self_attn.extra.weight", Tensor.zeros(DType.F32, 2));
            m.put("lm_head.weight", Tensor.zeros(DType.F32, 3, 3));
            m.put("model.layers.99.mtp.weight", Tensor.zeros(DType.F32, 1));   // a multi-token-prediction layer: ignored
            Safetensors.write(dir.resolve("model.safetensors"), m, Map.of());
        }
        assertThatThrownBy(() -> DeepSeekModel.load(dir, false))
                .hasMessageContaining("missing: [model.norm.weight]")
                .hasMessageContaining("unexpected: [model.layers.0.self_attn.extra.weight]")
                .hasMessageContaining("lm_head.weight (expected [256, 64], got [3, 3])");
        Files.writeString(dir.resolve("config.json"), Files.readString(src.resolve("config.json")).replace("\"kv_lora_rank\": 32,", ""));
        assertThatThrownBy(() -> DeepSeekModel.load(dir, false)).hasMessageContaining("config.json").hasMessageContaining("kv_lora_rank");
    }

    @Test
    void halfPrecisionCheckpointsRunInTheirStorageDtype(@TempDir Path dir) throws Exception {
        Path src = GenerationTest.firstCase();
        for (DType dt : new DType[]{DType.BF16, DType.F16}) {
            Path d = Files.createDirectories(dir.resolve(dt.name()));
            Files.copy(src.resolve("config.json"), d.resolve("config.json"));
            try (Scope s = Scope.open(); SafetensorsFile f = SafetensorsFile.open(src.resolve("model.safetensors"))) {
                Map<String, Tensor> m = new LinkedHashMap<>();
                for (String n : f.names()) m.put(n, f.tensor(n).to(dt));
                Safetensors.write(d.resolve("model.safetensors"), m, Map.of());
            }
            try (Scope s = Scope.open(); DeepSeekModel full = DeepSeekModel.load(src, false); DeepSeekModel half = DeepSeekModel.load(d, false)) {
                assertThat(half.stateDict().get("lm_head.weight").dtype()).isEqualTo(dt);
                Tensor ids = Tensor.ofLongs(new long[]{1, 5, 9, 200}, 1, 4);
                float[] a = full.forward(ids, 0, null, Mla.ABSORBED, false, null).toFloatArray();
                float[] b = half.forward(ids, 0, null, Mla.ABSORBED, false, null).toFloatArray();
                double err = 0;
                for (int i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
                assertThat(err).as("%s logits vs F32", dt).isLessThan(dt == DType.BF16 ? 0.1 : 0.02).isGreaterThan(0);
            }
        }
    }
}
