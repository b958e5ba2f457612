package dev.panamax.moe;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.io.Checkpoint;
import dev.panamax.runtime.io.Safetensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Speculative decoding against the plain {@link Generator}, its verification rule against the
 * distributions it must preserve, and the multi-token-prediction module against a scalar
 * composition of its parts and against itself without a cache.
 */
class SpeculationTest {
    static final List<long[]> PROMPTS = List.of(new long[]{3, 14, 15, 92, 65}, new long[]{7, 7, 1, 200, 31}, new long[]{9, 9},
            new long[]{5, 6, 5, 6, 5});

    /** A copy of reference case {@code src} with an MTP layer of seeded random weights; without the optional tensors unless {@code full}. */
    static Path withMtp(Path src, Path dir, long seed, boolean full, boolean blockIsIdentity) throws Exception {
        Files.createDirectories(dir);
        String cfgText = Files.readString(src.resolve("config.json")).replaceAll("\"num_nextn_predict_layers\":\\s*\\d+", "\"num_nextn_predict_layers\": 1");
        assertThat(cfgText).contains("\"num_nextn_predict_layers\": 1");
        Files.writeString(dir.resolve("config.json"), cfgText);
        DeepSeekConfig cfg = DeepSeekConfig.read(dir.resolve("config.json"));
        try (Scope s = Scope.open(); Checkpoint ck = Checkpoint.open(src); Autograd.NoGrad ng = Autograd.noGrad()) {
            Map<String, Tensor> all = new LinkedHashMap<>();
            for (String n : ck.names()) all.put(n, ck.tensor(n));
            String p = "model.layers." + cfg.numHiddenLayers() + ".";
            long k = seed;
            for (Map.Entry<String, long[]> e : MultiTokenPredictor.expectedShapes(cfg, 0).entrySet()) {
                String n = e.getKey();
                if (!full && (n.equals(p + "embed_tokens.weight") || n.equals(p + "shared_head.head.weight"))) continue;
                boolean zero = blockIsIdentity && (n.endsWith("o_proj.weight") || n.endsWith("down_proj.weight"));
                all.put(n, n.endsWith("e_score_correction_bias") || zero ? Tensor.zeros(DType.F32, e.getValue())
                        : n.endsWith("norm.weight") ? Tensor.uniform(DType.F32, k++, 0.5, 1.5, e.getValue())
                        : Tensor.uniform(DType.F32, k++, -0.2, 0.2, e.getValue()));
            }
            Safetensors.write(dir.resolve("model.safetensors"), all, Map.of());
        }
        return dir;
    }

    /** The plain generator's greedy tokens. */
    static List<long[]> plainGreedy(DeepSeekModel m, List<long[]> prompts, int n, Set<Long> stop, Mla.Path path) {
        return Generator.generate(m, prompts, n, stop, Sampler.greedy(), path).completions();
    }

    static void assertSameTokens(List<long[]> got, List<long[]> want, String what) {
        assertThat(got).hasSameSizeAs(want);
        for (int i = 0; i < want.size(); i++) assertThat(got.get(i)).as("%s, prompt %d", what, i).containsExactly(want.get(i));
    }

