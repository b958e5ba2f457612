// A probe of how fast an SM can stream MLA decode cache tiles into shared memory, outside Panamax:
// the cache of GpuBench's largest BF16 shape (batch 64, 8192 positions, latent 512 + rope 64) read
// once by kernels that only load (no products), each against a 1 GiB device copy timed in the same
// process (GB/s counting bytes read and written, as GpuBench.deviceCopy). Diagnostic, not product:
// it found that the layout the MLA warpgroup kernels' tiles had (the PTX ISA's canonical layout
// without swizzle, where a warp's 32 16-byte chunks of one row land 128 bytes apart) held a load-only
// kernel to 0.64 of copy, and the 128-byte swizzle reaches 1.00 (bench/RESULTS.md, session 30).
// Built by gpu/kit.sh where nvcc is installed (nvcc -O3 -arch=sm_90a -std=c++17), run by
// gpu/verify.sh probe on the GPU machine; cudart is linked statically, so it needs only the driver.
#include <cstdint>
#include <cstdio>
#include <cuda_runtime.h>

typedef unsigned short bf16;
constexpr int R = 512, P = 64, D = R + P, CHUNKS = D / 8;   // 16-byte chunks a position

__device__ __forceinline__ unsigned shared_addr(const void* p) { return (unsigned) __cvta_generic_to_shared(p); }
__device__ __forceinline__ void cp_async16(void* dst, const void* src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(shared_addr(dst)), "l"(src));
}
__device__ __forceinline__ void commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N> __device__ __forceinline__ void wait_groups() { asm volatile("cp.async.wait_group %0;" :: "n"(N) : "memory"); }

// Where chunk c of row r of a tile of ROWS rows goes
enum Layout { ROW_MAJOR, CANONICAL, SWIZZLE128 };
template <Layout L, int ROWS> __device__ __forceinline__ int place(int r, int c) {
    if (L == ROW_MAJOR) return (r * CHUNKS + c) * 16;
    if (L == CANONICAL) return ((r >> 3) * CHUNKS + c) * 128 + (r & 7) * 16;   // 8 x 16-byte core matrices
    return (c >> 3) * ROWS * 128 + r * 128 + (((c & 7) ^ (r & 7)) << 4);         // slabs of 64 dims, 128-byte swizzle
}

// Block (split, b) streams its share of sequence b in tiles of ROWS positions through NB buffers
// (NB - 1 tiles in flight), a warp a row and its lanes over the row's chunks (as the kernels loaded).
template <int NB, int ROWS, Layout L>
__global__ void load_tiles(const bf16* cache, const bf16* pe, int len, int splits, float* sink) {
    extern __shared__ __align__(1024) unsigned char tiles[];
    const int b = blockIdx.y, per = len / splits, from = blockIdx.x * per, count = per / ROWS;
    const bf16* cb = cache + (size_t) b * len * R;
    const bf16* pb = pe + (size_t) b * len * P;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    auto load = [&](int tile) {
        unsigned char* dst = tiles + (tile % NB) * ROWS * D * 2;
        for (int r = warp; r < ROWS; r += warps) {
            const int pos = from + tile * ROWS + r;
            for (int c = lane; c < CHUNKS; c += 32)
                cp_async16(dst + place<L, ROWS>(r, c), c < R / 8 ? (const void*) (cb + (size_t) pos * R + c * 8) : (const void*) (pb + (size_t) pos * P + (c - R / 8) * 8));
        }
        commit();
    };
    for (int i = 0; i < NB - 1; i++) {
        if (i < count) load(i);
        else commit();
    }
    float s = 0;
    for (int it = 0; it < count; it++) {
        if (it + NB - 1 < count) load(it + NB - 1);
        else commit();
        wait_groups<NB - 1>();
        __syncthreads();
        s += reinterpret_cast<const float*>(tiles + (it % NB) * ROWS * D * 2)[threadIdx.x];   // touch the tile
        __syncthreads();
    }
    if (s == 12345.f) sink[0] = s;
}

