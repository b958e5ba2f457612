// Absorbed multi-head latent attention for decoding (one new query per sequence), FlashMLA-style:
// the queries of all heads, already multiplied into the latent space, attend over the shared
// compressed cache (latent c_kv of width R and rope key k_pe of width P per position), which
// serves as both key (c_kv ++ k_pe) and value (c_kv). The sequence is split over blocks; each
// block keeps an online softmax per head and writes a partial result, and mla_decode_combine
// merges the splits (or, where the host asks, the tensor-core kernel's last block: mla_tail_merge).
//
// The queries q (batch, heads, R + P) F32 come in two parts (MLA_Q_PARAMS): the latent dims of
// head row bh = b * heads + h at qn + bh * ldn, its rope dims at qr + bh * ldr (the two halves of
// one joined tensor, or the absorbed queries and the rotated ones as they were computed); cache
// (batch, maxLen, R) and pe (batch, maxLen, P), F32 or BF16; len0 + lens[b] positions valid (len0
// when lens is null; see mla_len); grid (splits, ceil(heads / HG), batch), block 256 threads.
// Partials: o (batch, splits, heads, R) unnormalised, m and l (batch, splits, heads).
#include "common.cuh"

#define MLA_Q_PARAMS const float* qn, i64 ldn, const float* qr, i64 ldr
#define MLA_Q_ARGS qn, ldn, qr, ldr

// The positions of sequence b: len0, plus lens[b] when lens is given. A decode step whose
// positions are in device memory (replayed by a CUDA graph, whose arguments are fixed) passes each
// sequence's position of its new token as lens and 1 as len0.
__device__ __forceinline__ int mla_len(const int* lens, int len0, int b) { return len0 + (lens ? lens[b] : 0); }

// The splits that get positions. Lengths from the host size the grid, and every split gets some.
// With lengths in device memory the grid is sized for the cache's capacity; then only as many
// splits work as give each at least MLA_SPLIT_MIN positions (the host's own rule), and the other
// blocks leave at once. mla_decode_combine merges only the splits that worked.
#define MLA_SPLIT_MIN 64
__device__ __forceinline__ int mla_used_splits(const int* lens, int len, int splits) {
    return lens ? min(splits, max(1, (len + MLA_SPLIT_MIN - 1) / MLA_SPLIT_MIN)) : splits;
}

// Positions from .. to - 1 of sequence b are split `split` of `splits` (a tensor-core kernel's
// division, which mla_decode_combine assumes); false where the split gets none and its block leaves
__device__ __forceinline__ bool mla_split_positions(const int* lens, int len0, int b, int split, int splits, int& from, int& to) {
    const int len = mla_len(lens, len0, b), used = mla_used_splits(lens, len, splits);
    if (split >= used) return false;
    const int chunk = (len + used - 1) / used;
    from = min(len, split * chunk);
    to = min(len, from + chunk);
    return true;
}

// Before a kernel's pmx_grid_begin (the only work any kernel does before it): asks L2 for the first
// `rows` positions of this block's split of the cache (cp.async.bulk.prefetch.L2, sm_90), so that
// under a programmatic launch their DRAM reads overlap the end of the kernel before it. One thread,
// two bulk prefetches (the latent rows and the rope rows, each contiguous). Only where the lengths
// come from the host (lens null), so that it reads no memory at all: lens may be what the kernel
// before writes. A prefetch changes no memory, and the loads after the wait read through L2, which
// that kernel's writes reach, so a line fetched before one of them is written still reads as written.
// The grid is the tensor-core kernels' (head blocks, splits, batch). Nothing on the simulator.
__device__ __forceinline__ void mla_prefetch_l2(const unsigned short* cache, const unsigned short* pe, const int* lens, int len0, int maxLen, int R, int P,
                                                int rows) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    int from, to;
    if (lens != nullptr || threadIdx.x != 0 || !mla_split_positions(nullptr, len0, blockIdx.z, blockIdx.y, gridDim.y, from, to)) return;
    const int n = min(to - from, rows);
    if (n <= 0) return;
    const i64 row = (i64) blockIdx.z * maxLen + from;   // rows of R and P BF16 values: 16-byte multiples, as the loads need
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" :: "l"(cache + row * R), "r"(n * R * 2) : "memory");
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" :: "l"(pe + row * P), "r"(n * P * 2) : "memory");
#endif
}

// Dim d of head row bh's query, and the run of dims after it up to the next multiple of R (every
// kernel reads runs of 2, 8 or 16 dims that start at a multiple of their length, and R is a multiple of it)
struct MlaQuery {
    const float* qn;
    i64 ldn;
    const float* qr;
    i64 ldr;
    int R;
    __device__ __forceinline__ const float* at(i64 bh, int d) const { return d < R ? qn + bh * ldn + d : qr + bh * ldr + (d - R); }
};

#define HG 8        // heads per block
#define TT 8        // cache positions per tile
#define MAX_R 512
#define MAX_D 576   // R + P
#define THREADS 256

template <typename T> __device__ __forceinline__ float ld(const T* p, i64 i);
template <> __device__ __forceinline__ float ld<float>(const float* p, i64 i) { return p[i]; }
template <> __device__ __forceinline__ float ld<unsigned short>(const unsigned short* p, i64 i) { return bf16_to_f32(p[i]); }

template <typename T>
__device__ void mla_decode(MLA_Q_PARAMS, const T* cache, const T* pe, const int* lens, int len0, float* o, float* mOut, float* lOut,
                           int heads, int maxLen, int R, int P, float scale) {
    const MlaQuery Q{qn, ldn, qr, ldr, R};
    __shared__ float qs[HG][MAX_D];
    __shared__ float ks[TT][MAX_D];
    __shared__ float ps[HG][TT];
    __shared__ float ms[HG], ls[HG], alpha[HG];
    if (R > MAX_R || R + P > MAX_D || blockDim.x != THREADS) __trap();  // the shared tiles are sized for these
    int split = blockIdx.x, splits = gridDim.x, h0 = blockIdx.y * HG, b = blockIdx.z, tid = threadIdx.x;
    int D = R + P, len = mla_len(lens, len0, b), used = mla_used_splits(lens, len, splits);
    if (split >= used) return;   // the whole block, before any barrier
    int chunk = (len + used - 1) / used, from = split * chunk, to = min(len, from + chunk);
    int nh = min(HG, heads - h0);
    for (int i = tid; i < HG * D; i += THREADS) {
        int h = i / D, d = i % D;
        qs[h][d] = h < nh ? *Q.at((i64) b * heads + h0 + h, d) : 0.f;
    }
    if (tid < HG) { ms[tid] = NEG_INF; ls[tid] = 0.f; }
    float acc[HG][2];
    for (int h = 0; h < HG; h++) { acc[h][0] = 0.f; acc[h][1] = 0.f; }
    __syncthreads();
    const T* cb = cache + (i64) b * maxLen * R;
    const T* pb = pe + (i64) b * maxLen * P;
    for (int t0 = from; t0 < to; t0 += TT) {
        int nt = min(TT, to - t0);
        for (int i = tid; i < TT * D; i += THREADS) {
            int t = i / D, d = i % D;
            float v = 0.f;
            if (t < nt) v = d < R ? ld(cb, (i64) (t0 + t) * R + d) : ld(pb, (i64) (t0 + t) * P + (d - R));
            ks[t][d] = v;
        }
        __syncthreads();
        // 64 dot products (HG heads x TT positions), 4 threads each
        {
            int pair = tid >> 2, part = tid & 3, h = pair / TT, t = pair % TT;
            float s = 0.f;
            for (int d = part; d < D; d += 4) s += qs[h][d] * ks[t][d];
            s += __shfl_xor_sync(0xffffffffu, s, 1);
            s += __shfl_xor_sync(0xffffffffu, s, 2);
            if (part == 0) ps[h][t] = t < nt ? s * scale : NEG_INF;
        }
        __syncthreads();
        if (tid < HG) {
            float mOld = ms[tid], mNew = mOld;
            for (int t = 0; t < nt; t++) mNew = fmaxf(mNew, ps[tid][t]);
            float a = expf(mOld - mNew), sum = 0.f;
            for (int t = 0; t < TT; t++) {
                float p = t < nt ? expf(ps[tid][t] - mNew) : 0.f;
                ps[tid][t] = p;
                sum += p;
            }
            ms[tid] = mNew;
            ls[tid] = ls[tid] * a + sum;
            alpha[tid] = a;
        }
        __syncthreads();
        for (int k = 0; k < 2; k++) {
            int d = tid + k * THREADS;
            if (d >= R) break;
            for (int h = 0; h < HG; h++) {
                float v = acc[h][k] * alpha[h];
                for (int t = 0; t < nt; t++) v += ps[h][t] * ks[t][d];
                acc[h][k] = v;
            }
        }
        __syncthreads();
    }
    i64 part = ((i64) b * splits + split) * heads;
    for (int h = 0; h < nh; h++) {
        for (int k = 0; k < 2; k++) {
            int d = tid + k * THREADS;
            if (d < R) o[(part + h0 + h) * R + d] = acc[h][k];
        }
    }
    if (tid < nh) {
        mOut[part + h0 + tid] = ms[tid];
        lOut[part + h0 + tid] = ls[tid];
    }
}

extern "C" __global__ void __launch_bounds__(THREADS) mla_decode_f32(MLA_Q_PARAMS, const float* cache, const float* pe, const int* lens, int len0,
        float* o, float* m, float* l, int heads, int maxLen, int R, int P, float scale) {
    pmx_grid_begin();
    mla_decode<float>(MLA_Q_ARGS, cache, pe, lens, len0, o, m, l, heads, maxLen, R, P, scale);
}

extern "C" __global__ void __launch_bounds__(THREADS) mla_decode_bf16(MLA_Q_PARAMS, const unsigned short* cache, const unsigned short* pe,
        const int* lens, int len0, float* o, float* m, float* l, int heads, int maxLen, int R, int P, float scale) {
    pmx_grid_begin();
    mla_decode<unsigned short>(MLA_Q_ARGS, cache, pe, lens, len0, o, m, l, heads, maxLen, R, P, scale);
}

// The merge of the splits' partials of head row first = b * splits * heads + h (split s's at
// first + s * heads): out = sum_s e^(m_s - M) o_s / L, L = sum_s e^(m_s - M) l_s, M the largest
// m_s, over the `used` splits that worked (a split with l_s = 0 saw no position and adds nothing).
// The partials are read through L2 (ld.global.cg): a tensor-core kernel's tail (mla_tail_merge)
// reads what other blocks of its own launch wrote, which no L1 may hold stale.
__device__ __forceinline__ float mla_merge_max(const float* m, i64 first, int heads, int used) {
    float M = NEG_INF;
    for (int s = 0; s < used; s++) M = fmaxf(M, __ldcg(m + first + (i64) s * heads));
    return M;
}
// Split s's factor e^(m_s - M), 0 where it saw no position
__device__ __forceinline__ float mla_merge_factor(const float* m, const float* l, i64 at, float M) {
    return __ldcg(l + at) > 0.f ? expf(__ldcg(m + at) - M) : 0.f;
}
// L = sum_s e^(m_s - M) l_s; each split's factor also into factors[s] where factors is not null
__device__ __forceinline__ float mla_merge_sum(const float* m, const float* l, i64 first, int heads, int used, float M, float* factors) {
    float L = 0.f;
    for (int s = 0; s < used; s++) {
        const float f = mla_merge_factor(m, l, first + (i64) s * heads, M);
        if (factors) factors[s] = f;
        L += f * __ldcg(l + first + (i64) s * heads);
    }
    return L;
}

// out (batch, heads, R): the merge above of every head (mla_used_splits of the kernel's lens and
// len0; partials laid out for all splits); grid (heads, batch), R threads at most 1024
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) mla_decode_combine(const float* o, const float* m, const float* l, float* out, int splits, int heads, int R,
                                              const int* lens, int len0) {
    pmx_grid_begin();
    int h = blockIdx.x, b = blockIdx.y;
    const int used = mla_used_splits(lens, mla_len(lens, len0, b), splits);
    const i64 first = (i64) b * splits * heads + h;
    const float M = mla_merge_max(m, first, heads, used);
    const float L = mla_merge_sum(m, l, first, heads, used, M, nullptr);
    for (int d = threadIdx.x; d < R; d += blockDim.x) {
        float v = 0.f;
        for (int s = 0; s < used; s++) {
            const i64 at = first + (i64) s * heads;
            v += mla_merge_factor(m, l, at, M) * __ldcg(o + at * R + d);
        }
        out[((i64) b * heads + h) * R + d] = v / L;
    }
}

// The most splits a tensor-core kernel merges in its tail (CudaBackend.MLA_TAIL_SPLITS)
#define MLA_TAIL_SPLITS 8
// The last parameters of every tensor-core kernel: where its tail merges the splits (null: it does not)
#define MLA_TAIL_PARAMS float* merged, unsigned int* done

// The tail of a tensor-core kernel whose splits write partials, where the host asks for it (done
// not null; at most MLA_TAIL_SPLITS splits): the last block of the used splits of (sequence b,
// head block blockIdx.x) to finish merges all of their partials for heads h0 .. h0 + nh - 1 into
// merged (batch, heads, R), as mla_decode_combine would, so that no second kernel runs and waits
// for the first's last block. Each block counts itself at done[b * gridDim.x + blockIdx.x] after
// its partials (a fence between); the counter is zero before the launch and the last block's
// atomicInc wraps it back to zero for the next. `sync` is a barrier of the `threads` threads that
// stored this block's partials (this one tid); the shared memory at `smem` (4 + 4 nh (MLA_TAIL_SPLITS
// + 1) bytes) is no longer read by any of them. Every one of them calls it.
template <typename Sync>
__device__ __forceinline__ void mla_tail_merge(const float* o, const float* m, const float* l, float* merged, unsigned int* done, int splits, int heads,
                                               int R, const int* lens, int len0, int b, int h0, int nh, unsigned char* smem, int tid, int threads, Sync sync) {
    if (!done) return;
    __threadfence();   // this thread's partials, before the count says they are there
    sync();
    if (splits > MLA_TAIL_SPLITS) __trap();
    const int used = mla_used_splits(lens, mla_len(lens, len0, b), splits);
    unsigned int* last = reinterpret_cast<unsigned int*>(smem);
    if (tid == 0) *last = atomicInc(done + (i64) b * gridDim.x + blockIdx.x, used - 1) == (unsigned int) (used - 1);
    sync();
    if (!*last) return;
    __threadfence();   // the other splits' partials, after their counts
    const int n = min(nh, heads - h0);
    float* factor = reinterpret_cast<float*>(smem) + 1;   // [head][split] e^(m_s - M), then [head] L
    float* sum = factor + nh * MLA_TAIL_SPLITS;
    for (int i = tid; i < n; i += threads) {
        const i64 first = (i64) b * splits * heads + h0 + i;
        sum[i] = mla_merge_sum(m, l, first, heads, used, mla_merge_max(m, first, heads, used), factor + i * MLA_TAIL_SPLITS);
    }
    sync();
    const int quads = R / 4;   // four dims a thread at a time (R is a multiple of 64)
    for (int i = tid; i < n * quads; i += threads) {
        const int hh = i / quads, d = 4 * (i % quads);
        const i64 first = (i64) b * splits * heads + h0 + hh;
        float4 v{0.f, 0.f, 0.f, 0.f};
        for (int s = 0; s < used; s++) {
            const float f = factor[hh * MLA_TAIL_SPLITS + s];
            const float4 x = __ldcg(reinterpret_cast<const float4*>(o + (first + (i64) s * heads) * R + d));
            v.x += f * x.x;
            v.y += f * x.y;
            v.z += f * x.z;
            v.w += f * x.w;
        }
        const float L = sum[hh];
        *reinterpret_cast<float4*>(merged + ((i64) b * heads + h0 + hh) * R + d) = float4{v.x / L, v.y / L, v.z / L, v.w / L};
    }
}

