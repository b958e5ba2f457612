/**
 * DeepSeek-V3 in the paper's order: {@link dev.panamax.moe.DeepSeekConfig},
 * {@link dev.panamax.moe.Rope} (with YaRN), {@link dev.panamax.moe.Mla} (naive and absorbed
 * paths, {@link dev.panamax.moe.KvCache}), {@link dev.panamax.moe.Mlp}, {@link dev.panamax.moe.Gate},
 * {@link dev.panamax.moe.MoE}, {@link dev.panamax.moe.Block}, {@link dev.panamax.moe.DeepSeekModel},
 * {@link dev.panamax.moe.MultiTokenPredictor}; generation: {@link dev.panamax.moe.Sampler},
 * {@link dev.panamax.moe.Generator}, {@link dev.panamax.moe.Speculation} (speculative decoding).
 * Shapes use the letters of {@code dev.panamax.runtime}: B, T, C, H, E, K, V, Lkv, Lq, R.
 */
package dev.panamax.moe;
