/**
 * Panamax native bindings: FFM access to the CUDA driver, cuBLAS and NVRTC behind small
 * facades. Nothing here is required on a machine without a GPU: {@link dev.panamax.cuda.Cuda#available()}
 * says whether CUDA can be used and, if not, why.
 */
module dev.panamax.cuda {
    exports dev.panamax.cuda;
}