// ---------------------------------------------------------------------------------------------
// The same attention over a BF16 cache on tensor cores (sm_80 and later): mma.sync m16n8k16 with
// BF16 operands and F32 accumulation, as FlashMLA and DeepSeek's reference compute a BF16 cache:
// the queries and the softmax weights enter the products rounded to BF16, the scores, the online
// softmax and the outputs stay F32 (the weights' sums are taken over the rounded weights, so each
// output is an exact convex combination of cache rows). A block holds 16 * MT heads of one
// sequence and one split of its positions, and streams the cache through shared memory in tiles of
// MLA_T positions (cp.async, double-buffered; the ring kernels tc16r and tc16r_f32: a ring of up to
// MLA_RING_MAX buffers), each tile read once for all those heads:
//   scores S = Q K^T: warp w of an m-tile computes its MLA_T / WPM positions over all R + P dims;
//   the row maxima and sums meet in shared memory; the weights P (BF16) go to shared memory;
//   outputs O += P V: warp w owns R / WPM of the latent columns, in registers for the whole split.
// Requires R % 64 == 0, P % 16 == 0, R <= 512, R + P <= 576, 16-byte aligned rows.
// Grid (ceil(heads / (16 MT)), splits, batch), 32 * MT * WPM threads, mla_tc_smem_bytes of dynamic
// shared memory. With one split the block writes the normalised output to out; otherwise the
// partials (o, m, l) for mla_decode_combine, or for its own tail (mla_tail_merge: merged and done). Over an F32 cache (mla_decode_tc16_f32/tc32_f32) the
// same kernel splits every operand into BF16 high and low parts and takes three products for one.
// The simulator of gpu/sim has no tensor cores: there (no __CUDA_ARCH__) the warp-level operations
// below take their portable paths, which give every lane the same registers as the hardware.

#define MLA_T 32
#define MLA_PAD 8   // BF16 elements after each shared row: ldmatrix rows land in distinct banks

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#define MLA_TC_UNSUPPORTED 1
#endif

__device__ __forceinline__ unsigned int smem_addr(const void* p) {
#ifdef __CUDA_ARCH__
    unsigned int a;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
    return a;
#else
    return __pmx_shared_addr(p);   // the simulator's, for the wgmma descriptors it reads
#endif
}

// two floats as BF16 (round to nearest even), lo in the low half as the fragments want it
__device__ __forceinline__ unsigned int pack_bf16(float lo, float hi) {
#if defined(__CUDA_ARCH__) && !defined(MLA_TC_UNSUPPORTED)
    unsigned int d;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
    return d;
#else
    return (unsigned int) f32_to_bf16(lo) | ((unsigned int) f32_to_bf16(hi) << 16);
#endif
}

__device__ __forceinline__ unsigned int ld_pair(const unsigned short* p) { return *reinterpret_cast<const unsigned int*>(p); }
__device__ __forceinline__ unsigned int pair_of(unsigned short lo, unsigned short hi) { return (unsigned int) lo | ((unsigned int) hi << 16); }

// A fragment of a 16 x 16 row-major tile at s (row stride ld): a[0] rows 0-7 cols 0-7, a[1] rows
// 8-15 cols 0-7, a[2] rows 0-7 cols 8-15, a[3] rows 8-15 cols 8-15; lane l holds row l/4, cols 2(l%4)..+1.
__device__ __forceinline__ void frag_a(unsigned int a[4], const unsigned short* s, int ld, int lane) {
#ifdef __CUDA_ARCH__
    unsigned int at = smem_addr(s + (lane & 15) * ld + (lane >> 4) * 8);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];" : "=r"(a[0]), "=r"(a[1]), "=r"(a[2]), "=r"(a[3]) : "r"(at));
#else
    int g = lane >> 2, c = (lane & 3) * 2;
    a[0] = ld_pair(s + g * ld + c);
    a[1] = ld_pair(s + (g + 8) * ld + c);
    a[2] = ld_pair(s + g * ld + c + 8);
    a[3] = ld_pair(s + (g + 8) * ld + c + 8);
#endif
}

// B fragment (k 16 x n 8) of a tile stored n-major at s (row n holds k contiguous, stride ld):
// lane l holds k 2(l%4)..+1 (b[0]) and +8 (b[1]) of column n = l/4.
__device__ __forceinline__ void frag_b(unsigned int b[2], const unsigned short* s, int ld, int lane) {
#ifdef __CUDA_ARCH__
    unsigned int at = smem_addr(s + (lane & 7) * ld + ((lane >> 3) & 1) * 8);
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];" : "=r"(b[0]), "=r"(b[1]) : "r"(at));
#else
    int g = lane >> 2, c = (lane & 3) * 2;
    b[0] = ld_pair(s + g * ld + c);
    b[1] = ld_pair(s + g * ld + c + 8);
#endif
}

// Two B fragments (k 16 x n 8 each, columns n0..n0+7 and n0+8..n0+15) of a tile stored k-major
// at s (row k holds n contiguous, stride ld): the transposed load.
__device__ __forceinline__ void frag_b_trans2(unsigned int b0[2], unsigned int b1[2], const unsigned short* s, int ld, int lane) {
#ifdef __CUDA_ARCH__
    unsigned int at = smem_addr(s + (lane & 15) * ld + (lane >> 4) * 8);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];" : "=r"(b0[0]), "=r"(b0[1]), "=r"(b1[0]), "=r"(b1[1]) : "r"(at));
#else
    int g = lane >> 2, k = (lane & 3) * 2;
    b0[0] = pair_of(s[k * ld + g], s[(k + 1) * ld + g]);
    b0[1] = pair_of(s[(k + 8) * ld + g], s[(k + 9) * ld + g]);
    b1[0] = pair_of(s[k * ld + g + 8], s[(k + 1) * ld + g + 8]);
    b1[1] = pair_of(s[(k + 8) * ld + g + 8], s[(k + 9) * ld + g + 8]);
#endif
}

// c (16 x 8, F32) += a (16 x 16, BF16) b (16 x 8, BF16). c[0..1]: row l/4, cols 2(l%4)..+1; c[2..3]: row l/4 + 8.
__device__ __forceinline__ void mma_bf16(float c[4], const unsigned int a[4], const unsigned int b[2], int lane) {
#ifdef __CUDA_ARCH__
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
    // every lane gathers the rows and columns of its four outputs from the lanes that hold them
    int g = lane >> 2, q = lane & 3;
    for (int k = 0; k < 16; k++) {
        int from = (k & 7) >> 1, hi = k & 1, up = k >> 3;
        unsigned int r0 = __shfl_sync(0xffffffffu, a[up ? 2 : 0], g * 4 + from);
        unsigned int r1 = __shfl_sync(0xffffffffu, a[up ? 3 : 1], g * 4 + from);
        unsigned int n0 = __shfl_sync(0xffffffffu, b[up], (2 * q) * 4 + from);
        unsigned int n1 = __shfl_sync(0xffffffffu, b[up], (2 * q + 1) * 4 + from);
        float x0 = bf16_to_f32((unsigned short) (r0 >> (16 * hi))), x1 = bf16_to_f32((unsigned short) (r1 >> (16 * hi)));
        float y0 = bf16_to_f32((unsigned short) (n0 >> (16 * hi))), y1 = bf16_to_f32((unsigned short) (n1 >> (16 * hi)));
        c[0] += x0 * y0;
        c[1] += x0 * y1;
        c[2] += x1 * y0;
        c[3] += x1 * y1;
    }
#endif
}

// x0 and x1 each as the sum of two BF16 values, hi = bf16(x) and lo = bf16(x - hi), packed in pairs
// as pack_bf16 packs them: hi + lo carries 16 bits of x's significand (2^-17 relative error)
__device__ __forceinline__ void split_bf16(float x0, float x1, unsigned int& hi, unsigned int& lo) {
    hi = pack_bf16(x0, x1);
    lo = pack_bf16(x0 - bf16_to_f32((unsigned short) hi), x1 - bf16_to_f32((unsigned short) (hi >> 16)));
}
// Eight F32 values (a, then b) as split_bf16 splits them: their high parts (16 bytes) and low parts
__device__ __forceinline__ void split_bf16x8(float4 a, float4 b, uint4& hi, uint4& lo) {
    split_bf16(a.x, a.y, hi.x, lo.x);
    split_bf16(a.z, a.w, hi.y, lo.y);
    split_bf16(b.x, b.y, hi.z, lo.z);
    split_bf16(b.z, b.w, hi.w, lo.w);
}

// c += a b on tensor cores: BF16 operands a and b, or (SPLIT) F32 operands given as BF16 high parts
// a, b and low parts al, bl, as a b + a bl + al b (the dropped al bl is 2^-16 of a b at most), so
// that F32 data keeps about 16 bits of significand through the products instead of BF16's 8
template <bool SPLIT>
__device__ __forceinline__ void mma_parts(float c[4], const unsigned int a[4], const unsigned int al[4], const unsigned int b[2], const unsigned int bl[2],
                                          int lane) {
    if constexpr (SPLIT) {
        mma_bf16(c, al, b, lane);
        mma_bf16(c, a, bl, lane);
    }
    mma_bf16(c, a, b, lane);
}

// 16 bytes from global to shared memory, asynchronously; zeros when !valid
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
#ifdef __CUDA_ARCH__
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"(smem_addr(dst)), "l"(src), "r"(valid ? 16 : 0));
#else
    __pmx_cp_async(dst, src, 16, valid);   // the simulator's: lands at the wait that covers it
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#ifdef __CUDA_ARCH__
    asm volatile("cp.async.commit_group;" ::: "memory");
#else
    __pmx_cp_async_commit();
#endif
}
// until at most n of this thread's committed cp.async groups are pending (n uniform; past 4, all of them)
__device__ __forceinline__ void cp_async_wait(int n) {
#ifdef __CUDA_ARCH__
    switch (n) {   // the count is an immediate
    case 1: asm volatile("cp.async.wait_group 1;" ::: "memory"); break;
    case 2: asm volatile("cp.async.wait_group 2;" ::: "memory"); break;
    case 3: asm volatile("cp.async.wait_group 3;" ::: "memory"); break;
    case 4: asm volatile("cp.async.wait_group 4;" ::: "memory"); break;
    default: asm volatile("cp.async.wait_group 0;" ::: "memory"); break;
    }
#else
    __pmx_cp_async_wait(n >= 1 && n <= 4 ? n : 0);
#endif
}

// One cache tile (BF16 or F32 elements C) of `rows` positions, base .. base + rows - 1 of one
// sequence (zeros from `to` on), loaded by `warps` warps of the block (this thread's warp is `warp`
// of them), a warp per row, its lanes over the row's 16-byte chunks (latent, then rope), each to the
// shared chunk at(row, chunk); as one cp.async group.
template <typename C, typename At>
__device__ __forceinline__ void mla_load_rows(const C* cb, const C* pb, int base, int rows, int to, int R, int P, int warp, int warps, At at) {
    constexpr int E = 16 / sizeof(C);   // elements a chunk
    const int lane = threadIdx.x & 31, chunks = (R + P) / E, rChunks = R / E;
    for (int t = warp; t < rows; t += warps) {
        int pos = base + t;
        bool valid = pos < to;
        const C* lat = cb + (i64) (valid ? pos : 0) * R;
        const C* rope = pb + (i64) (valid ? pos : 0) * P;
        for (int c = lane; c < chunks; c += 32) cp_async16(at(t, c), c < rChunks ? lat + c * E : rope + (c - rChunks) * E, valid);
    }
    cp_async_commit();
}
// The same loaded by every warp of the block
template <typename C, typename At>
__device__ __forceinline__ void mla_load_tile(const C* cb, const C* pb, int base, int rows, int to, int R, int P, At at) {
    mla_load_rows(cb, pb, base, rows, to, R, P, threadIdx.x >> 5, blockDim.x >> 5, at);
}

// Columns col, col + 1 of head h's result (nothing past the last head): normalised (times inv) into
// out when the block had the whole sequence (out not null), else unnormalised into the partials o.
__device__ __forceinline__ void mla_store(float* out, float* o, i64 part, int b, int heads, int R, int h, int col, float v0, float v1, float inv) {
    if (h >= heads) return;
    float* dst = out ? out + ((i64) b * heads + h) * R + col : o + (part + h) * R + col;
    float sc = out ? inv : 1.f;
    *reinterpret_cast<float2*>(dst) = float2{v0 * sc, v1 * sc};
}

// Head h's running maximum (log2 units) and sum, as mla_decode_combine reads them (natural units).
__device__ __forceinline__ void mla_store_ml(float* mOut, float* lOut, i64 part, int heads, int h, float m, float l) {
    if (h >= heads) return;
    mOut[part + h] = m * 0.6931471805599453f;
    lOut[part + h] = l;
}

// A warp's results from the mma accumulators acc (n-tile n: columns colBase + 8n + 2(lane % 4), +1 of
// rows g and g + 8, the heads hA and hA + 8), cols columns of them; and with `ml` its rows' maxima and sums.
template <int NO>
__device__ __forceinline__ void mla_store_warp(const float (&acc)[NO][4], int cols, int colBase, float* out, float* o, float* mOut, float* lOut,
                                               i64 part, int b, int heads, int R, int hA, float m0, float l0, float m1, float l1, bool ml) {
    const int qd = threadIdx.x & 3;
    const float inv0 = l0 > 0.f ? 1.f / l0 : 0.f, inv1 = l1 > 0.f ? 1.f / l1 : 0.f;
#pragma unroll
    for (int n = 0; n < NO; n++) {
        if (n * 8 >= cols) break;
        int col = colBase + n * 8 + 2 * qd;
        mla_store(out, o, part, b, heads, R, hA, col, acc[n][0], acc[n][1], inv0);
        mla_store(out, o, part, b, heads, R, hA + 8, col, acc[n][2], acc[n][3], inv1);
    }
    if (!out && ml && qd == 0) {
        mla_store_ml(mOut, lOut, part, heads, hA, m0, l0);
        mla_store_ml(mOut, lOut, part, heads, hA + 8, m1, l1);
    }
}

