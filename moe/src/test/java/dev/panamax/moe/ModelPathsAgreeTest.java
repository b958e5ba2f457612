package dev.panamax.moe;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.io.ConfigJson;
import dev.panamax.runtime.io.Json;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * On seeded random models of configurations the published fixtures do not cover (YaRN, no
 * dense layer, group_limited_greedy, batch 2): the absorbed MLA path agrees with the naive one,
 * grouped experts agree with the per-token oracle, and cached decoding agrees with a full pass.
 */
class ModelPathsAgreeTest {
    static DeepSeekConfig config(String topkMethod, String scoring, int nGroup, int topkGroup, int firstDense, boolean yarn) {
        String json = """
                {"vocab_size": 97, "hidden_size": 48, "intermediate_size": 80, "moe_intermediate_size": 24,
                 "num_hidden_layers": 2, "num_attention_heads": 3, "q_lora_rank": %s, "kv_lora_rank": 20,
                 "qk_nope_head_dim": 12, "qk_rope_head_dim": 6, "v_head_dim": 10, "n_routed_experts": 8,
                 "n_shared_experts": 1, "num_experts_per_tok": 3, "n_group": %d, "topk_group": %d,
                 "topk_method": "%s", "scoring_func": "%s", "norm_topk_prob": %s, "routed_scaling_factor": 1.5,
                 "first_k_dense_replace": %d, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
                 "max_position_embeddings": %d, "rope_scaling": %s}
                """.formatted(firstDense == 0 ? "null" : "16", nGroup, topkGroup, topkMethod, scoring,
                scoring.equals("sigmoid"), firstDense, yarn ? 256 : 64,
                yarn ? "{\"type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 64, \"beta_fast\": 32, \"beta_slow\": 1, \"mscale\": 1.0, \"mscale_all_dim\": 1.0}" : "null");
        return DeepSeekConfig.from(new ConfigJson(Path.of("test-config.json"), Json.parseObject(json)));
    }

    static float maxDiff(Tensor a, Tensor b) {
        float[] x = a.toFloatArray(), y = b.toFloatArray();
        float m = 0;
        for (int i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
        return m;
    }

    @Test
    void absorbedMatchesNaiveAndGroupedMatchesPerTokenAndDecodeMatchesPrefill() {
        DeepSeekConfig[] configs = {
                config("noaux_tc", "sigmoid", 4, 2, 1, true),
                config("group_limited_greedy", "softmax", 2, 1, 0, false),
                config("greedy", "softmax", 1, 1, 1, false)};
        for (DeepSeekConfig cfg : configs) {
            try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.random(cfg, 42, DType.F32)) {
                m.requiresGrad(false);
                Tensor ids = Tensor.ofLongs(new long[]{5, 17, 3, 96, 0, 44, 8, 8, 1, 2, 3, 4, 60, 61, 62, 7}, 2, 8);
                Tensor naive = m.forward(ids, 0, null, Mla.NAIVE, false, null);
                Tensor absorbed = m.forward(ids, 0, null, Mla.ABSORBED, false, null);
                Tensor perToken = m.forward(ids, 0, null, Mla.NAIVE, false, true, null);
                assertThat(maxDiff(naive, absorbed)).as("absorbed vs naive " + cfg.topkMethod()).isLessThan(2e-5f);
                assertThat(maxDiff(naive, perToken)).as("grouped vs per-token MoE " + cfg.topkMethod()).isLessThan(2e-5f);
                try (KvCache cache = new KvCache(cfg, 2, 8)) {
                    m.forward(ids.narrow(1, 0, 1), 0, cache, Mla.ABSORBED, true, null);
                    for (int j = 1; j < 8; j++) {
                        Tensor step = m.forward(ids.narrow(1, j, 1), j, cache, Mla.ABSORBED, true, null);
                        assertThat(maxDiff(step, naive.narrow(1, j, 1))).as("decode step " + j).isLessThan(2e-5f);
                    }
                }
                // a BF16 cache: the entries rounded once, attention still in F32, so the logits stay close
                for (Mla.Path path : new Mla.Path[]{Mla.ABSORBED, Mla.NAIVE}) {
                    try (KvCache cache = new KvCache(cfg, 2, 8, dev.panamax.runtime.Device.CPU, DType.BF16)) {
                        assertThat(cache.dtype()).isEqualTo(DType.BF16);
                        m.forward(ids.narrow(1, 0, 1), 0, cache, path, true, null);
                        float worst = 0;
                        for (int j = 1; j < 8; j++) {
                            Tensor step = m.forward(ids.narrow(1, j, 1), j, cache, path, true, null);
                            worst = Math.max(worst, maxDiff(step, naive.narrow(1, j, 1)));
                        }
                        assertThat(worst).as("BF16 cache decode vs F32 forward, " + path).isLessThan(2e-2f).isGreaterThan(0f);
                    }
                }
            }
        }
    }

