/**
 * Panamax native bindings: FFM access to the CUDA driver, cuBLAS and NVRTC behind small
 * facades ({@link dev.panamax.cuda.Cuda}, {@link dev.panamax.cuda.Cublas},
 * {@link dev.panamax.cuda.Nvrtc}) that check every status and throw
 * {@link dev.panamax.cuda.CudaException} with the library's own message. Nothing here is required
 * on a machine without a GPU: {@link dev.panamax.cuda.Cuda#available()} says whether CUDA can be
 * used and, if not, why.
 */
module dev.panamax.cuda {
    exports dev.panamax.cuda;
    exports dev.panamax.cuda.gen;
}