// One tile's online softmax for rows g and g + 8 of a 16-row m-tile, every lane of the warp taking
// part, from whole scores s in the accumulator layout of mma / wgmma (n-tile j of 8 positions:
// s[4j], s[4j + 1] row g, positions 8j + 2(lane % 4), +1; s[4j + 2], s[4j + 3] the same of row g + 8).
// Masks the positions from `valid` on, scales to log2 units, updates the running maxima m and sums l
// (the sums over the weights rounded to BF16), gives each row's rescale factor alpha, and packs the
// weights as the BF16 A fragments of the output product (k-step kk is n-tiles 2kk and 2kk + 1).
template <int NT>
__device__ __forceinline__ void mla_softmax_tile(float (&s)[4 * NT], int valid, float scaleLog2, float& m0, float& m1, float& l0, float& l1,
                                                 float& alpha0, float& alpha1, unsigned int (&pa)[NT / 2][4]) {
    const int qd = threadIdx.x & 3;
    float mx0 = NEG_INF, mx1 = NEG_INF;
#pragma unroll
    for (int i = 0; i < 4 * NT; i++) {
        bool in = (i >> 2) * 8 + 2 * qd + (i & 1) < valid;
        s[i] = in ? s[i] * scaleLog2 : NEG_INF;
        if ((i >> 1) & 1) mx1 = fmaxf(mx1, s[i]);
        else mx0 = fmaxf(mx0, s[i]);
    }
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
    const float n0 = fmaxf(m0, mx0), n1 = fmaxf(m1, mx1);
    // a row with no position yet keeps weight 0 everywhere (and no NaN from -inf - -inf)
    const float base0 = n0 == NEG_INF ? 0.f : n0, base1 = n1 == NEG_INF ? 0.f : n1;
    alpha0 = exp2f(m0 - base0);
    alpha1 = exp2f(m1 - base1);
    float sum0 = 0.f, sum1 = 0.f;
#pragma unroll
    for (int j = 0; j < NT; j++) {
        unsigned int p01 = pack_bf16(exp2f(s[4 * j] - base0), exp2f(s[4 * j + 1] - base0));
        unsigned int p23 = pack_bf16(exp2f(s[4 * j + 2] - base1), exp2f(s[4 * j + 3] - base1));
        sum0 += bf16_to_f32((unsigned short) p01) + bf16_to_f32((unsigned short) (p01 >> 16));
        sum1 += bf16_to_f32((unsigned short) p23) + bf16_to_f32((unsigned short) (p23 >> 16));
        pa[j >> 1][(j & 1) * 2] = p01;
        pa[j >> 1][(j & 1) * 2 + 1] = p23;
    }
    sum0 += __shfl_xor_sync(0xffffffffu, sum0, 1);
    sum0 += __shfl_xor_sync(0xffffffffu, sum0, 2);
    sum1 += __shfl_xor_sync(0xffffffffu, sum1, 1);
    sum1 += __shfl_xor_sync(0xffffffffu, sum1, 2);
    l0 = l0 * alpha0 + sum0;
    l1 = l1 * alpha1 + sum1;
    m0 = n0;
    m1 = n1;
}

// Shared memory of a block of hb heads for latent + rope width d: over a BF16 cache, the BF16 queries
// (hb rows), a ring of `stages` cache tiles (MLA_T rows each, latent then rope; 2, double-buffered,
// but for the ring kernels), the BF16 weights (hb x MLA_T) and the row maxima and sums of the wpm
// warps of each m-tile. Over an F32 cache (split), first a ring of `stages` F32 half tiles in flight
// (MLA_T / 2 rows each; 2, one tile, but for the ring kernel), then the queries, the tile and the
// weights each as BF16 high and low parts (the two tiles are one tile's parts). Must match
// CudaBackend.mlaTensorCoreSharedBytes.
__host__ __device__ __forceinline__ int mla_tc_smem_bytes(int hb, int d, int wpm, bool split, int stages) {
    const int parts = split ? 2 : 1;
    return (split ? stages * 2 * MLA_T * d : 0) + 2 * (parts * hb + (split ? 2 : stages) * MLA_T) * (d + MLA_PAD) + 2 * parts * hb * (MLA_T + MLA_PAD)
         + 2 * 4 * wpm * hb;
}

// The longest ring of cache tiles a ring kernel takes (cp_async_wait's counts go to stages - 2 = 4).
#define MLA_RING_MAX 6

// The loads of a block go round a ring of `stages` buffers, unit u (a tile, or over an F32 cache
// half a tile) in buffer u % stages, one cp.async group a unit (an empty one past the last, so that
// the count of groups is the same in every turn). load(u) issues and commits unit u of `units`.
// Units u .. u + n - 1:
template <typename Load> __device__ __forceinline__ void mla_ring_load(int u, int n, int units, Load load) {
    for (int i = u; i < u + n; i++) {
        if (i < units) load(i);
        else cp_async_commit();
    }
}
// At the top of a tile's turn, the wait for its units, when stages - 2 groups may stay in flight
// (then a barrier: they landed, and every warp is done with the buffers they free). Over a BF16
// cache a tile's buffer is free once the next tile's barrier is passed: stages - 1 tiles go out
// before the loop, and tile it + stages - 1 after tile it's barrier, into tile it - 1's buffer. Over
// an F32 cache a tile's two halves are free once split: stages halves go out before the loop, and
// halves 2it + stages and the next after the split, into the buffers of halves 2it and 2it + 1.
__device__ __forceinline__ void mla_ring_wait(int stages) { cp_async_wait(stages - 2); }

// Over a BF16 cache (C = unsigned short) or an F32 cache (C = float, SPLIT): there every operand is
// split into BF16 high and low parts (split_bf16) and each product is three (mma_parts), so the
// result keeps about 16 bits of each operand's significand. The F32 tile lands by cp.async in a
// staging buffer while the tile before it is multiplied, and is split into the parts' tiles at the
// top of its turn.
// RING: the loads go round a ring of as many buffers as smemBytes holds beyond the rest (3 to
// MLA_RING_MAX), BF16 tiles, or over an F32 cache F32 half tiles, so that loads stay in flight across
// the top of every tile's turn. Without it, a BF16 cache's two tile buffers alternate (one tile in
// flight while one is multiplied), and an F32 cache's one staging tile is refilled only once split:
// either way the loads drain at every tile.
template <int MT, int WPM, typename C, bool RING = false>
__device__ void mla_decode_tc(MLA_Q_PARAMS, const C* cache, const C* pe, const int* lens, int len0, float* o,
                              float* mOut, float* lOut, float* out, int heads, int maxLen, int R, int P, float scale, int smemBytes,
                              MLA_TAIL_PARAMS) {
#ifdef MLA_TC_UNSUPPORTED
    __trap();
#else
    constexpr bool SPLIT = sizeof(C) == 4;
    const MlaQuery Q{qn, ldn, qr, ldr, R};
    constexpr int HB = 16 * MT, NS = MLA_T / WPM / 8, NO = 512 / WPM / 8;   // n-tiles of scores and (at most) of outputs per warp
    const int D = R + P, LD = D + MLA_PAD, LDP = MLA_T + MLA_PAD, HALF = MLA_T / 2;
    // the ring's buffers: BF16 tiles, or (SPLIT) F32 half tiles
    const int stages = RING ? (smemBytes - mla_tc_smem_bytes(HB, D, WPM, SPLIT, 0)) / (SPLIT ? 4 * HALF * D : 2 * MLA_T * LD) : 2;
    if (R % 64 != 0 || P % 16 != 0 || R > 512 || D > 576 || blockDim.x != 32 * MT * WPM || stages < 2 || stages > MLA_RING_MAX
        || mla_tc_smem_bytes(HB, D, WPM, SPLIT, stages) > smemBytes) __trap();
    DYNAMIC_SHARED_BYTES(smem);
    float* stage = reinterpret_cast<float*>(smem);   // SPLIT: the ring of `stages` F32 half tiles in flight (HALF x D each)
    unsigned short* qs = reinterpret_cast<unsigned short*>(smem + (SPLIT ? 4 * stages * HALF * D : 0));
    unsigned short* qsl = qs + (SPLIT ? HB * LD : 0);   // SPLIT: the queries' low parts
    unsigned short* ks = qsl + HB * LD;                 // the ring of `stages` tiles of MLA_T rows (SPLIT: one tile's two parts)
    unsigned short* ps = ks + (SPLIT ? 2 : stages) * MLA_T * LD;
    unsigned short* psl = ps + (SPLIT ? HB * LDP : 0);  // SPLIT: the weights' low parts
    float* redMax = reinterpret_cast<float*>(psl + HB * LDP);
    float* redSum = redMax + WPM * HB;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, mt = warp / WPM, wc = warp % WPM;
    const int g = lane >> 2, qd = lane & 3;
    const int h0 = blockIdx.x * HB, split = blockIdx.y, splits = gridDim.y, b = blockIdx.z;
    int from, to;
    if (!mla_split_positions(lens, len0, b, split, splits, from, to)) return;   // the whole block, before any barrier
    const float scaleLog2 = scale * 1.4426950408889634f;
    const C* cb = cache + (i64) b * maxLen * R;
    const C* pb = pe + (i64) b * maxLen * P;

    // the block's queries, as BF16 (SPLIT: high and low parts)
    for (int i = tid; i < HB * (D / 2); i += blockDim.x) {
        int h = i / (D / 2), d = 2 * (i % (D / 2));
        unsigned int v = 0, vl = 0;
        if (h0 + h < heads) {
            const float* src = Q.at((i64) b * heads + h0 + h, d);
            if constexpr (SPLIT) split_bf16(src[0], src[1], v, vl);
            else v = pack_bf16(src[0], src[1]);
        }
        *reinterpret_cast<unsigned int*>(qs + h * LD + d) = v;
        if constexpr (SPLIT) *reinterpret_cast<unsigned int*>(qsl + h * LD + d) = vl;
    }
    // the ring's unit u: BF16 tile u, or (SPLIT) F32 half tile u
    auto ring = [&](int tile) { return ks + (SPLIT ? 0 : (tile % stages) * MLA_T * LD); };
    auto half = [&](int u) { return stage + (u % stages) * HALF * D; };
    auto loadUnit = [&](int u) {
        if constexpr (SPLIT) {
            float* dst = half(u);
            mla_load_tile(cb, pb, from + u * HALF, HALF, to, R, P, [&](int t, int c) { return dst + t * D + c * 4; });
        } else {
            unsigned short* dst = ring(u);
            mla_load_tile(cb, pb, from + u * MLA_T, MLA_T, to, R, P, [&](int t, int c) { return dst + t * LD + c * 8; });
        }
    };

    const int cols = R / WPM, colBase = wc * cols, pos0 = wc * (MLA_T / WPM);
    float acc[NO][4];
#pragma unroll
    for (int n = 0; n < NO; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
    float m0 = NEG_INF, m1 = NEG_INF, l0 = 0.f, l1 = 0.f;   // rows g and g + 8 of the m-tile, log2 units
    const int tiles = (to - from + MLA_T - 1) / MLA_T, units = SPLIT ? 2 * tiles : tiles;
    mla_ring_load(0, SPLIT ? stages : stages - 1, units, loadUnit);
    for (int it = 0; it < tiles; it++) {
        mla_ring_wait(stages);
        __syncthreads();   // tile it has landed, and every warp is done with tile it - 1
        const unsigned short* kt = ring(it);
        const unsigned short* ktl = ks + MLA_T * LD;   // SPLIT: the tile's low parts
        if constexpr (SPLIT) {
            // the staged F32 tile (halves 2it, 2it + 1) as its high and low parts, a warp per row, four elements a lane
            for (int t = warp; t < MLA_T; t += blockDim.x >> 5) {
                const float* row = half(2 * it + t / HALF) + (t % HALF) * D;
                for (int c = 4 * lane; c < D; c += 128) {
                    float4 v = *reinterpret_cast<const float4*>(row + c);
                    uint2 hi, lo;
                    split_bf16(v.x, v.y, hi.x, lo.x);
                    split_bf16(v.z, v.w, hi.y, lo.y);
                    *reinterpret_cast<uint2*>(ks + t * LD + c) = hi;
                    *reinterpret_cast<uint2*>(ks + (MLA_T + t) * LD + c) = lo;
                }
            }
            __syncthreads();   // the parts are in place, and the tile's half buffers are free
        }
        // into the buffer of tile it - 1 (SPLIT: into the buffers of the halves just split)
        if constexpr (SPLIT) mla_ring_load(2 * it + stages, 2, units, loadUnit);
        else mla_ring_load(it + stages - 1, 1, units, loadUnit);
        const int valid = to - (from + it * MLA_T);   // positions of this tile inside the split

        // scores of this warp's positions for the m-tile's 16 heads. With one n-tile a warp (tc16),
        // two accumulator sets (even and odd k-steps) and four k-steps a round, so that the fragments'
        // loads and the products overlap; with two (tc64) they are independent already, and the
        // registers are short (measured on an H100: the rounds helped tc16 and slowed tc64).
        constexpr int ROUND = NS == 1 ? 4 : 1;
        float s[NS][4], s2[NS][4];
#pragma unroll
        for (int j = 0; j < NS; j++) s[j][0] = s[j][1] = s[j][2] = s[j][3] = s2[j][0] = s2[j][1] = s2[j][2] = s2[j][3] = 0.f;
        for (int k0 = 0; k0 < D; k0 += 16 * ROUND) {
#pragma unroll
            for (int u = 0; u < ROUND; u++) {
                int k = k0 + 16 * u;
                if (k < D) {
                    unsigned int a[4], al[4] = {0, 0, 0, 0};
                    frag_a(a, qs + (mt * 16) * LD + k, LD, lane);
                    if constexpr (SPLIT) frag_a(al, qsl + (mt * 16) * LD + k, LD, lane);
#pragma unroll
                    for (int j = 0; j < NS; j++) {
                        unsigned int bb[2], bl[2] = {0, 0};
                        frag_b(bb, kt + (pos0 + j * 8) * LD + k, LD, lane);
                        if constexpr (SPLIT) frag_b(bl, ktl + (pos0 + j * 8) * LD + k, LD, lane);
                        mma_parts<SPLIT>(ROUND > 1 && (u & 1) ? s2[j] : s[j], a, al, bb, bl, lane);
                    }
                }
            }
        }
#pragma unroll
        for (int j = 0; j < NS; j++) {
            s[j][0] += s2[j][0];
            s[j][1] += s2[j][1];
            s[j][2] += s2[j][2];
            s[j][3] += s2[j][3];
        }
        float mx0 = NEG_INF, mx1 = NEG_INF;
#pragma unroll
        for (int j = 0; j < NS; j++) {
            int t = pos0 + j * 8 + 2 * qd;
#pragma unroll
            for (int e = 0; e < 2; e++) {
                bool in = t + e < valid;
                s[j][e] = in ? s[j][e] * scaleLog2 : NEG_INF;
                s[j][2 + e] = in ? s[j][2 + e] * scaleLog2 : NEG_INF;
                mx0 = fmaxf(mx0, s[j][e]);
                mx1 = fmaxf(mx1, s[j][2 + e]);
            }
        }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        const int row0 = mt * 16 + g, row1 = row0 + 8;
        if (qd == 0) {
            redMax[wc * HB + row0] = mx0;
            redMax[wc * HB + row1] = mx1;
        }
        __syncthreads();
        float n0 = m0, n1 = m1;
        for (int w = 0; w < WPM; w++) {
            n0 = fmaxf(n0, redMax[w * HB + row0]);
            n1 = fmaxf(n1, redMax[w * HB + row1]);
        }
        // a row with no position yet keeps weight 0 everywhere (and no NaN from -inf - -inf)
        const float base0 = n0 == NEG_INF ? 0.f : n0, base1 = n1 == NEG_INF ? 0.f : n1;
        const float alpha0 = exp2f(m0 - base0), alpha1 = exp2f(m1 - base1);
        float sum0 = 0.f, sum1 = 0.f;
#pragma unroll
        for (int j = 0; j < NS; j++) {
            const float w0 = exp2f(s[j][0] - base0), w1 = exp2f(s[j][1] - base0), w2 = exp2f(s[j][2] - base1), w3 = exp2f(s[j][3] - base1);
            unsigned int p01, p23;
            int t = pos0 + j * 8 + 2 * qd;
            if constexpr (SPLIT) {
                // the weights as high and low parts; the sums over the weights themselves
                unsigned int l01, l23;
                split_bf16(w0, w1, p01, l01);
                split_bf16(w2, w3, p23, l23);
                sum0 += w0 + w1;
                sum1 += w2 + w3;
                *reinterpret_cast<unsigned int*>(psl + row0 * LDP + t) = l01;
                *reinterpret_cast<unsigned int*>(psl + row1 * LDP + t) = l23;
            } else {
                // the sums over the weights as rounded, so that each output is a convex combination of cache rows
                p01 = pack_bf16(w0, w1);
                p23 = pack_bf16(w2, w3);
                sum0 += bf16_to_f32((unsigned short) p01) + bf16_to_f32((unsigned short) (p01 >> 16));
                sum1 += bf16_to_f32((unsigned short) p23) + bf16_to_f32((unsigned short) (p23 >> 16));
            }
            *reinterpret_cast<unsigned int*>(ps + row0 * LDP + t) = p01;
            *reinterpret_cast<unsigned int*>(ps + row1 * LDP + t) = p23;
        }
        sum0 += __shfl_xor_sync(0xffffffffu, sum0, 1);
        sum0 += __shfl_xor_sync(0xffffffffu, sum0, 2);
        sum1 += __shfl_xor_sync(0xffffffffu, sum1, 1);
        sum1 += __shfl_xor_sync(0xffffffffu, sum1, 2);
        if (qd == 0) {
            redSum[wc * HB + row0] = sum0;
            redSum[wc * HB + row1] = sum1;
        }
        __syncthreads();
        float t0 = 0.f, t1 = 0.f;
        for (int w = 0; w < WPM; w++) {
            t0 += redSum[w * HB + row0];
            t1 += redSum[w * HB + row1];
        }
        l0 = l0 * alpha0 + t0;
        l1 = l1 * alpha1 + t1;
        m0 = n0;
        m1 = n1;

        // outputs: this warp's latent columns, O = alpha O + P V
#pragma unroll
        for (int n = 0; n < NO; n++) {
            acc[n][0] *= alpha0;
            acc[n][1] *= alpha0;
            acc[n][2] *= alpha1;
            acc[n][3] *= alpha1;
        }
#pragma unroll
        for (int k0 = 0; k0 < MLA_T; k0 += 16) {
            unsigned int a[4], al[4] = {0, 0, 0, 0};
            frag_a(a, ps + (mt * 16) * LDP + k0, LDP, lane);
            if constexpr (SPLIT) frag_a(al, psl + (mt * 16) * LDP + k0, LDP, lane);
#pragma unroll
            for (int n = 0; n < NO; n += 2) {
                if (n * 8 < cols) {
                    unsigned int b0[2], b1[2], b0l[2] = {0, 0}, b1l[2] = {0, 0};
                    frag_b_trans2(b0, b1, kt + k0 * LD + colBase + n * 8, LD, lane);
                    if constexpr (SPLIT) frag_b_trans2(b0l, b1l, ktl + k0 * LD + colBase + n * 8, LD, lane);
                    mma_parts<SPLIT>(acc[n], a, al, b0, b0l, lane);
                    mma_parts<SPLIT>(acc[n + 1], a, al, b1, b1l, lane);
                }
            }
        }
    }

    const int hA = h0 + mt * 16 + g;
    mla_store_warp<NO>(acc, cols, colBase, out, o, mOut, lOut, ((i64) b * splits + split) * heads, b, heads, R, hA, m0, l0, m1, l1, wc == 0);
    mla_tail_merge(o, mOut, lOut, merged, done, splits, heads, R, lens, len0, b, h0, HB, smem, tid, blockDim.x, [] { __syncthreads(); });
#endif
}

// The parameters of every tensor-core MLA kernel's entry (cache elements C), and the arguments that pass them on
#define MLA_TC_PARAMS(C) MLA_Q_PARAMS, const C* cache, const C* pe, const int* lens, int len0, float* o, float* m, float* l, float* out, \
    int heads, int maxLen, int R, int P, float scale, int smemBytes, MLA_TAIL_PARAMS
#define MLA_TC_ARGS MLA_Q_ARGS, cache, pe, lens, len0, o, m, l, out, heads, maxLen, R, P, scale, smemBytes, merged, done

// up to 16 heads per block (4 warps); several blocks share an SM
extern "C" __global__ void __launch_bounds__(128) mla_decode_tc16(MLA_TC_PARAMS(unsigned short)) {
    pmx_grid_begin();
    mla_decode_tc<1, 4>(MLA_TC_ARGS);
}

// 64 heads per block (8 warps, two per m-tile): each cache tile is read once for 64 heads
extern "C" __global__ void __launch_bounds__(256) mla_decode_tc64(MLA_TC_PARAMS(unsigned short)) {
    pmx_grid_begin();
    mla_decode_tc<4, 2>(MLA_TC_ARGS);
}

// tc16 with a ring of 3 to MLA_RING_MAX tiles, as many as its shared memory holds (CudaBackend gives
// it what the GPU allows a block, 5 tiles on an H100): one block an SM with up to 5 tiles in flight,
// where tc16's two blocks each have one in flight and drain it before the next goes out
extern "C" __global__ void __launch_bounds__(128) mla_decode_tc16r(MLA_TC_PARAMS(unsigned short)) {
    pmx_grid_begin();
    mla_decode_tc<1, 4, unsigned short, true>(MLA_TC_ARGS);
}

// Over an F32 cache, the products split into BF16 parts: up to 16 heads per block (4 warps), and
// 32 heads per block (8 warps, four per m-tile), one block an SM (the staging tile takes shared memory)
extern "C" __global__ void __launch_bounds__(128) mla_decode_tc16_f32(MLA_TC_PARAMS(float)) {
    pmx_grid_begin();
    mla_decode_tc<1, 4>(MLA_TC_ARGS);
}

extern "C" __global__ void __launch_bounds__(256) mla_decode_tc32_f32(MLA_TC_PARAMS(float)) {
    pmx_grid_begin();
    mla_decode_tc<2, 4>(MLA_TC_ARGS);
}

// tc16_f32 with a ring of 3 to MLA_RING_MAX F32 half tiles (3 on an H100, where tc16_f32 stages one
// whole tile): up to one and a half tiles in flight while a tile is multiplied, and half a tile while it is split
extern "C" __global__ void __launch_bounds__(128) mla_decode_tc16r_f32(MLA_TC_PARAMS(float)) {
    pmx_grid_begin();
    mla_decode_tc<1, 4, float, true>(MLA_TC_ARGS);
}

// ---------------------------------------------------------------------------------------------
// The same tensor-core attention with the score product split over k, not over positions
// (mla_decode_ks*). The WPM warps of an m-tile each take 1/WPM of the R + P dims for all MLA_T
// positions of a tile, so that each warp holds its slice of the queries as A fragments in registers
// for the whole split (the tc kernels reload them from shared memory on every tile). The partial
// scores meet in shared memory; every warp of the m-tile sums them in the same order and runs the
// same online softmax, so each holds the whole row of weights, already in the A-fragment layout
// of the output product (an m16n8 accumulator pair is an m16k16 A fragment), and the weights never
// go through shared memory. Two barriers a tile (the tc kernels take three), no shared queries.
// Numerics as the tc kernels. Same requirements, grid and outputs; shared memory mla_ks_smem_bytes.

// the four 8 x 8 matrices of two B fragments (columns n0..n0+7 and n0+8..n0+15) of a tile stored
// n-major at s, in one ldmatrix.x4
__device__ __forceinline__ void frag_b2(unsigned int b0[2], unsigned int b1[2], const unsigned short* s, int ld, int lane) {
#ifdef __CUDA_ARCH__
    unsigned int at = smem_addr(s + ((lane & 7) + ((lane >> 4) << 3)) * ld + ((lane >> 3) & 1) * 8);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];" : "=r"(b0[0]), "=r"(b0[1]), "=r"(b1[0]), "=r"(b1[1]) : "r"(at));
#else
    frag_b(b0, s, ld, lane);
    frag_b(b1, s + 8 * ld, ld, lane);
#endif
}

