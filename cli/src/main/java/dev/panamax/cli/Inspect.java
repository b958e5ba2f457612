package dev.panamax.cli;

import dev.panamax.runtime.io.Checkpoint;
import dev.panamax.runtime.io.ConfigJson;
import dev.panamax.runtime.io.TensorInfo;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * {@code panamax inspect PATH}: tensors and config of a safetensors file or checkpoint folder, and
 * the folder's tokenizer (its size, BOS and EOS, or why it cannot be read).
 */
final class Inspect {
    private Inspect() {
    }

    /** Config fields shown first when present. */
    static final List<String> MAIN_FIELDS = List.of("model_type", "architectures", "vocab_size", "hidden_size",
            "intermediate_size", "moe_intermediate_size", "num_hidden_layers", "num_attention_heads", "q_lora_rank",
            "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "n_routed_experts", "n_shared_experts",
            "num_experts_per_tok", "n_group", "topk_group", "topk_method", "scoring_func", "norm_topk_prob",
            "routed_scaling_factor", "first_k_dense_replace", "rms_norm_eps", "rope_theta", "rope_scaling",
            "max_position_embeddings", "torch_dtype", "quantization_config");

    static int run(String[] args, PrintStream out) {
        if (args.length != 1) throw new Main.UsageException("expected one PATH (a .safetensors file or a checkpoint folder)");
        Path path = Path.of(args[0]);
        if (!Files.exists(path)) throw new IllegalArgumentException(path + ": no such file or folder");
        try (Checkpoint ck = Checkpoint.open(path)) {
            ConfigJson cfg = ck.config();
            if (cfg != null) {
                out.println("config: " + cfg.source());
                for (String f : MAIN_FIELDS) {
                    if (cfg.has(f)) out.printf("  %-24s %s%n", f, dev.panamax.runtime.io.Json.write(cfg.raw(f)));
                }
            }
            if (Files.isRegularFile(path.resolve("tokenizer.json"))) out.println(tokenizer(path));
            List<String> names = ck.names();
            int width = Math.max(4, names.stream().mapToInt(String::length).max().orElse(4));
            out.printf("%-" + width + "s  %-7s  %-20s  %s%n", "name", "dtype", "shape", "bytes");
            long total = 0;
            for (String n : names) {
                TensorInfo t = ck.info(n);
                out.printf("%-" + width + "s  %-7s  %-20s  %d%n", n, t.dtype().safetensorsName(), Arrays.toString(t.shape()), t.byteSize());
                total += t.byteSize();
            }
            out.printf("%d tensors, %d bytes in %d file(s)%n", names.size(), total, ck.files().size());
        }
        return 0;
    }

    static String tokenizer(Path dir) {
        try {
            dev.panamax.moe.text.HfTokenizer tok = dev.panamax.moe.text.HfTokenizer.load(dir);
            StringBuilder sb = new StringBuilder("tokenizer: " + tok.source() + ", " + tok.vocabSize() + " tokens");
            tok.bosId().ifPresent(id -> sb.append(", BOS ").append(tok.token(id).orElse("?")).append(" (").append(id).append(')'));
            tok.eosId().ifPresent(id -> sb.append(", EOS ").append(tok.token(id).orElse("?")).append(" (").append(id).append(')'));
            return sb.toString();
        } catch (IllegalArgumentException e) {
            return "tokenizer: cannot be read: " + e.getMessage();
        }
    }
}
