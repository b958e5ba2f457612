// Kernel-side half of the Panamax CUDA simulator (test-only). The simulator's NVRTC stand-in
// compiles a .cu file as host C++ with this header in front: CUDA's qualifiers and built-ins map
// onto the simulated device (cudasim_abi.h), which runs every CUDA thread of a block as a fiber so
// that __syncthreads and warp shuffles keep their meaning. __CUDA_ARCH__ is not defined, so code
// with a device-only path (inline PTX) takes its portable host path here.
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <functional>
#include <new>
#include <tuple>
#include <utility>
#include <vector>
#include "cudasim_abi.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __shared__ static
#define __restrict__ __restrict
// Dynamic shared memory: one buffer per module as large as the device allows (blocks run one at a
// time). Before each block the driver sets the bytes the launch asked for, and 16 KiB past them, to
// all ones (floats read as NaN); a write past the launch's bytes fails the launch (driver.cpp, runBlock).
extern "C" {
__attribute__((visibility("default"))) alignas(128) unsigned char __pmx_dynamic_shared[PMX_MAX_DYNAMIC_SHARED];
}
#define DYNAMIC_SHARED_BYTES(name) unsigned char* const name = __pmx_dynamic_shared

static const pmx_rt* __pmx_rt;

// Which build of these headers the module was compiled against (the simulator's NVRTC defines it):
// the driver refuses a module of another build, whose layouts may differ from its own.
#ifndef PMX_HEADER_ID
#error "kernels for the simulator are compiled by its NVRTC, which names the headers' build"
#endif
extern "C" __attribute__((visibility("default"))) const char __pmx_header_id[] = PMX_HEADER_ID;

extern "C" __attribute__((visibility("default"))) void __pmx_init(const pmx_rt* rt) { __pmx_rt = rt; }

#define threadIdx ((*__pmx_rt->current)->threadIdx)
#define blockIdx ((*__pmx_rt->current)->blockIdx)
#define blockDim ((*__pmx_rt->current)->blockDim)
#define gridDim ((*__pmx_rt->current)->gridDim)
static const int warpSize = 32;

// The shared-memory address (cvta.to.shared) of a pointer into dynamic shared memory. The buffer
// lies at shared address PMX_SHARED_BASE, not 0, so that code that takes addresses to start at 0
// goes wrong here as it may on a GPU, where dynamic shared memory need not start there (static
// shared memory, for one, comes before it).
#define PMX_SHARED_BASE 1024u
inline unsigned int __pmx_shared_addr(const void* p) {
    const unsigned char* c = static_cast<const unsigned char*>(p);
    if (c < __pmx_dynamic_shared || c > __pmx_dynamic_shared + (*__pmx_rt->current)->dynamicShared)
        __pmx_rt->trap("the shared-memory address of a pointer outside the launch's dynamic shared memory");
    return PMX_SHARED_BASE + (unsigned int) (c - __pmx_dynamic_shared);
}
// what lies at shared address `addr`: `bytes` of the launch's dynamic shared memory, which `access`
// (e.g. "wgmma's B reads") is about to touch
inline const unsigned char* __pmx_shared_at(unsigned long long addr, unsigned int bytes, const char* access) {
    if (addr < PMX_SHARED_BASE || addr + bytes > PMX_SHARED_BASE + (unsigned long long) (*__pmx_rt->current)->dynamicShared) {
        static char why[200];
        snprintf(why, sizeof why, "%s shared address %llu, outside the launch's %u bytes of dynamic shared memory at %u", access, addr,
                 (*__pmx_rt->current)->dynamicShared, PMX_SHARED_BASE);
        __pmx_rt->trap(why);
    }
    return __pmx_dynamic_shared + (addr - PMX_SHARED_BASE);
}

// A read-only load (ld.global.nc): here a plain read
template <typename T> inline T __ldg(const T* p) { return *p; }
// A load cached in L2 only (ld.global.cg), and a fence ordering a thread's global writes before its
// later ones for the whole device (membar.gl): with one thread running at a time, a plain read and nothing
template <typename T> inline T __ldcg(const T* p) { return *p; }
inline void __threadfence() {}
inline void __syncthreads() { __pmx_rt->syncthreads(); }
// Named barriers (PTX bar.sync / bar.arrive with a barrier id and a thread count): `count` threads,
// a multiple of 32, complete barrier `id` (1-15; 0 is __syncthreads'), each of them arriving either
// to wait (bar.sync) or not (bar.arrive), and the barrier opens for those that wait. The producer /
// consumer hand-offs between warpgroups use them.
inline void __pmx_bar_sync(int id, int count) { __pmx_rt->barrier(id, count, 1); }
inline void __pmx_bar_arrive(int id, int count) { __pmx_rt->barrier(id, count, 0); }
// griddepcontrol.wait (common.cuh's pmx_grid_wait): the simulator runs a stream's kernels one after
// the other, so the kernel before has ended; the thread notes that it waited, which a launch with
// programmatic stream serialization requires of every thread (driver.cpp, runBlock).
inline void __pmx_grid_wait() { (*__pmx_rt->current)->gridWaited = 1; }
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
// old = *p; *p = old >= v ? 0 : old + 1; returns old
inline unsigned int atomicInc(unsigned int* p, unsigned int v) {
    unsigned int old = *p;
    *p = old >= v ? 0u : old + 1u;
    return old;
}

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