// A ring of `stages` cache tiles (2, double-buffered, but for the ring kernels) and the partial
// scores (16 floats a lane) of every warp. Must match CudaBackend.mlaSplitKSharedBytes.
__host__ __device__ __forceinline__ int mla_ks_smem_bytes(int mt, int wpm, int d, int stages) {
    return 2 * stages * MLA_T * (d + MLA_PAD) + mt * wpm * 32 * 16 * 4;
}

// RING: a ring of as many tiles as smemBytes holds beyond the partial scores (3 to MLA_RING_MAX), as
// in mla_decode_tc.
template <int MT, int WPM, bool RING = false>
__device__ void mla_decode_ks(MLA_Q_PARAMS, const unsigned short* cache, const unsigned short* pe, const int* lens, int len0, float* o,
                              float* mOut, float* lOut, float* out, int heads, int maxLen, int R, int P, float scale, int smemBytes,
                              MLA_TAIL_PARAMS) {
#ifdef MLA_TC_UNSUPPORTED
    __trap();
#else
    const MlaQuery Q{qn, ldn, qr, ldr, R};
    constexpr int HB = 16 * MT, NT = MLA_T / 8, KW = (MAX_D / 16 + WPM - 1) / WPM, NO = MAX_R / WPM / 8;
    const int D = R + P, LD = D + MLA_PAD;
    const int stages = RING ? (smemBytes - mla_ks_smem_bytes(MT, WPM, D, 0)) / (2 * MLA_T * LD) : 2;   // tile buffers
    if (R % 64 != 0 || P % 16 != 0 || R > MAX_R || D > MAX_D || blockDim.x != 32 * MT * WPM || stages < 2 || stages > MLA_RING_MAX
        || mla_ks_smem_bytes(MT, WPM, D, stages) > smemBytes) __trap();
    DYNAMIC_SHARED_BYTES(smem);
    unsigned short* ks = reinterpret_cast<unsigned short*>(smem);        // the ring of `stages` tiles of MLA_T rows
    float2* red = reinterpret_cast<float2*>(ks + stages * MLA_T * LD);   // [m-tile][warp][8 pairs][32 lanes]
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, mt = warp / WPM, wc = warp % WPM;
    const int g = lane >> 2, qd = lane & 3;
    const int h0 = blockIdx.x * HB, split = blockIdx.y, splits = gridDim.y, b = blockIdx.z;
    int from, to;
    if (!mla_split_positions(lens, len0, b, split, splits, from, to)) return;   // the whole block, before any barrier
    const float scaleLog2 = scale * 1.4426950408889634f;
    const unsigned short* cb = cache + (i64) b * maxLen * R;
    const unsigned short* pb = pe + (i64) b * maxLen * P;
    auto ring = [&](int tile) { return ks + (tile % stages) * MLA_T * LD; };
    auto loadAt = [&](int tile) {
        unsigned short* dst = ring(tile);
        mla_load_tile(cb, pb, from + tile * MLA_T, MLA_T, to, R, P, [&](int t, int c) { return dst + t * LD + c * 8; });
    };
    const int tiles = (to - from + MLA_T - 1) / MLA_T;
    mla_ring_load(0, stages - 1, tiles, loadAt);   // in flight while the queries load

    // this warp's k-steps, and its slice of the queries of rows g and g + 8 as A fragments
    const int steps = D / 16, k0 = wc * steps / WPM, kn = (wc + 1) * steps / WPM - k0;
    const int hA = h0 + mt * 16 + g, hB = hA + 8;
    const i64 bhA = (i64) b * heads + hA, bhB = (i64) b * heads + hB;
    unsigned int qa[KW][4];
#pragma unroll
    for (int i = 0; i < KW; i++) {
        qa[i][0] = qa[i][1] = qa[i][2] = qa[i][3] = 0;
        if (i < kn) {
            int k = (k0 + i) * 16 + 2 * qd;
            if (hA < heads) {
                const float* qA = Q.at(bhA, k);   // k and k + 8 lie in one 16-dim step
                qa[i][0] = pack_bf16(qA[0], qA[1]);
                qa[i][2] = pack_bf16(qA[8], qA[9]);
            }
            if (hB < heads) {
                const float* qB = Q.at(bhB, k);
                qa[i][1] = pack_bf16(qB[0], qB[1]);
                qa[i][3] = pack_bf16(qB[8], qB[9]);
            }
        }
    }

    const int cols = R / WPM, colBase = wc * cols;
    float acc[NO][4];
#pragma unroll
    for (int n = 0; n < NO; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
    float m0 = NEG_INF, m1 = NEG_INF, l0 = 0.f, l1 = 0.f;   // rows g and g + 8 of the m-tile, log2 units
    float2* mine = red + (mt * WPM + wc) * 8 * 32 + lane;
    for (int it = 0; it < tiles; it++) {
        mla_ring_wait(stages);
        __syncthreads();   // tile it has landed; every warp is done with tile it - 1 and with the partial scores
        mla_ring_load(it + stages - 1, 1, tiles, loadAt);   // into tile it - 1's buffer
        const unsigned short* kt = ring(it);
        const int valid = to - (from + it * MLA_T);

        // this warp's part of the scores of all MLA_T positions: NT independent accumulators
        float s[4 * NT];
#pragma unroll
        for (int i = 0; i < 4 * NT; i++) s[i] = 0.f;
#pragma unroll
        for (int i = 0; i < KW; i++) {
            if (i < kn) {
                const unsigned short* kb = kt + (k0 + i) * 16;
#pragma unroll
                for (int j = 0; j < NT; j += 2) {
                    unsigned int b0[2], b1[2];
                    frag_b2(b0, b1, kb + j * 8 * LD, LD, lane);
                    mma_bf16(s + 4 * j, qa[i], b0, lane);
                    mma_bf16(s + 4 * (j + 1), qa[i], b1, lane);
                }
            }
        }
#pragma unroll
        for (int j = 0; j < NT; j++) {
            mine[(2 * j) * 32] = float2{s[4 * j], s[4 * j + 1]};
            mine[(2 * j + 1) * 32] = float2{s[4 * j + 2], s[4 * j + 3]};
        }
        __syncthreads();
        // the whole scores, summed over the m-tile's warps in one order (every warp gets the same)
#pragma unroll
        for (int i = 0; i < 4 * NT; i++) s[i] = 0.f;
        for (int w = 0; w < WPM; w++) {
            const float2* theirs = red + (mt * WPM + w) * 8 * 32 + lane;
#pragma unroll
            for (int j = 0; j < NT; j++) {
                float2 u = theirs[(2 * j) * 32], v = theirs[(2 * j + 1) * 32];
                s[4 * j] += u.x;
                s[4 * j + 1] += u.y;
                s[4 * j + 2] += v.x;
                s[4 * j + 3] += v.y;
            }
        }
        float alpha0, alpha1;
        unsigned int pa[NT / 2][4];
        mla_softmax_tile<NT>(s, valid, scaleLog2, m0, m1, l0, l1, alpha0, alpha1, pa);

        // outputs: this warp's latent columns, O = alpha O + P V
#pragma unroll
        for (int n = 0; n < NO; n++) {
            acc[n][0] *= alpha0;
            acc[n][1] *= alpha0;
            acc[n][2] *= alpha1;
            acc[n][3] *= alpha1;
        }
#pragma unroll
        for (int kk = 0; kk < NT / 2; kk++) {
#pragma unroll
            for (int n = 0; n < NO; n += 2) {
                if (n * 8 < cols) {
                    unsigned int b0[2], b1[2];
                    frag_b_trans2(b0, b1, kt + kk * 16 * LD + colBase + n * 8, LD, lane);
                    mma_bf16(acc[n], pa[kk], b0, lane);
                    mma_bf16(acc[n + 1], pa[kk], b1, lane);
                }
            }
        }
    }

    mla_store_warp<NO>(acc, cols, colBase, out, o, mOut, lOut, ((i64) b * splits + split) * heads, b, heads, R, hA, m0, l0, m1, l1, wc == 0);
    // no tail (mla_tail_merge): ks16 and ks64 sit at ptxas's edge, where one spills registers with it
    // whichever way it is compiled; their splits merge in mla_decode_combine (CudaBackend.MlaKernel.mergesInItsTail)
    if (done) __trap();
#endif
}

// 16 heads per block, the score product split four ways (4 warps)
extern "C" __global__ void __launch_bounds__(128) mla_decode_ks16(MLA_TC_PARAMS(unsigned short)) {
    pmx_grid_begin();
    mla_decode_ks<1, 4>(MLA_TC_ARGS);
}

// ks16 with a ring of 3 to MLA_RING_MAX tiles, as many as its shared memory holds (6 on an H100), as tc16r
extern "C" __global__ void __launch_bounds__(128) mla_decode_ks16r(MLA_TC_PARAMS(unsigned short)) {
    pmx_grid_begin();
    mla_decode_ks<1, 4, true>(MLA_TC_ARGS);
}

// 32 heads per block, split four ways (8 warps)
extern "C" __global__ void __launch_bounds__(256) mla_decode_ks32(MLA_TC_PARAMS(unsigned short)) {
    pmx_grid_begin();
    mla_decode_ks<2, 4>(MLA_TC_ARGS);
}

// 64 heads per block, split two ways (8 warps)
extern "C" __global__ void __launch_bounds__(256) mla_decode_ks64(MLA_TC_PARAMS(unsigned short)) {
    pmx_grid_begin();
    mla_decode_ks<4, 2>(MLA_TC_ARGS);
}

// ---------------------------------------------------------------------------------------------
// The same attention on Hopper's warpgroup tensor cores (wgmma, sm_90a): mla_decode_wg64. A block
// of 64 heads is two warpgroups. Each computes the m64n32 scores of a tile over half the R + P
// dims (wgmma with the queries and the cache tile in shared memory), the halves meet in shared
// memory (as in the ks kernels, summed in one order by both), both run the same online softmax, and
// each multiplies the weights (BF16 A fragments in registers) into its 256 latent columns (m64n256,
// the tile read transposed from shared memory). Numerics as the tc kernels.
// The queries are in the canonical no-swizzle layout of the PTX ISA ("Canonical Layouts"): 8 x
// 16-byte core matrices, 128 contiguous bytes each, of rows (heads) r and 16-byte chunks c (8 dims)
// of a row, at byte ((r / 8) * (D / 8) + c) * 128 + (r % 8) * 16; read K-major, the leading (k)
// stride is 128 bytes and the stride (rows) (D / 8) * 128. The cache tiles are in the 128-byte
// swizzle (mla_sw_place): read K-major for the scores, MN-major (positions are k, dims n) for the outputs.
// Requires DeepSeek's widths, R = 512 (two halves of 256) and P = 64, so that every loop over the
// wgmma instructions has a count known to the compiler (ptxas serialises wgmma in loops it cannot
// prove uniform). Grid (ceil(heads / 64), splits, batch), 256 threads, mla_wg_smem_bytes of dynamic shared memory.
// On the simulator (no __CUDA_ARCH__) the warpgroup operations call its model of them, which reads
// the same descriptors and registers as the GPU; on a GPU other than sm_90a the kernel traps.

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define MLA_WG_UNSUPPORTED 1
#endif

// A shared-memory matrix descriptor (PTX ISA "Matrix Descriptor Format": start address, leading and
// stride byte offsets, each >> 4, no swizzle). The simulator reads the operands through it as a GPU does.
typedef unsigned long long wg_desc;
__device__ __forceinline__ wg_desc wg_make_desc(const void* p, unsigned int lbo, unsigned int sbo) {
    return (unsigned long long) ((smem_addr(p) >> 4) & 0x3fffu) | ((unsigned long long) ((lbo >> 4) & 0x3fffu) << 16)
         | ((unsigned long long) ((sbo >> 4) & 0x3fffu) << 32);
}

// The cache tiles of the warpgroup kernels are in the 128-byte swizzle (layout type 1, bits 62-63 of
// the descriptor): a tile of ROWS positions is 9 slabs of 64 dims (the latent's 512 in slabs 0-7, the
// rope's 64 in slab 8), each ROWS rows of 128 bytes, and 16-byte chunk c of row r of a slab lies at
// chunk c ^ (r % 8) of that row. So a warp's cp.async of 32 chunks of one row fills four whole
// 128-byte lines. In the layout without swizzle they land in 32 lines 128 bytes apart, and each
// 32-byte sector comes from L2 twice, once per 16-byte half: on an H100 a kernel that only loads
// tiles reached 0.64 of copy bandwidth that way, and 1.00 swizzled (bench/RESULTS.md, session 30).
// The swizzle applies to shared addresses, so each tile starts at a multiple of 1,024 bytes.
template <int ROWS> __device__ __forceinline__ int mla_sw_place(int row, int c) {
    return (c >> 3) * (ROWS * 128) + row * 128 + (((c & 7) ^ (row & 7)) << 4);
}
__device__ __forceinline__ wg_desc wg_make_desc_sw128(const void* p, unsigned int lbo, unsigned int sbo) {
    return wg_make_desc(p, lbo, sbo) | 1ull << 62;
}
// The tile read K-major (its positions the rows, dims the k): dims 16 kstep .. 16 kstep + 15, the
// start 32 bytes on within a slab's rows for each k-step (SBO: 8 rows, 1,024 bytes; LBO unused)
template <int ROWS> __device__ __forceinline__ wg_desc mla_tile_k(const unsigned char* tile, int kstep) {
    return wg_make_desc_sw128(tile + (kstep >> 2) * (ROWS * 128) + (kstep & 3) * 32, 16, 1024);
}
// The tile read MN-major: dims from d0 (a multiple of 64) as m or n, positions 16 kstep .. 16 kstep + 15
// as k (LBO: the next 64 dims, a slab on; SBO: the next 8 positions, 1,024 bytes)
template <int ROWS> __device__ __forceinline__ wg_desc mla_tile_mn(const unsigned char* tile, int d0, int kstep) {
    return wg_make_desc_sw128(tile + (d0 >> 6) * (ROWS * 128) + kstep * 16 * 128, ROWS * 128, 1024);
}
// One cache tile of ROWS positions, base .. base + ROWS - 1 of one sequence (zeros from `to` on),
// into the swizzled layout at dst, by T threads of the block (this one is thread t of them), as one
// cp.async group. Thread t takes the latent's chunk t % 64 of rows t / 64, t / 64 + T / 64, ... and
// the rope's chunk t % 8 of rows t / 8, t / 8 + T / 8, ...: so a warp reads 512 contiguous bytes and
// fills four 128-byte lines of shared memory, and a thread's addresses step by constants. (Loading
// a row a warp, with the row's chunks spread over the lanes, took the loading warps of the wt
// kernels longer than the tile took to arrive: ncu found them issuing address arithmetic, session 30.)
template <int ROWS, int T, bool FULL>
__device__ __forceinline__ void mla_load_sw_rows(const unsigned short* cb, const unsigned short* pb, int base, int to, unsigned char* dst, int t) {
    {
        const int c = t & 63;
        const unsigned short* src = cb + (i64) (base + (t >> 6)) * 512 + c * 8;
#pragma unroll 8
        for (int r = t >> 6; r < ROWS; r += T / 64, src += (T / 64) * 512) {
            const bool valid = FULL || base + r < to;
            cp_async16(dst + mla_sw_place<ROWS>(r, c), valid ? src : cb, valid);
        }
    }
    const int c = t & 7;
    const unsigned short* src = pb + (i64) (base + (t >> 3)) * 64 + c * 8;
#pragma unroll
    for (int r = t >> 3; r < ROWS; r += T / 8, src += (T / 8) * 64) {
        const bool valid = FULL || base + r < to;
        cp_async16(dst + mla_sw_place<ROWS>(r, 64 + c), valid ? src : pb, valid);
    }
}
template <int ROWS, int T>
__device__ __forceinline__ void mla_load_sw(const unsigned short* cb, const unsigned short* pb, int base, int to, unsigned char* dst, int t) {
    static_assert(T % 64 == 0 && ROWS % (T / 64) == 0 && (ROWS * 8) % T == 0, "whole rows of chunks for every thread");
    if (base + ROWS <= to) mla_load_sw_rows<ROWS, T, true>(cb, pb, base, to, dst, t);
    else mla_load_sw_rows<ROWS, T, false>(cb, pb, base, to, dst, t);
    cp_async_commit();
}

// Traps unless the tiles (and so every slab) start at a multiple of 1,024 shared bytes
__device__ __forceinline__ void mla_sw_check(const void* tiles) {
    if (smem_addr(tiles) & 1023u) __trap();
}

__device__ __forceinline__ void wg_fence() {
#ifdef __CUDA_ARCH__
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#else
    __pmx_wgmma_fence();
#endif
}
__device__ __forceinline__ void wg_commit() {
#ifdef __CUDA_ARCH__
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
#else
    __pmx_wgmma_commit();
#endif
}
// until at most N committed groups of this warpgroup's wgmma are in flight
template <int N> __device__ __forceinline__ void wg_wait() {
#ifdef __CUDA_ARCH__
    asm volatile("wgmma.wait_group.sync.aligned %0;" :: "n"(N) : "memory");
#else
    __pmx_wgmma_wait(N);
#endif
}
// Registers an in-flight wgmma writes: the compiler may not move their reads or writes across this
// (placed after the wait that completes it, and before a wgmma that reads what code wrote to them).
template <int N> __device__ __forceinline__ void wg_fence_regs(float (&r)[N]) {
#ifdef __CUDA_ARCH__
#pragma unroll
    for (int i = 0; i < N; i++) asm volatile("" : "+f"(r[i]) :: "memory");
#endif
}
// generic-proxy writes of shared memory (cp.async, st.shared) made visible to wgmma's reads
__device__ __forceinline__ void fence_proxy_async() {
#ifdef __CUDA_ARCH__
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
#else
    __pmx_fence_proxy_async();   // the simulator checks that landed cp.async data is fenced before a wgmma runs
#endif
}

// A plain store to shared memory that a wgmma will read: the simulator tracks it until the thread's
// fence.proxy.async, as it tracks landed cp.async data, so that a missing fence shows there
template <typename T> __device__ __forceinline__ void st_for_wgmma(void* p, const T& v) {
#ifdef __CUDA_ARCH__
    *reinterpret_cast<T*>(p) = v;
#else
    __pmx_st_shared(p, &v, sizeof(T));
#endif
}

// d (64 x 32, F32; this thread's 16) (+)= A (64 x 16 at a) B (16 x 32 at b), both in shared memory;
// accumulate unless first. TA / TB: the operand is MN-major (read transposed) instead of K-major.
template <int TA = 0, int TB = 0>
__device__ __forceinline__ void wgmma_m64n32_ss(float d[16], wg_desc a, wg_desc b, bool first) {
#ifdef __CUDA_ARCH__
    asm volatile("{ .reg .pred p; setp.eq.u32 p, %18, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, %16, %17, p, 1, 1, %19, %20; }"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]) : "l"(a), "l"(b), "r"((unsigned int) first), "n"(TA), "n"(TB));
