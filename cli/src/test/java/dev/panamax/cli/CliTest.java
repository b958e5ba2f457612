package dev.panamax.cli;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.io.Safetensors;
import dev.panamax.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The panamax command: inspect output, and one clear line with a non-zero status on bad input. */
class CliTest {
    @TempDir
    Path dir;

    record Result(int status, String out, String err) {
    }

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int status = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static Path referenceCase() throws IOException {
        Path root = Path.of(System.getProperty("panamax.root", "..")).toAbsolutePath().normalize();
        try (var s = Files.list(root.resolve("../shared/reference/deepseek_v3").normalize())) {
            return s.filter(Files::isDirectory).sorted().findFirst().orElseThrow();
        }
    }

    @Test
    void inspectListsTensorsAndConfig() throws IOException {
        Result r = run("inspect", referenceCase().toString());
        assertThat(r.status).isZero();
        assertThat(r.out).contains("hidden_size").contains("kv_lora_rank").contains("model_type");
        assertThat(r.out).containsPattern("model\\.embed_tokens\\.weight\\s+F32\\s+\\[256, 64\\]\\s+65536");
        assertThat(r.out).containsPattern("\\d+ tensors, \\d+ bytes in 1 file");
        Result single = run("inspect", referenceCase().resolve("expected.safetensors").toString());
        assertThat(single.status).isZero();
        assertThat(single.out).contains("logits");
    }

