#!/bin/sh
# Regenerates the raw bindings in dev.panamax.cuda.gen with jextract (22 or later) from the CUDA
# headers, keeping only the symbols listed in *.symbols beside this script.
#
#   CUDA_HOME      toolkit root whose include/ holds cuda.h (default /usr/local/cuda)
#   CUBLAS_INCLUDE folder holding cublas_api.h and cublasLt.h (default $CUDA_HOME/include; for the
#                  Python wheels: .../site-packages/nvidia/cublas/include)
#   NVRTC_INCLUDE  folder holding nvrtc.h (default $CUDA_HOME/include; wheels: nvidia/cuda_nvrtc/include)
#   JEXTRACT       the jextract launcher (default: jextract on PATH)
#
# jextract binds a library by name (-l); Panamax locates the libraries itself (NativeLibraries), so
# the script replaces the generated SYMBOL_LOOKUP with a LibraryRef, as in the committed classes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../src/main/java"
cuda_home=${CUDA_HOME:-/usr/local/cuda}
cublas_inc=${CUBLAS_INCLUDE:-$cuda_home/include}
nvrtc_inc=${NVRTC_INCLUDE:-$cuda_home/include}
jextract=${JEXTRACT:-jextract}

gen() { # class header include-dir symbols library-call
    "$jextract" --output "$out" --target-package dev.panamax.cuda.gen --header-class-name "$1" \
        -I "$cuda_home/include" -I "$3" @"$here/$4" "$3/$2"
    perl -0pi -e 's/static final SymbolLookup SYMBOL_LOOKUP = [^;]*;/static final dev.panamax.cuda.LibraryRef LIBRARY = '"$5"';\n\n    static final SymbolLookup SYMBOL_LOOKUP = LIBRARY.lookup(LIBRARY_ARENA);/s' \
        "$out/dev/panamax/cuda/gen/$1.java"
}

gen cuda_h cuda.h "$cuda_home/include" cuda.symbols 'dev.panamax.cuda.LibraryRef.find("libcuda.so", "1")'
gen cublas_api_h cublas_api.h "$cublas_inc" cublas.symbols 'dev.panamax.cuda.LibraryRef.find("libcublas.so", "13", "12")'
gen cublasLt_h cublasLt.h "$cublas_inc" cublasLt.symbols 'dev.panamax.cuda.LibraryRef.find("libcublasLt.so", "13", "12")'
gen nvrtc_h nvrtc.h "$nvrtc_inc" nvrtc.symbols 'dev.panamax.cuda.LibraryRef.find("libnvrtc.so", "13", "12")'
echo "regenerated into $out/dev/panamax/cuda/gen; run the tests (GeneratedBindingsMatchHeadersTest checks the signatures)"