#else
    // the simulator runs it at the wait that covers it, reading the tiles through the descriptors then
    __pmx_wgmma_bf16_ss(d, 32, a, b, first ? 0 : 1, 1, 1, TA, TB);
#endif
}

// d (64 x 16, F32; this thread's 8) (+)= A (64 x 16 at a) B (16 x 16 at b), as wgmma_m64n32_ss
template <int TA = 0, int TB = 0>
__device__ __forceinline__ void wgmma_m64n16_ss(float d[8], wg_desc a, wg_desc b, bool first) {
#ifdef __CUDA_ARCH__
    asm volatile("{ .reg .pred p; setp.eq.u32 p, %10, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7}, %8, %9, p, 1, 1, %11, %12; }"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]) : "l"(a), "l"(b), "r"((unsigned int) first), "n"(TA), "n"(TB));
#else
    __pmx_wgmma_bf16_ss(d, 16, a, b, first ? 0 : 1, 1, 1, TA, TB);
#endif
}

// d (64 x 256, F32; this thread's 128) += A (64 x 16, BF16 fragments in registers) B (16 x 256, MN-major at b)
__device__ __forceinline__ void wgmma_m64n256_rs(float d[128], const unsigned int a[4], wg_desc b) {
#ifdef __CUDA_ARCH__
    asm volatile("wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, {%128, %129, %130, %131}, %132, 1, 1, 1, 1;"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
#else
    // the simulator runs it at the wait that covers it, reading the A registers and the tile then
    __pmx_wgmma_bf16_rs(d, 256, a, b, 1, 1, 1, 1);
#endif
}

// d (64 x 64, F32; this thread's 32) (+)= A (64 x 16, K-major at a) B (16 x 64, K-major at b); accumulate unless first
__device__ __forceinline__ void wgmma_m64n64_ss(float d[32], wg_desc a, wg_desc b, bool first) {
#ifdef __CUDA_ARCH__
    asm volatile("{ .reg .pred p; setp.eq.u32 p, %34, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, 0, 0; }"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]) : "l"(a), "l"(b), "r"((unsigned int) first));
#else
    __pmx_wgmma_bf16_ss(d, 64, a, b, first ? 0 : 1, 1, 1, 0, 0);
#endif
}

// d (64 x 256, F32; this thread's 128) += A (64 x 16, K-major at a) B (16 x 256, MN-major at b)
__device__ __forceinline__ void wgmma_m64n256_ss(float d[128], wg_desc a, wg_desc b) {
#ifdef __CUDA_ARCH__
    asm volatile("wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, %128, %129, 1, 1, 1, 0, 1;"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127]) : "l"(a), "l"(b));
#else
    __pmx_wgmma_bf16_ss(d, 256, a, b, 1, 1, 1, 0, 1);
#endif
}

// The queries (64 rows), STAGES cache tiles and the partial scores of both warpgroups (16 floats a
// thread). Must match CudaBackend.mlaWarpgroupSharedBytes.
__host__ __device__ __forceinline__ int mla_wg_smem_bytes(int d, int stages) {
    return 2 * (64 + stages * MLA_T) * d + 256 * 16 * 4;
}

// O += P V for one tile of ROWS = 16 KS positions: this warpgroup's 256 latent columns (wg), the
// weights p as register A fragments (k-step kk: positions 16kk..16kk + 15), the tile read MN-major.
template <int KS>
__device__ __forceinline__ void mla_wg_values(float (&acc)[128], const unsigned int (&p)[KS][4], const unsigned char* tile, int wg) {
#pragma unroll
    for (int kk = 0; kk < KS; kk++) wgmma_m64n256_rs(acc, p[kk], mla_tile_mn<16 * KS>(tile, wg * 256, kk));
}

// Byte offset of 16-byte chunk c of row `row` in the canonical layout of rows of CH chunks
template <int CH> __device__ __forceinline__ int mla_wg_place(int row, int c) { return ((row >> 3) * CH + c) * 128 + (row & 7) * 16; }

// The queries of heads h0 .. h0 + ROWS - 1 of sequence b as BF16 rows of CH chunks (8 dims each) in
// the canonical layout at qs (zeros past the last head), by all the block's threads. Each thread
// reads U chunks (read-only loads, which the compiler may move past the shared stores) before it
// converts and stores them: so a block waits for memory ceil(ROWS CH / (U threads)) times, not once
// a chunk (18 times at 64 heads and 256 threads, which at 1,024 positions was a third of the kernel).
// SPLIT: the BF16 high parts (split_bf16) at qs and the low parts, in the same layout, at qsl.
template <int CH, int ROWS = 64, bool SPLIT = false>
__device__ __forceinline__ void mla_wg_queries(unsigned char* qs, const MlaQuery& Q, int b, int heads, int h0, unsigned char* qsl = nullptr) {
    constexpr int U = 6;
    for (int i0 = threadIdx.x; i0 < ROWS * CH; i0 += U * blockDim.x) {
        float x[U][8];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int i = i0 + u * blockDim.x, h = i / CH, c = i % CH;
            const bool real = i < ROWS * CH && h0 + h < heads;
            const float* src = real ? Q.at((i64) b * heads + h0 + h, c * 8) : nullptr;
#pragma unroll
            for (int e = 0; e < 8; e++) x[u][e] = real ? __ldg(src + e) : 0.f;
        }
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int i = i0 + u * blockDim.x;
            if (i >= ROWS * CH) continue;
            const int at = mla_wg_place<CH>(i / CH, i % CH);
            if constexpr (SPLIT) {
                uint4 hi, lo;
                split_bf16x8(float4{x[u][0], x[u][1], x[u][2], x[u][3]}, float4{x[u][4], x[u][5], x[u][6], x[u][7]}, hi, lo);
                st_for_wgmma(qs + at, hi);
                st_for_wgmma(qsl + at, lo);
            } else {
                st_for_wgmma(qs + at, uint4{pack_bf16(x[u][0], x[u][1]), pack_bf16(x[u][2], x[u][3]), pack_bf16(x[u][4], x[u][5]),
                                            pack_bf16(x[u][6], x[u][7])});
            }
        }
    }
}

