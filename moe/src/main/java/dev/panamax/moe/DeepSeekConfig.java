package dev.panamax.moe;

import dev.panamax.runtime.io.ConfigJson;

import java.nio.file.Path;
import java.util.Locale;

/**
 * The DeepSeek-V3 architecture's hyper-parameters, read from a Hugging Face {@code config.json}
 * (DeepseekV3 or DeepseekV2 format) and validated: a missing or inconsistent field is an error
 * naming it.
 *
 * @param vocabSize            V
 * @param hiddenSize           C
 * @param intermediateSize     width of the dense SwiGLU MLP
 * @param moeIntermediateSize  width of each expert
 * @param numHiddenLayers      layers
 * @param numAttentionHeads    H
 * @param qLoraRank            Lq, or 0 for a plain {@code q_proj}
 * @param kvLoraRank           Lkv, the compressed latent size
 * @param qkNopeHeadDim        dn
 * @param qkRopeHeadDim        R (dr)
 * @param vHeadDim             dv
 * @param nRoutedExperts       E
 * @param nSharedExperts       shared experts (one SwiGLU of width nSharedExperts * moeIntermediateSize)
 * @param numExpertsPerTok     K
 * @param nGroup               expert groups
 * @param topkGroup            groups kept per token
 * @param topkMethod           {@code greedy}, {@code group_limited_greedy} or {@code noaux_tc}
 * @param scoringFunc          {@code softmax} or {@code sigmoid}
 * @param normTopkProb         whether the chosen weights are renormalised
 * @param routedScalingFactor  multiplies the routing weights
 * @param firstKDenseReplace   layers before this index use the dense MLP
 * @param rmsNormEps           epsilon of every RMSNorm
 * @param ropeTheta            RoPE base
 * @param maxPositionEmbeddings maximum positions
 * @param yarn                 YaRN rope scaling, or null
 * @param tieWordEmbeddings    whether lm_head shares the embedding
 */
