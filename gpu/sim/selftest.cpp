// Self-test of the Panamax CUDA simulator: each rule that README.md promises is broken on purpose
// and must be reported, and each service must compute what CUDA would. Faults that poison the
// context (or kill the process) run in a child process. Built and run by build.sh; exit 0 when
// every check passes.
#include <cuda.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

extern "C" {
typedef struct Program* nvrtcProgram;
int nvrtcCreateProgram(nvrtcProgram*, const char*, const char*, int, const char* const*, const char* const*);
int nvrtcCompileProgram(nvrtcProgram, int, const char* const*);
int nvrtcGetCUBINSize(nvrtcProgram, size_t*);
int nvrtcGetCUBIN(nvrtcProgram, char*);
int nvrtcGetProgramLogSize(nvrtcProgram, size_t*);
int nvrtcGetProgramLog(nvrtcProgram, char*);
int nvrtcDestroyProgram(nvrtcProgram*);
typedef struct cublasContext* cublasHandle_t;
int cublasCreate_v2(cublasHandle_t*);
int cublasSetStream_v2(cublasHandle_t, CUstream);
int cublasGemmEx(cublasHandle_t, int, int, int, int, int, const void*, const void*, int, int, const void*, int, int, const void*, void*, int, int, int, int);
int cublasSgemm_v2(cublasHandle_t, int, int, int, int, int, const float*, const float*, int, const float*, int, const float*, float*, int);
typedef struct cublasLtContext* cublasLtHandle_t;
int cublasLtCreate(cublasLtHandle_t*);
int cublasLtMatmulDescCreate(void**, int, int);
int cublasLtMatmulDescSetAttribute(void*, int, const void*, size_t);
int cublasLtMatrixLayoutCreate(void**, int, uint64_t, uint64_t, int64_t);
int cublasLtMatmulPreferenceCreate(void**);
int cublasLtMatmulPreferenceSetAttribute(void*, int, const void*, size_t);
int cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, void*, void*, void*, void*, void*, void*, int, void*, int*);
int cublasLtMatmul(cublasLtHandle_t, void*, const void*, const void*, void*, const void*, void*, const void*, const void*, void*, void*, void*,
                   const void*, void*, size_t, CUstream);
int cublasGemmGroupedBatchedEx(cublasHandle_t, const int*, const int*, const int*, const int*, const int*, const void*, const void* const*, int,
                               const int*, const void* const*, int, const int*, const void*, void* const*, int, const int*, int, const int*, int);
}

static int failures = 0;
#define CHECK(cond, what)                                             \
    do {                                                              \
        if (cond) std::printf("ok   %s\n", what);                     \
        else { std::printf("FAIL %s (line %d)\n", what, __LINE__); failures++; } \
    } while (0)