// A warpgroup kernel's results: this thread's accumulators of its warpgroup's 256 latent columns
// (wg) for heads hA and hA + 8, as mla_store writes them, and (warpgroup 0) their maxima and sums
__device__ __forceinline__ void mla_wg_store(const float (&acc)[128], int wg, int hA, float* out, float* o, float* mOut, float* lOut, i64 part, int b,
                                             int heads, int R, float m0, float l0, float m1, float l1) {
    const int qd = threadIdx.x & 3, hB = hA + 8;
    const float inv0 = l0 > 0.f ? 1.f / l0 : 0.f, inv1 = l1 > 0.f ? 1.f / l1 : 0.f;
#pragma unroll
    for (int j = 0; j < 32; j++) {
        int col = wg * 256 + j * 8 + 2 * qd;
        mla_store(out, o, part, b, heads, R, hA, col, acc[4 * j], acc[4 * j + 1], inv0);
        mla_store(out, o, part, b, heads, R, hB, col, acc[4 * j + 2], acc[4 * j + 3], inv1);
    }
    if (!out && wg == 0 && qd == 0) {
        mla_store_ml(mOut, lOut, part, heads, hA, m0, l0);
        mla_store_ml(mOut, lOut, part, heads, hB, m1, l1);
    }
}

// mla_decode_wg64: each tile in turn, its scores, softmax and values one after the other, the tensor
// cores idle while the softmax runs; two tile buffers. (A variant that issued tile it - 1's values
// behind tile it's scores, FlashAttention-3's overlap within a warpgroup, gave wrong outputs on an
// H100 over one split of ten tiles, where the simulator passed it; it was removed in session 27.)
// RING (mla_decode_wg64r): as many tile buffers as smemBytes holds beyond the queries and partial
// scores (3 to MLA_RING_MAX; 3 on an H100), so that stages - 1 tiles are in flight instead of one
// that drains at the top of every tile. The loads go round the ring as in the tc and ks kernels
// (mla_ring_load / mla_ring_wait): a tile's buffer is free once the barrier one tile on is passed.
template <bool RING = false>
__device__ void mla_decode_wg(MLA_Q_PARAMS, const unsigned short* cache, const unsigned short* pe, const int* lens, int len0, float* o,
                              float* mOut, float* lOut, float* out, int heads, int maxLen, int R, int P, float scale, int smemBytes,
                              MLA_TAIL_PARAMS) {
#ifdef MLA_WG_UNSUPPORTED
    __trap();
#else
    const MlaQuery Q{qn, ldn, qr, ldr, R};
    constexpr int D = 576, CH = D / 8, HALF = D / 32, TILE_BYTES = MLA_T * D * 2;   // chunks a row; k-steps a warpgroup
    const int stages = RING ? (smemBytes - mla_wg_smem_bytes(D, 0)) / TILE_BYTES : 2;   // tile buffers
    if (R != 512 || P != 64 || blockDim.x != 256 || stages < 2 || stages > MLA_RING_MAX || mla_wg_smem_bytes(D, stages) > smemBytes) __trap();
    DYNAMIC_SHARED_BYTES(smem);
    unsigned char* qs = smem;                          // 64 rows, canonical
    unsigned char* ks = qs + 64 * D * 2;               // the ring of `stages` tiles of MLA_T rows, swizzled
    float* red = reinterpret_cast<float*>(ks + stages * TILE_BYTES);   // [warpgroup][16][128 threads]
    const int tid = threadIdx.x, wg = tid >> 7, t = tid & 127, lane = tid & 31;
    const int g = lane >> 2;
    const int h0 = blockIdx.x * 64, split = blockIdx.y, splits = gridDim.y, b = blockIdx.z;
    int from, to;
    if (!mla_split_positions(lens, len0, b, split, splits, from, to)) return;   // the whole block, before any barrier
    const float scaleLog2 = scale * 1.4426950408889634f;
    const unsigned short* cb = cache + (i64) b * maxLen * R;
    const unsigned short* pb = pe + (i64) b * maxLen * P;
    auto tileAt = [&](int tile) { return ks + (tile % stages) * TILE_BYTES; };
    auto loadTile = [&](int tile) {
        unsigned char* dst = tileAt(tile);
        mla_load_sw<MLA_T, 256>(cb, pb, from + tile * MLA_T, to, dst, threadIdx.x);
    };
    const int tiles = (to - from + MLA_T - 1) / MLA_T;
    mla_sw_check(ks);
    mla_ring_load(0, stages - 1, tiles, loadTile);   // in flight while the queries load
    mla_wg_queries<CH>(qs, Q, b, heads, h0);
    const unsigned int rowStride = CH * 128;   // bytes from one 8-row group to the next
    const int k0 = wg * HALF;
    float acc[128];
#pragma unroll
    for (int i = 0; i < 128; i++) acc[i] = 0.f;
    float m0 = NEG_INF, m1 = NEG_INF, l0 = 0.f, l1 = 0.f;   // rows g and g + 8 of this warp's 16, log2 units
    for (int it = 0; it < tiles; it++) {
        cp_async_wait(stages - 2);
        fence_proxy_async();
        __syncthreads();   // tile it (and the queries) landed; both warpgroups are done with the partials and with tile it - 1
        mla_ring_load(it + stages - 1, 1, tiles, loadTile);   // into tile it - 1's buffer
        const unsigned char* kt = tileAt(it);
        const int valid = to - (from + it * MLA_T);

        // this warpgroup's half of the scores (64 heads x MLA_T positions)
        float s[16];
        wg_fence();
#pragma unroll
        for (int i = 0; i < HALF; i++) {
            int k = (k0 + i) * 2;   // chunks
            wgmma_m64n32_ss(s, wg_make_desc(qs + k * 128, 128, rowStride), mla_tile_k<MLA_T>(kt, k0 + i), i == 0);
        }
        wg_commit();
        wg_wait<0>();
        wg_fence_regs(s);
#pragma unroll
        for (int i = 0; i < 16; i++) red[(wg * 16 + i) * 128 + t] = s[i];
        __syncthreads();
#pragma unroll
        for (int i = 0; i < 16; i++) s[i] = red[i * 128 + t] + red[(16 + i) * 128 + t];   // first half + second, for both

        float alpha0, alpha1;
        unsigned int pa[MLA_T / 16][4];
        mla_softmax_tile<MLA_T / 8>(s, valid, scaleLog2, m0, m1, l0, l1, alpha0, alpha1, pa);
#pragma unroll
        for (int i = 0; i < 128; i++) acc[i] *= ((i >> 1) & 1) ? alpha1 : alpha0;
        // this warpgroup's 256 latent columns: O = alpha O + P V
        wg_fence();
        mla_wg_values(acc, pa, kt, wg);
        wg_commit();
        wg_wait<0>();
    }
    wg_fence_regs(acc);

    mla_wg_store(acc, wg, h0 + 16 * (t >> 5) + g, out, o, mOut, lOut, ((i64) b * splits + split) * heads, b, heads, R, m0, l0, m1, l1);
    mla_tail_merge(o, mOut, lOut, merged, done, splits, heads, R, lens, len0, b, h0, 64, smem, tid, 256, [] { __syncthreads(); });
#endif
}

// 64 heads per block, two warpgroups (8 warps)
extern "C" __global__ void __launch_bounds__(256) mla_decode_wg64(MLA_TC_PARAMS(unsigned short)) {
    pmx_grid_begin();
    mla_decode_wg<false>(MLA_TC_ARGS);
}

// wg64 with a ring of as many tile buffers as its shared memory holds (CudaBackend gives it what the
// GPU allows a block: 3 on an H100, so two tiles in flight where wg64 has one)
extern "C" __global__ void __launch_bounds__(256) mla_decode_wg64r(MLA_TC_PARAMS(unsigned short)) {
    pmx_grid_begin();
    mla_decode_wg<true>(MLA_TC_ARGS);
}

// ---------------------------------------------------------------------------------------------
// FlashMLA's division of the work between the two warpgroups: mla_decode_wg64s. A block of 64 heads
// streams the cache in tiles of MLA_TS = 64 positions through two tile buffers.
//   Warpgroup 0 computes each tile's whole scores (m64n64 over all R + P dims, the queries and the
//   tile in shared memory), so no partial scores cross between the warpgroups, runs the online
//   softmax, hands the weights (BF16, canonical K-major) and each row's rescale factor to warpgroup
//   1 through shared memory, and multiplies its weights from registers into latent columns 0-255.
//   Warpgroup 1 loads the cache tiles (cp.async) and multiplies the weights from shared memory into
//   latent columns 256-511.
// The hand-offs are named barriers of 256 threads, one warpgroup arriving (bar.arrive) and the other
// waiting (bar.sync), so that neither waits for more than it needs:
//   WGS_P_FULL  tile it's weights and rescale factors written and fenced (0) -> 1's product
//   WGS_K_FREE  0 is done reading tile it (0) -> 1 loads tile it + 2 into its buffer
//   WGS_K_FULL  tile it + 1 landed (1, after its copies' wait and fence, and after its own product of
//               tile it completed: the weights and factors are free) -> 0's scores of tile it + 1,
//               then its weights into the same shared memory
// In each iteration warpgroup 1 waits for P_FULL, multiplies and waits for the product, waits for
// K_FREE, waits for tile it + 1 (its only copies in flight) and arrives at K_FULL, and only then
// issues the loads of tile it + 2, while warpgroup 0 computes tile it + 1's scores. (Issuing them
// before K_FULL held warpgroup 0 for the time the 128 threads took to issue 72 KiB of copies: ncu
// found it waiting at K_FULL a quarter of its time at 128 heads, session 30.) So a side arrives at a
// barrier again only after every thread of the other side has passed its wait of the phase before
// (warpgroup 0 reaches K_FREE and P_FULL again only through K_FULL, which warpgroup 1 arrives at
// after its wait at K_FREE; warpgroup 1 reaches K_FULL again only through P_FULL).
// Numerics as the tc kernels; requirements and grid as mla_decode_wg64, mla_wgs_smem_bytes of
// dynamic shared memory. On the simulator the named barriers are its own (__pmx_bar_sync / _arrive).
#define MLA_TS 64
enum { WGS_K_FULL = 1, WGS_P_FULL = 2, WGS_K_FREE = 3 };

// bar.sync ID, count: wait until `count` threads (a multiple of 32) have arrived at named barrier ID
// (an immediate, so that ptxas counts only the barriers the kernel names)
template <int ID> __device__ __forceinline__ void named_sync(int count) {
#ifdef __CUDA_ARCH__
    asm volatile("bar.sync %0, %1;" :: "n"(ID), "r"(count) : "memory");
#else
    __pmx_bar_sync(ID, count);
#endif
}
// bar.arrive ID, count: arrive at named barrier ID without waiting (what this thread wrote before
// is visible to the threads that wait for the phase)
template <int ID> __device__ __forceinline__ void named_arrive(int count) {
#ifdef __CUDA_ARCH__
    asm volatile("bar.arrive %0, %1;" :: "n"(ID), "r"(count) : "memory");
#else
    __pmx_bar_arrive(ID, count);
#endif
}

// The queries (64 rows), two cache tiles (MLA_TS rows each), the weights (64 x MLA_TS BF16) and 64
// rescale factors and 64 sums. Must match CudaBackend.mlaWarpgroupSplitSharedBytes.
__host__ __device__ __forceinline__ int mla_wgs_smem_bytes(int d) {
    return 2 * (64 + 2 * MLA_TS) * d + 2 * 64 * MLA_TS + 2 * 64 * 4;
}

