package dev.panamax.moe;

import dev.panamax.runtime.Device;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The DeepSeek reference cases with the model on CUDA device 0; skipped where there is none. */
@Tag("gpu")
class DeepSeekReferenceOnGpuTest extends DeepSeekReferenceTest {
    @BeforeEach
    void needsGpu() {
        assumeTrue(Device.cuda().isAvailable(), Device.cuda().unavailableReason());
    }

    @Override
    Device device() {
        return Device.cuda();
    }
}
