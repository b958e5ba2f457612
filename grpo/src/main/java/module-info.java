/** GRPO training of DeepSeek-style models. */
module dev.panamax.grpo {
    requires transitive dev.panamax.moe;

    exports dev.panamax.grpo;
}