extern "C" __global__ void __launch_bounds__(256) mla_decode_wg64s(MLA_Q_PARAMS, const unsigned short* cache, const unsigned short* pe,
        const int* lens, int len0, float* o, float* mOut, float* lOut, float* out, int heads, int maxLen, int R, int P, float scale, int smemBytes,
        MLA_TAIL_PARAMS) {
    mla_prefetch_l2(cache, pe, lens, len0, maxLen, R, P, 2 * MLA_TS);   // the two tiles it loads first
    pmx_grid_begin();
#ifdef MLA_WG_UNSUPPORTED
    __trap();
#else
    const MlaQuery Q{qn, ldn, qr, ldr, R};
    constexpr int D = 576, CH = D / 8, TILE_BYTES = MLA_TS * D * 2, PCH = MLA_TS / 8;   // chunks a tile row, a weights row
    if (R != 512 || P != 64 || blockDim.x != 256 || mla_wgs_smem_bytes(D) > smemBytes) __trap();
    DYNAMIC_SHARED_BYTES(wgsShared);   // not `smem`: that name's declarations in the templates above would conflict with this one's
    unsigned char* qs = wgsShared;                  // 64 rows, canonical
    unsigned char* ks = qs + 64 * D * 2;            // two tiles of MLA_TS rows, swizzled
    unsigned char* ps = ks + 2 * TILE_BYTES;        // the weights: 64 rows of MLA_TS positions, canonical K-major
    float* alphaS = reinterpret_cast<float*>(ps + 64 * MLA_TS * 2);   // each row's rescale factor for the tile
    float* sumS = alphaS + 64;                      // each row's sum, at the end
    const int tid = threadIdx.x, wg = tid >> 7, t = tid & 127, lane = tid & 31;
    const int qd = lane & 3, row0 = 16 * (t >> 5) + (lane >> 2);   // this thread's accumulator rows: row0 and row0 + 8
    const int h0 = blockIdx.x * 64, split = blockIdx.y, splits = gridDim.y, b = blockIdx.z;
    int from, to;
    if (!mla_split_positions(lens, len0, b, split, splits, from, to)) return;   // the whole block, before any barrier
    const float scaleLog2 = scale * 1.4426950408889634f;
    const unsigned short* cb = cache + (i64) b * maxLen * R;
    const unsigned short* pb = pe + (i64) b * maxLen * P;
    auto tileAt = [&](int tile) { return ks + (tile & 1) * TILE_BYTES; };
    auto loadTile = [&](int tile) {   // by warpgroup 1's four warps
        unsigned char* dst = tileAt(tile);
        mla_load_sw<MLA_TS, 128>(cb, pb, from + tile * MLA_TS, to, dst, t);
    };
    const int tiles = (to - from + MLA_TS - 1) / MLA_TS;
    mla_sw_check(ks);
    if (wg == 1) mla_ring_load(0, 2, tiles, loadTile);   // tiles 0 and 1 in flight while the queries load
    mla_wg_queries<CH>(qs, Q, b, heads, h0);
    fence_proxy_async();   // the queries, written by plain stores, are read by wgmma
    __syncthreads();
    const unsigned int rowStride = CH * 128;   // bytes from one 8-row group of the queries to the next
    float acc[128];
#pragma unroll
    for (int i = 0; i < 128; i++) acc[i] = 0.f;
    float m0 = NEG_INF, m1 = NEG_INF, l0 = 0.f, l1 = 0.f;   // warpgroup 0: rows row0 and row0 + 8, log2 units
    if (wg == 0) {
        for (int it = 0; it < tiles; it++) {
            named_sync<WGS_K_FULL>(256);
            const unsigned char* kt = tileAt(it);
            float s[32];
            wg_fence();
#pragma unroll
            for (int i = 0; i < D / 16; i++)
                wgmma_m64n64_ss(s, wg_make_desc(qs + 2 * i * 128, 128, rowStride), mla_tile_k<MLA_TS>(kt, i), i == 0);
            wg_commit();
            wg_wait<0>();
            wg_fence_regs(s);
            float alpha0, alpha1;
            unsigned int pa[MLA_TS / 16][4];
            mla_softmax_tile<MLA_TS / 8>(s, to - (from + it * MLA_TS), scaleLog2, m0, m1, l0, l1, alpha0, alpha1, pa);
            // pa[kk][e]: row row0 (+ 8 for odd e), positions 16kk + 2qd (+ 8 for e >= 2) and the next
#pragma unroll
            for (int kk = 0; kk < MLA_TS / 16; kk++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int r = row0 + 8 * (e & 1), k = 16 * kk + 2 * qd + 8 * (e >> 1);
                    st_for_wgmma(ps + ((r >> 3) * PCH + (k >> 3)) * 128 + (r & 7) * 16 + (k & 7) * 2, pa[kk][e]);
                }
            if (qd == 0) {
                alphaS[row0] = alpha0;
                alphaS[row0 + 8] = alpha1;
            }
            fence_proxy_async();   // the weights, written by plain stores, are read by warpgroup 1's wgmma
            named_arrive<WGS_P_FULL>(256);
#pragma unroll
            for (int i = 0; i < 128; i++) acc[i] *= ((i >> 1) & 1) ? alpha1 : alpha0;
            wg_fence();
            mla_wg_values(acc, pa, kt, 0);
            wg_commit();
            wg_wait<0>();
            wg_fence_regs(acc);
            if (it + 2 < tiles) named_arrive<WGS_K_FREE>(256);   // warpgroup 1 may load tile it + 2 into this tile's buffer
        }
        if (qd == 0) {
            sumS[row0] = l0;
            sumS[row0 + 8] = l1;
        }
    } else {
        if (tiles > 0) {
            cp_async_wait(1);   // tile 0
            fence_proxy_async();
            named_arrive<WGS_K_FULL>(256);
        }
        for (int it = 0; it < tiles; it++) {
            const unsigned char* kt = tileAt(it);
            named_sync<WGS_P_FULL>(256);
            const float alpha0 = alphaS[row0], alpha1 = alphaS[row0 + 8];
#pragma unroll
            for (int i = 0; i < 128; i++) acc[i] *= ((i >> 1) & 1) ? alpha1 : alpha0;
            wg_fence();
#pragma unroll
            for (int kk = 0; kk < MLA_TS / 16; kk++)
                wgmma_m64n256_ss(acc, wg_make_desc(ps + 2 * kk * 128, 128, PCH * 128), mla_tile_mn<MLA_TS>(kt, 256, kk));
            wg_commit();
            wg_wait<0>();
            wg_fence_regs(acc);
            if (it + 2 < tiles) named_sync<WGS_K_FREE>(256);   // both warpgroups are done with tile it
            if (it + 1 < tiles) {
                cp_async_wait(0);   // tile it + 1, the only group in flight
                fence_proxy_async();
                named_arrive<WGS_K_FULL>(256);   // and this product is done with the weights
            }
            if (it + 2 < tiles) loadTile(it + 2);   // into tile it's buffer
        }
    }
    __syncthreads();   // warpgroup 0's sums, for warpgroup 1's normalisation
    if (wg == 1) {
        l0 = sumS[row0];
        l1 = sumS[row0 + 8];
    }
    mla_wg_store(acc, wg, h0 + row0, out, o, mOut, lOut, ((i64) b * splits + split) * heads, b, heads, R, m0, l0, m1, l1);
    mla_tail_merge(o, mOut, lOut, merged, done, splits, heads, R, lens, len0, b, h0, 64, wgsShared, tid, 256, [] { __syncthreads(); });
#endif
}

// ---------------------------------------------------------------------------------------------
// The transposed products on warpgroup tensor cores: mla_decode_wt16, mla_decode_wt32 and
// mla_decode_wt64 (sm_90a). Each consumer warpgroup of a block takes NH = 16 or 32 heads and puts
// the tile's 64 positions, not the heads, on the 64 rows of every wgmma, so that no row is padding
// (wg64 and wg64s spend 48 of their 64 rows on nothing at 16 heads, and four times the products on
// a cache that streams at the same rate):
//   scores S^T (64 positions x NH heads) = K Q^T: 36 wgmma m64nNHk16 with the tile (K-major) as A
//   and the queries (K-major) as B, both in shared memory;
//   the online softmax runs down the columns: each head's maximum over the tile's 64 positions
//   meets across the four warps in shared memory; the weights P^T go to shared memory as BF16,
//   MN-major (each position's heads contiguous); each column's sum stays a partial per thread
//   until the end;
//   outputs O^T (512 latent dims x NH heads) += V^T P^T: 8 x 4 wgmma m64nNHk16 with the tile read
//   MN-major (transposed) as A and the weights as B. O^T stays in registers (64 floats a thread at
//   16 heads, 128 at 32).
// A column's softmax is its own, so consumers of different heads never meet: wt16 and wt32 have
// one consumer (warpgroup 0), wt64 two (warpgroups 0 and 1, heads h0 .. h0 + 31 and the next 32),
// which read each tile once for 64 heads (half the shared-memory fills of wt32 at 128 heads) and
// whose products and softmaxes interleave on the SM's tensor cores. The last warpgroup only loads.
// At 16 heads the products take a fraction of the time a tile takes to arrive, so the kernel lives
// by keeping loads in flight: each half of the loading warpgroup (two warps) owns one of the two
// tile buffers (even tiles, odd tiles) and refills it the moment the consumers are done with it,
// whatever the other half is doing, so that both tiles are in flight while the consumers wait, and
// one while they multiply. wt64's 384 threads get 168 registers each at launch (ptxas: 65,536 /
// 384, to a multiple of 8), too few for a consumer (wt32's takes 208) and many more than the loads
// need; so the loading warpgroup drops to 48 a thread (setmaxnreg) and the consumers rise to 216.
// A rise waits until the block's pool has the registers, so the pool must cover it whatever ptxas
// gave at launch: from 168 the drop frees 4 warps x 120 against 8 x 48 wanted, from 160 4 x 112
// against 8 x 56 (ptxas fits the consumers in 216 and the loads in 48 with no spills; 40 spills).
// The hand-offs are named barriers of the producers and the consumers (PAIR threads: a producer
// half, or over an F32 cache the whole loading warpgroup, and the 128 C consumer threads):
//   WT_FULL + s   buffer s's tile landed and is fenced (the producers arrive) -> the consumers' products
//   WT_EMPTY + s  the consumers are done with buffer s's tile (they arrive) -> the producers fill it with the tile two on
// A side reaches the same barrier again only through the other: the producers arrive at FULL for tile
// i + 2 only after EMPTY of tile i, which the consumers arrive at only after FULL of tile i.
// WT_RED + c (consumer c's 128 threads): the four warps' column maxima, then the weights, are written.
// Numerics as the tc kernels (the queries and the weights rounded to BF16, the sums over the rounded
// weights). Requirements as mla_decode_wg64; grid (ceil(heads / (C NH)), splits, batch), 128 (C + 1)
// threads, mla_wt_smem_bytes of dynamic shared memory.
//
// Over an F32 cache (C = float: mla_decode_wt16_f32 and wt32_f32, one consumer) every operand is split
// into BF16 high and low parts as in tc16_f32 (split_bf16: about 16 bits of each kept), and the
// split tile is a BF16 tile of the same 64 rows and layout that holds 32 positions: its 8-row groups
// alternate the high parts of 8 positions and their low parts, so that position 8w + g of the tile is
// rows 16w + g (high) and 16w + g + 8 (low), the two rows of an m64 accumulator that one thread holds.
//   scores: the 36 k-steps twice, with the queries' high parts and then their low parts as B, into one
//   accumulator; a thread's position's score is the sum of its two rows, (kh + kl)(qh + ql) (the
//   fourth product, kl ql, is 2^-16 of the score at most, and kept);
//   weights: each position's weight split, w = wh + wl; the sums over the weights themselves (F32);
//   outputs: the 8 x 4 products twice, with B the high weights (on both rows of each position) and then
//   the low ones, (wh + wl)(vh + vl).
// A tile's 32 positions are 73,728 bytes of F32, which the loading warpgroup reads into registers (a
// thread: 18 float4 for each half tile of 16 positions, both halves in flight), splits and
// stores in place: it reads the next tile's first half as soon as this tile's first half is stored,
// and both before it waits for the buffer, so that a tile's loads are in flight while the consumers
// multiply the tile before it. Shared memory: the queries twice (high, low), the two tiles, the
// weights twice; 188,928 bytes at 16 heads, 230,400 at 32 (under an H100's 227 KiB).
#define MLA_TT 64   // rows a tile: the 64 rows of the products (positions; over an F32 cache two rows a position)
enum { WT_FULL = 1, WT_EMPTY = 3, WT_RED = 5, WT_TAIL = 7 };   // FULL 1-2 and EMPTY 3-4, one of each a buffer; RED 5-6, one a consumer; TAIL the consumers

// The queries (nh rows: the block's heads), two cache tiles (MLA_TT rows each), the weights
// (MLA_TT x nh BF16) and two sets of the four warps' column maxima of each consumer; over an F32
// cache (parts 2) the queries and the weights each twice. Must match CudaBackend.mlaWarpgroupTransposedSharedBytes.
__host__ __device__ __forceinline__ int mla_wt_smem_bytes(int d, int nh, int parts) {
    return 2 * (parts * nh + 2 * MLA_TT) * d + parts * 2 * MLA_TT * nh + 2 * 4 * nh * 4;
}

// named_sync / named_arrive of barrier ID + s (s 0 or 1, warp-uniform), `count` threads
template <int ID> __device__ __forceinline__ void wt_sync(int s, int count) {
    if (s) named_sync<ID + 1>(count);
    else named_sync<ID>(count);
}
template <int ID> __device__ __forceinline__ void wt_arrive(int s, int count) {
    if (s) named_arrive<ID + 1>(count);
    else named_arrive<ID>(count);
}

// setmaxnreg: this warpgroup's registers a thread become N (a multiple of 8, 24 to 256), released
// to the block's pool (DEC) or taken from it, waiting until they are there (!DEC). Every warp of
// the warpgroup runs it. The simulator has no register file: nothing to do there.
template <int N, bool DEC> __device__ __forceinline__ void set_max_regs() {
    static_assert(N % 8 == 0 && N >= 24 && N <= 256, "setmaxnreg takes a multiple of 8 from 24 to 256");
#ifdef __CUDA_ARCH__
    if constexpr (DEC) asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" :: "n"(N));
    else asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" :: "n"(N));
#endif
}

// d (64 x NH, F32; this thread's NH / 2) (+)= A (64 x 16) B (16 x NH), both in shared memory, TA / TB transposed
template <int NH, int TA, int TB> __device__ __forceinline__ void wt_mma(float (&d)[NH / 2], wg_desc a, wg_desc b, bool first) {
    if constexpr (NH == 16) wgmma_m64n16_ss<TA, TB>(d, a, b, first);
    else wgmma_m64n32_ss<TA, TB>(d, a, b, first);
}

// A float4 of the cache's F32 rows, allocating no L1 line (L1::no_allocate): each value is read once,
// and L1 is what shared memory leaves of an H100 SM's 256 KiB (60 KiB beside wt16_f32's 188,928
// bytes, 28 beside wt32_f32's), less than the 73,728 bytes a thread block keeps in flight.
__device__ __forceinline__ float4 ld_stream4(const float4* p) {
#ifdef __CUDA_ARCH__
    float4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w) : "l"(p));
    return v;
#else
    return *p;
#endif
}
// Half h (positions 16h .. 16h + 15) of the F32 tile of 32 positions at base of one sequence (zeros
// from `to` on), as thread t of the 128 loading threads reads it: the latent's float4 t (dims 4t ..
// 4t + 3) of each of the 16 positions in x[0..15], the rope's float4 t % 16 of positions 16h + t / 16
// and 16h + 8 + t / 16 in x[16], x[17]. Each load instruction of a warp reads 512 contiguous bytes.
__device__ __forceinline__ void mla_wt_f32_load(float4 (&x)[18], const float* cb, const float* pb, int base, int to, int h, int t) {
    const float4 zero{0.f, 0.f, 0.f, 0.f};
#pragma unroll
    for (int i = 0; i < 16; i++) {
        const int pos = base + 16 * h + i;
        x[i] = pos < to ? ld_stream4(reinterpret_cast<const float4*>(cb + (i64) pos * 512) + t) : zero;
    }
#pragma unroll
    for (int i = 0; i < 2; i++) {
        const int pos = base + 16 * h + 8 * i + (t >> 4);
        x[16 + i] = pos < to ? ld_stream4(reinterpret_cast<const float4*>(pb + (i64) pos * 64) + (t & 15)) : zero;
    }
}
// ... split and stored into the swizzled tile at dst: position p of the tile as rows (p / 8) 16 + p % 8
// (its high parts) and that + 8 (its low parts); a float4 of dims 4f .. 4f + 3 as half (f % 2) of
// chunk f / 2 (the rope's: of chunk 64 + f / 2). A warp's stores fill two 128-byte lines.
__device__ __forceinline__ void mla_wt_f32_store(const float4 (&x)[18], unsigned char* dst, int h, int t) {
    auto put = [&](int p, int f, float4 v) {
        const int row = (p >> 3) * 16 + (p & 7), at = mla_sw_place<MLA_TT>(row, f >> 1) + (f & 1) * 8;
        uint2 hi, lo;
        split_bf16(v.x, v.y, hi.x, lo.x);
        split_bf16(v.z, v.w, hi.y, lo.y);
        st_for_wgmma(dst + at, hi);
        st_for_wgmma(dst + at + 8 * 128, lo);   // row + 8: the same chunk eight rows on (the swizzle repeats every 8 rows)
    };
#pragma unroll
    for (int i = 0; i < 16; i++) put(16 * h + i, t, x[i]);
#pragma unroll
    for (int i = 0; i < 2; i++) put(16 * h + 8 * i + (t >> 4), 128 + (t & 15), x[16 + i]);
}