    @Test
    void routedExpertsOnADeviceAgreeWithTheGroupedProductsAndKeepTheChoiceThere() {
        // BF16 experts on the emulated device (a real checkpoint's dtype): at inference MoE.forward
        // runs RoutedExperts from the routing left on the device; the grouped products and the
        // per-token oracle read it back
        DeepSeekConfig cfg = config("noaux_tc", "sigmoid", 4, 2, 1, false);
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.random(cfg, 5, DType.BF16, Device.EMULATED)) {
            m.requiresGrad(false);
            MoE moe = m.layers()[1].moe();
            for (int tokens : new int[]{1, 5}) {
                Tensor x = Tensor.randn(DType.F32, 40 + tokens, 1.0, 1, tokens, cfg.hiddenSize()).to(Device.EMULATED);
                Tensor routed = moe.forward(x);
                assertThat(moe.lastRouting().chosen().device()).as("the choice stays on the device").isEqualTo(Device.EMULATED);
                long[] load = moe.gate().expertLoad();   // read back on demand, inside the pass's scope
                assertThat(java.util.Arrays.stream(load).sum()).isEqualTo((long) tokens * cfg.numExpertsPerTok());
                Tensor grouped = moe.forwardGrouped(x), perToken = moe.forwardPerToken(x);
                assertThat(routed.device()).isEqualTo(Device.EMULATED);
                assertThat(maxDiff(routed, grouped)).as("routed vs grouped, %d tokens", tokens).isLessThan(1e-4f);
                assertThat(maxDiff(routed, perToken)).as("routed vs per token, %d tokens", tokens).isLessThan(1e-4f);
            }
            Tensor x = Tensor.randn(DType.F32, 50, 1.0, 1, 2, cfg.hiddenSize()).to(Device.EMULATED);
            try (Scope step = Scope.open()) {
                moe.forward(x);
            }
            assertThatThrownBy(() -> moe.gate().expertLoad()).as("the loads of an inference pass whose scope closed")
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("inside the scope of that forward pass");
        }
    }

    @Test
    void cacheHoldsOnlyTheLatentAndTheRopeKey() {
        DeepSeekConfig cfg = config("noaux_tc", "sigmoid", 4, 2, 1, false);
        try (KvCache c = new KvCache(cfg, 1, 4)) {
            assertThat(c.bytesPerToken()).isEqualTo(2L * (20 + 6) * 4);
            assertThat(c.mhaBytesPerToken()).isEqualTo(2L * 3 * (18 + 10) * 4);
        }
        try (KvCache c = new KvCache(cfg, 1, 4, dev.panamax.runtime.Device.CPU, DType.BF16)) {
            assertThat(c.bytesPerToken()).isEqualTo(2L * (20 + 6) * 2);
        }
        assertThatThrownBy(() -> new KvCache(cfg, 1, 4, dev.panamax.runtime.Device.CPU, DType.I32)).hasMessageContaining("F32 or BF16, got I32");
    }

    @Test
    void configErrorsNameTheField() {
        String ok = """
                {"vocab_size": 97, "hidden_size": 48, "intermediate_size": 80, "moe_intermediate_size": 24,
                 "num_hidden_layers": 2, "num_attention_heads": 3, "q_lora_rank": null, "kv_lora_rank": 20,
                 "qk_nope_head_dim": 12, "qk_rope_head_dim": 6, "v_head_dim": 10, "n_routed_experts": 8,
                 "n_shared_experts": 1, "num_experts_per_tok": 3, "n_group": 2, "topk_group": 1,
                 "topk_method": "noaux_tc", "scoring_func": "sigmoid", "norm_topk_prob": true, "routed_scaling_factor": 1.5,
                 "first_k_dense_replace": 1, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 64}""";
        assertThat(DeepSeekConfig.from(new ConfigJson(Path.of("c.json"), Json.parseObject(ok))).qLoraRank()).isZero();
        Map<String, String> broken = Map.of(
                "\"kv_lora_rank\": 20,", "kv_lora_rank",
                "\"n_group\": 2,", "n_group",
                "\"qk_rope_head_dim\": 6", "\"qk_rope_head_dim\": 7",
                "\"topk_group\": 1", "\"topk_group\": 3",
                "\"scoring_func\": \"sigmoid\"", "\"scoring_func\": \"relu\"");
        for (var e : broken.entrySet()) {
            String json = e.getValue().startsWith("\"") ? ok.replace(e.getKey(), e.getValue()) : ok.replace(e.getKey(), "");
            String field = e.getValue().startsWith("\"") ? e.getValue().substring(1, e.getValue().indexOf('"', 1)) : e.getValue();
            assertThatThrownBy(() -> DeepSeekConfig.from(new ConfigJson(Path.of("c.json"), Json.parseObject(json))))
                    .as(field).hasMessageContaining("c.json").hasMessageContaining(field);
        }
    }
}
