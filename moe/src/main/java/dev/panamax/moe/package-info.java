/**
 * DeepSeek-V3 models: config, MLA, DeepSeekMoE, checkpoint loading and generation
 * (see the open issue "DeepSeek-V3 models in moe"; this module is empty until then).
 */
package dev.panamax.moe;
