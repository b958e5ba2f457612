/** DeepSeek-V3 architecture (MLA, DeepSeekMoE) on the Panamax runtime. */
module dev.panamax.moe {
    requires transitive dev.panamax.runtime;

    exports dev.panamax.moe;
    exports dev.panamax.moe.text;
}