static const char* SRC = R"(
extern "C" __global__ void reduce(const float* x, float* out) {   // one block: sum via shuffles and shared memory
    __shared__ float part[32];
    float v = x[threadIdx.x];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
    __syncthreads();
    if (threadIdx.x == 0) { float s = 0.f; for (int w = 0; w < (int) (blockDim.x >> 5); w++) s += part[w]; out[blockIdx.x] = s; }
}
extern "C" __global__ void racy(float* out) {                    // no barrier between the write and the read
    __shared__ float s[64];
    s[threadIdx.x] = (float) threadIdx.x;
    out[threadIdx.x] = s[(threadIdx.x + 1) % blockDim.x];
}
extern "C" __global__ void early_exit(float* out) {
    if (threadIdx.x == 3) return;
    __syncthreads();
    out[threadIdx.x] = 1.f;
}
extern "C" __global__ void traps(float*) { __trap(); }
extern "C" __global__ void half_warp_shuffle(float* out) {      // lanes 16-31 skip a full-mask shuffle
    float v = 1.f;
    if (threadIdx.x < 16) v = __shfl_xor_sync(0xffffffffu, v, 1);
    out[threadIdx.x] = v;
}
extern "C" __global__ void __launch_bounds__(64) bounded(float* out) { out[threadIdx.x] = 2.f; }
extern "C" __global__ void __launch_bounds__(96, 1) bounded2(float* out) { out[threadIdx.x] = 3.f; }
extern "C" __global__ void ballot(unsigned int* out) {         // every third thread votes
    unsigned int b = __ballot_sync(0xffffffffu, threadIdx.x % 3 == 0);
    out[threadIdx.x] = b;
    out[blockDim.x + threadIdx.x] = (unsigned int) __popc(b);
}
extern "C" __global__ void async_copies(const float* x, float* out) {   // two cp.async groups of 4 floats
    __shared__ float s[8];
    __pmx_cp_async(s, x, 16, true);
    __pmx_cp_async_commit();
    __pmx_cp_async(s + 4, x + 4, 16, true);
    __pmx_cp_async_commit();
    out[0] = s[0];                        // in flight
    __pmx_cp_async_wait(1);
    out[1] = s[0];                        // landed
    out[2] = s[4];                        // the newest group may stay in flight
    __pmx_cp_async(s, x, 16, false);      // zeros, never committed
    __pmx_cp_async_wait(0);
    out[3] = s[4];                        // landed
    out[4] = s[0];                        // an uncommitted copy is not waited for
}
extern "C" __global__ void async_mma(float* out) {   // a chain of two products into one accumulator pair, then two groups
    float d[2] = {1.f, 2.f}, e[1] = {5.f}, k = 10.f;
    __pmx_wgmma_fence();
    __pmx_wgmma(d, 2, [&k](float* acc) { acc[0] += k; acc[1] *= k; });
    __pmx_wgmma(d, 2, [](float* acc) { acc[0] *= 2.f; });
    __pmx_wgmma_commit();
    out[0] = d[0];                        // in flight
    d[1] = 100.f;                         // lost: the product's write-back overwrites it
    k = 3.f;                              // the product reads its registers when it runs
    __pmx_wgmma_wait(0);
    out[1] = d[0];                        // (1 + 3) * 2
    out[2] = d[1];                        // 2 * 3
    __pmx_wgmma_fence();
    __pmx_wgmma(d, 2, [](float* acc) { acc[0] += 1.f; });
    __pmx_wgmma_commit();
    __pmx_wgmma_fence();
    __pmx_wgmma(e, 1, [](float* acc) { acc[0] += 1.f; });
    __pmx_wgmma_commit();
    __pmx_wgmma_wait(1);
    out[3] = d[0];                        // the older group ran: 9
    out[4] = e[0];                        // the newest may stay in flight
    __pmx_wgmma_wait(0);
    out[5] = e[0];                        // 6
}
extern "C" __global__ void mma_after_copy(const float* x, float* out, int fence) {   // a wgmma after landed cp.async data
    __shared__ float s[4];
    __pmx_cp_async(s, x, 16, true);
    __pmx_cp_async_commit();
    __pmx_cp_async_wait(0);
    if (fence) __pmx_fence_proxy_async();
    __syncthreads();
    float d[1] = {0.f};
    __pmx_wgmma_fence();
    __pmx_wgmma(d, 1, [](float* acc) { acc[0] = 1.f; });
    __pmx_wgmma_commit();
    __pmx_wgmma_wait(0);
    out[threadIdx.x] = d[0] + s[0];
}
extern "C" __global__ void mma_unfenced(float* out) {
    float d[1] = {0.f};
    __pmx_wgmma(d, 1, [](float* acc) { acc[0] = 1.f; });
    __pmx_wgmma_commit();
    __pmx_wgmma_wait(0);
    out[0] = d[0];
}
extern "C" __global__ void mma_left_in_flight(float* out) {
    float d[1] = {0.f};
    __pmx_wgmma_fence();
    __pmx_wgmma(d, 1, [](float* acc) { acc[0] = 1.f; });
    __pmx_wgmma_commit();
    out[0] = 1.f;
}
// Dynamic shared memory as a block finds it: block b reads word 0, then writes it
extern "C" __global__ void shared_first_read(float* out) {
    DYNAMIC_SHARED_BYTES(s);
    float* f = reinterpret_cast<float*>(s);
    if (threadIdx.x == 0) { out[blockIdx.x] = f[0]; f[0] = 1.f; }
}
extern "C" __global__ void copy_past_shared(const float* x) {   // a cp.async just past the launch's dynamic shared memory
    DYNAMIC_SHARED_BYTES(s);
    __pmx_cp_async(s + 64, x, 16, true);
}
extern "C" __global__ void store_past_shared(float* out) {   // a plain store just past the launch's dynamic shared memory
    DYNAMIC_SHARED_BYTES(s);
    reinterpret_cast<float*>(s)[16] = 1.f;
    (void) out;
}
extern "C" __global__ void shared_addr_of_global(float* out) { out[0] = (float) __pmx_shared_addr(out); }
// BF16 of a float that has one (the operands here are small integers)
inline unsigned short bf16(float x) { return (unsigned short) (__float_as_uint(x) >> 16); }
// Without swizzle an operand is 8 x 16-byte core matrices of 128 contiguous bytes: a K-major one
// holds 8 rows (m or n) of 8 k, an MN-major one 8 k of 8 m or n; LBO steps k by 8, SBO m or n by 8.
inline unsigned long long descriptor(const void* p, unsigned int lbo, unsigned int sbo) {
    return (unsigned long long) (__pmx_shared_addr(p) >> 4) | (unsigned long long) (lbo >> 4) << 16 | (unsigned long long) (sbo >> 4) << 32;
}
// D (64 x 16) = A (64 x 16, a row-major) B (16 x 16, b row-major, K-major in shared memory unless
// transB), one warpgroup; out row-major. From registers (regs): A as the ISA's fragments, D
// starting at 1 and accumulated (scale-d 1) with imm-scale-a -1. mode breaks the descriptors:
// 1 swaps A's LBO and SBO, 2 sets the 64-byte swizzle, 3 sets a bit outside the fields, 4 puts B
// past the launch's shared memory. Modes 5 and 6 write B in the 128-byte swizzle instead, K-major (5)
// or MN-major (6, with transB): rows of 128 bytes (n, or k), 16-byte chunk c of row r at c ^ (r % 8).
extern "C" __global__ void wgmma_desc(const float* a, const float* b, float* out, int transB, int regs, int mode) {
    DYNAMIC_SHARED_BYTES(s);
    unsigned short* sa = reinterpret_cast<unsigned short*>(s);
    unsigned short* sb = reinterpret_cast<unsigned short*>(s + 64 * 16 * 2);
    for (int i = threadIdx.x; i < 64 * 16; i += blockDim.x) {
        int m = i / 16, k = i % 16;   // core matrices: A (m / 8, k / 8) at ((m / 8) * 2 + k / 8) * 128 bytes
        sa[(((m >> 3) * 2 + (k >> 3)) * 128 + (m & 7) * 16 + (k & 7) * 2) / 2] = bf16(a[i]);
    }
    for (int i = threadIdx.x; i < 16 * 16; i += blockDim.x) {
        int k = i / 16, n = i % 16;   // B K-major: (n / 8, k / 8) at ((n / 8) * 2 + k / 8) * 128; MN-major: (k / 8, n / 8) at ((k / 8) * 2 + n / 8) * 128
        int at = transB ? ((k >> 3) * 2 + (n >> 3)) * 128 + (k & 7) * 16 + (n & 7) * 2 : ((n >> 3) * 2 + (k >> 3)) * 128 + (n & 7) * 16 + (k & 7) * 2;
        if (mode >= 5) {   // row r, byte e of the row: r = n, e = 2k (K-major) or r = k, e = 2n (MN-major)
            int r = mode == 5 ? n : k, e = mode == 5 ? 2 * k : 2 * n;
            at = r * 128 + ((((e >> 4) ^ r) & 7) << 4) + (e & 15);
        }
        sb[at / 2] = bf16(b[i]);
    }
    __syncthreads();
    unsigned long long da = mode == 1 ? descriptor(sa, 256, 128) : descriptor(sa, 128, 256);
    unsigned long long db = transB ? descriptor(sb, 256, 128) : descriptor(sb, 128, 256);
    if (mode == 5) db = descriptor(sb, 16, 1024) | 1ull << 62;     // K-major: SBO steps n by 8 rows
    if (mode == 6) db = descriptor(sb, 2048, 1024) | 1ull << 62;   // MN-major: SBO steps k by 8 rows (LBO, n by 64, unused)
    if (mode == 2) db |= 2ull << 62;
    if (mode == 3) db |= 1ull << 47;
    if (mode == 4) db += 4096 >> 4;
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, g = lane >> 2, q = lane & 3;
    float d[8];
    for (int i = 0; i < 8; i++) d[i] = 1.f;
    unsigned int frag[4];
    for (int r = 0; r < 4; r++) {   // rows g, g + 8, g, g + 8 of the warp's 16; k 2q, 2q + 1 (+ 8 for the last two)
        const float* src = a + (16 * w + g + 8 * (r & 1)) * 16 + 2 * q + 8 * (r >> 1);
        frag[r] = bf16(src[0]) | (unsigned int) bf16(src[1]) << 16;
    }
    __pmx_wgmma_fence();
    if (regs) __pmx_wgmma_bf16_rs(d, 16, frag, db, 1, -1, 1, transB);
    else __pmx_wgmma_bf16_ss(d, 16, da, db, 0, 1, 1, 0, transB);
    __pmx_wgmma_commit();
    __pmx_wgmma_wait(0);
    for (int i = 0; i < 8; i++) out[(16 * w + g + 8 * ((i >> 1) & 1)) * 16 + 8 * (i >> 2) + 2 * q + (i & 1)] = d[i];
}
// A producer / consumer hand-off through named barriers, 128 threads: warps 0-1 write round r's
// values and arrive at barrier 1 ("full"); warps 2-3 wait at it, sum what they find, and arrive at
// barrier 2 ("free"), at which the producers wait before the next round (unless skipFree).
// out[64 b + t] for consumer thread t of block b: the sum over rounds of what it read.
extern "C" __global__ void handoff(float* out, int rounds, int skipFree) {
    __shared__ float s[64];
    const int t = threadIdx.x;
    float sum = 0.f;
    for (int r = 0; r < rounds; r++) {
        if (t < 64) {
            if (r > 0 && !skipFree) __pmx_bar_sync(2, 128);
            s[t] = (float) (100 * r + t);
            __pmx_bar_arrive(1, 128);
        } else {
            __pmx_bar_sync(1, 128);
            sum += s[t - 64];
            if (r + 1 < rounds) __pmx_bar_arrive(2, 128);
        }
    }
    if (t >= 64) out[64 * blockIdx.x + t - 64] = sum;
}
// A signal sent too early: warp 0 arrives at barrier 1 and only then writes what warp 1 waits for.
// out[lane]: what warp 1 read.
extern "C" __global__ void early_signal(float* out) {
    __shared__ float s[32];
    const int lane = threadIdx.x & 31;
    if (threadIdx.x < 32) {
        s[lane] = 0.f;
        __pmx_bar_arrive(1, 64);
        s[lane] = 1.f;
    } else {
        __pmx_bar_sync(1, 64);
        out[lane] = s[lane];
    }
}
// A wgmma after plain stores that it reads (__pmx_st_shared), with or without fence.proxy.async
extern "C" __global__ void mma_after_store(float* out, int fence) {
    __shared__ float s[1];
    float one = 1.f;
    __pmx_st_shared(s, &one, 4);
    if (fence) __pmx_fence_proxy_async();
    float d[1] = {0.f};
    __pmx_wgmma_fence();
    __pmx_wgmma(d, 1, [](float* acc) { acc[0] = 1.f; });
    __pmx_wgmma_commit();
    __pmx_wgmma_wait(0);
    out[0] = d[0] + s[0];
}
// Which warp took each of its steps: warp w's lane 0 logs w four times, a committed (empty) cp.async
// group between two, where the warp yields. log[0..31] in the order the steps ran.
extern "C" __global__ void interleave(int* log) {
    __shared__ int next;
    if (threadIdx.x == 0) next = 0;
    __syncthreads();
    for (int step = 0; step < 4; step++) {
        if ((threadIdx.x & 31) == 0) log[next++] = threadIdx.x >> 5;
        __pmx_cp_async_commit();
    }
}
// Named barriers misused, 64 threads: mode 0 id 0, 1 a count of 48, 2 two counts in one phase,
// 3 an arrival that no phase completes, 4 a wait that too few threads reach
extern "C" __global__ void named_misuse(int mode) {
    const int warp = threadIdx.x >> 5;
    switch (mode) {
    case 0: __pmx_bar_sync(0, 64); break;
    case 1: __pmx_bar_sync(1, 48); break;
    case 2: __pmx_bar_sync(1, warp == 0 ? 64 : 32); break;
    case 3: if (warp == 0) __pmx_bar_arrive(3, 64); break;
    case 4: if (warp == 0) __pmx_bar_sync(3, 64); break;
    }
}
extern "C" __global__ void fill(float* out, float v, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) out[i] = v; }
// griddepcontrol.wait in every thread but `skip` (-1: every thread), then the fill
extern "C" __global__ void fill_after_wait(float* out, float v, int n, int skip) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i != skip) __pmx_grid_wait();
    if (i < n) out[i] = v;
}
)";

