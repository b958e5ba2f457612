// Absorbed multi-head latent attention for decoding (one new query per sequence), FlashMLA-style:
// the queries of all heads, already multiplied into the latent space, attend over the shared
// compressed cache (latent c_kv of width R and rope key k_pe of width P per position), which
// serves as both key (c_kv ++ k_pe) and value (c_kv). The sequence is split over blocks; each
// block keeps an online softmax per head and writes a partial result, and mla_decode_combine
// merges the splits.
//
// q (batch, heads, R + P) F32; cache (batch, maxLen, R) and pe (batch, maxLen, P), F32 or BF16;
// lens[b] positions valid; grid (splits, ceil(heads / HG), batch), block 256 threads.
// Partials: o (batch, splits, heads, R) unnormalised, m and l (batch, splits, heads).
#include "common.cuh"

#define HG 8        // heads per block
#define TT 8        // cache positions per tile
#define MAX_R 512
#define MAX_D 576   // R + P
#define THREADS 256

template <typename T> __device__ __forceinline__ float ld(const T* p, i64 i);
template <> __device__ __forceinline__ float ld<float>(const float* p, i64 i) { return p[i]; }
template <> __device__ __forceinline__ float ld<unsigned short>(const unsigned short* p, i64 i) { return bf16_to_f32(p[i]); }

template <typename T>
__device__ void mla_decode(const float* q, const T* cache, const T* pe, const int* lens, float* o, float* mOut, float* lOut,
                           int heads, int maxLen, int R, int P, float scale) {
    __shared__ float qs[HG][MAX_D];
    __shared__ float ks[TT][MAX_D];
    __shared__ float ps[HG][TT];
    __shared__ float ms[HG], ls[HG], alpha[HG];
    if (R > MAX_R || R + P > MAX_D || blockDim.x != THREADS) __trap();  // the shared tiles are sized for these
    int split = blockIdx.x, splits = gridDim.x, h0 = blockIdx.y * HG, b = blockIdx.z, tid = threadIdx.x;
    int D = R + P, len = lens[b];
    int chunk = (len + splits - 1) / splits, from = split * chunk, to = min(len, from + chunk);
    int nh = min(HG, heads - h0);
    for (int i = tid; i < HG * D; i += THREADS) {
        int h = i / D, d = i % D;
        qs[h][d] = h < nh ? q[((i64) b * heads + h0 + h) * D + d] : 0.f;
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

extern "C" __global__ void __launch_bounds__(THREADS) mla_decode_f32(const float* q, const float* cache, const float* pe, const int* lens,
        float* o, float* m, float* l, int heads, int maxLen, int R, int P, float scale) {
    mla_decode<float>(q, cache, pe, lens, o, m, l, heads, maxLen, R, P, scale);
}

extern "C" __global__ void __launch_bounds__(THREADS) mla_decode_bf16(const float* q, const unsigned short* cache, const unsigned short* pe,
        const int* lens, float* o, float* m, float* l, int heads, int maxLen, int R, int P, float scale) {
    mla_decode<unsigned short>(q, cache, pe, lens, o, m, l, heads, maxLen, R, P, scale);
}

// out (batch, heads, R) = sum_s e^(m_s - M) o_s / sum_s e^(m_s - M) l_s; grid (heads, batch), R threads at most 1024
extern "C" __global__ void mla_decode_combine(const float* o, const float* m, const float* l, float* out, int splits, int heads, int R) {
    int h = blockIdx.x, b = blockIdx.y;
    float M = NEG_INF;
    for (int s = 0; s < splits; s++) M = fmaxf(M, m[((i64) b * splits + s) * heads + h]);
    float L = 0.f;
    for (int s = 0; s < splits; s++) {
        i64 at = ((i64) b * splits + s) * heads + h;
        if (l[at] > 0.f) L += expf(m[at] - M) * l[at];
    }
    for (int d = threadIdx.x; d < R; d += blockDim.x) {
        float v = 0.f;
        for (int s = 0; s < splits; s++) {
            i64 at = ((i64) b * splits + s) * heads + h;
            if (l[at] > 0.f) v += expf(m[at] - M) * o[at * R + d];
        }
        out[((i64) b * heads + h) * R + d] = v / L;
    }
}