    @Test
    void greedySpeculationGivesThePlainGeneratorsTokensWithEveryDrafter(@TempDir Path tmp) throws Exception {
        Path dir = withMtp(GenerationTest.firstCase(), tmp.resolve("mtp"), 11, false, false);
        int n = 12;
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(dir, false); MultiTokenPredictor mtp = MultiTokenPredictor.load(dir, m)) {
            for (Mla.Path path : Mla.Path.values()) {
                List<long[]> want = plainGreedy(m, PROMPTS, n, Set.of(), path);
                // an oracle that drafts the true continuation (every draft kept), one that drafts it off by one
                // (none kept), and one right for one token then wrong: each verdict's cache handling
                Map<String, Speculation> specs = new LinkedHashMap<>();
                specs.put("mtp", Speculation.mtp(mtp));
                specs.put("lookup 2/4", Speculation.promptLookup(2, 4));
                specs.put("lookup 1/1", Speculation.promptLookup(1, 1));
                specs.put("oracle", Speculation.drafting(oracle(PROMPTS, want, 0, 3), 3));
                specs.put("wrong", Speculation.drafting(oracle(PROMPTS, want, 1, 2), 2));
                specs.put("half", Speculation.drafting(oracle(PROMPTS, want, -1, 3), 3));
                for (Map.Entry<String, Speculation> e : specs.entrySet()) {
                    List<long[]> order = new ArrayList<>();
                    List<List<Long>> sunk = new ArrayList<>();
                    for (int i = 0; i < PROMPTS.size(); i++) sunk.add(new ArrayList<>());
                    Speculation.Result r = e.getValue().generate(m, PROMPTS, n, Set.of(), Sampler.greedy(), path, DType.F32,
                            (prompt, token) -> sunk.get(prompt).add(token));
                    assertSameTokens(r.completions(), want, e.getKey() + " " + path);
                    for (int i = 0; i < PROMPTS.size(); i++) order.add(sunk.get(i).stream().mapToLong(Long::longValue).toArray());
                    assertSameTokens(order, want, e.getKey() + " " + path + " sink");
                    assertThat(r.tokens()).isEqualTo((long) n * PROMPTS.size());
                    switch (e.getKey()) {
                        case "oracle" -> {   // 3 drafts kept a step: 1 + 4 + 4 + 3 tokens in each of the two batches (by prompt length)
                            assertThat(r.acceptanceRate()).isEqualTo(1.0);
                            assertThat(r.steps()).isEqualTo(2 * 3);
                        }
                        case "wrong" -> {
                            assertThat(r.accepted()).isZero();
                            assertThat(r.steps()).isEqualTo(2 * (n - 1));
                        }
                        default -> assertThat(r.steps()).isBetween(2L, 2L * (n - 1));
                    }
                }
            }
            // stop tokens end each sequence where the plain loop ends it, mid-step included
            List<long[]> full = plainGreedy(m, PROMPTS, n, Set.of(), Mla.ABSORBED);
            Set<Long> stop = Set.of(full.get(0)[4], full.get(1)[1]);
            List<long[]> want = plainGreedy(m, PROMPTS, n, stop, Mla.ABSORBED);
            assertSameTokens(Speculation.drafting(oracle(PROMPTS, full, 0, 3), 3).generate(m, PROMPTS, n, stop, Sampler.greedy(),
                    Mla.ABSORBED, DType.F32, null).completions(), want, "oracle with stops");
            assertSameTokens(Speculation.mtp(mtp).generate(m, PROMPTS, n, stop, Sampler.greedy(), Mla.ABSORBED, DType.BF16, null).completions(),
                    Generator.generate(m, PROMPTS, n, stop, Sampler.greedy(), Mla.ABSORBED, DType.BF16).completions(), "mtp, BF16 cache");
            // no new tokens, one new token
            assertThat(Speculation.mtp(mtp).generate(m, PROMPTS, 0, Set.of(), Sampler.greedy(), Mla.ABSORBED, DType.F32, null).tokens()).isZero();
            assertSameTokens(Speculation.promptLookup(2, 4).generate(m, PROMPTS, 1, Set.of(), Sampler.greedy(), Mla.ABSORBED, DType.F32, null)
                    .completions(), plainGreedy(m, PROMPTS, 1, Set.of(), Mla.ABSORBED), "one token");
        }
    }

    /**
     * Drafts the true continuation {@code want} of each prompt (which is found by its tokens so
     * far), shifted by {@code offBy} (-1: the first draft right, the rest off by one).
     */
    static Speculation.Drafter oracle(List<long[]> prompts, List<long[]> want, int offBy, int k) {
        return (r, seq, n) -> {
            for (int i = 0; i < prompts.size(); i++) {
                long[] p = prompts.get(i), w = want.get(i);
                if (p.length > n || !Arrays.equals(p, Arrays.copyOf(seq, p.length))) continue;
                int done = n - p.length;
                if (!Arrays.equals(Arrays.copyOfRange(seq, p.length, n), Arrays.copyOf(w, done))) continue;
                long[] d = Arrays.copyOfRange(w, done, Math.min(done + k, w.length));
                for (int j = 0; j < d.length; j++) if (offBy > 0 || (offBy < 0 && j > 0)) d[j] = (d[j] + 1) % 256;
                return d;
            }
            throw new AssertionError("no prompt continues as " + Arrays.toString(Arrays.copyOf(seq, n)));
        };
    }

    @Test
    void mtpLogitsAreTheScalarCompositionOfItsParts(@TempDir Path tmp) throws Exception {
        // with o_proj and every down_proj zero the decoder layer passes its input through, so the
        // module is head(shared_head.norm(eh_proj [enorm(embed(next)); hnorm(hidden)])): written out here
        Path dir = withMtp(GenerationTest.firstCase(), tmp.resolve("mtp"), 21, true, true);
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(dir, false); MultiTokenPredictor mtp = MultiTokenPredictor.load(dir, m);
             Checkpoint ck = Checkpoint.open(dir); Autograd.NoGrad ng = Autograd.noGrad()) {
            DeepSeekConfig cfg = m.config();
            int c = cfg.hiddenSize(), v = cfg.vocabSize(), t = 5;
            long[] ids = {3, 14, 15, 92, 65}, next = {14, 15, 92, 65, 35};
            Tensor hidden = m.hiddenAndLogits(Tensor.ofLongs(ids, 1, t), 0, null, Mla.NAIVE, 0)[0];
            float[] got = mtp.forward(hidden, Tensor.ofLongs(next, 1, t), 0, null, Mla.NAIVE, false).toFloatArray();
            String p = "model.layers." + cfg.numHiddenLayers() + ".";
            float[] emb = f(ck, p + "embed_tokens.weight"), en = f(ck, p + "enorm.weight"), hn = f(ck, p + "hnorm.weight"),
                    eh = f(ck, p + "eh_proj.weight"), on = f(ck, p + "shared_head.norm.weight"), head = f(ck, p + "shared_head.head.weight"),
                    h = hidden.toFloatArray();
            double eps = cfg.rmsNormEps(), worst = 0;
            for (int i = 0; i < t; i++) {
                double[] e = rms(Arrays.copyOfRange(emb, (int) next[i] * c, (int) next[i] * c + c), en, eps);
                double[] hh = rms(Arrays.copyOfRange(h, i * c, i * c + c), hn, eps);
                double[] x = new double[c];
                for (int o = 0; o < c; o++) {
                    double acc = 0;
                    for (int j = 0; j < c; j++) acc += eh[o * 2 * c + j] * e[j] + eh[o * 2 * c + c + j] * hh[j];
                    x[o] = acc;
                }
                float[] xf = new float[c];
                for (int j = 0; j < c; j++) xf[j] = (float) x[j];
                double[] y = rms(xf, on, eps);
                for (int w = 0; w < v; w++) {
                    double acc = 0;
                    for (int j = 0; j < c; j++) acc += head[w * c + j] * y[j];
                    worst = Math.max(worst, Math.abs(acc - got[i * v + w]));
                }
            }
            assertThat(worst).isLessThan(2e-4);
        }
    }

    private static float[] f(Checkpoint ck, String name) {
        return ck.tensor(name).to(DType.F32).toFloatArray();
    }

    private static double[] rms(float[] x, float[] w, double eps) {
        double ss = 0;
        for (float a : x) ss += (double) a * a;
        double r = 1 / Math.sqrt(ss / x.length + eps);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i] * r * w[i];
        return y;
    }

    @Test
    void mtpWithItsCacheAgreesWithTheWholeSequenceAndUsesTheModelsHeadWhenItHasNone(@TempDir Path tmp) throws Exception {
        Path dir = withMtp(GenerationTest.firstCase(), tmp.resolve("mtp"), 31, false, false);
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(dir, false); MultiTokenPredictor mtp = MultiTokenPredictor.load(dir, m);
             Autograd.NoGrad ng = Autograd.noGrad()) {
            assertThat(mtp.head).isSameAs(m.head());
            assertThat(mtp.embed).isSameAs(m.embedding());
            int t = 6;
            long[] ids = {3, 14, 15, 92, 65, 35, 89, 79, 3, 14, 15, 92}, next = {14, 15, 92, 65, 35, 89, 79, 3, 14, 15, 92, 6};
            Tensor idT = Tensor.ofLongs(ids, 2, t), nextT = Tensor.ofLongs(next, 2, t);
            Tensor hidden = m.hiddenAndLogits(idT, 0, null, Mla.NAIVE, 0)[0];
            Tensor whole = mtp.forward(hidden, nextT, 0, null, Mla.NAIVE, false);
            for (Mla.Path path : Mla.Path.values()) {
                try (KvCache cache = mtp.newCache(2, t, DType.F32)) {
                    // a prefill of 3 positions, then 1, then 2
                    int[][] parts = {{0, 3}, {3, 1}, {4, 2}};
                    for (int[] part : parts) {
                        Tensor got = mtp.forward(hidden.narrow(1, part[0], part[1]), nextT.narrow(1, part[0], part[1]), part[0], cache, path, false);
                        assertThat(ModelPathsAgreeTest.maxDiff(got, whole.narrow(1, part[0], part[1]).contiguous())).as("%s at %d", path, part[0]).isLessThan(1e-4f);
                    }
                    assertThat(cache.length()).isEqualTo(t);
                }
            }
        }
    }

    @Test
    void loadingNamesWhatIsWrong(@TempDir Path tmp) throws Exception {
        Path src = GenerationTest.firstCase();
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(src, false)) {
            assertThatThrownBy(() -> MultiTokenPredictor.load(src, m)).hasMessageContaining("num_nextn_predict_layers is 0");
            Path dir = withMtp(src, tmp.resolve("mtp"), 1, true, false);
            // the main model still loads, ignoring the MTP layer
            try (DeepSeekModel again = DeepSeekModel.load(dir, false)) {
                assertThat(again.layers()).hasSize(m.config().numHiddenLayers());
            }
            // a missing tensor, an unexpected one and a mis-shaped one are each named
            String p = "model.layers." + m.config().numHiddenLayers() + ".";
            Map<String, Tensor> all = new LinkedHashMap<>();
            try (Checkpoint ck = Checkpoint.open(dir)) {   // open while written: the new file replaces the mapped one
                for (String n : ck.names()) all.put(n, ck.tensor(n));
                all.remove(p + "hnorm.weight");
                all.put(p + "stray.weight", Tensor.zeros(DType.F32, 3));
                all.put(p + "eh_proj.weight", Tensor.zeros(DType.F32, m.config().hiddenSize(), m.config().hiddenSize()));
                Safetensors.write(dir.resolve("model.safetensors"), all, Map.of());
            }
            try (DeepSeekModel again = DeepSeekModel.load(dir, false)) {
                assertThatThrownBy(() -> MultiTokenPredictor.load(dir, again))
                        .hasMessageContaining("missing: [" + p + "hnorm.weight]")
                        .hasMessageContaining("unexpected: [" + p + "stray.weight]")
                        .hasMessageContaining(p + "eh_proj.weight (expected [64, 128], got [64, 64])");
            }
            // a module for another model
            try (DeepSeekModel other = DeepSeekModel.random(ModelPathsAgreeTest.config("noaux_tc", "sigmoid", 4, 2, 1, false), 1, DType.F32)) {
                assertThatThrownBy(() -> MultiTokenPredictor.load(withMtp(src, tmp.resolve("mtp2"), 1, true, false), other))
                        .hasMessageContaining("configs differ");
            }
        }
    }

    @Test
    void anFp8ModuleLoadsDequantisedByItsBlockScales(@TempDir Path tmp) throws Exception {
        Path plain = withMtp(GenerationTest.firstCase(), tmp.resolve("mtp"), 41, true, false);
        Map<String, float[]> want = Fp8CheckpointTest.writeFp8(plain, tmp.resolve("fp8"), 16, 32);
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(tmp.resolve("fp8"), false);
             MultiTokenPredictor mtp = MultiTokenPredictor.load(tmp.resolve("fp8"), m)) {
            String p = "model.layers." + m.config().numHiddenLayers() + ".";
            Map<String, Tensor> got = Map.of(p + "eh_proj.weight", mtp.ehProj, p + "shared_head.head.weight", mtp.head,
                    p + "self_attn.kv_b_proj.weight", mtp.block.attention().kvB);
            for (Map.Entry<String, Tensor> e : got.entrySet()) {
                assertThat(e.getValue().dtype()).isEqualTo(DType.BF16);
                float[] w = want.get(e.getKey()), g = e.getValue().to(DType.F32).toFloatArray();
                assertThat(w).as(e.getKey()).isNotNull();
                for (int i = 0; i < w.length; i++) {
                    assertThat(g[i]).as("%s[%d]", e.getKey(), i).isEqualTo(Tensor.of(new float[]{w[i]}, 1).to(DType.BF16).to(DType.F32).toFloatArray()[0]);
                }
            }
            assertThat(Speculation.mtp(mtp).generate(m, PROMPTS, 6, Set.of(), Sampler.greedy(), Mla.ABSORBED, DType.F32, null).completions())
                    .usingElementComparator(Arrays::compare).isEqualTo(plainGreedy(m, PROMPTS, 6, Set.of(), Mla.ABSORBED));
        }
    }

    @Test
    void promptLookupDraftsWhatFollowedTheLatestEarlierOccurrence() {
        long[] seq = {1, 2, 3, 4, 9, 2, 3, 7, 8, 2, 3};
        assertThat(Speculation.lookup(seq, seq.length, 2, 3)).containsExactly(7, 8, 2);   // "2 3" last seen before 7 8 2
        assertThat(Speculation.lookup(seq, seq.length, 3, 1)).containsExactly(7);        // no "8 2 3" before: falls to "2 3"
        assertThat(Speculation.lookup(seq, 8, 2, 5)).containsExactly();                    // "3 7" never seen before; "7" neither
        assertThat(Speculation.lookup(seq, 7, 2, 5)).containsExactly(4, 9, 2, 3);          // "2 3" at 1, cut at the sequence's end
        assertThat(Speculation.lookup(new long[]{5}, 1, 2, 4)).isEmpty();
        assertThat(Speculation.lookup(new long[]{5, 5, 5}, 3, 2, 4)).containsExactly(5);   // "5 5" at 0, followed by the last 5
    }

    /**
     * Each emitted token is distributed as the model's distribution at its position: the first
     * whatever the draft (likely, unlikely, outside the top-k, or none), and the second, after a
     * kept draft, as the second position's. Checked by a chi-square test over 120,000 draws.
     */
    @Test
    void verificationPreservesTheSamplersDistribution() {
        float[] logits = {1f, 3f, 2f, 0f, 2.5f, -1f, 1f, 0.5f, 2f, 0f, 1f, 3f};   // (1, 2, 6)
        double[][] shapes = {{1.0, 0, 1}, {0.7, 4, 1}, {1.3, 0, 0.8}};   // temperature, top-k, top-p
        for (double[] shape : shapes) {
            for (long draft : new long[]{1, 5, 3, -1}) {
                Sampler sampler = Sampler.of(shape[0], (int) shape[1], shape[2], 99 + draft);
                double[] p0 = normalised(sampler.weights(logits, 0, 6)), p1 = normalised(sampler.weights(logits, 1, 6));
                int trials = 120_000;
                long[] first = new long[6], second = new long[6];
                long kept = 0;
                try (Scope s = Scope.open()) {
                    Tensor t = Tensor.of(logits, 1, 2, 6);
                    long[][] drafts = {draft < 0 ? new long[0] : new long[]{draft}};
                    for (int i = 0; i < trials; i++) {
                        Speculation.Verdict v = Speculation.verify(t, 1, 1, drafts, new boolean[1], sampler);
                        long tok = v.kept() == 1 ? draft : v.own()[0];
                        first[(int) tok]++;
                        if (v.kept() == 1) {
                            kept++;
                            second[(int) v.own()[0]]++;
                        }
                    }
                }
                assertThat(chiSquare(first, p0)).as("first token, draft %d, %s", draft, Arrays.toString(shape)).isLessThan(40);
                if (draft >= 0 && p0[(int) draft] > 0) {
                    assertThat(kept / (double) trials).isCloseTo(p0[(int) draft], org.assertj.core.data.Offset.offset(0.01));
                    assertThat(chiSquare(second, p1)).as("second token, draft %d", draft).isLessThan(40);
                } else {
                    assertThat(kept).isZero();
                }
            }
        }
    }

    private static double[] normalised(double[] w) {
        double sum = 0;
        for (double x : w) sum += x;
        double[] p = new double[w.length];
        for (int i = 0; i < w.length; i++) p[i] = w[i] / sum;
        return p;
    }

    /** Pearson's statistic over the cells of positive probability; a count in a cell of zero probability fails at once. */
    private static double chiSquare(long[] counts, double[] p) {
        long n = 0;
        for (long c : counts) n += c;
        double x = 0;
        for (int i = 0; i < p.length; i++) {
            if (p[i] == 0) {
                if (counts[i] > 0) return Double.POSITIVE_INFINITY;
                continue;
            }
            double e = n * p[i];
            x += (counts[i] - e) * (counts[i] - e) / e;
        }
        return x;
    }

    @Test
    void sampledSpeculationIsSeededAndTopKOneIsGreedy(@TempDir Path tmp) throws Exception {
        Path dir = withMtp(GenerationTest.firstCase(), tmp.resolve("mtp"), 7, false, false);
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(dir, false); MultiTokenPredictor mtp = MultiTokenPredictor.load(dir, m)) {
            Speculation spec = Speculation.mtp(mtp);
            List<long[]> a = spec.generate(m, PROMPTS, 10, Set.of(), Sampler.of(0.9, 0, 0.95, 4), Mla.ABSORBED, DType.F32, null).completions();
            List<long[]> b = spec.generate(m, PROMPTS, 10, Set.of(), Sampler.of(0.9, 0, 0.95, 4), Mla.ABSORBED, DType.F32, null).completions();
            assertSameTokens(a, b, "same seed");
            assertSameTokens(Speculation.promptLookup(2, 3).generate(m, PROMPTS, 10, Set.of(), Sampler.of(1.0, 1, 1, 8), Mla.ABSORBED, DType.F32, null)
                    .completions(), plainGreedy(m, PROMPTS, 10, Set.of(), Mla.ABSORBED), "top-k 1");
            assertThatThrownBy(() -> Speculation.promptLookup(0, 3)).hasMessageContaining("ngram >= 1");
            // a drafter of one's own that drafts outside the vocabulary is named, not fed to the model
            assertThatThrownBy(() -> Speculation.drafting((r, seq, n) -> new long[]{m.config().vocabSize()}, 2)
                    .generate(m, PROMPTS, 4, Set.of(), Sampler.greedy(), Mla.ABSORBED, DType.F32, null))
                    .hasMessageContaining("drafted id 256").hasMessageContaining("outside the vocabulary of 256");
        }
    }
}
