package dev.panamax.moe;

import dev.panamax.runtime.Device;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

/** {@link BatcherTest} with the model on CUDA device 0; skipped where there is none. */
@Tag("gpu")
class BatcherOnGpuTest extends BatcherTest {
    @BeforeEach
    void needsGpu() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Device.cuda().isAvailable(), Device.cuda().unavailableReason());
    }

    @Override
    Device device() {
        return Device.cuda();
    }
}
