package dev.panamax.moe;

import dev.panamax.runtime.Device;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

/** Speculative decoding with the model and its MTP module on CUDA device 0; skipped where there is none. */
@Tag("gpu")
class SpeculationOnGpuTest extends SpeculationOnDeviceTest {
    @BeforeEach
    void needsGpu() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Device.cuda().isAvailable(), Device.cuda().unavailableReason());
    }

    @Override
    Device device() {
        return Device.cuda();
    }
}
