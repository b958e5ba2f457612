package dev.panamax.bench;

import dev.panamax.moe.DeepSeekConfig;
import dev.panamax.moe.DeepSeekModel;
import dev.panamax.moe.KvCache;
import dev.panamax.moe.Mla;
import dev.panamax.moe.MoE;
import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Parallel;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.io.ConfigJson;
import dev.panamax.runtime.io.Json;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * DeepSeek-V3 hot paths on a seeded random model with DeepSeek-V2-Lite's layer shapes (2 MoE
 * layers, hidden 2048, 16 heads, no q LoRA, kv_lora_rank 512, nope 128, rope 64, v 128, 64 routed
 * experts top-6 with softmax scoring, 2 shared, expert width 1408, vocab 32000), 2 threads:
 * <ul>
 *   <li>{@code decodeToken}: one decode step (batch 1) after a 256-token prefill, absorbed MLA;
 *       {@code decodeTokenGraph} the same step as a {@code DecodeGraph} (one CUDA graph launch on a GPU);
 *       {@code prefill}: a 256-token prefill; with F32 and BF16 weights;</li>
 *   <li>{@code mlaDecodeAbsorbed} / {@code mlaDecodeNaive}: one layer's attention for one new
 *       token over a cache of {@code cacheLen} tokens;</li>
 *   <li>{@code moeForward} / {@code moeGrouped} / {@code moePerExpert} / {@code moePerToken}: one
 *       MoE layer over 64 tokens (or 1, for a GPU's decode), as {@code MoE.forward} runs it (on a
 *       device at decode the routed experts straight from the routing on the device,
 *       {@code RoutedExperts}; else the grouped products), the experts' projections as grouped
 *       products ({@code Functional.groupedLinear}) whatever the shape, as one product per expert,
 *       and once per token; {@code moeTrainGrouped} /
 *       {@code moeTrainPerExpert}: forward and backward of such a layer with F32 experts, and of
 *       the demo model's MoE layer over a GRPO-sized batch.</li>
 * </ul>
 * Baseline for bandwidth: {@link MatmulBench#copy}, run in the same invocation of the jar;
 * {@link Ratios} turns decode time into a fraction of the bandwidth bound (bytes of weights one
 * token touches / copy bandwidth). Trap avoided: the cache is truncated back to the prefill
 * length before each decode step, so every step attends over the same number of tokens.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class DeepSeekBench {
    /** DeepSeek-V2-Lite's shapes with 2 MoE layers. */
    public static DeepSeekConfig v2LiteShapes() {
        String json = """
                {"vocab_size": 32000, "hidden_size": 2048, "intermediate_size": 10944, "moe_intermediate_size": 1408,
                 "num_hidden_layers": 2, "num_attention_heads": 16, "q_lora_rank": null, "kv_lora_rank": 512,
                 "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128, "n_routed_experts": 64,
                 "n_shared_experts": 2, "num_experts_per_tok": 6, "n_group": 1, "topk_group": 1,
                 "topk_method": "greedy", "scoring_func": "softmax", "norm_topk_prob": false, "routed_scaling_factor": 1.0,
                 "first_k_dense_replace": 0, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 4096}""";
        return DeepSeekConfig.from(new ConfigJson(Path.of("DeepSeek-V2-Lite-2-layers"), Json.parseObject(json)));
    }

    /** One layer of V2-Lite's shapes with a 256-token vocabulary: the MoE layer, or a dense one (for attention alone). */
    static DeepSeekConfig oneLayer(boolean moe) {
        DeepSeekConfig b = v2LiteShapes();
        return new DeepSeekConfig(256, b.hiddenSize(), 64, b.moeIntermediateSize(), 1, b.numAttentionHeads(), 0, b.kvLoraRank(),
                b.qkNopeHeadDim(), b.qkRopeHeadDim(), b.vHeadDim(), moe ? b.nRoutedExperts() : 0, moe ? b.nSharedExperts() : 0,
                moe ? b.numExpertsPerTok() : 0, 1, 1, "greedy", "softmax", false, 1.0, moe ? 0 : 1, 1e-6, 10000.0, 8192, null, false);
    }

    /** Whole model, cached after a 256-token prefill. */
    @State(Scope.Benchmark)
    public static class Model {
        @Param({"F32", "BF16"})
        public String dtype;
        @Param({"2"})
        public int threads;
        /** Where the model runs: {@code cpu}, or {@code cuda} for {@link GpuBench}'s GPU-versus-CPU decode. */
        @Param({"cpu"})
        public String device;
        /** The KV cache's dtype: F32, or BF16 (as DeepSeek's inference keeps it; on a GPU, the tensor-core MLA kernel). */
        @Param({"F32"})
        public String kvCache;
        /**
         * Programmatic dependent launch on a GPU ({@code -Dpanamax.cuda.pdl}): {@code off} (the
         * default) or {@code on}, each kernel of a step scheduled while the one before it finishes,
         * e.g. {@code -p pdl=off,on}. Nothing on the CPU.
         */
        @Param({"off"})
        public String pdl;
        DeepSeekModel model;
        dev.panamax.runtime.Scope inputs;
        KvCache cache;
        dev.panamax.moe.DecodeGraph graph;   // made on first use by decodeTokenGraph
        Tensor prompt, next;
        static final int PREFILL = 256;

        @Setup(Level.Trial)
        public void setup() {
            Parallel.setThreads(threads);
            System.setProperty(GpuBench.Decode.PDL_PROPERTY, pdl);
            DeepSeekConfig cfg = v2LiteShapes();
            Device d = Device.parse(device);
            if (d.isDevice()) GpuBench.gpu();   // fails the trial with the reason when there is no GPU
            model = DeepSeekModel.random(cfg, 7, DType.valueOf(dtype), d);
            model.requiresGrad(false);
            cache = new KvCache(cfg, 1, PREFILL + 8, d, DType.valueOf(kvCache));
            long[] ids = new long[PREFILL];
            for (int i = 0; i < PREFILL; i++) ids[i] = (i * 7919L) % cfg.vocabSize();
            inputs = dev.panamax.runtime.Scope.longLived("inputs");
            try (var e = inputs.enter()) {
                prompt = Tensor.ofLongs(ids, 1, PREFILL);
                next = Tensor.ofLongs(new long[]{42}, 1, 1);
            }
            try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
                model.forward(prompt, 0, cache, Mla.ABSORBED, true, null);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            if (graph != null) graph.close();
            cache.close();
            model.close();
            inputs.close();
            System.clearProperty(GpuBench.Decode.PDL_PROPERTY);
        }
    }

    @Benchmark
    public float decodeToken(Model m) {
        m.cache.truncate(Model.PREFILL);
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
            return m.model.forward(m.next, Model.PREFILL, m.cache, Mla.ABSORBED, true, null).toFloatArray()[0];
        }
    }

    /**
     * {@link #decodeToken} as a {@link dev.panamax.moe.DecodeGraph} step: on a GPU one CUDA graph
     * launch (captured in the first, warm-up, invocation) instead of the step's kernels launched
     * one by one from Java; its baseline is {@code decodeToken} on the same device in the same run.
     * Elsewhere the same forward pass as decodeToken.
     */
    @Benchmark
    public float decodeTokenGraph(Model m) {
        m.cache.truncate(Model.PREFILL);
        if (m.graph == null) m.graph = new dev.panamax.moe.DecodeGraph(m.model, m.cache);
        return m.graph.step(new long[]{42}).toFloatArray()[0];
    }

    @Benchmark
    public float prefill(Model m) {
        m.cache.truncate(0);
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
            return m.model.forward(m.prompt, 0, m.cache, Mla.ABSORBED, true, null).toFloatArray()[0];
        }
    }

    /** One attention layer with a filled cache. */
    @State(Scope.Benchmark)
    public static class Attention {
        @Param({"1024", "4096"})
        public int cacheLen;
        /** The KV cache's dtype: F32, or BF16 (half the bytes a step reads). */
        @Param({"F32", "BF16"})
        public String kvCache;
        DeepSeekModel model;
        dev.panamax.runtime.Scope inputs;
        KvCache cache;
        dev.panamax.moe.DecodeGraph graph;   // made on first use by decodeTokenGraph
        Tensor x;
        Tensor[] cosSin;

        @Setup(Level.Trial)
        public void setup() {
            Parallel.setThreads(2);
            // one dense layer, small vocabulary: only the attention is timed
            DeepSeekConfig cfg = oneLayer(false);
            model = DeepSeekModel.random(cfg, 3, DType.F32);
            model.requiresGrad(false);
            cache = new KvCache(cfg, 1, cacheLen + 1, Device.CPU, DType.valueOf(kvCache));
            inputs = dev.panamax.runtime.Scope.longLived("inputs");
            try (var e = inputs.enter()) {
                x = Tensor.uniform(DType.F32, 5, -1, 1, 1, 1, cfg.hiddenSize());
                cosSin = model.rope().cosSin(cacheLen, 1);
            }
            // fill the cache in chunks (a single 4096-token prefill would hold a 1 GiB score matrix)
            for (int at = 0; at < cacheLen; at += 256) {
                try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
                    int n = Math.min(256, cacheLen - at);
                    long[] v = new long[n];
                    for (int i = 0; i < n; i++) v[i] = (at + i) % 256;
                    model.forward(Tensor.ofLongs(v, 1, n), at, cache, Mla.ABSORBED, true, null);
                }
            }
        }

        float step(Mla.Path path) {
            cache.truncate(cacheLen);
            try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
                Tensor out = model.layers()[0].attention().forward(x, cacheLen, cosSin, cache, 0, path);
                return out.toFloatArray()[0];
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            if (graph != null) graph.close();
            cache.close();
            model.close();
            inputs.close();
        }
    }

    @Benchmark
    public float mlaDecodeAbsorbed(Attention a) {
        return a.step(Mla.ABSORBED);
    }

    @Benchmark
    public float mlaDecodeNaive(Attention a) {
        return a.step(Mla.NAIVE);
    }

    /** A model's MoE layer and its input, for the MoE benchmarks' states. */
    static class MoeLayer {
        DeepSeekModel model;
        dev.panamax.runtime.Scope inputs;
        MoE moe;
        Tensor x;

        void open(DeepSeekConfig cfg, DType weights, Device device, long... inputDims) {
            Parallel.setThreads(2);
            if (device.isDevice()) GpuBench.gpu();   // fails the trial with the reason when there is no GPU
            model = DeepSeekModel.random(cfg, 11, weights, device);
            for (var layer : model.layers()) if (layer.moe() != null) moe = layer.moe();
            inputs = dev.panamax.runtime.Scope.longLived("inputs");
            try (var e = inputs.enter()) {
                x = Tensor.uniform(DType.F32, 5, -1, 1, inputDims).to(device);
            }
        }

        void close() {
            model.close();
            inputs.close();
        }
    }

    /**
     * One MoE layer with BF16 experts and {@code tokens} tokens of input, on the CPU or (for
     * bench/gpu/run.sh) a GPU: at 1 token every chosen expert has one row, the decode shape.
     */
    @State(Scope.Benchmark)
    public static class Experts extends MoeLayer {
        @Param({"cpu"})
        public String device;
        @Param({"64"})
        public int tokens;

        @Setup(Level.Trial)
        public void setup() {
            DeepSeekConfig cfg = oneLayer(true);
            open(cfg, DType.BF16, Device.parse(device), 1, tokens, cfg.hiddenSize());
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            close();
        }
    }

    /**
     * One MoE layer with F32 experts that train: V2-Lite's layer over 64 tokens ({@code v2lite}),
     * or the demo model's MoE layer over a GRPO batch of 64 sequences of 24 tokens ({@code demo}).
     */
    @State(Scope.Benchmark)
    public static class TrainExperts extends MoeLayer {
        @Param({"demo", "v2lite"})
        public String shape;

        @Setup(Level.Trial)
        public void setup() {
            boolean demo = shape.equals("demo");
            DeepSeekConfig cfg = demo ? dev.panamax.grpo.R1ZeroDemo.modelConfig(20) : oneLayer(true);
            if (demo) open(cfg, DType.F32, Device.CPU, 64, 24, cfg.hiddenSize());
            else open(cfg, DType.F32, Device.CPU, 1, 64, cfg.hiddenSize());
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            close();
        }

        /** Forward and backward of the layer's summed output; the gradients are dropped. */
        float step(boolean grouped) {
            try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open()) {
                for (var p : model.parameters()) p.value().zeroGrad();
                Tensor y = grouped ? moe.forward(x) : moe.forwardPerExpert(x);
                Tensor loss = y.sum();
                loss.backward();
                return (float) loss.item();
            }
        }
    }

    @Benchmark
    public float moeTrainGrouped(TrainExperts e) {
        return e.step(true);
    }

    @Benchmark
    public float moeTrainPerExpert(TrainExperts e) {
        return e.step(false);
    }

    @Benchmark
    public float moeForward(Experts e) {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
            return e.moe.forward(e.x).toFloatArray()[0];
        }
    }

    @Benchmark
    public float moeGrouped(Experts e) {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
            return e.moe.forwardGrouped(e.x).toFloatArray()[0];
        }
    }

    @Benchmark
    public float moePerExpert(Experts e) {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
            return e.moe.forwardPerExpert(e.x).toFloatArray()[0];
        }
    }

    @Benchmark
    public float moePerToken(Experts e) {
        try (dev.panamax.runtime.Scope s = dev.panamax.runtime.Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
            return e.moe.forwardPerToken(e.x).toFloatArray()[0];
        }
    }
}
