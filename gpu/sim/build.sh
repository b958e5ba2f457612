#!/bin/sh
# Builds the Panamax CUDA simulator (test-only) into OUT (default target/cudasim): libcuda.so.1,
# libcublas.so.13, libcublasLt.so.13 and libnvrtc.so.13, with the kernel header beside them. Point Panamax at it with
# -Dpanamax.cuda.libpath=OUT. Needs g++ (C++17) and cuda.h (CUDA_HOME, default /usr/local/cuda).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-target/cudasim}
cuda_home=${CUDA_HOME:-/usr/local/cuda}
cxx=${PANAMAX_CUDASIM_CXX:-g++}
[ -f "$cuda_home/include/cuda.h" ] || { echo "cudasim: no cuda.h under $cuda_home/include (set CUDA_HOME)" >&2; exit 2; }
command -v "$cxx" >/dev/null 2>&1 || { echo "cudasim: no C++ compiler ($cxx)" >&2; exit 2; }
mkdir -p "$out"
flags="-std=c++17 -O2 -g -fPIC -shared -Wall -Wextra -Werror -I$cuda_home/include -I$here"
# the kernel headers' build: modules compiled against other headers (a stale kernel cache) are refused, and compiled again
header_id=$(cat "$here/cudasim_abi.h" "$here/cudasim_device.h" | sha256sum | cut -c1-16)
"$cxx" $flags "-DPMX_HEADER_ID=\"$header_id\"" -Wl,-soname,libcuda.so.1 -o "$out/libcuda.so.1" "$here/driver.cpp" -ldl
"$cxx" $flags -Wl,-soname,libcublas.so.13 -Wl,-rpath,'$ORIGIN' -o "$out/libcublas.so.13" "$here/cublas.cpp" "$out/libcuda.so.1"
"$cxx" $flags -Wl,-soname,libcublasLt.so.13 -Wl,-rpath,'$ORIGIN' -o "$out/libcublasLt.so.13" "$here/cublaslt.cpp" "$out/libcuda.so.1"
"$cxx" $flags "-DPMX_HEADER_ID=\"$header_id\"" -Wl,-soname,libnvrtc.so.13 -o "$out/libnvrtc.so.13" "$here/nvrtc.cpp" -ldl
cp "$here/cudasim_device.h" "$here/cudasim_abi.h" "$out/"
# the simulator's own checks: each rule broken on purpose must be reported (in the fixed schedule
# they are written for), then that the random schedule holds warps back
"$cxx" -std=c++17 -O1 -g -Wall -Wextra -Werror -I"$cuda_home/include" "-DPMX_HEADER_ID=\"$header_id\"" -o "$out/selftest" "$here/selftest.cpp" \
    "$out/libcuda.so.1" "$out/libcublas.so.13" "$out/libcublasLt.so.13" "$out/libnvrtc.so.13" -Wl,-rpath,'$ORIGIN' -pthread
{ PANAMAX_CUDASIM_SCHEDULE=ordered "$out/selftest" && PANAMAX_CUDASIM_SCHEDULE=random:1 "$out/selftest" --schedule; } > "$out/selftest.log" 2>&1 ||
  { cat "$out/selftest.log" >&2; echo "cudasim: the self-test failed" >&2; exit 1; }
echo "$out"