// Asynchronous copies and tensor-core products (cp.async, wgmma.mma_async) complete as late as the
// PTX ISA allows, and what they write reads as NaN (all bits set) until then, so that a wait that
// lets one group too many stay in flight, or a read of a destination before its wait, shows as a
// wrong result here as it may on a GPU:
//  - a cp.async lands at the cp.async.wait_group of the issuing thread that covers its group
//    (committed groups oldest first; copies not yet committed are not waited for); its source is
//    read then, and its destination is NaN from the issue on;
//  - a wgmma runs at the wgmma.wait_group that covers its group, reading its shared-memory operands
//    and its A registers then; its accumulators are NaN from the issue until the wait, and a chain
//    of wgmma into the same accumulators takes each result in order; a write of them in between is
//    lost, as the hardware's write-back would overwrite it;
//  - each wgmma group must begin after a wgmma.fence (stricter than the ISA, which asks for one
//    wherever the registers a wgmma reads or writes were touched since the last one), and a thread
//    must not end with a wgmma in flight: both trap;
//  - cp.async writes shared memory in the generic proxy and wgmma reads it in the async proxy, so
//    a thread's landed copies need its fence.proxy.async before a wgmma may read them: a wgmma that
//    runs while some thread of the block has landed copies it has not fenced traps (whatever they
//    wrote: stricter than the ISA, which asks only where the wgmma reads); so do plain stores made
//    through __pmx_st_shared.
// Each thread keeps its own (the ISA's groups are per thread for cp.async, per warpgroup for wgmma,
// whose threads all issue the same instructions).
namespace pmx {
struct AsyncCopy { unsigned char* dst; const unsigned char* src; unsigned int bytes; bool valid; long long group; };
struct AsyncMma { float* d; long long group; std::function<void(float*)> run; };
struct AsyncChain { float* d; std::vector<float> value; };   // in-flight accumulators: the value the chain has reached
struct Async {
    std::vector<AsyncCopy> copies;
    long long copyGroups = 0;   // cp.async groups committed; copies issued since the last commit carry this number
    std::vector<AsyncMma> mmas;
    std::vector<AsyncChain> chains;
    long long mmaGroups = 0;
    bool fenced = false;
    long long unfenced = 0;     // copies landed since the thread's last fence.proxy.async
    long long unfencedStores = 0;   // stores made through __pmx_st_shared since then
    void clear() {
        copies.clear();
        mmas.clear();
        chains.clear();
        copyGroups = mmaGroups = unfenced = unfencedStores = 0;
        fenced = false;
    }
};
static inline Async* threadsAsync() {   // static: each module its own, never shared with a module of another build
    static Async threads[1024];
    return threads;
}
inline Async& async() { return threadsAsync()[threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)]; }
inline void asyncBegin() { async().clear(); }
inline void asyncEnd() {
    Async& a = async();
    if (!a.mmas.empty()) __pmx_rt->trap("a thread ended with wgmma.mma_async in flight (no wgmma.wait_group covers it)");
    a.clear();   // copies still in flight land in shared memory that no one reads any more
}
}  // namespace pmx