public record DeepSeekConfig(int vocabSize, int hiddenSize, int intermediateSize, int moeIntermediateSize,
                             int numHiddenLayers, int numAttentionHeads, int qLoraRank, int kvLoraRank,
                             int qkNopeHeadDim, int qkRopeHeadDim, int vHeadDim, int nRoutedExperts,
                             int nSharedExperts, int numExpertsPerTok, int nGroup, int topkGroup,
                             String topkMethod, String scoringFunc, boolean normTopkProb,
                             double routedScalingFactor, int firstKDenseReplace, double rmsNormEps,
                             double ropeTheta, int maxPositionEmbeddings, Yarn yarn, boolean tieWordEmbeddings) {

    /**
     * YaRN rope scaling parameters.
     *
     * @param factor                        context extension factor
     * @param originalMaxPositionEmbeddings the pre-extension context
     * @param betaFast                      fast boundary
     * @param betaSlow                      slow boundary
     * @param mscale                        mscale
     * @param mscaleAllDim                  mscale_all_dim
     */
    public record Yarn(double factor, int originalMaxPositionEmbeddings, double betaFast, double betaSlow,
                       double mscale, double mscaleAllDim) {
        /** Validates. */
        public Yarn {
            if (!(factor >= 1)) throw new IllegalArgumentException("rope_scaling.factor must be >= 1, got " + factor);
            if (originalMaxPositionEmbeddings <= 0) throw new IllegalArgumentException("rope_scaling.original_max_position_embeddings must be positive");
        }
    }

    /** Validates field ranges and their consistency. */
    public DeepSeekConfig {
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("moe_intermediate_size", moeIntermediateSize);
        positive("num_hidden_layers", numHiddenLayers);
        positive("num_attention_heads", numAttentionHeads);
        if (qLoraRank < 0) throw new IllegalArgumentException("q_lora_rank must be positive or null, got " + qLoraRank);
        positive("kv_lora_rank", kvLoraRank);
        positive("qk_nope_head_dim", qkNopeHeadDim);
        positive("qk_rope_head_dim", qkRopeHeadDim);
        if (qkRopeHeadDim % 2 != 0) throw new IllegalArgumentException("qk_rope_head_dim must be even, got " + qkRopeHeadDim);
        positive("v_head_dim", vHeadDim);
        if (firstKDenseReplace < 0 || firstKDenseReplace > numHiddenLayers) {
            throw new IllegalArgumentException("first_k_dense_replace must be in [0, num_hidden_layers], got " + firstKDenseReplace);
        }
        boolean hasMoe = firstKDenseReplace < numHiddenLayers;
        if (hasMoe) {
            positive("n_routed_experts", nRoutedExperts);
            positive("num_experts_per_tok", numExpertsPerTok);
            positive("n_group", nGroup);
            positive("topk_group", topkGroup);
            if (nSharedExperts < 0) throw new IllegalArgumentException("n_shared_experts must be >= 0, got " + nSharedExperts);
            if (nRoutedExperts % nGroup != 0) throw new IllegalArgumentException("n_routed_experts " + nRoutedExperts + " is not divisible by n_group " + nGroup);
            if (topkGroup > nGroup) throw new IllegalArgumentException("topk_group " + topkGroup + " exceeds n_group " + nGroup);
            if (numExpertsPerTok > topkGroup * (nRoutedExperts / nGroup)) {
                throw new IllegalArgumentException("num_experts_per_tok " + numExpertsPerTok + " exceeds the experts in topk_group groups (" + topkGroup * (nRoutedExperts / nGroup) + ")");
            }
            if (!topkMethod.equals("greedy") && !topkMethod.equals("group_limited_greedy") && !topkMethod.equals("noaux_tc")) {
                throw new IllegalArgumentException("topk_method must be greedy, group_limited_greedy or noaux_tc, got " + topkMethod);
            }
            if (!scoringFunc.equals("softmax") && !scoringFunc.equals("sigmoid")) {
                throw new IllegalArgumentException("scoring_func must be softmax or sigmoid, got " + scoringFunc);
            }
            if (nGroup > 1 && topkMethod.equals("noaux_tc") && nRoutedExperts / nGroup < 2) {
                throw new IllegalArgumentException("noaux_tc group scores need at least 2 experts per group, have " + nRoutedExperts / nGroup);
            }
        }
        if (!(rmsNormEps > 0)) throw new IllegalArgumentException("rms_norm_eps must be positive, got " + rmsNormEps);
        if (!(ropeTheta > 0)) throw new IllegalArgumentException("rope_theta must be positive, got " + ropeTheta);
        positive("max_position_embeddings", maxPositionEmbeddings);
    }

    private static void positive(String field, int v) {
        if (v <= 0) throw new IllegalArgumentException(field + " must be positive, got " + v);
    }

    /** Whether layer {@code i} uses the MoE block (otherwise the dense MLP). */
    public boolean isMoeLayer(int i) {
        return i >= firstKDenseReplace;
    }

    /** dn + dr: the query/key head size. */
    public int qkHeadDim() {
        return qkNopeHeadDim + qkRopeHeadDim;
    }

    /** Whether YaRN is active (the official condition: max positions beyond the original context). */
    public boolean yarnActive() {
        return yarn != null && maxPositionEmbeddings > yarn.originalMaxPositionEmbeddings();
    }

    /** {@code (dn+dr)^-1/2}, times mscale^2 when YaRN is active. */
    public double softmaxScale() {
        double s = 1 / Math.sqrt(qkHeadDim());
        if (yarnActive()) {
            double m = 0.1 * yarn.mscaleAllDim() * Math.log(yarn.factor()) + 1;
            s *= m * m;
        }
        return s;
    }

    /** Reads and validates {@code config.json}; errors name the file and the field. */
    public static DeepSeekConfig read(Path configJson) {
        return from(ConfigJson.read(configJson));
    }

    /** Builds from parsed JSON; errors name the file and the field. */
    public static DeepSeekConfig from(ConfigJson c) {
        try {
            String act = c.isNull("hidden_act") ? "silu" : c.requireString("hidden_act");
            if (!act.equals("silu")) throw new IllegalArgumentException("hidden_act must be silu, got " + act);
            if (c.has("moe_layer_freq") && !c.isNull("moe_layer_freq") && c.requireInt("moe_layer_freq") != 1) {
                throw new IllegalArgumentException("moe_layer_freq must be 1, got " + c.requireInt("moe_layer_freq"));
            }
            // num_nextn_predict_layers: multi-token-prediction layers are not part of the main
            // forward pass; their weights (model.layers.{i >= num_hidden_layers}) are ignored on load
            int layers = c.requireInt("num_hidden_layers");
            int firstDense = c.requireInt("first_k_dense_replace");
            boolean moe = firstDense < layers;
            Yarn yarn = null;
            ConfigJson rs = c.object("rope_scaling");
            if (rs != null) {
                String type = rs.has("type") ? rs.requireString("type") : rs.requireString("rope_type");
                if (!type.toLowerCase(Locale.ROOT).equals("yarn")) throw new IllegalArgumentException("rope_scaling type must be yarn, got " + type);
                yarn = new Yarn(rs.requireDouble("factor"), rs.requireInt("original_max_position_embeddings"),
                        rs.has("beta_fast") ? rs.requireDouble("beta_fast") : 32, rs.has("beta_slow") ? rs.requireDouble("beta_slow") : 1,
                        rs.has("mscale") ? rs.requireDouble("mscale") : 1, rs.has("mscale_all_dim") ? rs.requireDouble("mscale_all_dim") : 0);
            }
            return new DeepSeekConfig(c.requireInt("vocab_size"), c.requireInt("hidden_size"), c.requireInt("intermediate_size"),
                    c.requireInt("moe_intermediate_size"), layers, c.requireInt("num_attention_heads"),
                    c.isNull("q_lora_rank") ? 0 : c.requireInt("q_lora_rank"), c.requireInt("kv_lora_rank"),
                    c.requireInt("qk_nope_head_dim"), c.requireInt("qk_rope_head_dim"), c.requireInt("v_head_dim"),
                    moe ? c.requireInt("n_routed_experts") : 0, moe ? c.requireInt("n_shared_experts") : 0,
                    moe ? c.requireInt("num_experts_per_tok") : 0, moe ? c.requireInt("n_group") : 1, moe ? c.requireInt("topk_group") : 1,
                    moe ? c.requireString("topk_method") : "greedy", moe ? c.requireString("scoring_func") : "softmax",
                    moe && c.requireBoolean("norm_topk_prob"), moe ? c.requireDouble("routed_scaling_factor") : 1.0, firstDense,
                    c.requireDouble("rms_norm_eps"), c.requireDouble("rope_theta"), c.requireInt("max_position_embeddings"), yarn,
                    c.has("tie_word_embeddings") && !c.isNull("tie_word_embeddings") && c.requireBoolean("tie_word_embeddings"));
        } catch (ConfigJson.ConfigException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new ConfigJson.ConfigException(c.source() + ": " + e.getMessage());
        }
    }
}