    @Test
    void inspectAndGenerateReadAnFp8Checkpoint(@TempDir Path dir) throws IOException {
        // DeepSeek-V3's layout: each linear weight in E4M3 beside its F32 weight_scale_inv, one scale per 128 x 128 block
        Path src = referenceCase();
        String cfg = Files.readString(src.resolve("config.json")).trim();
        Files.writeString(dir.resolve("config.json"), cfg.substring(0, cfg.lastIndexOf('}'))
                + ", \"quantization_config\": {\"quant_method\": \"fp8\", \"fmt\": \"e4m3\", \"weight_block_size\": [128, 128]}}");
        try (Scope s = Scope.open(); SafetensorsFile f = SafetensorsFile.open(src.resolve("model.safetensors"))) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            for (String n : f.names()) {
                Tensor t = f.tensor(n);
                boolean linear = t.rank() == 2 && n.startsWith("model.layers.") && !n.endsWith("mlp.gate.weight");
                m.put(n, linear ? t.mul(64.0).to(DType.F8_E4M3) : t);
                if (linear) m.put(n + "_scale_inv", Tensor.full(DType.F32, 1 / 64.0, (t.dim(0) + 127) / 128, (t.dim(1) + 127) / 128));
            }
            Safetensors.write(dir.resolve("model.safetensors"), m, java.util.Map.of());
        }
        Result r = run("inspect", dir.toString());
        assertThat(r.status).as(r.err).isZero();
        assertThat(r.out).contains("quantization_config").containsPattern("kv_a_proj_with_mqa\\.weight\\s+F8_E4M3\\s+\\[40, 64\\]\\s+2560")
                .containsPattern("kv_a_proj_with_mqa\\.weight_scale_inv\\s+F32\\s+\\[1, 1\\]\\s+4");
        Result gen = run("generate", "--model", dir.toString(), "--prompt-ids", "1,2,3", "--max-new-tokens", "4");
        assertThat(gen.status).as(gen.err).isZero();
        assertThat(gen.out.lines().findFirst().orElse("")).matches("\\d+(,\\d+){3}");
    }

    @Test
    void infoSaysWhereEachCudaLibraryIsOrWhyNot() {
        Result r = run("info");
        assertThat(r.status).as(r.err).isZero();
        assertThat(r.out).containsPattern("(?m)^java \\d+").containsPattern("(?m)^cuda: .+")
                .containsPattern("(?m)^  driver: libcuda\\.so\\.1 (at|was not found in) .+")
                .containsPattern("(?m)^  cublas: libcublas\\.so\\.13 (at|was not found in) .+")
                .containsPattern("(?m)^  cublasLt: libcublasLt\\.so\\.13 (at|was not found in) .+")
                .containsPattern("(?m)^  nvrtc: libnvrtc\\.so\\.13 (at|was not found in) .+");
        assertThat(r.out.lines().filter(l -> l.matches("  cuda:\\d+: .+, sm_\\d+, \\d+ multiprocessors, [0-9.]+ GiB"))).hasSize(dev.panamax.cuda.Cuda.deviceCount());
    }

    @Test
    void badInputIsOneLineAndNonZero() throws IOException {
        Path bad = dir.resolve("bad.safetensors");
        Files.write(bad, new byte[]{1, 2, 3});
        Result r = run("inspect", bad.toString());
        assertThat(r.status).isEqualTo(1);
        assertThat(r.err.strip().lines()).hasSize(1);
        assertThat(r.err).contains(bad.toString()).contains("truncated");
        Result verbose = run("inspect", bad.toString(), "--verbose");
        assertThat(verbose.err.lines().count()).isGreaterThan(1);
        Result missing = run("inspect", dir.resolve("nope").toString());
        assertThat(missing.status).isEqualTo(1);
        assertThat(missing.err).contains("no such file");
        assertThat(run("inspect").status).isEqualTo(2);
        assertThat(run("frobnicate").status).isEqualTo(2);
    }

    @Test
    void grpoWithoutHeldOutProblemsSaysAccuracyWasNotMeasured(@org.junit.jupiter.api.io.TempDir Path dir) {
        Result r = run("grpo", "--steps", "1", "--warmup-steps", "0", "--prompts", "1", "--group-size", "2", "--eval", "0",
                "--top-p", "0.9", "--top-k", "5", "--out", dir.toString());
        assertThat(r.status).as(r.err).isZero();
        assertThat(r.out).contains("held-out accuracy before GRPO: not measured").contains("held-out accuracy not measured")
                .doesNotContain("NaN");
        assertThat(dir.resolve("metrics.jsonl")).exists();
        // the rollouts' sampling settings are checked before anything runs
        Result badP = run("grpo", "--top-p", "0", "--out", dir.toString());
        assertThat(badP.status).isEqualTo(2);
        assertThat(badP.err).contains("topP must be in (0, 1], got 0.0");
        assertThat(run("grpo", "--top-k", "-1", "--out", dir.toString()).err).contains("topK must be >= 0");
    }

    @Test
    void generatePrintsIdsAndSpeed() throws IOException {
        Result r = run("generate", "--model", referenceCase().toString(), "--prompt-ids", "1,2,3", "--max-new-tokens", "5",
                "--temperature", "0.8", "--top-p", "0.9", "--seed", "4");
        assertThat(r.status).as(r.err).isZero();
        assertThat(r.out.lines().findFirst().orElse("")).matches("\\d+(,\\d+){4}");
        assertThat(r.out).contains("tokens/s");
        Result again = run("generate", "--model", referenceCase().toString(), "--prompt-ids", "1,2,3", "--max-new-tokens", "5",
                "--temperature", "0.8", "--top-p", "0.9", "--seed", "4", "--naive");
        assertThat(again.out.lines().findFirst()).isEqualTo(r.out.lines().findFirst());
        // the same generation with the model on a (host-emulated) device, and a clear refusal of an unusable one
        Result onDevice = run("generate", "--model", referenceCase().toString(), "--prompt-ids", "1,2,3", "--max-new-tokens", "5",
                "--temperature", "0.8", "--top-p", "0.9", "--seed", "4", "--device", "emulated");
        assertThat(onDevice.status).as(onDevice.err).isZero();
        assertThat(onDevice.out.lines().findFirst()).isEqualTo(r.out.lines().findFirst());
        assertThat(run("generate", "--model", referenceCase().toString(), "--prompt-ids", "1", "--device", "tpu").status).isEqualTo(2);
        // a BF16 KV cache, on the host and through the fused decode on the emulated device (greedy, so that both can be compared)
        Result bf16 = run("generate", "--model", referenceCase().toString(), "--prompt-ids", "1,2,3", "--max-new-tokens", "5", "--kv-cache", "bf16");
        assertThat(bf16.status).as(bf16.err).isZero();
        assertThat(bf16.out.lines().findFirst().orElse("")).matches("\\d+(,\\d+){4}");
        Result bf16Device = run("generate", "--model", referenceCase().toString(), "--prompt-ids", "1,2,3", "--max-new-tokens", "5",
                "--kv-cache", "bf16", "--device", "emulated");
        assertThat(bf16Device.status).as(bf16Device.err).isZero();
        assertThat(bf16Device.out.lines().findFirst()).isEqualTo(bf16.out.lines().findFirst());
        Result f16 = run("generate", "--model", referenceCase().toString(), "--prompt-ids", "1", "--kv-cache", "f16");
        assertThat(f16.status).isEqualTo(2);
        assertThat(f16.err).contains("--kv-cache").contains("f32 or bf16, got f16");
        if (!dev.panamax.runtime.Device.cuda().isAvailable()) {
            Result noGpu = run("generate", "--model", referenceCase().toString(), "--prompt-ids", "1", "--device", "cuda");
            assertThat(noGpu.status).isEqualTo(1);
            assertThat(noGpu.err).contains("--device cuda:0");
        }
        assertThat(run("generate", "--model", referenceCase().toString(), "--prompt-ids", "999").status).isEqualTo(1);
        assertThat(run("generate", "--prompt-ids", "1").status).isEqualTo(2);
    }

    @Test
    void speculativeGenerationPrintsThePlainTokensAndTheAcceptance() throws IOException {
        String model = referenceCase().toString();
        Result plain = run("generate", "--model", model, "--prompt-ids", "5,6,7,5,6,7,5,6", "--max-new-tokens", "9");
        Result lookup = run("generate", "--model", model, "--prompt-ids", "5,6,7,5,6,7,5,6", "--max-new-tokens", "9", "--speculative", "lookup");
        assertThat(lookup.status).as(lookup.err).isZero();
        assertThat(lookup.out.lines().findFirst()).isEqualTo(plain.out.lines().findFirst());
        assertThat(lookup.out).containsPattern("speculative \\(lookup:3:4\\): \\d+ of \\d+ drafts kept");
        Result custom = run("generate", "--model", model, "--prompt-ids", "5,6,7,5,6,7,5,6", "--max-new-tokens", "9", "--speculative", "lookup:1:2");
        assertThat(custom.out.lines().findFirst()).isEqualTo(plain.out.lines().findFirst());
        // the reference checkpoints have no MTP module: said with the field; a bad drafter is a usage error
        Result mtp = run("generate", "--model", model, "--prompt-ids", "1,2", "--speculative", "mtp");
        assertThat(mtp.status).isEqualTo(1);
        assertThat(mtp.err).contains("num_nextn_predict_layers is 0");
        Result bad = run("generate", "--model", model, "--prompt-ids", "1,2", "--speculative", "lookup:0:2");
        assertThat(bad.status).isEqualTo(2);
        assertThat(bad.err).contains("--speculative").contains("ngram >= 1");
    }

    /** A byte-level tokenizer whose ids are the byte values (plus {@code extra} more tokens), GPT-2's alphabet. */
    static Path byteTokenizer(Path dir, int extra) throws IOException {
        Map<String, Object> vocab = new LinkedHashMap<>();
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            vocab.put(String.valueOf((char) (printable ? b : 256 + n++)), (long) b);
        }
        for (int i = 0; i < extra; i++) vocab.put("<extra" + i + ">", (long) (256 + i));
        Map<String, Object> tok = new LinkedHashMap<>();
        tok.put("pre_tokenizer", Map.of("type", "ByteLevel", "add_prefix_space", false, "use_regex", true));
        tok.put("decoder", Map.of("type", "ByteLevel"));
        tok.put("model", Map.of("type", "BPE", "vocab", vocab, "merges", java.util.List.of()));
        Files.createDirectories(dir);
        Path f = dir.resolve("tokenizer.json");
        Files.writeString(f, dev.panamax.runtime.io.Json.write(tok));
        return f;
    }

    @Test
    void generateAndTokenizeTakeText(@TempDir Path tmp) throws IOException {
        Path tok = byteTokenizer(tmp.resolve("bytes"), 0);
        Result ids = run("tokenize", tok.toString(), "hi there");
        assertThat(ids.status).as(ids.err).isZero();
        assertThat(ids.out.lines().findFirst().orElse("")).isEqualTo("104,105,32,116,104,101,114,101");
        assertThat(ids.out).contains("h | i | Ġ | t").contains("8 tokens");
        Result text = run("tokenize", tok.getParent().toString(), "--decode", "104,105,32,240,159,153,130");
        assertThat(text.out.strip()).isEqualTo("hi \uD83D\uDE42");
        assertThat(run("tokenize", tok.toString()).status).isEqualTo(2);
        assertThat(run("tokenize", tok.toString(), "--decode", "1,x").status).isEqualTo(2);

        Result byText = run("generate", "--model", referenceCase().toString(), "--tokenizer", tok.toString(), "--prompt", "hi", "--max-new-tokens", "5");
        Result byIds = run("generate", "--model", referenceCase().toString(), "--prompt-ids", "104,105", "--max-new-tokens", "5");
        assertThat(byText.status).as(byText.err).isZero();
        // the completion's text, printed as it grew, then its ids
        int at = byText.out.lastIndexOf("\nids: ");
        assertThat(at).isNotNegative();
        String completion = byText.out.substring(at + 6).lines().findFirst().orElse("");
        assertThat(completion).isEqualTo(byIds.out.lines().findFirst().orElse("")).matches("\\d+(,\\d+){4}");
        Result decoded = run("tokenize", tok.toString(), "--decode", completion);
        assertThat(byText.out.substring(0, at) + "\n").isEqualTo(decoded.out);

        Path folder = tmp.resolve("folder");
        Files.createDirectories(folder);
        try (var files = Files.list(referenceCase())) {
            for (Path f : files.toList()) if (Files.isRegularFile(f)) Files.copy(f, folder.resolve(f.getFileName()));
        }
        Files.copy(tok, folder.resolve("tokenizer.json"));
        Files.writeString(folder.resolve("tokenizer_config.json"), "{\"eos_token\": \"\u0100\"}");
        assertThat(run("inspect", folder.toString()).out).contains("tokenizer: " + folder.resolve("tokenizer.json") + ", 256 tokens, EOS \u0100 (0)");
        Files.writeString(folder.resolve("tokenizer_config.json"), "{\"eos_token\": \"<nope>\"}");
        Result badTok = run("inspect", folder.toString());
        assertThat(badTok.status).isZero();
        assertThat(badTok.out).contains("tokenizer: cannot be read: " + folder.resolve("tokenizer_config.json") + ": eos_token: \"<nope>\" is not a token");

        Result tooBig = run("generate", "--model", referenceCase().toString(), "--tokenizer", byteTokenizer(tmp.resolve("big"), 10).toString(), "--prompt", "hi");
        assertThat(tooBig.status).isEqualTo(1);
        assertThat(tooBig.err).contains("has 266 tokens, more than the model's vocab_size of 256");
        Result none = run("generate", "--model", referenceCase().toString(), "--prompt", "hi");
        assertThat(none.status).isEqualTo(1);
        assertThat(none.err).contains("tokenizer.json: no tokenizer.json here");
        assertThat(run("generate", "--model", referenceCase().toString(), "--prompt", "hi", "--prompt-ids", "1").status).isEqualTo(2);
    }

    @Test
    void chatLaysThePromptOutByTheTemplate(@TempDir Path tmp) throws IOException {
        Path tok = byteTokenizer(tmp.resolve("chat"), 0);
        Files.writeString(tok.resolveSibling("tokenizer_config.json"),
                "{\"chat_template\": \"{% for m in messages %}<{{ m.role[0] }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<a>{% endif %}\"}");
        Result laidOut = run("tokenize", tok.toString(), "--system", "S", "hi");
        assertThat(laidOut.status).as(laidOut.err).isZero();
        java.util.List<String> lines = laidOut.out.lines().toList();
        assertThat(lines.get(0)).isEqualTo("<s>S<u>hi<a>");
        String ids = "<s>S<u>hi<a>".chars().mapToObj(Integer::toString).collect(java.util.stream.Collectors.joining(","));
        assertThat(lines.get(1)).isEqualTo(ids);
        assertThat(run("tokenize", tok.toString(), "--chat", "hi").out.lines().findFirst().orElse("")).isEqualTo("<u>hi<a>");

        Result chat = run("generate", "--model", referenceCase().toString(), "--tokenizer", tok.toString(), "--system", "S", "--prompt", "hi", "--max-new-tokens", "4");
        Result byIds = run("generate", "--model", referenceCase().toString(), "--prompt-ids", ids, "--max-new-tokens", "4");
        assertThat(chat.status).as(chat.err).isZero();
        String completion = chat.out.substring(chat.out.lastIndexOf("\nids: ") + 6).lines().findFirst().orElse("");
        assertThat(completion).isEqualTo(byIds.out.lines().findFirst().orElse(""));
        assertThat(run("generate", "--model", referenceCase().toString(), "--chat", "--prompt-ids", "1").status).isEqualTo(2);
        assertThat(run("tokenize", tok.toString(), "--chat", "--decode", "1").status).isEqualTo(2);
        Files.writeString(tok.resolveSibling("tokenizer_config.json"), "{}");
        Result noTemplate = run("tokenize", tok.toString(), "--chat", "hi");
        assertThat(noTemplate.status).isEqualTo(1);
        assertThat(noTemplate.err).contains("no chat_template");
    }
}