static std::vector<char> compileImage() {
    nvrtcProgram p;
    nvrtcCreateProgram(&p, SRC, "selftest.cu", 0, nullptr, nullptr);
    const char* opts[] = {"--gpu-architecture=sm_90", "--std=c++17"};
    int rc = nvrtcCompileProgram(p, 2, opts);
    if (rc != 0) {
        size_t n;
        nvrtcGetProgramLogSize(p, &n);
        std::string log(n, '\0');
        nvrtcGetProgramLog(p, log.data());
        std::printf("compile failed:\n%s\n", log.c_str());
        std::exit(1);
    }
    size_t n;
    nvrtcGetCUBINSize(p, &n);
    std::vector<char> img(n);
    nvrtcGetCUBIN(p, img.data());
    nvrtcDestroyProgram(&p);
    return img;
}
static CUmodule compile() {
    std::vector<char> img = compileImage();
    CUmodule m;
    if (cuModuleLoadData(&m, img.data()) != CUDA_SUCCESS) { std::printf("module load failed\n"); std::exit(1); }
    return m;
}

static CUmodule mod;
static CUfunction fn(const char* name) {
    CUfunction f;
    if (cuModuleGetFunction(&f, mod, name) != CUDA_SUCCESS) { std::printf("no kernel %s\n", name); std::exit(1); }
    return f;
}

static CUresult launch(const char* name, unsigned grid, unsigned block, std::vector<void*> args, CUstream s = nullptr) {
    return cuLaunchKernel(fn(name), grid, 1, 1, block, 1, 1, 0, s, args.data(), nullptr);
}

static CUresult launchShared(const char* name, unsigned grid, unsigned block, unsigned sharedBytes, std::vector<void*> args) {
    return cuLaunchKernel(fn(name), grid, 1, 1, block, 1, 1, sharedBytes, nullptr, args.data(), nullptr);
}