// cp.async of `bytes` from global src to shared dst (zeros when !valid); a destination in dynamic
// shared memory must lie within what the launch asked for
inline void __pmx_cp_async(void* dst, const void* src, unsigned int bytes, bool valid) {
    const unsigned char* d = static_cast<const unsigned char*>(dst);
    if (d >= __pmx_dynamic_shared && d < __pmx_dynamic_shared + PMX_MAX_DYNAMIC_SHARED)
        __pmx_shared_at(__pmx_shared_addr(d), bytes, "cp.async writes");
    pmx::Async& a = pmx::async();
    a.copies.push_back({static_cast<unsigned char*>(dst), static_cast<const unsigned char*>(src), bytes, valid, a.copyGroups});
    memset(dst, 0xFF, bytes);
}
// A committed group is in flight: the other warps run first, so that one that touches its
// destination before the wait shows (what they read is NaN)
inline void __pmx_cp_async_commit() {
    pmx::async().copyGroups++;
    __pmx_rt->yield();
}
// cp.async.wait_group n: the thread's committed groups but the newest n land
inline void __pmx_cp_async_wait(int n) {
    pmx::Async& a = pmx::async();
    const long long below = a.copyGroups - n;
    size_t kept = 0;
    for (size_t i = 0; i < a.copies.size(); i++) {
        const pmx::AsyncCopy& c = a.copies[i];
        if (c.group >= below) {
            a.copies[kept++] = c;
            continue;
        }
        if (c.valid) memcpy(c.dst, c.src, c.bytes);
        else memset(c.dst, 0, c.bytes);
        a.unfenced++;
    }
    a.copies.resize(kept);
}
// fence.proxy.async: the thread's landed copies and its stores become visible to wgmma
inline void __pmx_fence_proxy_async() { pmx::async().unfenced = pmx::async().unfencedStores = 0; }
// A plain store (st.shared) of `bytes` at dst that a wgmma will read: tracked as the landed copies
// are, so that a wgmma that runs before the storing thread's fence.proxy.async fails the launch.
// (Other plain stores are not tracked; the kernels route through this the ones that wgmma reads.)
inline void __pmx_st_shared(void* dst, const void* src, unsigned int bytes) {
    memcpy(dst, src, bytes);
    pmx::async().unfencedStores++;
}

inline void __pmx_wgmma_fence() { pmx::async().fenced = true; }
// wgmma.mma_async into this thread's n accumulators d: run(acc) updates acc, which holds the value
// the accumulators have when the product runs (at its wait)
template <typename Run> inline void __pmx_wgmma(float* d, int n, Run run) {
    pmx::Async& a = pmx::async();
    if (!a.fenced) __pmx_rt->trap("wgmma.mma_async begins a group without a wgmma.fence before it");
    bool chained = false;
    for (const pmx::AsyncChain& c : a.chains) chained |= c.d == d;
    if (!chained) {
        a.chains.push_back({d, std::vector<float>(d, d + n)});
        memset(d, 0xFF, sizeof(float) * n);
    }
    a.mmas.push_back({d, a.mmaGroups, std::function<void(float*)>(run)});
}
// A committed group is in flight: the other warps run first, so that one that overwrites its
// operands before the wait shows (the products read them at the wait)
inline void __pmx_wgmma_commit() {
    pmx::Async& a = pmx::async();
    a.mmaGroups++;
    a.fenced = false;
    __pmx_rt->yield();
}
// wgmma.wait_group n: the warpgroup's committed groups but the newest n run, in issue order; each
// chain of accumulators with nothing left in flight gets its value
inline void __pmx_wgmma_wait(int n) {
    pmx::Async& a = pmx::async();
    const long long below = a.mmaGroups - n;
    if (!a.mmas.empty() && a.mmas.front().group < below) {
        const unsigned int threads = blockDim.x * blockDim.y * blockDim.z;
        for (unsigned int t = 0; t < threads; t++)
            if (pmx::threadsAsync()[t].unfenced > 0 || pmx::threadsAsync()[t].unfencedStores > 0) {
                static char why[240];
                snprintf(why, sizeof why, "a wgmma reads shared memory while %lld cp.async copies that thread %u landed and %lld stores it made are not fenced (fence.proxy.async)",
                         pmx::threadsAsync()[t].unfenced, t, pmx::threadsAsync()[t].unfencedStores);
                __pmx_rt->trap(why);
            }
    }
    size_t ran = 0;
    for (; ran < a.mmas.size() && a.mmas[ran].group < below; ran++)
        for (pmx::AsyncChain& c : a.chains)
            if (c.d == a.mmas[ran].d) a.mmas[ran].run(c.value.data());
    a.mmas.erase(a.mmas.begin(), a.mmas.begin() + ran);
    size_t kept = 0;
    for (size_t i = 0; i < a.chains.size(); i++) {
        bool busy = false;
        for (const pmx::AsyncMma& m : a.mmas) busy |= m.d == a.chains[i].d;
        if (busy) {
            if (kept != i) a.chains[kept] = std::move(a.chains[i]);
            kept++;
        } else memcpy(a.chains[i].d, a.chains[i].value.data(), sizeof(float) * a.chains[i].value.size());
    }
    a.chains.resize(kept);
}

