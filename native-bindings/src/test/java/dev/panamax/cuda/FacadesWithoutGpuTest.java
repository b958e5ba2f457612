package dev.panamax.cuda;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** Where there is no GPU (CI), the facades fail with a {@link CudaException} that says why, never a crash. */
class FacadesWithoutGpuTest {
    @Test
    void cudaCallsExplainThatCudaIsMissing() {
        assumeFalse(Cuda.available(), "a GPU is present");
        assertThatThrownBy(() -> Cuda.device(0)).isInstanceOf(CudaException.class).hasMessageContaining("CUDA is not available");
        assertThatThrownBy(Cuda::driverVersion).isInstanceOf(CudaException.class).hasMessageContaining(Cuda.unavailableReason());
        assertThatThrownBy(Cublas::create).isInstanceOf(CudaException.class).hasMessageContaining("CUDA is not available");
    }

    @Test
    void nvrtcWithoutItsLibraryExplainsItself() {
        assumeFalse(Nvrtc.available(), "NVRTC is installed");
        assertThat(Nvrtc.unavailableReason()).contains("libnvrtc.so");
        assertThatThrownBy(() -> Nvrtc.compile("extern \"C\" __global__ void k() {}", "k.cu", List.of()))
                .isInstanceOf(CudaException.class).hasMessageContaining("NVRTC could not be loaded").hasMessageContaining("libnvrtc.so");
    }

    @Test
    void describeNeverThrows() {
        assertThat(Cuda.describe(2)).isNotBlank();
        assertThat(Cublas.describe(1)).isNotBlank();
        assertThat(Nvrtc.describe(6)).isNotBlank();
    }
}
