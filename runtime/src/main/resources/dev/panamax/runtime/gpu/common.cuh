// Shared helpers for Panamax's CUDA kernels. Kernels are compiled at run time by NVRTC (and by
// nvcc -ptx in the build's tests); every kernel is extern "C" so that its name is stable.
#pragma once

typedef long long i64;

// Dynamic shared memory (the launch's sharedBytes; above 48 KiB once the kernel is allowed more).
// The simulator of gpu/sim defines its own.
#ifndef DYNAMIC_SHARED_BYTES
#define DYNAMIC_SHARED_BYTES(name) extern __shared__ __align__(1024) unsigned char name[]   // 1,024: the MLA tiles swizzle on shared addresses
#endif

// Programmatic dependent launch (compute capability 9.0 and later; CudaBackend launches so under
// panamax.cuda.pdl=on). A kernel launched with programmatic stream serialization may be scheduled
// while the kernel before it on the stream still runs:
// - pmx_grid_wait (griddepcontrol.wait) waits until that kernel has ended and its writes are
//   visible. A thread must execute it before it reads what that kernel writes or writes what it
//   reads; the simulator fails such a launch in which any thread ends without it.
// - pmx_launch_dependents (griddepcontrol.launch_dependents) lets the next kernel's blocks be
//   scheduled once every block of this one has executed it or ended. They then wait at their own
//   pmx_grid_wait: what they save is the launch and the ramp of blocks between the two kernels.
// Both do nothing in a kernel launched without the attribute, and before sm_90.
__device__ __forceinline__ void pmx_grid_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#elif !defined(__CUDA_ARCH__)
    __pmx_grid_wait();   // the simulator of gpu/sim notes it
#endif
}
__device__ __forceinline__ void pmx_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
// Every kernel's first statement: nothing before it touches global memory (only mla_decode_wg64s's
// L2 prefetch, which reads and writes none, comes before it), and the next kernel may be scheduled
// once every block has waited here (never while this one waits for its own predecessor, so at most
// two kernels of a stream are resident at once).
__device__ __forceinline__ void pmx_grid_begin() {
    pmx_grid_wait();
    pmx_launch_dependents();
}

#define NEG_INF __int_as_float(0xff800000)
#define QNAN __int_as_float(0x7fc00000)

// BF16 / F16 conversions without cuda_bf16.h, so that NVRTC needs no include path.
__device__ __forceinline__ float bf16_to_f32(unsigned short h) { return __int_as_float(((unsigned int) h) << 16); }
__device__ __forceinline__ unsigned short f32_to_bf16(float f) {
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short) ((u >> 16) | 0x40u);  // NaN stays NaN (quiet)
    u += 0x7fffu + ((u >> 16) & 1u);                                                    // round to nearest even
    return (unsigned short) (u >> 16);
}
__device__ __forceinline__ float f16_to_f32(unsigned short h) {
#ifdef __CUDA_ARCH__
    float f;
    asm("{ cvt.f32.f16 %0, %1; }" : "=f"(f) : "h"(h));
    return f;
#else  // portable path (host compilers, e.g. the test-only CUDA simulator of gpu/sim)
    unsigned int sign = ((unsigned int) h & 0x8000u) << 16, exp = (h >> 10) & 31u, man = h & 1023u;
    if (exp == 31u) return __uint_as_float(sign | 0x7f800000u | (man << 13));
    if (exp == 0u) return __uint_as_float(sign | __float_as_uint((float) man * 5.9604644775390625e-8f));  // man * 2^-24
    return __uint_as_float(sign | ((exp + 112u) << 23) | (man << 13));
#endif
}

struct SumOp { __device__ __forceinline__ float operator()(float a, float b) const { return a + b; } };
struct MaxOp { __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); } };

