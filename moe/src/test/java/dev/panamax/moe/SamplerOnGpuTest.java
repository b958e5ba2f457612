package dev.panamax.moe;

import dev.panamax.runtime.Device;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

/** The sampler's tests with the logits on CUDA device 0 (its kernels: top-k, the draw, the softmax's denominators); skipped where there is none. */
@Tag("gpu")
class SamplerOnGpuTest extends SamplerTest {
    @BeforeEach
    void needsGpu() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Device.cuda().isAvailable(), Device.cuda().unavailableReason());
    }

    @Override
    Device device() {
        return Device.cuda();
    }
}