// C consumer warpgroups of NH heads each, then the loading warpgroup; cache elements Cache (BF16,
// or F32 split into parts)
template <int NH, int C, typename Cache = unsigned short>
__device__ void mla_decode_wt(MLA_Q_PARAMS, const Cache* cache, const Cache* pe, const int* lens, int len0, float* o,
                              float* mOut, float* lOut, float* out, int heads, int maxLen, int R, int P, float scale, int smemBytes,
                              MLA_TAIL_PARAMS) {
#ifdef MLA_WG_UNSUPPORTED
    __trap();
#else
    static_assert(NH == 16 || NH == 32, "16 or 32 heads a consumer");
    static_assert(C == 1 || C == 2, "one or two consumers");
    constexpr bool SPLIT = sizeof(Cache) == 4;
    static_assert(!SPLIT || C == 1, "one consumer over an F32 cache");
    const MlaQuery Q{qn, ldn, qr, ldr, R};
    // chunks a row; bytes a tile; positions a tile; the queries' and the weights' parts; 8-head column
    // groups; accumulators a thread of an m64nNH product; the block's heads; threads at FULL and EMPTY
    constexpr int D = 576, CH = D / 8, TILE_BYTES = MLA_TT * D * 2, TP = SPLIT ? MLA_TT / 2 : MLA_TT, PARTS = SPLIT ? 2 : 1;
    constexpr int NJ = NH / 8, NA = NH / 2, BH = C * NH, PAIR = (SPLIT ? 128 : 64) + 128 * C;
    constexpr int QBYTES = BH * D * 2, PBYTES = MLA_TT * NH * 2;   // the queries' bytes, a consumer's weights' bytes (each part)
    if (R != 512 || P != 64 || blockDim.x != 128 * (C + 1) || mla_wt_smem_bytes(D, BH, PARTS) > smemBytes) __trap();
    DYNAMIC_SHARED_BYTES(wtShared);
    unsigned char* qs = wtShared;                  // BH query rows, canonical K-major (SPLIT: the high parts, then BH rows of low parts)
    unsigned char* ks = qs + PARTS * QBYTES;       // two tiles of MLA_TT rows, swizzled
    const int tid = threadIdx.x, wg = tid >> 7, t = tid & 127, warp = t >> 5, lane = tid & 31, qd = lane & 3, g = lane >> 2;
    const int split = blockIdx.y, splits = gridDim.y, b = blockIdx.z;
    int from, to;
    if (!mla_split_positions(lens, len0, b, split, splits, from, to)) return;   // the whole block, before any barrier
    const Cache* cb = cache + (i64) b * maxLen * R;
    const Cache* pb = pe + (i64) b * maxLen * P;
    const int tiles = (to - from + TP - 1) / TP;
    mla_sw_check(ks);
    float4 xa[18], xb[18];   // SPLIT: the first and the second half of a tile, in flight or landed
    const int half = warp >> 1;   // BF16: in the loading warpgroup, the half (two warps) that owns buffer `half`
    auto loadTile = [&](int tile) {   // BF16: into buffer tile & 1, by the two warps of its half, as one cp.async group
        if constexpr (!SPLIT) mla_load_sw<MLA_TT, 64>(cb, pb, from + tile * MLA_TT, to, ks + (tile & 1) * TILE_BYTES, (t & 63));
    };
    if (wg == C) {   // the first tile (BF16: tiles 0 and 1) in flight while the queries load
        if constexpr (SPLIT) {
            mla_wt_f32_load(xa, cb, pb, from, to, 0, t);
            mla_wt_f32_load(xb, cb, pb, from, to, 1, t);
        } else if (half < tiles) {
            loadTile(half);
        }
    }
    mla_wg_queries<CH, BH, SPLIT>(qs, Q, b, heads, blockIdx.x * BH, qs + QBYTES);
    fence_proxy_async();   // the queries, written by plain stores, are read by wgmma
    __syncthreads();
    if (wg == C) {
        if constexpr (SPLIT) {
            // the whole warpgroup fills each tile in turn
            for (int i = 0; i < tiles; i++) {
                unsigned char* dst = ks + (i & 1) * TILE_BYTES;
                if (i >= 2) wt_sync<WT_EMPTY>(i & 1, PAIR);   // the consumers are done with tile i - 2
                mla_wt_f32_store(xa, dst, 0, t);
                if (i + 1 < tiles) mla_wt_f32_load(xa, cb, pb, from + (i + 1) * TP, to, 0, t);
                mla_wt_f32_store(xb, dst, 1, t);
                fence_proxy_async();
                wt_arrive<WT_FULL>(i & 1, PAIR);
                if (i + 1 < tiles) mla_wt_f32_load(xb, cb, pb, from + (i + 1) * TP, to, 1, t);
            }
        } else {
            if constexpr (C == 2) set_max_regs<48, true>();
            for (int i = half; i < tiles; i += 2) {
                if (i >= 2) {
                    wt_sync<WT_EMPTY>(half, PAIR);   // the consumers are done with tile i - 2
                    loadTile(i);
                }
                cp_async_wait(0);
                fence_proxy_async();
                wt_arrive<WT_FULL>(half, PAIR);
            }
        }
        return;   // no barrier below counts the loading warpgroup
    }
    if constexpr (C == 2) set_max_regs<216, false>();

    // consumer cw: heads h0 .. h0 + NH - 1, their queries (NH / 8 row groups of the block's), weights and maxima
    const int cw = C == 1 ? 0 : wg, h0 = blockIdx.x * BH + cw * NH;
    const unsigned int rowStride = CH * 128;   // bytes from one 8-row group of the queries to the next
    const unsigned char* qw = qs + cw * NJ * rowStride;   // (SPLIT: the low parts QBYTES on)
    // the weights: MLA_TT rows x NH heads, canonical MN-major (SPLIT: the high parts, then the low parts PBYTES on)
    unsigned char* ps = ks + 2 * TILE_BYTES + cw * PARTS * PBYTES;
    float* red = reinterpret_cast<float*>(ks + 2 * TILE_BYTES + C * PARTS * PBYTES) + cw * 2 * 4 * NH;   // [2][4 warps][NH]
    auto redSync = [&] {   // this consumer's four warps
        if (cw) named_sync<WT_RED + 1>(128);
        else named_sync<WT_RED>(128);
    };
    const float scaleLog2 = scale * 1.4426950408889634f;
    float acc[8][NA];                          // O^T, m-block mb: latent dims 64 mb .. 64 mb + 63
#pragma unroll
    for (int mb = 0; mb < 8; mb++)
#pragma unroll
        for (int i = 0; i < NA; i++) acc[mb][i] = 0.f;
    // this thread's columns 8j + 2qd + c: the running maximum (log2 units, the same in every thread) and a partial sum
    float m[NJ][2], l[NJ][2];
#pragma unroll
    for (int j = 0; j < NJ; j++)
#pragma unroll
        for (int c = 0; c < 2; c++) {
            m[j][c] = NEG_INF;
            l[j][c] = 0.f;
        }
    // this thread's rows p0 and p0 + 8: positions p0 and p0 + 8 of a tile, or (SPLIT) both position pp's
    const int p0 = 16 * warp + g, pp = 8 * warp + g;
    for (int it = 0; it < tiles; it++) {
        const int s = it & 1;
        wt_sync<WT_FULL>(s, PAIR);
        const unsigned char* kt = ks + s * TILE_BYTES;
        float st[NA];   // st[4j + e]: row p0 (+ 8 for e >= 2), head column 8j + 2qd + (e & 1)
        wg_fence();
#pragma unroll
        for (int part = 0; part < PARTS; part++)   // SPLIT: the queries' high parts, then their low parts, into one accumulator
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++)
                wt_mma<NH, 0, 0>(st, mla_tile_k<MLA_TT>(kt, kk), wg_make_desc(qw + part * QBYTES + 2 * kk * 128, 128, rowStride),
                                 part == 0 && kk == 0);
        wg_commit();
        wg_wait<0>();
        wg_fence_regs(st);

        const int valid = to - (from + it * TP);
        float* rm = red + s * 4 * NH;   // this tile's column maxima of the four warps (the next tile writes the other set)
        float mx[NJ][2];
#pragma unroll
        for (int j = 0; j < NJ; j++)
#pragma unroll
            for (int c = 0; c < 2; c++) {
                float x0, x1;
                if constexpr (SPLIT) {   // position pp's score: its high row's and its low row's
                    x0 = pp < valid ? (st[4 * j + c] + st[4 * j + 2 + c]) * scaleLog2 : NEG_INF;
                    x1 = NEG_INF;
                } else {
                    x0 = p0 < valid ? st[4 * j + c] * scaleLog2 : NEG_INF;
                    x1 = p0 + 8 < valid ? st[4 * j + 2 + c] * scaleLog2 : NEG_INF;
                }
                st[4 * j + c] = x0;
                st[4 * j + 2 + c] = x1;
                float v = fmaxf(x0, x1);
                v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 4));
                v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 8));
                mx[j][c] = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 16));
            }
        if (g == 0)
#pragma unroll
            for (int j = 0; j < NJ; j++)
#pragma unroll
                for (int c = 0; c < 2; c++) rm[warp * NH + 8 * j + 2 * qd + c] = mx[j][c];
        redSync();
        float alpha[NJ][2], base[NJ][2];
#pragma unroll
        for (int j = 0; j < NJ; j++)
#pragma unroll
            for (int c = 0; c < 2; c++) {
                const int col = 8 * j + 2 * qd + c;
                const float n = fmaxf(m[j][c], fmaxf(fmaxf(rm[col], rm[NH + col]), fmaxf(rm[2 * NH + col], rm[3 * NH + col])));
                base[j][c] = n == NEG_INF ? 0.f : n;   // a column with no position yet keeps weight 0 (no NaN from -inf - -inf)
                alpha[j][c] = exp2f(m[j][c] - base[j][c]);
                m[j][c] = n;
            }
#pragma unroll
        for (int j = 0; j < NJ; j++) {
            // MN-major: row r, head h at ((r / 8) * NJ + h / 8) * 128 + (r % 8) * 16 + (h % 8) * 2; this thread's rows p0 and p0 + 8
            unsigned char* r0 = ps + ((2 * warp) * NJ + j) * 128 + g * 16 + qd * 4;
            unsigned char* r1 = ps + ((2 * warp + 1) * NJ + j) * 128 + g * 16 + qd * 4;
            if constexpr (SPLIT) {
                // position pp's weights for heads 8j + 2qd and the next, split; both its rows take them
                const float w0 = exp2f(st[4 * j] - base[j][0]), w1 = exp2f(st[4 * j + 1] - base[j][1]);
                unsigned int hi, lo;
                split_bf16(w0, w1, hi, lo);
                l[j][0] = l[j][0] * alpha[j][0] + w0;
                l[j][1] = l[j][1] * alpha[j][1] + w1;
                st_for_wgmma(r0, hi);
                st_for_wgmma(r1, hi);
                st_for_wgmma(r0 + PBYTES, lo);
                st_for_wgmma(r1 + PBYTES, lo);
            } else {
                // the weights of rows p0 and p0 + 8 for heads 8j + 2qd and the next, as BF16 pairs
                const unsigned int w0 = pack_bf16(exp2f(st[4 * j] - base[j][0]), exp2f(st[4 * j + 1] - base[j][1]));
                const unsigned int w1 = pack_bf16(exp2f(st[4 * j + 2] - base[j][0]), exp2f(st[4 * j + 3] - base[j][1]));
                l[j][0] = l[j][0] * alpha[j][0] + bf16_to_f32((unsigned short) w0) + bf16_to_f32((unsigned short) w1);
                l[j][1] = l[j][1] * alpha[j][1] + bf16_to_f32((unsigned short) (w0 >> 16)) + bf16_to_f32((unsigned short) (w1 >> 16));
                st_for_wgmma(r0, w0);
                st_for_wgmma(r1, w1);
            }
        }
#pragma unroll
        for (int mb = 0; mb < 8; mb++)
#pragma unroll
            for (int i = 0; i < NA; i++) acc[mb][i] *= alpha[i >> 2][i & 1];
        fence_proxy_async();     // the weights, written by plain stores, are read by wgmma
        redSync();               // all four warps' weights are written (and every warp has read this tile's maxima)
        wg_fence();
#pragma unroll
        for (int part = 0; part < PARTS; part++)   // SPLIT: the high weights, then the low ones
#pragma unroll
            for (int mb = 0; mb < 8; mb++)
#pragma unroll
                for (int kk = 0; kk < MLA_TT / 16; kk++)
                    wt_mma<NH, 1, 1>(acc[mb], mla_tile_mn<MLA_TT>(kt, 64 * mb, kk),
                                     wg_make_desc(ps + part * PBYTES + 2 * kk * NJ * 128, NJ * 128, 128), false);
        wg_commit();
        wg_wait<0>();
#pragma unroll
        for (int mb = 0; mb < 8; mb++) wg_fence_regs(acc[mb]);
        if (it + 2 < tiles) wt_arrive<WT_EMPTY>(s, PAIR);   // the producers may fill this tile's buffer with tile it + 2
    }
    // each column's sum: the partial sums of its 32 rows' threads (eight lanes of each of the four warps)
#pragma unroll
    for (int j = 0; j < NJ; j++)
#pragma unroll
        for (int c = 0; c < 2; c++) {
            float v = l[j][c];
            v += __shfl_xor_sync(0xffffffffu, v, 4);
            v += __shfl_xor_sync(0xffffffffu, v, 8);
            v += __shfl_xor_sync(0xffffffffu, v, 16);
            if (g == 0) red[warp * NH + 8 * j + 2 * qd + c] = v;   // after the last tile's second barrier: no warp still reads maxima
        }
    redSync();
#pragma unroll
    for (int j = 0; j < NJ; j++)
#pragma unroll
        for (int c = 0; c < 2; c++) {
            const int col = 8 * j + 2 * qd + c;
            l[j][c] = (red[col] + red[NH + col]) + (red[2 * NH + col] + red[3 * NH + col]);
        }
    const i64 part = ((i64) b * splits + split) * heads;
#pragma unroll
    for (int mb = 0; mb < 8; mb++)
#pragma unroll
        for (int i = 0; i < NA; i++) {
            const int h = h0 + 8 * (i >> 2) + 2 * qd + (i & 1), dim = 64 * mb + 16 * warp + g + 8 * ((i >> 1) & 1);
            if (h >= heads) continue;
            const float sum = l[i >> 2][i & 1];
            if (out) out[((i64) b * heads + h) * R + dim] = sum > 0.f ? acc[mb][i] / sum : 0.f;
            else o[(part + h) * R + dim] = acc[mb][i];
        }
    if (!out && warp == 0 && g == 0)
#pragma unroll
        for (int j = 0; j < NJ; j++)
#pragma unroll
            for (int c = 0; c < 2; c++) mla_store_ml(mOut, lOut, part, heads, h0 + 8 * j + 2 * qd + c, m[j][c], l[j][c]);
    // the consumers' tail (the loading warpgroup has left): heads of the whole block, barrier WT_TAIL of 128 C threads
    mla_tail_merge(o, mOut, lOut, merged, done, splits, heads, R, lens, len0, b, blockIdx.x * BH, BH, wtShared, tid, 128 * C,
                   [] { named_sync<WT_TAIL>(128 * C); });
#endif
}

// 16 heads per block: warpgroup 0 multiplies, warpgroup 1 loads
extern "C" __global__ void __launch_bounds__(256) mla_decode_wt16(MLA_TC_PARAMS(unsigned short)) {
    pmx_grid_begin();
    mla_decode_wt<16, 1>(MLA_TC_ARGS);
}

// 32 heads per block, the same
extern "C" __global__ void __launch_bounds__(256) mla_decode_wt32(MLA_TC_PARAMS(unsigned short)) {
    pmx_grid_begin();
    mla_decode_wt<32, 1>(MLA_TC_ARGS);
}

// 64 heads per block: warpgroups 0 and 1 multiply 32 heads each, warpgroup 2 loads (one block an SM)
extern "C" __global__ void __launch_bounds__(384, 1) mla_decode_wt64(MLA_TC_PARAMS(unsigned short)) {
    pmx_grid_begin();
    mla_decode_wt<32, 2>(MLA_TC_ARGS);
}

// Over an F32 cache, the products split into BF16 parts: 16 heads per block, warpgroup 0 multiplies, warpgroup 1 loads
extern "C" __global__ void __launch_bounds__(256) mla_decode_wt16_f32(MLA_TC_PARAMS(float)) {
    pmx_grid_begin();
    mla_decode_wt<16, 1, float>(MLA_TC_ARGS);
}

// 32 heads per block, the same
extern "C" __global__ void __launch_bounds__(256) mla_decode_wt32_f32(MLA_TC_PARAMS(float)) {
    pmx_grid_begin();
    mla_decode_wt<32, 1, float>(MLA_TC_ARGS);
}
