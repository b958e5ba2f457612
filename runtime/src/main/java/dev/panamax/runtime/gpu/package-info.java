/**
 * The GPU side of the runtime: {@link dev.panamax.runtime.gpu.GpuDevice} (context, stream, cuBLAS,
 * {@link dev.panamax.runtime.gpu.CachingAllocator caching allocator}), the CUDA kernel sources
 * ({@link dev.panamax.runtime.gpu.CudaSources}) and their run-time compilation by NVRTC
 * ({@link dev.panamax.runtime.gpu.CudaModules}).
 */
package dev.panamax.runtime.gpu;