// The warpgroup products themselves (wgmma.mma_async.sync.aligned.m64nNk16.f32.bf16.bf16), as the
// PTX ISA defines them: their shared-memory operands are found through the same 64-bit matrix
// descriptors that a GPU reads, and each thread's registers hold the fragments the ISA assigns it.
namespace pmx {
// A matrix descriptor ("Matrix Descriptor Format"): start address in bits 0-13, leading dimension
// byte offset (LBO) in 16-29 and stride dimension byte offset (SBO) in 32-45, each in 16-byte units;
// base offset in 49-51; swizzle mode in 62-63 (0 none, 1 128-byte, 2 64-byte, 3 32-byte); the other
// bits zero. Simulated: the canonical layout without swizzle (8 x 16-byte core matrices, 128
// contiguous bytes each) and the 128-byte swizzle with base offset 0 (CUTLASS's Swizzle<3,4,3>).
struct SharedMatrix { unsigned int start, lbo, sbo; bool sw128; };
inline SharedMatrix decodeDescriptor(unsigned long long d, const char* which) {
    const unsigned long long fields = 0x3fffull | 0x3fffull << 16 | 0x3fffull << 32 | 7ull << 49 | 3ull << 62;
    const char* fault = (d & ~fields) ? "has bits set outside its fields"
                      : (d >> 62) > 1 ? "asks for the 64- or 32-byte swizzle, which the simulator does not model"
                      : (d >> 49 & 7) ? "has a base offset, which the simulator does not model" : nullptr;
    if (fault) {
        static char why[200];
        snprintf(why, sizeof why, "wgmma: the descriptor of %s (0x%016llx) %s", which, d, fault);
        __pmx_rt->trap(why);
    }
    return SharedMatrix{(unsigned int) (d & 0x3fff) << 4, (unsigned int) (d >> 16 & 0x3fff) << 4, (unsigned int) (d >> 32 & 0x3fff) << 4, (d >> 62) == 1};
}
// Element (mn, k) of a BF16 operand (k 0-15 of one wgmma).
// Without swizzle: K-major, a core matrix holds 8 rows (mn) of 8 k; LBO steps k by 8, SBO steps mn
// by 8. MN-major (transposed), a core matrix holds 8 k of 8 mn each; LBO steps k by 8, SBO mn by 8.
// 128-byte swizzle: rows of 128 bytes in atoms of 8 rows (1,024 bytes). K-major, a row holds one mn's
// k contiguous and SBO steps mn by 8 (LBO unused: 16 k fit one row). MN-major, a row holds 64 mn of
// one k; LBO steps mn by 64 and SBO steps k by 8. The address so found then has its bits 4-6 XORed
// with bits 7-9 (16-byte chunk c of the row at 1,024-aligned offset r * 128 lands at chunk c ^ (r % 8)).
inline float sharedBf16(const SharedMatrix& m, bool mnMajor, int mn, int k, const char* access) {
    unsigned long long at;
    if (m.sw128) {
        at = m.start + (mnMajor ? (unsigned long long) (mn >> 6) * m.lbo + (mn & 63) * 2 + (k >> 3) * m.sbo + (k & 7) * 128
                                : (unsigned long long) (mn >> 3) * m.sbo + (mn & 7) * 128 + k * 2);
        at ^= ((at >> 7) & 7) << 4;
    } else {
        at = m.start + (unsigned long long) (mn >> 3) * m.sbo + (unsigned long long) (k >> 3) * m.lbo +
             (mnMajor ? (mn & 7) * 2 + (k & 7) * 16 : (mn & 7) * 16 + (k & 7) * 2);
    }
    unsigned short h;
    memcpy(&h, __pmx_shared_at(at, 2, access), 2);
    return __pmx_bits<float>((unsigned int) h << 16);
}
inline void checkWgmma(int n, int scaleD, int scaleA, int scaleB, int transA, int transB) {
    if (n < 8 || n > 256 || n % 8 != 0) __pmx_rt->trap("wgmma: N must be a multiple of 8 from 8 to 256");
    if ((scaleD != 0 && scaleD != 1) || (scaleA != 1 && scaleA != -1) || (scaleB != 1 && scaleB != -1) || (transA != 0 && transA != 1) ||
        (transB != 0 && transB != 1))
        __pmx_rt->trap("wgmma: scale-d must be 0 or 1, imm-scale-a and imm-scale-b 1 or -1, imm-trans-a and imm-trans-b 0 or 1");
    if (blockDim.x % 128 != 0 || blockDim.y != 1 || blockDim.z != 1) __pmx_rt->trap("wgmma: the simulator wants blocks of whole warpgroups along x");
}
// Accumulator i of this thread in m64nNk16's D fragment: row (0-63) and column
inline int wgmmaRow(int i) { return 16 * ((threadIdx.x & 127) >> 5) + ((threadIdx.x & 31) >> 2) + 8 * ((i >> 1) & 1); }
inline int wgmmaCol(int i) { return 8 * (i >> 2) + 2 * (threadIdx.x & 3) + (i & 1); }
}  // namespace pmx

