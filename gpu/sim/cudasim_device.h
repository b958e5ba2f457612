// Kernel-side half of the Panamax CUDA simulator (test-only). The simulator's NVRTC stand-in
// compiles a .cu file as host C++ with this header in front: CUDA's qualifiers and built-ins map
// onto the simulated device (cudasim_abi.h), which runs every CUDA thread of a block as a fiber so
// that __syncthreads and warp shuffles keep their meaning. __CUDA_ARCH__ is not defined, so code
// with a device-only path (inline PTX) takes its portable host path here.
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <new>
#include <tuple>
#include <utility>
#include "cudasim_abi.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __shared__ static
#define __restrict__ __restrict
// dynamic shared memory: one buffer per kernel as large as the device allows (blocks run one at a time)
#define DYNAMIC_SHARED_BYTES(name) static unsigned char name[232448] __attribute__((aligned(16)))

static const pmx_rt* __pmx_rt;

extern "C" __attribute__((visibility("default"))) void __pmx_init(const pmx_rt* rt) { __pmx_rt = rt; }

#define threadIdx ((*__pmx_rt->current)->threadIdx)
#define blockIdx ((*__pmx_rt->current)->blockIdx)
#define blockDim ((*__pmx_rt->current)->blockDim)
#define gridDim ((*__pmx_rt->current)->gridDim)
static const int warpSize = 32;

inline void __syncthreads() { __pmx_rt->syncthreads(); }
inline void __syncwarp(unsigned int mask = 0xffffffffu) { __pmx_rt->warp(PMX_SYNCWARP, mask, 0, 0, 32); }
[[noreturn]] inline void __trap() {
    __pmx_rt->trap("__trap()");
    __builtin_unreachable();
}

template <typename T> inline T __pmx_shfl(int op, unsigned int mask, T v, int arg, int width) {
    static_assert(sizeof(T) == 4, "the simulator shuffles 32-bit values");
    unsigned int bits;
    memcpy(&bits, &v, 4);
    bits = __pmx_rt->warp(op, mask, bits, arg, width);
    memcpy(&v, &bits, 4);
    return v;
}
template <typename T> inline T __shfl_xor_sync(unsigned int m, T v, int lane, int w = 32) { return __pmx_shfl(PMX_SHFL_XOR, m, v, lane, w); }
template <typename T> inline T __shfl_down_sync(unsigned int m, T v, unsigned int d, int w = 32) { return __pmx_shfl(PMX_SHFL_DOWN, m, v, (int) d, w); }
template <typename T> inline T __shfl_up_sync(unsigned int m, T v, unsigned int d, int w = 32) { return __pmx_shfl(PMX_SHFL_UP, m, v, (int) d, w); }
template <typename T> inline T __shfl_sync(unsigned int m, T v, int src, int w = 32) { return __pmx_shfl(PMX_SHFL_IDX, m, v, src, w); }
// each lane of the mask gets the mask's lanes whose predicate is non-zero, one bit a lane
inline unsigned int __ballot_sync(unsigned int m, int pred) { return __pmx_rt->warp(PMX_BALLOT, m, pred != 0, 0, 32); }
inline int __popc(unsigned int x) { return __builtin_popcount(x); }

// One CUDA thread runs at a time (fibers on one OS thread), so plain read-modify-write is atomic.
template <typename T> inline T __pmx_atomic_add(T* p, T v) { T old = *p; *p = old + v; return old; }
inline float atomicAdd(float* p, float v) { return __pmx_atomic_add(p, v); }
inline double atomicAdd(double* p, double v) { return __pmx_atomic_add(p, v); }
inline int atomicAdd(int* p, int v) { return __pmx_atomic_add(p, v); }
inline unsigned int atomicAdd(unsigned int* p, unsigned int v) { return __pmx_atomic_add(p, v); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return __pmx_atomic_add(p, v); }

template <typename To, typename From> inline To __pmx_bits(From f) { To t; memcpy(&t, &f, sizeof(To)); return t; }
inline float __int_as_float(int i) { return __pmx_bits<float>(i); }
inline float __uint_as_float(unsigned int i) { return __pmx_bits<float>(i); }
inline int __float_as_int(float f) { return __pmx_bits<int>(f); }
inline unsigned int __float_as_uint(float f) { return __pmx_bits<unsigned int>(f); }
inline double __longlong_as_double(long long i) { return __pmx_bits<double>(i); }
inline long long __double_as_longlong(double d) { return __pmx_bits<long long>(d); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }

// IEEE operations with explicit rounding (round to nearest even; nothing is contracted, the
// simulator compiles with -ffp-contract=off)
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __dsqrt_rn(double a) { return sqrt(a); }

// CUDA's vector types that the kernels use
struct __attribute__((aligned(16))) uint4 { unsigned int x, y, z, w; };
struct __attribute__((aligned(16))) int4 { int x, y, z, w; };
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(8))) uint2 { unsigned int x, y; };
struct __attribute__((aligned(8))) float2 { float x, y; };

// CUDA's integer and floating min/max overloads
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

namespace pmx {
template <auto F> struct Kernel;
template <typename... A, void (*F)(A...)> struct Kernel<F> {
    using Args = std::tuple<A...>;
    template <size_t... I> static void packAt(void* const* p, void* buf, std::index_sequence<I...>) {
        new (buf) Args(*static_cast<const A*>(p[I])...);
    }
    static void pack(void* const* p, void* buf) { packAt(p, buf, std::index_sequence_for<A...>{}); }
    static void run(void* buf) { std::apply(F, *static_cast<Args*>(buf)); }
    static constexpr pmx_kernel describe(int maxThreads) { return pmx_kernel{sizeof(Args), &pack, &run, maxThreads}; }
};
}  // namespace pmx

// Appended by the NVRTC stand-in for each extern "C" __global__ function of the file.
#define PMX_KERNEL(name, bounds) \
    extern "C" __attribute__((visibility("default"))) const pmx_kernel __pmx_kernel_##name = pmx::Kernel<&name>::describe(bounds);
