package dev.panamax.moe;

import dev.panamax.runtime.Device;

/**
 * The DeepSeek reference cases with the model on {@link Device#EMULATED}: weights, KV cache, RoPE
 * tables and activations in device memory, the absorbed decode through the fused latent-attention
 * primitive, gradients and routing through the device paths, against the same outside numbers.
 */
class DeepSeekReferenceOnEmulatedDeviceTest extends DeepSeekReferenceTest {
    @Override
    Device device() {
        return Device.EMULATED;
    }
}
