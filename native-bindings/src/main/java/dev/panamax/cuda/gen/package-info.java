/**
 * Raw FFM bindings to the CUDA driver ({@link dev.panamax.cuda.gen.cuda_h}), cuBLAS
 * ({@link dev.panamax.cuda.gen.cublas_api_h}), cuBLASLt ({@link dev.panamax.cuda.gen.cublasLt_h})
 * and NVRTC ({@link dev.panamax.cuda.gen.nvrtc_h}),
 * in the layout jextract generates: a class per header, a static method per C function under its C
 * name, and {@code name$descriptor()}, {@code name$handle()} and {@code name$address()} beside it.
 *
 * <p>The committed classes were written by hand in that layout, because jextract is not installed
 * on our build machines. {@code native-bindings/jextract/} holds the lists of the symbols bound and
 * {@code regenerate.sh}, which regenerates these classes with jextract from the CUDA headers. A test
 * checks every binding's signature against the headers when they are installed.
 */
package dev.panamax.cuda.gen;
