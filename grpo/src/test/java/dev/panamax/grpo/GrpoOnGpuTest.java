package dev.panamax.grpo;

import dev.panamax.runtime.Device;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@link GrpoOnDeviceTest} on CUDA device 0: a few warm-up and GRPO steps of the demo on the GPU. */
@Tag("gpu")
class GrpoOnGpuTest extends GrpoOnDeviceTest {
    @BeforeEach
    void needsGpu() {
        assumeTrue(Device.cuda().isAvailable(), Device.cuda().unavailableReason());
    }

    @Override
    Device device() {
        return Device.cuda();
    }
}