// wgmma.mma_async.sync.aligned.m64n<n>k16.f32.bf16.bf16 d, descA, descB, scaleD, scaleA, scaleB, transA, transB:
// d (this thread's n / 2 accumulators) = A (64 x 16) B (16 x n) + (scaleD ? d : 0), A and B in shared memory
inline void __pmx_wgmma_bf16_ss(float* d, int n, unsigned long long descA, unsigned long long descB, int scaleD, int scaleA, int scaleB, int transA,
                                int transB) {
    pmx::checkWgmma(n, scaleD, scaleA, scaleB, transA, transB);
    const pmx::SharedMatrix a = pmx::decodeDescriptor(descA, "A"), b = pmx::decodeDescriptor(descB, "B");
    __pmx_wgmma(d, n / 2, [=](float* acc) {
        for (int i = 0; i < n / 2; i++) {
            int row = pmx::wgmmaRow(i), col = pmx::wgmmaCol(i);
            float v = scaleD ? acc[i] : 0.f;
            for (int k = 0; k < 16; k++)
                v += scaleA * pmx::sharedBf16(a, transA, row, k, "wgmma's A reads") * (scaleB * pmx::sharedBf16(b, transB, col, k, "wgmma's B reads"));
            acc[i] = v;
        }
    });
}
// wgmma.mma_async.sync.aligned.m64n<n>k16.f32.bf16.bf16 d, {a[0..3]}, descB, scaleD, scaleA, scaleB, transB:
// the same with A in registers, each holding two BF16 (the low half first) of the ISA's A fragment:
// a[0] row g, k 2q and 2q + 1; a[1] row g + 8; a[2] row g, k 2q + 8 and 2q + 9; a[3] row g + 8
// (g = lane / 4 and q = lane % 4, rows of this warp's 16). The registers are read when it runs.
inline void __pmx_wgmma_bf16_rs(float* d, int n, const unsigned int* a, unsigned long long descB, int scaleD, int scaleA, int scaleB, int transB) {
    pmx::checkWgmma(n, scaleD, scaleA, scaleB, 0, transB);
    const pmx::SharedMatrix b = pmx::decodeDescriptor(descB, "B");
    __pmx_wgmma(d, n / 2, [=](float* acc) {
        // this thread's two rows (g and g + 8), all 16 k, from the four lanes of its quad
        const int g = (threadIdx.x & 31) >> 2;
        float x[2][16];
        for (int q = 0; q < 4; q++)
            for (int r = 0; r < 4; r++) {
                unsigned int v = __shfl_sync(0xffffffffu, a[r], g * 4 + q);
                float* row = x[r & 1] + 8 * (r >> 1) + 2 * q;
                row[0] = __pmx_bits<float>(v << 16);
                row[1] = __pmx_bits<float>(v & 0xffff0000u);
            }
        for (int i = 0; i < n / 2; i++) {
            int col = pmx::wgmmaCol(i);
            const float* xa = x[(i >> 1) & 1];
            float v = scaleD ? acc[i] : 0.f;
            for (int k = 0; k < 16; k++) v += scaleA * xa[k] * (scaleB * pmx::sharedBf16(b, transB, col, k, "wgmma's B reads"));
            acc[i] = v;
        }
    });
}

namespace pmx {
template <auto F> struct Kernel;
template <typename... A, void (*F)(A...)> struct Kernel<F> {
    using Args = std::tuple<A...>;
    template <size_t... I> static void packAt(void* const* p, void* buf, std::index_sequence<I...>) {
        new (buf) Args(*static_cast<const A*>(p[I])...);
    }
    static void pack(void* const* p, void* buf) { packAt(p, buf, std::index_sequence_for<A...>{}); }
    static void run(void* buf) {
        asyncBegin();
        std::apply(F, *static_cast<Args*>(buf));
        asyncEnd();
    }
    static constexpr pmx_kernel describe(int maxThreads) { return pmx_kernel{sizeof(Args), &pack, &run, maxThreads}; }
};
}  // namespace pmx

// Appended by the NVRTC stand-in for each extern "C" __global__ function of the file.
#define PMX_KERNEL(name, bounds) \
    extern "C" __attribute__((visibility("default"))) const pmx_kernel __pmx_kernel_##name = pmx::Kernel<&name>::describe(bounds);
