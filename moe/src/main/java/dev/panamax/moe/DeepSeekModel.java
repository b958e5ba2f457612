package dev.panamax.moe;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Fp8;
import dev.panamax.runtime.Functional;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.io.Checkpoint;
import dev.panamax.runtime.io.ConfigJson;
import dev.panamax.runtime.io.TensorInfo;
import dev.panamax.runtime.nn.Module;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The DeepSeek-V3 transformer (the official {@code inference/model.py} order): embedding, layers
 * of {@link Block}, final RMSNorm, LM head. Parameters carry their Hugging Face names.
 *
 * <p>Load a checkpoint folder for inference with {@link #load(Path, boolean) load(dir, false)}:
 * the weights stay memory-mapped in their storage dtype (F32, BF16 or F16) and are read directly
 * by the kernels. With {@code trainable = true} they are copied to F32 leaves that require grad
 * (and a writable routing bias), in memory the model owns. {@link #close()} releases either.
 *
 * <p>{@link #load(Path, boolean, Device)} and {@link #random(DeepSeekConfig, long, DType, Device)}
 * place the weights on a device (a CUDA GPU): inference weights keep their storage dtype there
 * (products read BF16/F16 weights and widen them to F32, as the CPU kernels do), trainable ones are F32. The
 * forward pass then runs where its input ids' embedding lands, the weights' device; ids and
 * the RoPE tables move there as needed, and the logits come back on the device.
 */
public final class DeepSeekModel extends Module implements AutoCloseable {
    private final DeepSeekConfig cfg;
    private final Rope rope;
    final Tensor embed, norm, lmHead;
    final Block[] layers;
    private final AutoCloseable owned;
    private final Device device;

    private DeepSeekModel(DeepSeekConfig cfg, WeightSource w, AutoCloseable owned, Device device) {
        this.cfg = cfg;
        this.device = device;
        this.rope = new Rope(cfg);
        this.owned = owned;
        embed = parameter("model.embed_tokens.weight", w.get("model.embed_tokens.weight"));
        layers = new Block[cfg.numHiddenLayers()];
        for (int i = 0; i < layers.length; i++) layers[i] = child("model.layers." + i, new Block(cfg, w, i));
        norm = parameter("model.norm.weight", w.get("model.norm.weight"));
        lmHead = cfg.tieWordEmbeddings() ? embed : parameter("lm_head.weight", w.get("lm_head.weight"));
    }

    /** The config. */
    public DeepSeekConfig config() {
        return cfg;
    }

    /** The device the weights are on. */
    public Device device() {
        return device;
    }

    /** RoPE tables. */
    public Rope rope() {
        return rope;
    }

    /** The layers. */
    public Block[] layers() {
        return layers.clone();
    }

    /** Every weight name and shape the config implies, in checkpoint order. */
    public static Map<String, long[]> expectedShapes(DeepSeekConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long d = c.hiddenSize();
        m.put("model.embed_tokens.weight", new long[]{c.vocabSize(), d});
        for (int i = 0; i < c.numHiddenLayers(); i++) layerShapes(m, c, i);
        m.put("model.norm.weight", new long[]{d});
        if (!c.tieWordEmbeddings()) m.put("lm_head.weight", new long[]{c.vocabSize(), d});
        return m;
    }

    /** The names and shapes of decoder layer {@code i} (a {@link Block}), added to {@code m}. */
    static void layerShapes(Map<String, long[]> m, DeepSeekConfig c, int i) {
        long d = c.hiddenSize(), h = c.numAttentionHeads(), dq = c.qkHeadDim(), lkv = c.kvLoraRank(), dr = c.qkRopeHeadDim();
        String p = "model.layers." + i + ".";
        m.put(p + "input_layernorm.weight", new long[]{d});
        if (c.qLoraRank() > 0) {
            m.put(p + "self_attn.q_a_proj.weight", new long[]{c.qLoraRank(), d});
            m.put(p + "self_attn.q_a_layernorm.weight", new long[]{c.qLoraRank()});
            m.put(p + "self_attn.q_b_proj.weight", new long[]{h * dq, c.qLoraRank()});
        } else {
            m.put(p + "self_attn.q_proj.weight", new long[]{h * dq, d});
        }
        m.put(p + "self_attn.kv_a_proj_with_mqa.weight", new long[]{lkv + dr, d});
        m.put(p + "self_attn.kv_a_layernorm.weight", new long[]{lkv});
        m.put(p + "self_attn.kv_b_proj.weight", new long[]{h * (c.qkNopeHeadDim() + c.vHeadDim()), lkv});
        m.put(p + "self_attn.o_proj.weight", new long[]{d, h * c.vHeadDim()});
        m.put(p + "post_attention_layernorm.weight", new long[]{d});
        if (!c.isMoeLayer(i)) {
            mlp(m, p + "mlp.", c.intermediateSize(), d);
        } else {
            m.put(p + "mlp.gate.weight", new long[]{c.nRoutedExperts(), d});
            if (c.topkMethod().equals("noaux_tc")) m.put(p + "mlp.gate.e_score_correction_bias", new long[]{c.nRoutedExperts()});
            for (int j = 0; j < c.nRoutedExperts(); j++) mlp(m, p + "mlp.experts." + j + ".", c.moeIntermediateSize(), d);
            if (c.nSharedExperts() > 0) mlp(m, p + "mlp.shared_experts.", (long) c.nSharedExperts() * c.moeIntermediateSize(), d);
        }
    }

    private static void mlp(Map<String, long[]> m, String p, long width, long d) {
        m.put(p + "gate_proj.weight", new long[]{width, d});
        m.put(p + "up_proj.weight", new long[]{width, d});
        m.put(p + "down_proj.weight", new long[]{d, width});
    }

    /** Names a checkpoint may hold beyond the model: multi-token-prediction layers and rotary buffers. */
    private static boolean ignorable(String name, DeepSeekConfig c) {
        if (name.endsWith("rotary_emb.inv_freq")) return true;
        var m = Pattern.compile("^model\\.layers\\.(\\d+)\\.").matcher(name);
        return m.find() && Long.parseLong(m.group(1)) >= c.numHiddenLayers();
    }

    /**
     * Loads a Hugging Face checkpoint folder ({@code config.json} and safetensors, single or
     * sharded). Every tensor name and shape is checked against the config first. FP8 checkpoints
     * (DeepSeek-V3's and R1's: a {@code quantization_config}, see {@link Fp8Quantization}) load
     * with each FP8 weight dequantised by its block scales, to BF16 (F32 when trainable).
     *
     * @param trainable copy the weights to F32 leaves that require grad (for training)
     * @throws IllegalArgumentException listing missing, unexpected and mis-shaped tensors
     */
    public static DeepSeekModel load(Path dir, boolean trainable) {
        return load(dir, trainable, Device.CPU);
    }

    /**
     * {@link #load(Path, boolean)} with the weights on {@code device}: copied there once (in their
     * storage dtype for inference, BF16 for FP8 weights, as F32 when trainable) into memory the
     * model owns; the checkpoint files are closed afterwards.
     *
     * @throws IllegalArgumentException listing missing, unexpected and mis-shaped tensors
     * @throws IllegalStateException saying why when the device cannot be used here
     */
    public static DeepSeekModel load(Path dir, boolean trainable, Device device) {
        ConfigJson json = readConfig(dir);
        DeepSeekConfig cfg = DeepSeekConfig.from(json);
        Fp8Quantization quant = Fp8Quantization.from(json);
        DeepSeekModel m = loadChecked(dir, expectedShapes(cfg), Set.of(), n -> ignorable(n, cfg), quant, "config.json", trainable, device,
                "weights", (ck, w, owner) -> new DeepSeekModel(cfg, w, owner, device));
        if (!trainable) m.requiresGrad(false);
        return m;
    }

    /** Builds a module from its checked weights and what owns them (closed with the module). */
    @FunctionalInterface
    interface Build<M> {
        /** The module over weights {@code w} of checkpoint {@code ck}, which {@code owner} frees. */
        M build(Checkpoint ck, WeightSource w, AutoCloseable owner);
    }

    /**
     * Opens the checkpoint folder {@code dir}, {@link #check}s it, and builds a module of its
     * weights: over the mapped files themselves where they can be read in place (on the host, for
     * inference, none FP8), else over copies ({@link #placing}) in a scope of their own, named by
     * {@code what}, and the files are closed. On failure nothing is left open.
     */
    static <M> M loadChecked(Path dir, Map<String, long[]> want, Set<String> optional, Predicate<String> ignorable, Fp8Quantization quant,
                             String against, boolean trainable, Device device, String what, Build<M> build) {
        Checkpoint ck = Checkpoint.open(dir);
        try {
            boolean quantised = check(dir, ck, want, optional, ignorable, quant, against);
            if (!trainable && !device.isDevice() && !quantised) return build.build(ck, ck::tensor, ck);
            Scope scope = Scope.longLived(what + " " + dir.getFileName() + " on " + device);
            try (var e = scope.enter(); Autograd.NoGrad ng = Autograd.noGrad()) {
                M m = build.build(ck, placing(ck, quant, trainable, device, scope), scope);
                ck.close();
                return m;
            } catch (RuntimeException ex) {
                scope.close();
                throw ex;
            }
        } catch (RuntimeException ex) {
            ck.close();
            throw ex;
        }
    }

    /** The parsed {@code config.json} of a checkpoint folder. */
    static ConfigJson readConfig(Path dir) {
        Path cfgFile = dir.resolve("config.json");
        if (!Files.isRegularFile(cfgFile)) throw new IllegalArgumentException(dir + ": no config.json");
        return ConfigJson.read(cfgFile);
    }

    /**
     * Checks the tensors of {@code ck} against {@code want} (names and shapes; {@code optional}
     * ones may be absent, names {@code ignorable} accepts are skipped) and their dtypes (F32, BF16,
     * F16, or FP8 with block scales as {@code quant} says).
     *
     * @return whether any wanted tensor is FP8
     * @throws IllegalArgumentException listing missing, unexpected and mis-shaped tensors, as not matching {@code against}
     */
    static boolean check(Path dir, Checkpoint ck, Map<String, long[]> want, Set<String> optional, Predicate<String> ignorable,
                         Fp8Quantization quant, String against) {
        TreeSet<String> missing = new TreeSet<>(), unexpected = new TreeSet<>(), bad = new TreeSet<>();
        boolean quantised = false;
        for (String n : want.keySet()) if (!ck.contains(n) && !optional.contains(n)) missing.add(n);
        for (String n : ck.names()) {
            long[] shape = want.get(n);
            if (shape == null) {
                if (!ignorable.test(n) && !isScaleOfFp8Weight(n, want, ck)) unexpected.add(n);
                continue;
            }
            TensorInfo info = ck.info(n);
            if (!Arrays.equals(info.shape(), shape)) {
                bad.add(n + " (expected " + Arrays.toString(shape) + ", got " + Arrays.toString(info.shape()) + ")");
            } else if (info.dtype().isFp8()) {
                quantised = true;
                String why = fp8Problem(n, info, quant, ck, missing);
                if (why != null) bad.add(n + " (" + why + ")");
            } else if (info.dtype() != DType.F32 && info.dtype() != DType.BF16 && info.dtype() != DType.F16) {
                bad.add(n + " (dtype " + info.dtype().safetensorsName() + "; F32, BF16 or F16 expected"
                        + (quant == null ? "" : ", or " + quant.dtype().safetensorsName() + " with its " + Fp8Quantization.SCALE_SUFFIX) + ")");
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty() || !bad.isEmpty()) {
            throw new IllegalArgumentException(dir + ": checkpoint does not match " + against
                    + (missing.isEmpty() ? "" : "; missing: " + missing)
                    + (unexpected.isEmpty() ? "" : "; unexpected: " + unexpected)
                    + (bad.isEmpty() ? "" : "; mis-shaped or wrong dtype: " + bad));
        }
        return quantised;
    }

    /**
     * The checked weights of {@code ck} copied into {@code scope}'s memory on {@code device}: in
     * their storage dtype (F32 when trainable), FP8 ones dequantised by their block scales to BF16
     * (F32 when trainable). Call it with {@code scope} entered.
     */
    static WeightSource placing(Checkpoint ck, Fp8Quantization quant, boolean trainable, Device device, Scope scope) {
        return name -> {
            Tensor src = ck.tensor(name);
            if (!src.dtype().isFp8()) return Tensor.placed(src, device, trainable ? DType.F32 : src.dtype());
            DType to = trainable ? DType.F32 : DType.BF16;
            Tensor scales = ck.tensor(name + Fp8Quantization.SCALE_SUFFIX);
            if (!device.isDevice()) return Fp8.dequantizeBlocks(src, scales, quant.blockRows(), quant.blockCols(), to);
            try (Scope staging = Scope.open()) {   // the host copy lasts one weight
                Tensor host = Fp8.dequantizeBlocks(src, scales, quant.blockRows(), quant.blockCols(), to);
                try (var back = scope.enter()) {
                    return Tensor.placed(host, device, to);
                }
            }
        };
    }

    /** Whether {@code name} is the scales of an FP8 weight the model expects (checked with that weight). */
    private static boolean isScaleOfFp8Weight(String name, Map<String, long[]> want, Checkpoint ck) {
        if (!name.endsWith(Fp8Quantization.SCALE_SUFFIX)) return false;
        String weight = name.substring(0, name.length() - Fp8Quantization.SCALE_SUFFIX.length());
        return want.containsKey(weight) && ck.contains(weight) && ck.info(weight).dtype().isFp8();
    }

    /** Why an FP8 weight cannot be dequantised, or null; a missing scale tensor goes to {@code missing}. */
    private static String fp8Problem(String name, TensorInfo info, Fp8Quantization quant, Checkpoint ck, Set<String> missing) {
        String dt = info.dtype().safetensorsName();
        if (quant == null) return "dtype " + dt + ", but config.json has no quantization_config";
        if (info.dtype() != quant.dtype()) return "dtype " + dt + ", but quantization_config says " + quant.dtype().safetensorsName();
        if (info.shape().length != 2) return "an " + dt + " weight must be 2-D to have block scales";
        String scaleName = name + Fp8Quantization.SCALE_SUFFIX;
        if (!ck.contains(scaleName)) {
            missing.add(scaleName);
            return null;
        }
        TensorInfo s = ck.info(scaleName);
        long[] want = quant.scaleShape(info.shape()[0], info.shape()[1]);
        if (!Arrays.equals(s.shape(), want)) {
            return "its " + Fp8Quantization.SCALE_SUFFIX + " has shape " + Arrays.toString(s.shape()) + ", but blocks of " + quant.blockRows() + " x "
                    + quant.blockCols() + " need " + Arrays.toString(want);
        }
        if (s.dtype() != DType.F32 && s.dtype() != DType.BF16 && s.dtype() != DType.F16) {
            return "its " + Fp8Quantization.SCALE_SUFFIX + " is " + s.dtype().safetensorsName() + "; F32, BF16 or F16 expected";
        }
        return null;
    }

    /**
     * A model with seeded random weights (uniform, std 0.02; norms 1; routing bias 0) in
     * {@code dtype}, for benchmarks and tests.
     */
    public static DeepSeekModel random(DeepSeekConfig cfg, long seed, DType dtype) {
        return random(cfg, seed, dtype, Device.CPU);
    }

    /** {@link #random(DeepSeekConfig, long, DType)} with the weights on {@code device} (the same values). */
    public static DeepSeekModel random(DeepSeekConfig cfg, long seed, DType dtype, Device device) {
        if (device.isDevice() && dtype == DType.F64) throw new IllegalArgumentException("F64 weights cannot go to " + device + "; use F32");
        Scope scope = Scope.longLived("random weights on " + device);
        try (var e = scope.enter()) {
            Map<String, long[]> shapes = expectedShapes(cfg);
            long[] counter = {seed};
            DeepSeekModel m = new DeepSeekModel(cfg, name -> {
                long[] s = shapes.get(name);
                boolean norm = name.endsWith("norm.weight") || name.endsWith("layernorm.weight");
                if (name.endsWith("e_score_correction_bias")) return Tensor.zeros(device, DType.F32, s);
                DType dt = norm && dtype != DType.F64 ? DType.F32 : dtype;
                // uniform with std 0.02, generated directly in the storage dtype (fast for large shapes)
                double a = 0.02 * Math.sqrt(3);
                if (!device.isDevice()) return norm ? Tensor.ones(dt, s) : Tensor.uniform(dt, counter[0]++, -a, a, s);
                Tensor dst = Tensor.zeros(device, dt, s);
                try (Scope host = Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
                    dst.copyFrom(norm ? Tensor.ones(dt, s) : Tensor.uniform(dt, counter[0]++, -a, a, s));
                }
                return dst;
            }, scope, device);
            if (dtype != DType.F32 && dtype != DType.F64) m.requiresGrad(false);
            return m;
        } catch (RuntimeException ex) {
            scope.close();
            throw ex;
        }
    }

    /**
     * The forward pass.
     *
     * @param ids      token ids (B,T), I64
     * @param startPos position of the first token (the cache length when a cache is given)
     * @param cache    the compressed KV cache to append to and attend over, or null (positions 0..T-1 only)
     * @param path     MLA path
     * @param lastOnly compute the LM head for the last position only (generation)
     * @param trace    receives intermediate values, or null
     * @return logits (B,T,V), or (B,1,V) with {@code lastOnly}
     */
    public Tensor forward(Tensor ids, long startPos, KvCache cache, Mla.Path path, boolean lastOnly, Trace trace) {
        return forward(ids, startPos, cache, path, lastOnly, false, trace);
    }

    /** {@link #forward} with the per-token MoE oracle instead of the grouped experts (for tests). */
    public Tensor forward(Tensor ids, long startPos, KvCache cache, Mla.Path path, boolean lastOnly, boolean perTokenMoe, Trace trace) {
        Tensor logits = logits(ids, startPos, cache, path, lastOnly, perTokenMoe, trace);
        if (cache != null) cache.advance((int) ids.dim(1));
        return logits;
    }

    /** Throws unless positions {@code startPos .. startPos + t - 1} are within max_position_embeddings. */
    void checkPositions(long startPos, long t) {
        if (startPos + t > cfg.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("positions up to " + (startPos + t) + " exceed max_position_embeddings " + cfg.maxPositionEmbeddings());
        }
    }

    /**
     * {@link #forward} without marking the new tokens cached (the caller does, once their entries
     * are really there: at once, or after a {@link DecodeGraph}'s replay).
     */
    Tensor logits(Tensor ids, long startPos, KvCache cache, Mla.Path path, boolean lastOnly, boolean perTokenMoe, Trace trace) {
        return outputs(ids, startPos, cache, path, lastOnly ? ids.dim(1) - 1 : 0, false, perTokenMoe, trace)[1];
    }

    /**
     * The forward pass as {@link #forward} runs it, marking the new tokens cached, and giving
     * {@code {hidden, logits}}: the final norm's output of every position (B,T,C), what a
     * {@link MultiTokenPredictor} reads, and the logits (B,T-from,V) of the positions from
     * {@code from} on.
     */
    Tensor[] hiddenAndLogits(Tensor ids, long startPos, KvCache cache, Mla.Path path, long from) {
        Tensor[] out = outputs(ids, startPos, cache, path, from, true, false, null);
        if (cache != null) cache.advance((int) ids.dim(1));
        return out;
    }

    /**
     * The forward pass as {@link #forward} runs it, marking the new tokens cached, with the LM head
     * at the positions from {@code from} on only: logits (B,T-from,V).
     */
    Tensor logitsFrom(Tensor ids, long startPos, KvCache cache, Mla.Path path, long from) {
        Tensor logits = outputs(ids, startPos, cache, path, from, false, false, null)[1];
        if (cache != null) cache.advance((int) ids.dim(1));
        return logits;
    }

    /**
     * The pass behind {@link #logits} and {@link #hiddenAndLogits}: {@code {normed, logits}},
     * the final norm's output of every position when {@code allHidden} (else of the positions from
     * {@code from} on, the only ones normed) and the logits of the positions from {@code from} on.
     */
    private Tensor[] outputs(Tensor ids, long startPos, KvCache cache, Mla.Path path, long from, boolean allHidden,
                             boolean perTokenMoe, Trace trace) {
        if (ids.rank() != 2) throw new IllegalArgumentException("ids must be (B, T), got " + ids.shape());
        long t = ids.dim(1);
        checkPositions(startPos, t);
        Tensor x = Tensor.embedding(embed, ids);
        if (trace != null) trace.put("embeddings", x);
        Tensor[] cosSin = cosSin(x, startPos, cache, path);
        Tensor delta = null;   // each layer's output is x + delta, summed by the next norm
        for (int i = 0; i < layers.length; i++) {
            Tensor[] hf = layers[i].forward(x, delta, startPos, cosSin, cache, path, perTokenMoe, trace);
            x = hf[0];
            delta = hf[1];
            if (trace != null) trace.put("hidden." + i, x.add(delta));
        }
        if (from > 0 && !allHidden) {
            x = x.narrow(1, from, t - from);
            if (delta != null) delta = delta.narrow(1, from, t - from);
        }
        Tensor xn = Functional.addRmsNorm(x, delta, norm, cfg.rmsNormEps())[1];
        if (trace != null) trace.put("final_norm", xn);
        Tensor head = allHidden && from > 0 ? xn.narrow(1, from, t - from) : xn;
        return new Tensor[]{xn, Functional.linear(head, lmHead)};
    }

    /**
     * RoPE's cos and sin for the T positions of {@code x} (B,T,C) from {@code startPos}: on a
     * device, once (not per layer), and for a one-token absorbed step with a cache, at the
     * position the cache holds in device memory ({@link Mla#decodesAtPositions}).
     */
    Tensor[] cosSin(Tensor x, long startPos, KvCache cache, Mla.Path path) {
        if (Mla.decodesAtPositions(x, cache, path)) return cache.cosSinAtPositions(rope);   // gathered on the device at the position it holds
        Tensor[] cs = rope.cosSin(startPos, x.dim(1));
        return x.device().isDevice() ? new Tensor[]{cs[0].to(x.device()), cs[1].to(x.device())} : cs;
    }

    /** The token embedding (V,C). */
    Tensor embedding() {
        return embed;
    }

    /** The LM head (V,C) (the embedding when tied). */
    Tensor head() {
        return lmHead;
    }

    /** Per MoE layer, the tokens routed to each expert by the last forward pass. */
    public Map<Integer, long[]> expertLoads() {
        Map<Integer, long[]> m = new LinkedHashMap<>();
        for (int i = 0; i < layers.length; i++) if (layers[i].moe() != null) m.put(i, layers[i].moe().gate().expertLoad());
        return m;
    }

    /** Applies the auxiliary-loss-free bias update with step {@code gamma} to every noaux_tc gate. */
    public void updateRoutingBias(double gamma) {
        for (Block b : layers) if (b.moe() != null && b.moe().gate().bias != null) b.moe().gate().updateBias(gamma);
    }

    /** Releases the mapped checkpoint or the owned weights. */
    @Override
    public void close() {
        try {
            owned.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing the model's weights failed: " + e.getMessage(), e);
        }
    }
}