// The same bytes read into registers: what the memory system gives a plain streaming read
__global__ void read_all(const uint4* a, size_t n, float* sink) {
    unsigned x = 0;
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n; i += (size_t) gridDim.x * blockDim.x) {
        uint4 v = __ldg(a + i);
        x ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (x == 0x12345678u) sink[0] = (float) x;
}

static cudaEvent_t e0, e1;
template <typename F> static float best_ms(F f) {   // best of 4 timed runs after one untimed
    float best = 1e30f;
    for (int i = 0; i < 5; i++) {
        cudaEventRecord(e0);
        f();
        cudaEventRecord(e1);
        cudaEventSynchronize(e1);
        float ms;
        cudaEventElapsedTime(&ms, e0, e1);
        if (i > 0 && ms < best) best = ms;
    }
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) {
        std::printf("CUDA error: %s\n", cudaGetErrorString(e));
        return -1;
    }
    return best;
}

#define CHECK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { std::printf("%s: %s\n", #x, cudaGetErrorString(e_)); return 1; } } while (0)

int main() {
    const int B = 64, L = 8192;
    const size_t nc = (size_t) B * L * R, np = (size_t) B * L * P, copyBytes = 1ull << 30;
    bf16 *cache, *pe;
    float* sink;
    char* big;
    CHECK(cudaMalloc(&cache, nc * 2));
    CHECK(cudaMalloc(&pe, np * 2));
    CHECK(cudaMalloc(&sink, 4));
    CHECK(cudaMalloc(&big, 2 * copyBytes));
    CHECK(cudaMemset(cache, 0, nc * 2));
    CHECK(cudaMemset(pe, 0, np * 2));
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    const double bytes = (nc + np) * 2.0;
    const double copy = 2.0 * copyBytes / best_ms([&] { cudaMemcpyAsync(big + copyBytes, big, copyBytes, cudaMemcpyDeviceToDevice); }) / 1e6;
    std::printf("device copy of 1 GiB: %.0f GB/s (read + written); the cache: %.0f MB\n", copy, bytes / 1e6);
    auto report = [&](const char* what, float ms) {
        std::printf("%-62s %7.3f ms %6.0f GB/s  %.2f of copy\n", what, ms, bytes / ms / 1e6, bytes / ms / 1e6 / copy);
    };
    report("plain reads into registers (132 x 16 blocks of 256)", best_ms([&] {
        read_all<<<132 * 16, 256>>>(reinterpret_cast<const uint4*>(cache), nc / 8, sink);
        read_all<<<132 * 16, 256>>>(reinterpret_cast<const uint4*>(pe), np / 8, sink);
    }));
#define TILES(NB, ROWS, LAYOUT, THREADS, SPLITS)                                                                                      \
    {                                                                                                                            \
        auto k = load_tiles<NB, ROWS, LAYOUT>;                                                                                        \
        const int smem = NB * ROWS * D * 2;                                                                                      \
        CHECK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));                                      \
        char what[96];                                                                                                           \
        std::snprintf(what, sizeof what, "cp.async %-10s %d buffers of %d rows, %d threads, %d splits", #LAYOUT, NB, ROWS, THREADS, SPLITS); \
        report(what, best_ms([&] { k<<<dim3(SPLITS, B), THREADS, smem>>>(cache, pe, L, SPLITS, sink); }));                        \
    }
    TILES(2, 64, ROW_MAJOR, 64, 4)
    TILES(2, 64, CANONICAL, 64, 4)
    TILES(2, 64, SWIZZLE128, 64, 4)
    TILES(2, 64, CANONICAL, 128, 4)
    TILES(2, 64, SWIZZLE128, 128, 4)
    TILES(3, 64, CANONICAL, 128, 4)
    TILES(3, 64, SWIZZLE128, 128, 4)
    TILES(4, 32, SWIZZLE128, 128, 4)
    TILES(2, 64, SWIZZLE128, 128, 8)
    return 0;
}