// Runs body in a child process and returns its exit status (or 128 + signal).
static int inChild(const std::function<int()>& body) {
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(body());
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static std::vector<float> download(CUdeviceptr d, size_t n) {
    std::vector<float> h(n);
    cuMemcpyDtoH_v2(h.data(), d, 4 * n);
    return h;
}

int main(int argc, char** argv) {
    CUcontext ctx;
    CHECK(cuInit(0) == CUDA_SUCCESS && cuDevicePrimaryCtxRetain(&ctx, 0) == CUDA_SUCCESS && cuCtxSetCurrent(ctx) == CUDA_SUCCESS, "init");
    mod = compile();
    if (argc > 1 && std::strcmp(argv[1], "--schedule") == 0) {
        // run with PANAMAX_CUDASIM_SCHEDULE=random:SEED: some warp takes two steps while another, not done, waits
        CUdeviceptr log;
        cuMemAlloc_v2(&log, 4 * 32);
        CHECK(launch("interleave", 1, 256, {&log}) == CUDA_SUCCESS, "launch interleave");
        std::vector<int> h(32);
        cuMemcpyDtoH_v2(h.data(), log, 4 * 32);
        int taken[8] = {0};
        bool heldBack = false;
        for (int i = 0; i < 32; i++) {
            for (int w = 0; w < 8; w++) heldBack |= i > 0 && h[i] == h[i - 1] && w != h[i] && taken[w] < 4 && taken[w] <= taken[h[i]] - 1;
            taken[h[i]]++;
        }
        CHECK(heldBack, "the random schedule runs a warp again while another is held between two of its steps");
        std::printf(failures ? "%d schedule checks FAILED\n" : "cuda simulator schedule check passed\n", failures);
        return failures ? 1 : 0;
    }

    // NVRTC: unknown options and compile errors are reported
    {
        nvrtcProgram p;
        nvrtcCreateProgram(&p, "extern \"C\" __global__ void k() {}", "a.cu", 0, nullptr, nullptr);
        const char* bad[] = {"--no-such-option"};
        CHECK(nvrtcCompileProgram(p, 1, bad) == 5, "nvrtc rejects an unknown option");
        nvrtcDestroyProgram(&p);
        nvrtcCreateProgram(&p, "this is not CUDA", "b.cu", 0, nullptr, nullptr);
        CHECK(nvrtcCompileProgram(p, 0, nullptr) == 6, "nvrtc reports a compile error");
        nvrtcDestroyProgram(&p);
    }

    // a module compiled against another build of the kernel headers (a stale cache entry) is refused
    {
        std::vector<char> img = compileImage();
        const std::string id = PMX_HEADER_ID;
        auto at = std::search(img.begin(), img.end(), id.begin(), id.end());
        bool found = at != img.end();
        if (found) *at = *at == '0' ? '1' : '0';
        CUmodule other;
        CHECK(found && cuModuleLoadData(&other, img.data()) == CUDA_ERROR_INVALID_IMAGE, "a module of another build of the kernel headers is refused");
    }

    // a block reduction over 256 threads (8 warps)
    CUdeviceptr x, out;
    cuMemAlloc_v2(&x, 4 * 256);
    cuMemAlloc_v2(&out, 4 * 256);
    {
        std::vector<float> h(256);
        for (int i = 0; i < 256; i++) h[i] = (float) i;
        cuMemcpyHtoD_v2(x, h.data(), 4 * 256);
        CHECK(launch("reduce", 1, 256, {&x, &out}) == CUDA_SUCCESS, "launch reduce");
        CHECK(download(out, 1)[0] == 255.f * 256.f / 2.f, "shuffles and a barrier sum 0..255");
    }

    // a ballot gives every lane the votes of its warp, one bit a lane
    {
        CHECK(launch("ballot", 1, 64, {&out}) == CUDA_SUCCESS, "launch ballot");
        std::vector<unsigned int> h(128);
        cuMemcpyDtoH_v2(h.data(), out, 4 * 128);
        bool right = true;
        for (int t = 0; t < 64; t++) {
            unsigned int want = 0;
            for (int l = 0; l < 32; l++) if (((t & ~31) + l) % 3 == 0) want |= 1u << l;
            right &= h[t] == want && h[64 + t] == (unsigned int) __builtin_popcount(want);
        }
        CHECK(right, "__ballot_sync and __popc");
    }

    // a missing barrier reads stale shared memory, in both orders (even and odd blocks)
    {
        float nan = NAN;
        unsigned n = 64;
        CHECK(launch("fill", 1, 64, {&out, &nan, &n}) == CUDA_SUCCESS, "fill");
        launch("racy", 1, 64, {&out});
        std::vector<float> h = download(out, 64);
        int stale = 0;
        for (int i = 0; i < 64; i++) stale += h[i] != (float) ((i + 1) % 64);
        CHECK(stale > 0, "a read without a barrier sees unwritten shared memory");
    }

    // work runs late: a queued kernel has not run before a synchronisation
    {
        CUstream s;
        cuStreamCreate(&s, CU_STREAM_NON_BLOCKING);
        float* pinned;
        cuMemAllocHost_v2(reinterpret_cast<void**>(&pinned), 4 * 256);
        for (int i = 0; i < 256; i++) pinned[i] = -1.f;
        float seven = 7.f;
        int n = 256;
        launch("fill", 2, 128, {&out, &seven, &n}, s);
        cuMemcpyDtoHAsync_v2(pinned, out, 4 * 256, s);
        CHECK(pinned[0] == -1.f, "an async copy into pinned memory has not happened before the stream is synchronised");
        cuStreamSynchronize(s);
        CHECK(pinned[0] == 7.f && pinned[255] == 7.f, "it has after");
        // a pinned source is read when the copy runs, so rewriting it early changes what arrives
        for (int i = 0; i < 256; i++) pinned[i] = 1.f;
        cuMemcpyHtoDAsync_v2(out, pinned, 4 * 256, s);
        pinned[0] = 2.f;
        cuStreamSynchronize(s);
        CHECK(download(out, 1)[0] == 2.f, "a pinned source rewritten before its copy ran arrives rewritten");
        // a blocking copy on the legacy stream does not wait for a non-blocking stream
        launch("fill", 2, 128, {&out, &seven, &n}, s);
        CHECK(download(out, 1)[0] == 2.f, "a non-blocking stream's work is not ordered before a blocking copy");
        cuStreamSynchronize(s);
        CHECK(download(out, 1)[0] == 7.f, "it is after the stream is synchronised");
        cuMemFreeHost(pinned);
        cuStreamDestroy_v2(s);
    }

    // stream capture: work is recorded, not run; a graph launch runs it with the parameters it was
    // captured with and the memory as it is then; a call that capture cannot record invalidates it
    {
        CUstream s;
        cuStreamCreate(&s, CU_STREAM_NON_BLOCKING);
        float one = 1.f, three = 3.f;
        int n = 256;
        launch("fill", 2, 128, {&out, &one, &n}, s);
        cuStreamSynchronize(s);
        CHECK(cuStreamBeginCapture_v2(nullptr, CU_STREAM_CAPTURE_MODE_RELAXED) == CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "the legacy stream cannot capture");
        CHECK(cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_RELAXED) == CUDA_SUCCESS, "begin a capture");
        CUstreamCaptureStatus st;
        CHECK(cuStreamIsCapturing(s, &st) == CUDA_SUCCESS && st == CU_STREAM_CAPTURE_STATUS_ACTIVE, "the stream says it captures");
        launch("reduce", 1, 256, {&x, &out}, s);          // out[0] = sum of x (0..255, from above)
        launch("fill", 1, 1, {&x, &three, &n}, s);        // then x[0] = 3 (one thread writes one value)
        CUgraph g;
        CHECK(cuStreamEndCapture(s, &g) == CUDA_SUCCESS, "end the capture");
        size_t nodes = 0;
        CHECK(cuGraphGetNodes(g, nullptr, &nodes) == CUDA_SUCCESS && nodes == 2, "the graph holds the two launches");
        cuStreamSynchronize(s);
        CHECK(download(out, 1)[0] == 1.f, "captured work has not run");
        CUgraphExec e;
        CHECK(cuGraphInstantiateWithFlags(&e, g, 0) == CUDA_SUCCESS, "instantiate");
        cuGraphDestroy(g);
        CHECK(cuGraphLaunch(e, s) == CUDA_SUCCESS, "launch the graph");
        CHECK(download(out, 1)[0] == 1.f, "a launched graph runs late, like other work");
        cuStreamSynchronize(s);
        CHECK(download(out, 1)[0] == 255.f * 256.f / 2.f, "the graph's first node ran");
        cuGraphLaunch(e, s);   // again: x[0] is 3 now, so the sum is 3 larger
        cuStreamSynchronize(s);
        CHECK(download(out, 1)[0] == 255.f * 256.f / 2.f + 3.f, "a replay reads the memory as it is when it runs");
        cuGraphExecDestroy(e);
        float zero = 0.f;
        CUdeviceptr px = x;
        cuMemcpyHtoD_v2(px, &zero, 4);   // restore x[0] = 0
        cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_RELAXED);
        launch("reduce", 1, 256, {&x, &out}, s);
        CHECK(cuStreamSynchronize(s) == CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "a synchronisation during capture fails");
        std::vector<float> pageable(4);
        CHECK(cuMemcpyHtoDAsync_v2(out, pageable.data(), 16, s) == CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "so does a copy from pageable memory");
        CHECK(cuStreamEndCapture(s, &g) == CUDA_ERROR_STREAM_CAPTURE_INVALIDATED && g == nullptr, "and the capture ends invalidated");
        CHECK(cuStreamIsCapturing(s, &st) == CUDA_SUCCESS && st == CU_STREAM_CAPTURE_STATUS_NONE, "the stream no longer captures");
        CHECK(launch("reduce", 1, 256, {&x, &out}, s) == CUDA_SUCCESS && cuStreamSynchronize(s) == CUDA_SUCCESS
              && download(out, 1)[0] == 255.f * 256.f / 2.f, "and runs work again");
        cuStreamDestroy_v2(s);
    }

    // checked calls
    {
        CHECK(cuMemcpyHtoD_v2(out + 1020, &x, 8) == CUDA_ERROR_INVALID_VALUE, "a copy past the end of an allocation");
        CUdeviceptr z;
        CHECK(cuMemAlloc_v2(&z, 0) == CUDA_ERROR_INVALID_VALUE, "a zero-byte allocation");
        CHECK(cuMemAlloc_v2(&z, (size_t) 1 << 50) == CUDA_ERROR_OUT_OF_MEMORY, "an allocation beyond the device");
        CHECK(launch("fill", 0, 128, {&out, &x, &x}) == CUDA_ERROR_INVALID_VALUE, "an empty grid");
        CHECK(launch("fill", 1, 2048, {&out, &x, &x}) == CUDA_ERROR_INVALID_VALUE, "a block of 2048 threads");
        CHECK(launch("bounded", 1, 128, {&out}) == CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "more threads than __launch_bounds__");
        CHECK(launch("bounded2", 1, 96, {&out}) == CUDA_SUCCESS, "__launch_bounds__(96, 1): 96 threads");
        CHECK(launch("bounded2", 1, 128, {&out}) == CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "__launch_bounds__(96, 1): 128 threads");
        CUresult other = CUDA_SUCCESS;
        std::thread([&] { CUdeviceptr p; other = cuMemAlloc_v2(&p, 64); }).join();
        CHECK(other == CUDA_ERROR_INVALID_CONTEXT, "a thread without a current context");
    }

    // cuBLAS: GEMM against loops; beta 0 ignores a NaN C; a short leading dimension is refused
    {
        cublasHandle_t h;
        CHECK(cublasCreate_v2(&h) == 0, "cublasCreate");
        int m = 5, n = 3, k = 4;
        std::vector<float> a(m * k), b(k * n), want(m * n, 0.f);
        for (int i = 0; i < m * k; i++) a[i] = 0.25f * (i % 7) - 0.5f;
        for (int i = 0; i < k * n; i++) b[i] = 0.5f * (i % 5) - 1.f;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++)
                for (int p = 0; p < k; p++) want[j * m + i] += a[p * m + i] * b[j * k + p];  // column-major
        CUdeviceptr da, db, dc;
        cuMemAlloc_v2(&da, 4 * a.size());
        cuMemAlloc_v2(&db, 4 * b.size());
        cuMemAlloc_v2(&dc, 4 * m * n);  // uninitialised: NaN
        cuMemcpyHtoD_v2(da, a.data(), 4 * a.size());
        cuMemcpyHtoD_v2(db, b.data(), 4 * b.size());
        float one = 1.f, zero = 0.f;
        CHECK(cublasSgemm_v2(h, 0, 0, m, n, k, &one, reinterpret_cast<float*>(da), m, reinterpret_cast<float*>(db), k, &zero,
                             reinterpret_cast<float*>(dc), m) == 0, "cublasSgemm");
        std::vector<float> got = download(dc, m * n);
        bool same = true;
        for (int i = 0; i < m * n; i++) same &= std::fabs(got[i] - want[i]) < 1e-6f;
        CHECK(same, "Sgemm equals the loops, and beta 0 did not read the NaN in C");
        CHECK(cublasSgemm_v2(h, 0, 0, m, n, k, &one, reinterpret_cast<float*>(da), m - 1, reinterpret_cast<float*>(db), k, &zero,
                             reinterpret_cast<float*>(dc), m) == 7, "lda < m is refused");
        CHECK(cublasGemmEx(h, 0, 0, m, n, k, &one, reinterpret_cast<void*>(da), 0, m, reinterpret_cast<void*>(db), 14, k, &zero,
                           reinterpret_cast<void*>(dc), 0, m, 68, -1) == 15, "mixed F32 x BF16 operands are not supported");
        CHECK(cublasSgemm_v2(h, 0, 0, m, n, k, &one, reinterpret_cast<float*>(da + 8), m, reinterpret_cast<float*>(db), k, &zero,
                             reinterpret_cast<float*>(dc), m) == 13, "an A that runs past its allocation");

        // grouped: group 0 is the product above, group 1 its first 2 x 2 corner (k 2) into a second C;
        // the pointer arrays live in device memory
        CUdeviceptr dc2, table;
        cuMemAlloc_v2(&dc2, 4 * 4);
        cuMemAlloc_v2(&table, 6 * sizeof(void*));
        CUdeviceptr ptrs[6] = {da, da, db, db, dc, dc2};
        cuMemcpyHtoD_v2(table, ptrs, sizeof(ptrs));
        int ops[2] = {0, 0}, gm[2] = {m, 2}, gn[2] = {n, 2}, gk[2] = {k, 2}, glda[2] = {m, m}, gldb[2] = {k, k}, gldc[2] = {m, 2}, sizes[2] = {1, 1};
        float alphas[2] = {1.f, 1.f}, betas[2] = {0.f, 0.f};
        const void* const* A = reinterpret_cast<const void* const*>(table);
        const void* const* B = reinterpret_cast<const void* const*>(table + 2 * sizeof(void*));
        void* const* C = reinterpret_cast<void* const*>(table + 4 * sizeof(void*));
        CHECK(cublasGemmGroupedBatchedEx(h, ops, ops, gm, gn, gk, alphas, A, 0, glda, B, 0, gldb, betas, C, 0, gldc, 2, sizes, 68) == 0,
              "cublasGemmGroupedBatchedEx");
        got = download(dc, m * n);
        std::vector<float> corner = download(dc2, 4);
        same = true;
        for (int i = 0; i < m * n; i++) same &= std::fabs(got[i] - want[i]) < 1e-6f;
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < 2; i++) {
                float s = 0.f;
                for (int p = 0; p < 2; p++) s += a[p * m + i] * b[j * k + p];
                same &= std::fabs(corner[j * 2 + i] - s) < 1e-6f;
            }
        CHECK(same, "each group of a grouped GEMM equals its loops");
        CHECK(cublasGemmGroupedBatchedEx(h, ops, ops, gm, gn, gk, alphas, A, 14, glda, B, 14, gldb, betas, C, 0, gldc, 2, sizes, 68) == 15,
              "a grouped GEMM of BF16 operands into F32 is not supported");
        cuMemFree_v2(dc2);
        cuMemFree_v2(table);

        // cuBLASLt: attributes of the wrong size are refused; the heuristic leaves out what the
        // preference rules out; an algorithm runs only on the product it was found for, and only on
        // operands as aligned as it needs
        cublasLtHandle_t lt;
        CHECK(cublasLtCreate(&lt) == 0, "cublasLtCreate");
        void *desc, *la, *lb, *lc, *lc2, *pref;
        CHECK(cublasLtMatmulDescCreate(&desc, 68, 0) == 0, "cublasLtMatmulDescCreate");
        int32_t opN = 0;
        int64_t wide = 0;
        CHECK(cublasLtMatmulDescSetAttribute(desc, 3, &wide, sizeof(wide)) == 7, "a TRANSA attribute of 8 bytes is refused");
        CHECK(cublasLtMatmulDescSetAttribute(desc, 3, &opN, sizeof(opN)) == 0, "TRANSA");
        cublasLtMatrixLayoutCreate(&la, 0, m, k, m);
        cublasLtMatrixLayoutCreate(&lb, 0, k, n, k);
        cublasLtMatrixLayoutCreate(&lc, 0, m, n, m);
        cublasLtMatrixLayoutCreate(&lc2, 0, m, n, m + 1);
        cublasLtMatmulPreferenceCreate(&pref);
        uint64_t noWorkspace = 0;
        CHECK(cublasLtMatmulPreferenceSetAttribute(pref, 1, &noWorkspace, sizeof(noWorkspace)) == 0, "max workspace");
        unsigned char results[4 * 96];
        int count = 0;
        CHECK(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, lc, pref, 4, results, &count) == 0 && count == 2,
              "without workspace the heuristic leaves out the algorithm that needs some");
        CHECK(cublasLtMatmul(lt, desc, &one, reinterpret_cast<void*>(da), la, reinterpret_cast<void*>(db), lb, &zero, reinterpret_cast<void*>(dc), lc,
                             reinterpret_cast<void*>(dc), lc, results, nullptr, 0, nullptr) == 0, "cublasLtMatmul");
        got = download(dc, m * n);
        same = true;
        for (int i = 0; i < m * n; i++) same &= std::fabs(got[i] - want[i]) < 1e-6f;
        CHECK(same, "cublasLtMatmul equals the loops");
        CHECK(cublasLtMatmul(lt, desc, &one, reinterpret_cast<void*>(da), la, reinterpret_cast<void*>(db), lb, &zero, reinterpret_cast<void*>(dc), lc2,
                             reinterpret_cast<void*>(dc), lc2, results, nullptr, 0, nullptr) == 7, "an algorithm found for another product is refused");
        CHECK(cublasLtMatmul(lt, desc, &one, reinterpret_cast<void*>(da + 4), la, reinterpret_cast<void*>(db), lb, &zero, reinterpret_cast<void*>(dc), lc,
                             reinterpret_cast<void*>(dc), lc, results, nullptr, 0, nullptr) == 13, "an operand less aligned than the algorithm needs fails");
        uint32_t four = 4;
        CHECK(cublasLtMatmulPreferenceSetAttribute(pref, 5, &four, sizeof(four)) == 0, "min alignment of A");
        CHECK(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, lc, pref, 4, results, &count) == 0 && count == 1,
              "operands aligned to 4 bytes leave out the algorithm that needs 16");
    }

    // faults that poison the context (or the process) run in a child
    CHECK(inChild([&] { return cuCtxSynchronize() == CUDA_SUCCESS && launch("early_exit", 1, 64, {&out}) == CUDA_SUCCESS &&
                                       cuCtxSynchronize() == CUDA_ERROR_LAUNCH_FAILED && cuCtxSynchronize() == CUDA_ERROR_LAUNCH_FAILED ? 0 : 1; }) == 0,
          "a barrier after some threads exited fails the launch, and the error is sticky");
    CHECK(inChild([&] { launch("traps", 1, 32, {&out}); return cuCtxSynchronize() == CUDA_ERROR_LAUNCH_FAILED ? 0 : 1; }) == 0, "__trap() fails the launch");
    CHECK(inChild([&] { launch("half_warp_shuffle", 1, 32, {&out}); return cuCtxSynchronize() == CUDA_ERROR_LAUNCH_FAILED ? 0 : 1; }) == 0,
          "a full-mask shuffle that half the warp skips fails the launch");
    CHECK(inChild([&] { volatile float v = *reinterpret_cast<float*>(out); (void) v; return 0; }) == 128 + SIGSEGV,
          "the host reading device memory faults");

    // named barriers: a hand-off between warps, in both orders (even and odd blocks); misuse fails the launch
    {
        int rounds = 3, skipFree = 0;
        // two blocks: the odd one runs its warps in reverse, so consumers run before producers there
        CHECK(launch("handoff", 2, 128, {&out, &rounds, &skipFree}) == CUDA_SUCCESS, "launch handoff");
        std::vector<float> h = download(out, 128);
        bool right = true;
        for (int t = 0; t < 128; t++) right &= h[t] == (float) (300 + 3 * (t % 64));
        CHECK(right, "bar.arrive / bar.sync hand each round's values from producer to consumer warps, in both orders");
        CHECK(inChild([&] {
                  int skip = 1;
                  if (launch("handoff", 2, 128, {&out, &rounds, &skip}) != CUDA_SUCCESS || cuCtxSynchronize() != CUDA_SUCCESS) return 0;
                  std::vector<float> g = download(out, 128);
                  for (int t = 0; t < 128; t++) if (g[t] != (float) (300 + 3 * (t % 64))) return 0;
                  return 1;
              }) == 0,
              "a hand-off without its 'free' barrier is caught (a failed launch or wrong values)");
        CHECK(launch("early_signal", 2, 64, {&out}) == CUDA_SUCCESS, "launch early_signal");
        h = download(out, 32);
        bool early = true;
        for (int t = 0; t < 32; t++) early &= h[t] == 0.f;
        CHECK(early, "a bar.arrive lets the waiting warps run first: a write after the signal is not seen");
        const char* misuse[] = {"a named barrier with id 0 fails the launch", "a named barrier count that is not a multiple of 32 fails the launch",
                                "two counts in one phase of a named barrier fail the launch",
                                "a named barrier left part-way when the block ends fails the launch",
                                "a named barrier that too few threads reach deadlocks, and fails the launch"};
        for (int mode = 0; mode < 5; mode++)
            CHECK(inChild([&] { launch("named_misuse", 1, 64, {&mode}); return cuCtxSynchronize() == CUDA_ERROR_LAUNCH_FAILED ? 0 : 1; }) == 0, misuse[mode]);
    }

    // cp.async and wgmma complete at the latest wait that covers them; what they write is NaN until then
    {
        std::vector<float> h = {1, 2, 3, 4, 5, 6, 7, 8};
        cuMemcpyHtoD_v2(x, h.data(), 4 * 8);
        CHECK(launch("async_copies", 1, 1, {&x, &out}) == CUDA_SUCCESS, "launch async_copies");
        h = download(out, 5);
        CHECK(std::isnan(h[0]) && h[1] == 1.f && std::isnan(h[2]), "cp.async.wait_group 1 lands all committed groups but the newest; the destination is NaN till then");
        CHECK(h[3] == 5.f && std::isnan(h[4]), "wait_group 0 lands every committed group, and no copy issued after the last commit");
        CHECK(launch("async_mma", 1, 1, {&out}) == CUDA_SUCCESS, "launch async_mma");
        h = download(out, 6);
        CHECK(std::isnan(h[0]) && h[1] == 8.f && h[2] == 6.f,
              "wgmma accumulators are NaN in flight; a chain runs in order at the wait, reading its registers then; a write in between is lost");
        CHECK(h[3] == 9.f && std::isnan(h[4]) && h[5] == 6.f, "wgmma.wait_group 1 runs all committed groups but the newest");
    }
    {
        int fence = 1;
        CHECK(launch("mma_after_copy", 1, 64, {&x, &out, &fence}) == CUDA_SUCCESS && download(out, 1)[0] == 2.f, "a wgmma after fenced cp.async data runs");
    }
    CHECK(inChild([&] { int fence = 0; launch("mma_after_copy", 1, 64, {&x, &out, &fence}); return cuCtxSynchronize() == CUDA_ERROR_LAUNCH_FAILED ? 0 : 1; }) == 0,
          "a wgmma while landed cp.async data is not fenced (fence.proxy.async) fails the launch");
    {
        int fence = 1;
        CHECK(launch("mma_after_store", 1, 1, {&out, &fence}) == CUDA_SUCCESS && download(out, 1)[0] == 2.f, "a wgmma after fenced plain stores runs");
    }
    CHECK(inChild([&] { int fence = 0; launch("mma_after_store", 1, 1, {&out, &fence}); return cuCtxSynchronize() == CUDA_ERROR_LAUNCH_FAILED ? 0 : 1; }) == 0,
          "a wgmma while tracked plain stores (__pmx_st_shared) are not fenced fails the launch");
    CHECK(inChild([&] { launch("mma_unfenced", 1, 1, {&out}); return cuCtxSynchronize() == CUDA_ERROR_LAUNCH_FAILED ? 0 : 1; }) == 0,
          "a wgmma group without a wgmma.fence before it fails the launch");
    CHECK(inChild([&] { launch("mma_left_in_flight", 1, 1, {&out}); return cuCtxSynchronize() == CUDA_ERROR_LAUNCH_FAILED ? 0 : 1; }) == 0,
          "a thread that ends with a wgmma in flight fails the launch");

    // dynamic shared memory starts every block as all ones; wgmma reads its operands through its descriptors
    {
        CHECK(launchShared("shared_first_read", 2, 32, 64, {&out}) == CUDA_SUCCESS, "launch shared_first_read");
        std::vector<float> h = download(out, 2);
        CHECK(std::isnan(h[0]) && std::isnan(h[1]), "each block finds its dynamic shared memory unwritten (NaN), not the last block's");
        CHECK(inChild([&] { launchShared("copy_past_shared", 1, 1, 64, {&x}); return cuCtxSynchronize() == CUDA_ERROR_LAUNCH_FAILED ? 0 : 1; }) == 0,
              "a cp.async past the launch's dynamic shared memory fails the launch");
        CHECK(inChild([&] { launchShared("store_past_shared", 1, 1, 64, {&out}); return cuCtxSynchronize() == CUDA_ERROR_LAUNCH_FAILED ? 0 : 1; }) == 0,
              "a store past the launch's dynamic shared memory fails the launch");
        CHECK(inChild([&] { launch("shared_addr_of_global", 1, 1, {&out}); return cuCtxSynchronize() == CUDA_ERROR_LAUNCH_FAILED ? 0 : 1; }) == 0,
              "the shared address of a pointer outside shared memory fails the launch");
        CUdeviceptr a, b, d;
        cuMemAlloc_v2(&a, 4 * 64 * 16);
        cuMemAlloc_v2(&b, 4 * 16 * 16);
        cuMemAlloc_v2(&d, 4 * 64 * 16);
        std::vector<float> ha(64 * 16), hb(16 * 16);
        for (int i = 0; i < 64 * 16; i++) ha[i] = (float) ((i * 7 + i / 16) % 9 - 4);
        for (int i = 0; i < 16 * 16; i++) hb[i] = (float) ((i * 5 + i / 16) % 7 - 3);
        cuMemcpyHtoD_v2(a, ha.data(), 4 * ha.size());
        cuMemcpyHtoD_v2(b, hb.data(), 4 * hb.size());
        auto product = [&](int transB, int regs, int mode) {
            CUresult rc = launchShared("wgmma_desc", 1, 128, 4096, {&a, &b, &d, &transB, &regs, &mode});
            int wrong = rc == CUDA_SUCCESS ? 0 : -1;
            std::vector<float> hd = download(d, 64 * 16);
            for (int m = 0; m < 64 && wrong >= 0; m++)
                for (int n = 0; n < 16; n++) {
                    float want = regs ? 1.f : 0.f;
                    for (int k = 0; k < 16; k++) want += (regs ? -1.f : 1.f) * ha[m * 16 + k] * hb[k * 16 + n];
                    wrong += hd[m * 16 + n] != want;
                }
            return wrong;
        };
        CHECK(product(0, 0, 0) == 0, "wgmma (A and B in shared memory, K-major) reads them through their descriptors");
        CHECK(product(1, 0, 0) == 0, "wgmma with B MN-major (imm-trans-b 1)");
        CHECK(product(1, 1, 0) == 0, "wgmma with A in registers as the ISA's fragments, accumulating (scale-d 1), imm-scale-a -1");
        CHECK(product(0, 0, 1) > 0, "A's LBO and SBO swapped give another product");
        CHECK(product(0, 0, 5) == 0, "wgmma reads B K-major in the 128-byte swizzle");
        CHECK(product(1, 0, 6) == 0, "wgmma reads B MN-major in the 128-byte swizzle");
        CHECK(product(1, 1, 6) == 0, "wgmma from registers reads B MN-major in the 128-byte swizzle");
        const char* traps[] = {"", "", "a descriptor with the 64-byte swizzle fails the launch", "a descriptor with a bit set outside its fields fails the launch",
                               "an operand past the launch's dynamic shared memory fails the launch"};
        for (int mode = 2; mode <= 4; mode++)
            CHECK(inChild([&] { product(0, 0, mode); return cuCtxSynchronize() == CUDA_ERROR_LAUNCH_FAILED ? 0 : 1; }) == 0, traps[mode]);
        cuMemFree_v2(a);
        cuMemFree_v2(b);
        cuMemFree_v2(d);
    }

    // programmatic stream serialization (cuLaunchKernelEx): every thread must wait for the grid before it
    {
        auto programmatic = [&](CUlaunchAttributeID id, int allowed, int skip) {
            float five = 5.f;
            int n = 256;
            void* args[] = {&out, &five, &n, &skip};
            CUlaunchAttribute attr;
            std::memset(&attr, 0, sizeof attr);
            attr.id = id;
            attr.value.programmaticStreamSerializationAllowed = allowed;
            CUlaunchConfig config;
            std::memset(&config, 0, sizeof config);
            config.gridDimX = 2, config.gridDimY = 1, config.gridDimZ = 1, config.blockDimX = 128, config.blockDimY = 1, config.blockDimZ = 1;
            config.attrs = &attr, config.numAttrs = 1;
            return cuLaunchKernelEx(&config, fn("fill_after_wait"), args, nullptr);
        };
        CHECK(programmatic(CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, 1, -1) == CUDA_SUCCESS && cuCtxSynchronize() == CUDA_SUCCESS
              && download(out, 256)[255] == 5.f, "a programmatic launch whose every thread waits for the grid before it runs");
        CHECK(inChild([&] {
                  programmatic(CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, 1, 200);
                  return cuCtxSynchronize() == CUDA_ERROR_LAUNCH_FAILED ? 0 : 1;
              }) == 0, "a programmatic launch with one thread that does not wait for the grid before it fails the launch");
        CHECK(programmatic(CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, 0, 200) == CUDA_SUCCESS && cuCtxSynchronize() == CUDA_SUCCESS,
              "with programmatic serialization not allowed, a thread need not wait");
        CHECK(programmatic(CU_LAUNCH_ATTRIBUTE_COOPERATIVE, 1, -1) == CUDA_ERROR_NOT_SUPPORTED, "a launch attribute that is not simulated is refused");
    }

    cuMemFree_v2(x);
    cuMemFree_v2(out);
    std::printf(failures ? "%d self-test checks FAILED\n" : "cuda simulator self-test: every check passed\n", failures);
    return failures ? 1 : 0;
}
