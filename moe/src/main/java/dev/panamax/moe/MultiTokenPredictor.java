package dev.panamax.moe;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Functional;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.io.ConfigJson;
import dev.panamax.runtime.nn.Module;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * DeepSeek-V3's multi-token-prediction (MTP) module (V3 technical report, section 2.2): from the
 * main model's final hidden state at position i and the embedding of token i + 1 it predicts
 * token i + 2. DeepSeek-V3 and R1 checkpoints carry one such module as layer
 * {@code num_hidden_layers} ({@code num_nextn_predict_layers: 1}); {@link Speculation#mtp} drafts
 * tokens with it for speculative decoding.
 *
 * <p>The module, as vLLM and SGLang run these checkpoints: the embedding of the next token
 * normalised by {@code enorm} and the main model's hidden state (the output of its final norm)
 * normalised by {@code hnorm} are concatenated, in that order, and projected back to the hidden
 * size by {@code eh_proj}; a decoder layer ({@link Block}, MLA and DeepSeekMoE, with its own KV
 * cache) follows, then {@code shared_head.norm} and the LM head {@code shared_head.head} (vLLM
 * also zeroes the embedding at position 0; SGLang and this class do not). The
 * layer's own {@code embed_tokens} and {@code shared_head.head} are used when the checkpoint has
 * them; otherwise the main model's embedding and LM head (the report shares them).
 */
public final class MultiTokenPredictor extends Module implements AutoCloseable {
    private final DeepSeekConfig cfg;
    private final DeepSeekModel main;
    final Tensor embed, enorm, hnorm, ehProj, headNorm, head;
    final Block block;
    private final AutoCloseable owned;

    private MultiTokenPredictor(DeepSeekModel main, int layer, WeightSource w, Set<String> present, AutoCloseable owned) {
        this.cfg = main.config();
        this.main = main;
        this.owned = owned;
        String p = prefix(cfg, layer);
        embed = present.contains(p + "embed_tokens.weight") ? parameter("embed_tokens.weight", w.get(p + "embed_tokens.weight")) : main.embedding();
        enorm = parameter("enorm.weight", w.get(p + "enorm.weight"));
        hnorm = parameter("hnorm.weight", w.get(p + "hnorm.weight"));
        ehProj = parameter("eh_proj.weight", w.get(p + "eh_proj.weight"));
        block = child("block", new Block(cfg, w, cfg.numHiddenLayers() + layer, 0));
        headNorm = parameter("shared_head.norm.weight", w.get(p + "shared_head.norm.weight"));
        head = present.contains(p + "shared_head.head.weight") ? parameter("shared_head.head.weight", w.get(p + "shared_head.head.weight")) : main.head();
        requiresGrad(false);
    }

    private static String prefix(DeepSeekConfig c, int layer) {
        return "model.layers." + (c.numHiddenLayers() + layer) + ".";
    }

    /**
     * The names and shapes of MTP module {@code layer} (0-based) of a checkpoint for {@code c}:
     * its decoder layer's, then {@code enorm}, {@code hnorm}, {@code eh_proj},
     * {@code shared_head.norm}, and the optional {@code embed_tokens} and {@code shared_head.head}.
     */
    public static Map<String, long[]> expectedShapes(DeepSeekConfig c, int layer) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long d = c.hiddenSize();
        DeepSeekModel.layerShapes(m, c, c.numHiddenLayers() + layer);
        String p = prefix(c, layer);
        m.put(p + "embed_tokens.weight", new long[]{c.vocabSize(), d});
        m.put(p + "enorm.weight", new long[]{d});
        m.put(p + "hnorm.weight", new long[]{d});
        m.put(p + "eh_proj.weight", new long[]{d, 2 * d});
        m.put(p + "shared_head.norm.weight", new long[]{d});
        m.put(p + "shared_head.head.weight", new long[]{c.vocabSize(), d});
        return m;
    }

    /** The names of {@link #expectedShapes} a checkpoint may leave out (the main model's are used). */
    private static Set<String> optional(DeepSeekConfig c, int layer) {
        String p = prefix(c, layer);
        return Set.of(p + "embed_tokens.weight", p + "shared_head.head.weight");
    }

    /**
     * Loads the first MTP module of the checkpoint folder {@code dir} that {@code model} was loaded
     * from (or one with the same config), for inference on the model's device: memory-mapped on
     * the CPU, copied to a GPU in the storage dtype; FP8 weights dequantised to BF16, as
     * {@link DeepSeekModel#load(Path, boolean, Device)} does.
     *
     * @throws IllegalArgumentException when config.json has no {@code num_nextn_predict_layers}
     *                                  of at least 1, its config differs from the model's, or the
     *                                  module's tensors are missing, mis-shaped or of a wrong dtype
     */
    public static MultiTokenPredictor load(Path dir, DeepSeekModel model) {
        ConfigJson json = DeepSeekModel.readConfig(dir);
        DeepSeekConfig cfg = DeepSeekConfig.from(json);
        if (!cfg.equals(model.config())) throw new IllegalArgumentException(dir + "/config.json: its model is not the one given (the configs differ)");
        int layers = json.has("num_nextn_predict_layers") && !json.isNull("num_nextn_predict_layers") ? json.requireInt("num_nextn_predict_layers") : 0;
        if (layers < 1) {
            throw new IllegalArgumentException(dir + "/config.json: num_nextn_predict_layers is " + (json.has("num_nextn_predict_layers") ? layers : "absent")
                    + "; the checkpoint has no multi-token-prediction module");
        }
        Fp8Quantization quant = Fp8Quantization.from(json);
        Map<String, long[]> want = expectedShapes(cfg, 0);
        String own = prefix(cfg, 0);
        return DeepSeekModel.loadChecked(dir, want, optional(cfg, 0), n -> !n.startsWith(own), quant,
                "the multi-token-prediction layer " + own + " that config.json implies", false, model.device(), "MTP weights",
                (ck, w, owner) -> new MultiTokenPredictor(model, 0, w, Set.copyOf(ck.names()), owner));
    }

    /**
     * A module with seeded random weights in {@code dtype} for {@code model} (uniform, std 0.02;
     * norms 1), on the model's device, using the model's embedding and LM head: for tests and
     * benchmarks.
     */
    public static MultiTokenPredictor random(DeepSeekModel model, long seed, DType dtype) {
        DeepSeekConfig c = model.config();
        Map<String, long[]> shapes = expectedShapes(c, 0);
        Device device = model.device();
        Scope scope = Scope.longLived("random MTP weights on " + device);
        try (var e = scope.enter(); Autograd.NoGrad ng = Autograd.noGrad()) {
            long[] counter = {seed};
            WeightSource w = name -> {
                long[] s = shapes.get(name);
                if (name.endsWith("e_score_correction_bias")) return Tensor.zeros(device, DType.F32, s);
                boolean norm = name.endsWith("norm.weight") || name.endsWith("layernorm.weight");
                double a = 0.02 * Math.sqrt(3);
                Tensor host;
                try (Scope tmp = Scope.open()) {
                    host = norm ? Tensor.ones(DType.F32, s) : Tensor.uniform(dtype, counter[0]++, -a, a, s);
                    try (var back = scope.enter()) {
                        return Tensor.placed(host, device, host.dtype());
                    }
                }
            };
            return new MultiTokenPredictor(model, 0, w, Set.of(), scope);
        } catch (RuntimeException ex) {
            scope.close();
            throw ex;
        }
    }

    /** The main model it drafts for. */
    public DeepSeekModel model() {
        return main;
    }

    /** A cache for the module's own attention: {@code batch} sequences of up to {@code maxLen} tokens. */
    public KvCache newCache(int batch, int maxLen, DType dtype) {
        return new KvCache(cfg, 1, batch, maxLen, main.device(), dtype);
    }

    /**
     * The module's logits at T positions: position i (from {@code startPos}) reads the main
     * model's hidden state there and the embedding of the token that follows it, and predicts the
     * token after that.
     *
     * @param hidden   the main model's final-norm output (B,T,C) at those positions
     * @param nextIds  the tokens at the positions after them (B,T), I64
     * @param startPos position of the first (the cache's length when a cache is given)
     * @param cache    the module's own cache ({@link #newCache}), appended to, or null
     * @param path     MLA path
     * @param lastOnly logits for the last position only
     * @return logits (B,T,V), or (B,1,V) with {@code lastOnly}
     */
    public Tensor forward(Tensor hidden, Tensor nextIds, long startPos, KvCache cache, Mla.Path path, boolean lastOnly) {
        if (hidden.rank() != 3 || nextIds.rank() != 2 || hidden.dim(0) != nextIds.dim(0) || hidden.dim(1) != nextIds.dim(1)) {
            throw new IllegalArgumentException("the MTP module takes hidden (B,T,C) and next ids (B,T), got " + hidden.shape() + " and " + nextIds.shape());
        }
        long t = nextIds.dim(1);
        main.checkPositions(startPos, t);
        double eps = cfg.rmsNormEps();
        Tensor e = Tensor.embedding(embed, nextIds).rmsNorm(enorm, eps);
        Tensor h = hidden.rmsNorm(hnorm, eps);
        Tensor x = Functional.linear(Tensor.concat(List.of(e, h), 2), ehProj);
        Tensor[] hf = block.forward(x, null, startPos, main.cosSin(x, startPos, cache, path), cache, path, false, null);
        Tensor y = hf[0], f = hf[1];
        if (lastOnly) {
            y = y.narrow(1, t - 1, 1);
            f = f.narrow(1, t - 1, 1);
        }
        Tensor logits = Functional.linear(Functional.addRmsNorm(y, f, headNorm, eps)[1], head);
        if (cache != null) cache.advance((int) t);
        return logits;
    }

    /** Releases the mapped checkpoint or the owned weights (not the main model's). */
    @Override
    public void close() {
        try {
            owned.close();
        } catch (Exception ex) {
            throw new IllegalStateException("closing the MTP module's weights failed: " + ex.getMessage(), ex);
        }
    }
}
