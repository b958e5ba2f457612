package dev.panamax.moe;

import dev.panamax.runtime.Device;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

/** The pipelined decode loop's tests with the model on CUDA device 0 (queued read-backs, a CUDA graph a step); skipped where there is none. */
@Tag("gpu")
class PipelinedGenerationOnGpuTest extends PipelinedGenerationTest {
    @BeforeEach
    void needsGpu() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Device.cuda().isAvailable(), Device.cuda().unavailableReason());
    }

    @Override
    Device device() {
        return Device.cuda();
    }
}
