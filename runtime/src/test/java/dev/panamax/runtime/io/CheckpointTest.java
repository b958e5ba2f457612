package dev.panamax.runtime.io;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Checkpoint folders: the shared reference checkpoints, and sharded ones with an index. */
@org.junit.jupiter.api.extension.ExtendWith(dev.panamax.runtime.ScopePerTest.class)
class CheckpointTest {
    @TempDir
    Path dir;
    static Path referenceRoot() {
        Path root = Path.of(System.getProperty("panamax.root", "..")).toAbsolutePath();
        for (Path p : new Path[]{root.resolve("../shared/reference"), Path.of("../../shared/reference").toAbsolutePath(), Path.of("../shared/reference").toAbsolutePath()}) {
            if (Files.isDirectory(p)) return p.normalize();
        }
        throw new IllegalStateException("../shared/reference not found from " + root);
    }

    @Test
    void opensTheReferenceCheckpointsAndTheirConfigs() throws IOException {
        try (var cases = Files.list(referenceRoot().resolve("deepseek_v3"))) {
            for (Path c : cases.filter(Files::isDirectory).toList()) {
                try (Checkpoint ck = Checkpoint.open(c)) {
                    int hidden = ck.config().requireInt("hidden_size");
                    int vocab = ck.config().requireInt("vocab_size");
                    Tensor emb = ck.tensor("model.embed_tokens.weight");
                    assertThat(emb.dims()).containsExactly(vocab, hidden);
                    assertThat(emb.dtype()).isEqualTo(DType.F32);
                    assertThat(ck.names()).contains("lm_head.weight", "model.norm.weight");
                }
            }
        }
    }

    @Test
    void shardedCheckpointsFollowTheIndex() throws IOException {
        Tensor a = Tensor.randn(DType.F32, 1, 1, 2, 3), b = Tensor.randn(DType.F32, 2, 1, 5).to(DType.BF16);
        Safetensors.write(dir.resolve("model-00001-of-00002.safetensors"), Map.of("a", a), Map.of());
        Safetensors.write(dir.resolve("model-00002-of-00002.safetensors"), Map.of("b", b), Map.of());
        Files.writeString(dir.resolve(Checkpoint.INDEX), "{\"metadata\":{\"total_size\":44},\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00002-of-00002.safetensors\"}}");
        Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": 3}");
        try (Checkpoint ck = Checkpoint.open(dir)) {
            assertThat(ck.names()).containsExactlyInAnyOrder("a", "b");
            assertThat(ck.tensor("a").toFloatArray()).containsExactly(a.toFloatArray());
            assertThat(ck.tensor("b").toFloatArray()).containsExactly(b.toFloatArray());
            assertThat(ck.config().requireInt("hidden_size")).isEqualTo(3);
        }
        Files.writeString(dir.resolve(Checkpoint.INDEX), "{\"weight_map\":{\"a\":\"model-00002-of-00002.safetensors\"}}");
        assertThatThrownBy(() -> Checkpoint.open(dir)).isInstanceOf(SafetensorsFormatException.class).hasMessageContaining("\"a\"").hasMessageContaining("missing from the shard");
        Files.writeString(dir.resolve(Checkpoint.INDEX), "{\"weight_map\":{\"a\":\"../etc/passwd\"}}");
        assertThatThrownBy(() -> Checkpoint.open(dir)).hasMessageContaining("plain file name");
        Files.writeString(dir.resolve(Checkpoint.INDEX), "{\"weight_map\":{\"a\":\"nope.safetensors\"}}");
        assertThatThrownBy(() -> Checkpoint.open(dir)).hasMessageContaining("does not exist");
        assertThatThrownBy(() -> Checkpoint.open(dir.resolve("missing"))).hasMessageContaining("no such file");
    }
}
