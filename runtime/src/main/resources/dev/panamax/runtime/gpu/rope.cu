// Rotary embedding in the interleaved-pair convention of DeepSeek's reference code: the pair
// (x[2i], x[2i+1]) is rotated by the angle pos * freq[i]. x is (tokens, heads, dim) contiguous;
// cos/sin are (maxPos, dim/2) tables; positions[t] gives each token's position.
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) rope_f32(const float* x, float* y, const float* cosT, const float* sinT, const int* positions,
                                    int tokens, int heads, int dim, int inverse) {
    pmx_grid_begin();
    i64 pairs = (i64) tokens * heads * (dim / 2);
    GRID_STRIDE(i, pairs) {
        int half = dim / 2;
        int p = (int) (i % half);
        i64 th = i / half;
        int t = (int) (th / heads);
        i64 tab = (i64) positions[t] * half + p;
        float c = cosT[tab], s = inverse ? -sinT[tab] : sinT[tab];
        i64 at = th * dim + 2 * p;
        float2 r = rope_pair(x[at], x[at + 1], c, s);
        y[at] = r.x;
        y[at + 1] = r.y;
    }
}

// The runtime's row contract (DeviceBackend.ropeRows): the pairs (x[2i], x[2i+1]) of each row
// rotated by its table row's cos/sin. Row r of x starts at r * ldx (a narrowed view's rows read in
// place); its table row is (r / rep) % tableRows of the contiguous (tableRows, half) cos and sin, so
// one position's row serves every head without being expanded; y is contiguous (rows, 2 * half).
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) rope_rows_f32(const float* x, i64 ldx, const float* cosT, const float* sinT, i64 rep, i64 tableRows,
                                         float* y, i64 rows, i64 half) {
    pmx_grid_begin();
    GRID_STRIDE(i, rows * half) {
        i64 row = i / half, p = i - row * half;
        i64 t = ((row / rep) % tableRows) * half + p;
        float c = cosT[t], s = sinT[t];
        const float* xr = x + row * ldx + 2 * p;
        float2 r = rope_pair(xr[0], xr[1], c, s);
        y[2 * i] = r.x;
        y[2 * i + 1] = r.y;
    }
}

// v stored as F32, or as BF16 rounded to nearest even (as copy_strided converts)
__device__ __forceinline__ void store_as(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_as(unsigned short* p, float v) { *p = f32_to_bf16(v); }

// New entries of MLA's compressed KV cache at inference (DeviceBackend.latentKvRows), one block a
// row: row r of kv (at r * ldkv) is a latent of n values and then a RoPE key of 2 * half; it is
// token tok = r % perSeq of sequence seq = r / perSeq, and goes to cache row at = tok, plus pos[seq]
// when pos is given (positions in device memory, as a replayed CUDA graph needs them). The latent's
// RMSNorm by w (rmsnorm_f32's arithmetic, with as many threads) goes to latent + seq * latentSeq +
// at * n; the key turned by table row r % tableRows of cos and sin (rope_rows_f32's arithmetic:
// tableRows is perSeq where every sequence is at the same positions, the row count where each has
// its own) goes to kRope + seq * kRopeSeq + at * 2 * half.
template <typename Out>
__device__ void latent_kv_rows(const float* kv, i64 ldkv, const float* w, float eps, const float* cosT, const float* sinT,
                               Out* latent, i64 latentSeq, Out* kRope, i64 kRopeSeq, const int* pos, int perSeq, int tableRows, int n, int half) {
    i64 r = blockIdx.x, seq = r / perSeq, tok = r % perSeq, at = tok + (pos ? pos[seq] : 0), t = (r % tableRows) * half;
    const float* x = kv + r * ldkv;
    float rs = row_rms_scale(x, n, eps);
    Out* lat = latent + seq * latentSeq + at * n;
    for (int j = threadIdx.x; j < n; j += blockDim.x) store_as(lat + j, x[j] * rs * w[j]);
    const float* xr = x + n;
    Out* kr = kRope + seq * kRopeSeq + at * 2 * half;
    for (int p = threadIdx.x; p < half; p += blockDim.x) {
        float2 y = rope_pair(xr[2 * p], xr[2 * p + 1], cosT[t + p], sinT[t + p]);
        store_as(kr + 2 * p, y.x);
        store_as(kr + 2 * p + 1, y.y);
    }
}

extern "C" __global__ void __launch_bounds__(ROW_THREADS) latent_kv_rows_f32(const float* kv, i64 ldkv, const float* w, float eps, const float* cosT, const float* sinT,
                                              float* latent, i64 latentSeq, float* kRope, i64 kRopeSeq, const int* pos, int perSeq, int tableRows, int n, int half) {
    pmx_grid_begin();
    latent_kv_rows<float>(kv, ldkv, w, eps, cosT, sinT, latent, latentSeq, kRope, kRopeSeq, pos, perSeq, tableRows, n, half);
}

extern "C" __global__ void __launch_bounds__(ROW_THREADS) latent_kv_rows_bf16(const float* kv, i64 ldkv, const float* w, float eps, const float* cosT, const float* sinT,
                                               unsigned short* latent, i64 latentSeq, unsigned short* kRope, i64 kRopeSeq, const int* pos, int perSeq,
                                               int tableRows, int n, int half) {
    pmx_grid_begin();
    latent_kv_rows<unsigned short>(kv, ldkv, w, eps, cosT, sinT, latent, latentSeq, kRope, kRopeSeq, pos, perSeq, tableRows, n, half);
}
