package dev.panamax.moe;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Functional;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.io.SafetensorsFile;
import dev.panamax.runtime.nn.Parameter;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every case folder of the DeepSeek-V3 reference fixtures (../shared/reference/deepseek_v3, or
 * the folder given by {@code -Dpanamax.reference.deepseek=DIR}) against DeepSeek's official
 * PyTorch implementation, at the tolerances of the fixtures' README: embeddings, every
 * attention output and hidden state, routing, final norm, logits, incremental decoding on both
 * MLA paths, and the loss, token log-probs and every parameter's gradient. Subclasses run the
 * same checks with the model on a device ({@link #device()}).
 */
class DeepSeekReferenceTest {
    /** Where the model runs. */
    Device device() {
        return Device.CPU;
    }

    static Path casesRoot() {
        String p = System.getProperty("panamax.reference.deepseek");
        if (p != null && !p.isBlank()) return Path.of(p);
        Path root = Path.of(System.getProperty("panamax.root", "..")).toAbsolutePath().normalize();
        Path shared = root.resolve("../shared/reference/deepseek_v3").normalize();
        return Files.isDirectory(shared) ? shared : Path.of("../../shared/reference/deepseek_v3").toAbsolutePath().normalize();
    }

    @TestFactory
    Stream<DynamicTest> everyCase() throws IOException {
        Path root = casesRoot();
        assertThat(root).as("reference cases folder").isDirectory();
        List<Path> cases;
        try (Stream<Path> s = Files.list(root)) {
            cases = s.filter(d -> Files.isRegularFile(d.resolve("config.json"))).sorted().toList();
        }
        assertThat(cases).as("cases under " + root).isNotEmpty();
        Device d = device();
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.getFileName().toString(), () -> checkCase(c, d)));
    }

    static void close(String what, Tensor got, Tensor want, double abs, double rel) {
        assertThat(got.dims()).as(what + " shape").containsExactly(want.dims());
        float[] g = got.toFloatArray(), w = want.toFloatArray();
        double worst = 0;
        int at = -1;
        for (int i = 0; i < g.length; i++) {
            double excess = Math.abs(g[i] - w[i]) - (abs + rel * Math.abs(w[i]));
            if (!(excess <= worst)) {
                worst = Double.isNaN(excess) ? Double.POSITIVE_INFINITY : excess;
                at = i;
            }
        }
        if (at >= 0) {
            throw new AssertionError(what + ": element " + at + " is " + g[at] + ", expected " + w[at] + " (tolerance " + abs + " + " + rel + "*|expected|)");
        }
    }

    static void checkCase(Path dir, Device device) {
        try (Scope scope = Scope.open();
             SafetensorsFile exp = SafetensorsFile.open(dir.resolve("expected.safetensors"));
             DeepSeekModel model = DeepSeekModel.load(dir, false, device)) {
            DeepSeekConfig cfg = model.config();
            Tensor ids = exp.tensor("input_ids");
            long b = ids.dim(0), t = ids.dim(1);
            int k = cfg.numExpertsPerTok();
            Tensor[] cs = model.rope().cosSin(0, t);
            close("rope.cos", cs[0], exp.tensor("rope.cos"), 1e-5, 0);
            close("rope.sin", cs[1], exp.tensor("rope.sin"), 1e-5, 0);
            for (Mla.Path path : Mla.Path.values()) {
                Trace trace = new Trace();
                Tensor logits = model.forward(ids, 0, null, path, false, trace);
                assertThat(logits.device()).as("logits device").isEqualTo(device);
                String p = " (" + path + ")";
                assertThat(trace.tensors().get("embeddings").toFloatArray()).as("embeddings").containsExactly(exp.tensor("embeddings").toFloatArray());
                for (int i = 0; i < cfg.numHiddenLayers(); i++) {
                    close("attn_out." + i + p, trace.tensors().get("attn_out." + i), exp.tensor("attn_out." + i), 2e-4, 1e-4);
                    close("hidden." + i + p, trace.tensors().get("hidden." + i), exp.tensor("hidden." + i), 2e-4, 1e-4);
                    if (!cfg.isMoeLayer(i)) continue;
                    Gate.Routing r = trace.routing().get(i);
                    long[] wantIdx = exp.tensor("moe." + i + ".topk_indices").toLongArray();
                    float[] wantW = exp.tensor("moe." + i + ".topk_weights").toFloatArray();
                    float[] gotW = r.weights().toFloatArray();
                    for (int row = 0; row < b * t; row++) {
                        Map<Long, Float> want = new HashMap<>(), got = new HashMap<>();
                        for (int j = 0; j < k; j++) {
                            want.put(wantIdx[row * k + j], wantW[row * k + j]);
                            got.put(r.indices()[row * k + j], gotW[row * k + j]);
                        }
                        assertThat(got.keySet()).as("moe.%d routing row %d%s", i, row, p).isEqualTo(want.keySet());
                        for (Long e : want.keySet()) {
                            assertThat((double) got.get(e)).as("moe.%d weight row %d expert %d%s", i, row, e, p).isCloseTo(want.get(e), org.assertj.core.data.Offset.offset(5e-5));
                        }
                    }
                }
                close("final_norm" + p, trace.tensors().get("final_norm"), exp.tensor("final_norm"), 2e-4, 1e-4);
                close("logits" + p, logits, exp.tensor("logits"), 2e-4, 1e-4);
                checkDecode(model, ids, exp, path);
            }
        }
        if (Files.isRegularFile(dir.resolve("grad.safetensors"))) checkGradients(dir, device);
    }

    static void checkDecode(DeepSeekModel model, Tensor ids, SafetensorsFile exp, Mla.Path path) {
        long b = ids.dim(0), t = ids.dim(1);
        int t0 = (int) exp.tensor("decode_prefill_len").toLongArray()[0];
        Tensor want = exp.tensor("decode_logits");
        try (KvCache cache = new KvCache(model.config(), (int) b, (int) t, model.device())) {
            model.forward(ids.narrow(1, 0, t0), 0, cache, path, true, null);
            for (int j = 0; j < t - t0; j++) {
                try (Scope step = Scope.open()) {
                    Tensor logits = model.forward(ids.narrow(1, t0 + j, 1), t0 + j, cache, path, true, null);
                    close("decode_logits step " + j + " (" + path + ")", logits, want.narrow(1, j, 1), 2e-4, 1e-4);
                }
            }
            assertThat(cache.length()).isEqualTo((int) t);
        }
        if (path != Mla.Path.ABSORBED) return;
        // the same steps as a DecodeGraph: the first eager, then replays of one recorded graph on a GPU
        try (KvCache cache = new KvCache(model.config(), (int) b, (int) t, model.device());
             DecodeGraph decode = new DecodeGraph(model, cache)) {
            model.forward(ids.narrow(1, 0, t0), 0, cache, path, true, null);
            long[] all = ids.toLongArray();
            long held = 0;
            for (int j = 0; j < t - t0; j++) {
                long[] next = new long[(int) b];
                for (int r = 0; r < b; r++) next[r] = all[(int) (r * t + t0 + j)];
                long arenas = Scope.sharedArenasMade();
                Tensor logits = decode.step(next);
                float[] read = logits.toFloatArray();
                if (j > 0 && model.device().isCuda()) {
                    // a replay and its read-back close no shared arena: each would cost a handshake with every thread
                    assertThat(Scope.sharedArenasMade()).as("shared arenas made by decode-graph step " + j + " and its read-back").isEqualTo(arenas);
                }
                assertThat(read).hasSize(Math.toIntExact(logits.numel()));
                close("decode_logits step " + j + " (decode graph)", logits, want.narrow(1, j, 1), 2e-4, 1e-4);
                if (j == 0) held = Scope.offHeapBytes();
            }
            assertThat(Scope.offHeapBytes()).as("off-heap memory after the first decode-graph step").isEqualTo(held);
            assertThat(cache.length()).isEqualTo((int) t);
            assertThat(decode.isRecorded()).as("recorded on a GPU").isEqualTo(model.device().isCuda());
        }
    }

    static void checkGradients(Path dir, Device device) {
        try (Scope scope = Scope.open();
             SafetensorsFile exp = SafetensorsFile.open(dir.resolve("expected.safetensors"));
             SafetensorsFile grads = SafetensorsFile.open(dir.resolve("grad.safetensors"));
             DeepSeekModel model = DeepSeekModel.load(dir, true, device)) {
            Tensor ids = exp.tensor("input_ids");
            Tensor targets = grads.tensor("target_ids");
            long v = model.config().vocabSize();
            Tensor logits = model.forward(ids, 0, null, Mla.NAIVE, false, null);
            Tensor lp = logits.reshape(-1, v).logSoftmax(-1).gather(1, targets.reshape(-1, 1));
            close("token_logprobs", lp.detach().reshape(ids.dims()), grads.tensor("token_logprobs"), 2e-4, 1e-4);
            Tensor loss = Functional.crossEntropy(logits.reshape(-1, v), targets.reshape(-1), -100, Functional.Reduction.MEAN);
            assertThat(loss.item()).as("loss").isCloseTo(grads.tensor("loss").item(), org.assertj.core.data.Offset.offset(1e-5));
            loss.backward();
            int checked = 0;
            for (Parameter p : model.parameters()) {
                String name = "grad." + p.name();
                assertThat(grads.contains(name)).as("fixture has " + name).isTrue();
                Tensor want = grads.tensor(name);
                Tensor got = p.value().grad() == null ? Tensor.zeros(DType.F32, p.value().dims()) : p.value().grad();
                if (p.value().grad() != null) assertThat(got.device()).as(name + " device").isEqualTo(device);
                float[] w = want.toFloatArray(), g = got.toFloatArray();
                double max = 0;
                for (float x : w) max = Math.max(max, Math.abs(x));
                for (int i = 0; i < w.length; i++) {
                    if (max == 0) {
                        assertThat(g[i]).as("%s[%d] must be exactly zero", name, i).isEqualTo(0f);
                    } else if (!(Math.abs(g[i] - w[i]) <= 1e-4 * max + 1e-3 * Math.abs(w[i]))) {
                        throw new AssertionError(name + "[" + i + "] is " + g[i] + ", expected " + w[i] + " (max |grad| " + max + ")");
                    }
                }
                checked++;
            }
            long inFixture = grads.names().stream().filter(n -> n.startsWith("grad.")).count();
            assertThat(checked).as("gradients checked vs in the fixture").isEqualTo((int) inFixture);
        }
    }
}
