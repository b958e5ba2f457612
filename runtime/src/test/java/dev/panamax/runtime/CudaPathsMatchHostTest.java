package dev.panamax.runtime;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link DevicePathsMatchHostTest} on a real GPU: every op of the device paths through
 * {@link CudaBackend} (our kernels compiled by NVRTC, cuBLAS for matmul) against the host. Skipped,
 * with the reason, where no CUDA device is usable.
 */
@Tag("gpu")
class CudaPathsMatchHostTest extends DevicePathsMatchHostTest {
    @Override
    long liveBlocks() {
        return CudaBackend.get(0).gpu().allocator().liveBytes();
    }

    @Override
    long downloads() {
        return CudaBackend.get(0).downloads();
    }

    @Override
    boolean queuesReadBacks() {
        return true;
    }

    @Override
    int openReadBacks() {
        return CudaBackend.get(0).gpu().openReadbacks();
    }

    @BeforeEach
    @Override
    void install() {
        Device cuda = Device.cuda(0);
        assumeTrue(cuda.isAvailable(), () -> "no usable CUDA device: " + cuda.unavailableReason());
        DEV = cuda;
        emu = null;
        scope = Scope.open();
    }
}