template <typename Op> __device__ __forceinline__ float warp_reduce(float v, Op op) {
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide reduction for blockDim.x a multiple of 32 (at most 1024); every thread gets the result.
template <typename Op> __device__ __forceinline__ float block_reduce(float v, Op op, float identity) {
    __shared__ float part[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_reduce(v, op);
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    return warp_reduce(lane < (blockDim.x >> 5) ? part[lane] : identity, op);
}

__device__ __forceinline__ float warp_sum(float v) { return warp_reduce(v, SumOp()); }
__device__ __forceinline__ float block_sum(float v) { return block_reduce(v, SumOp(), 0.f); }
__device__ __forceinline__ float block_max(float v) { return block_reduce(v, MaxOp(), NEG_INF); }

// RMSNorm's scale rsqrt(mean(x^2) + eps) of a row of n values, every thread of the block taking
// part: rmsnorm_f32's arithmetic, shared by the kernels that recompute or fuse it.
__device__ __forceinline__ float row_rms_scale(const float* x, int n, float eps) {
    float s = 0.f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) { float v = x[j]; s += v * v; }
    s = block_sum(s);
    return rsqrtf(s / n + eps);
}

// The interleaved rotary pair (x0, x1) turned by the angle of cosine c and sine s (DeepSeek's convention).
// Each product and sum rounded on its own (the _rn intrinsics are never contracted into an FMA): where
// the compiler fused them it did so differently in each kernel that inlines this (the H100 showed
// latent_kv_rows 1 ulp off rope_rows_f32), and the host's ops round each step as these do.
__device__ __forceinline__ float2 rope_pair(float x0, float x1, float c, float s) {
    return float2{__fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s)), __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c))};
}

// The routing plan of a MoE layer (moe.cu's moe_route_plan, read by gemv.cu's moe_gemv_*), int
// words for E experts and P (token, slot) pairs p = t * topk + slot: [0] the number u of experts
// used; [MOE_PLAN_EXPERT(E, i)], i < u, their ids, ascending; [MOE_PLAN_START(E, i)], i <= u, where
// the i-th expert's pairs start in the pair list (the last one is P); [MOE_PLAN_PAIR(E, s)], s < P,
// the pairs, grouped by expert, ascending within each. 2 + 2E + P words in all.
#define MOE_PLAN_EXPERT(E, i) (1 + (i))
#define MOE_PLAN_START(E, i) (1 + (E) + (i))
#define MOE_PLAN_PAIR(E, s) (2 + 2 * (E) + (s))

// The most threads a block has in each kind of launch (CudaBackend: THREADS for grid-stride and
// warp-per-column kernels, rowThreads for one block a row, one warp for the gate). Every kernel
// declares its own with __launch_bounds__, so that ptxas fits its registers to it (at 1,024
// threads, 64 a thread); a launch with more fails, on the simulator too.
#define BLOCK_THREADS 256
#define ROW_THREADS 1024
#define WARP_THREADS 32

#define GRID_STRIDE(i, n) for (i64 i = (i64) blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64) gridDim.x * blockDim.x)

// Strided geometry (CudaBackend.geometry): the sizes of an iteration's shape and, for two operands
// (Broadcast) or three (Broadcast3), each one's element strides (0 on a broadcast dim); size-1 dims
// are left out, so ndim <= MAX_DIMS.
#define MAX_DIMS 8
struct Broadcast {
    int ndim;
    i64 size[MAX_DIMS];
    i64 sa[MAX_DIMS];
    i64 sb[MAX_DIMS];
};

struct Broadcast3 {
    int ndim;
    i64 size[MAX_DIMS];
    i64 sa[MAX_DIMS];
    i64 sb[MAX_DIMS];
    i64 sc[MAX_DIMS];
};

// element offsets, through strides sa and sb, of the row-major position i of the shape g.size
__device__ __forceinline__ void offsets(const Broadcast& g, i64 i, i64* ia, i64* ib) {
    i64 rem = i, x = 0, y = 0;
    for (int d = g.ndim - 1; d >= 0; d--) {
        i64 c = rem % g.size[d];
        rem /= g.size[d];
        x += c * g.sa[d];
        y += c * g.sb[d];
    }
    *ia = x;
    *ib = y;
}

// the same through the three strides of a Broadcast3
__device__ __forceinline__ void offsets3(const Broadcast3& g, i64 i, i64* ia, i64* ib, i64* ic) {
    i64 rem = i, x = 0, y = 0, z = 0;
    for (int d = g.ndim - 1; d >= 0; d--) {
        i64 c = rem % g.size[d];
        rem /= g.size[d];
        x += c * g.sa[d];
        y += c * g.sb[d];
        z += c * g.sc[d];
    }
    *ia = x;
    *ib = y;
    *ic = z;
}
