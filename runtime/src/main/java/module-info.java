/**
 * Panamax runtime: tensors over {@code java.lang.foreign} memory, scalar and Vector API kernels,
 * safetensors and JSON I/O; on NVIDIA GPUs, device memory, cuBLAS and CUDA kernels compiled by NVRTC
 * ({@code dev.panamax.runtime.gpu}).
 */
module dev.panamax.runtime {
    requires transitive dev.panamax.cuda;
    requires jdk.incubator.vector;

    exports dev.panamax.runtime;
    exports dev.panamax.runtime.gpu;
    exports dev.panamax.runtime.io;
    exports dev.panamax.runtime.nn;
    exports dev.panamax.runtime.optim;
}
