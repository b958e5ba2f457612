// Decode-shaped products against 16-bit weights, read in their storage dtype, for r < m rows (at
// most GEMV_ROWS) of x F32 (m, k) with row stride ldx into y F32 (m, n) with row stride ldy:
//   gemv_*:  y[r, j] (+)= sum_k x[r, k] * w[j, k], w BF16 or F16 (n, k) with row stride ldw (a
//            linear layer's weight);
//   gemvn_*: y[r, j] (+)= sum_k x[r, k] * w[k, j], w (k, n) with row stride ldw (e.g. the absorbed
//            MLA query's per-head W_UK).
// Both are batched: item blockIdx.y starts at x + item * sx, w + item * sw and y + item * sy (sw 0
// shares one weight), so every head of an attention layer is one launch. The weights are widened in
// registers (exact) and the sums are F32, the CPU kernels' arithmetic; only the order of the
// additions differs. gemv_*: one warp per output column j; each lane reads 8 weights (16 bytes) at a
// time when rows are 16-byte aligned, so a warp streams 512 contiguous bytes.
#include "common.cuh"

#define GEMV_ROWS 8

template <int F16> __device__ __forceinline__ float wide(unsigned short h) { return F16 ? f16_to_f32(h) : bf16_to_f32(h); }

template <int F16>
__device__ void gemv16(const float* x, i64 ldx, const unsigned short* w, i64 ldw, float* y, i64 ldy, int m, int n, int k, int accumulate) {
    int j = (int) (((i64) blockIdx.x * blockDim.x + threadIdx.x) >> 5), lane = threadIdx.x & 31;
    if (j >= n) return;
    const unsigned short* wr = w + (i64) j * ldw;
    float acc[GEMV_ROWS];
    for (int r = 0; r < GEMV_ROWS; r++) acc[r] = 0.f;
    int vecEnd = 0;
    if ((ldw & 7) == 0 && (((unsigned long long) w) & 15) == 0) {
        vecEnd = k & ~7;
        for (int kk = lane * 8; kk < vecEnd; kk += 256) {
            uint4 packed = *reinterpret_cast<const uint4*>(wr + kk);
            unsigned int words[4] = {packed.x, packed.y, packed.z, packed.w};
            float wv[8];
            for (int q = 0; q < 4; q++) {
                wv[2 * q] = wide<F16>((unsigned short) (words[q] & 0xffffu));
                wv[2 * q + 1] = wide<F16>((unsigned short) (words[q] >> 16));
            }
            for (int r = 0; r < GEMV_ROWS; r++) {
                if (r >= m) break;
                const float* xr = x + (i64) r * ldx + kk;
                float s = acc[r];
                for (int q = 0; q < 8; q++) s += xr[q] * wv[q];
                acc[r] = s;
            }
        }
    }
    for (int kk = vecEnd + lane; kk < k; kk += 32) {
        float wv = wide<F16>(wr[kk]);
        for (int r = 0; r < GEMV_ROWS; r++) {
            if (r >= m) break;
            acc[r] += x[(i64) r * ldx + kk] * wv;
        }
    }
    for (int r = 0; r < GEMV_ROWS; r++) {
        if (r >= m) break;
        float s = warp_sum(acc[r]);
        if (lane == 0) {
            float* out = y + (i64) r * ldy + j;
            *out = accumulate ? *out + s : s;
        }
    }
}

extern "C" __global__ void gemv_bf16(const float* x, i64 ldx, i64 sx, const unsigned short* w, i64 ldw, i64 sw, float* y, i64 ldy, i64 sy,
                                     int m, int n, int k, int accumulate) {
    i64 item = blockIdx.y;
    gemv16<0>(x + item * sx, ldx, w + item * sw, ldw, y + item * sy, ldy, m, n, k, accumulate);
}

extern "C" __global__ void gemv_f16(const float* x, i64 ldx, i64 sx, const unsigned short* w, i64 ldw, i64 sw, float* y, i64 ldy, i64 sy,
                                    int m, int n, int k, int accumulate) {
    i64 item = blockIdx.y;
    gemv16<1>(x + item * sx, ldx, w + item * sw, ldw, y + item * sy, ldy, m, n, k, accumulate);
}

// gemvn_*: a block (GEMVN_COLS x GEMVN_SLICES threads) covers GEMVN_COLS output columns; thread
// (tx, ty) sums column tx over k = ty, ty + GEMVN_SLICES, ..., so a warp reads 32 adjacent weights
// of one row at a time, and the slices meet in shared memory.
#define GEMVN_COLS 64
#define GEMVN_SLICES 4

template <int F16>
__device__ void gemvn16(const float* x, i64 ldx, const unsigned short* w, i64 ldw, float* y, i64 ldy, int m, int n, int k, int accumulate) {
    __shared__ float part[GEMVN_SLICES - 1][GEMV_ROWS][GEMVN_COLS];
    if (blockDim.x != GEMVN_COLS * GEMVN_SLICES) __trap();   // the slices and the shared partials are sized for it
    int tx = threadIdx.x % GEMVN_COLS, ty = threadIdx.x / GEMVN_COLS;
    int j = blockIdx.x * GEMVN_COLS + tx;
    float acc[GEMV_ROWS];
    for (int r = 0; r < GEMV_ROWS; r++) acc[r] = 0.f;
    if (j < n) {
        for (int kk = ty; kk < k; kk += GEMVN_SLICES) {
            float wv = wide<F16>(w[(i64) kk * ldw + j]);
            for (int r = 0; r < GEMV_ROWS; r++) {
                if (r >= m) break;
                acc[r] += x[(i64) r * ldx + kk] * wv;
            }
        }
    }
    if (ty > 0)
        for (int r = 0; r < GEMV_ROWS; r++) part[ty - 1][r][tx] = acc[r];
    __syncthreads();
    if (ty != 0 || j >= n) return;
    for (int r = 0; r < GEMV_ROWS; r++) {
        if (r >= m) break;
        float s = acc[r];
        for (int t = 0; t < GEMVN_SLICES - 1; t++) s += part[t][r][tx];
        float* out = y + (i64) r * ldy + j;
        *out = accumulate ? *out + s : s;
    }
}

extern "C" __global__ void gemvn_bf16(const float* x, i64 ldx, i64 sx, const unsigned short* w, i64 ldw, i64 sw, float* y, i64 ldy, i64 sy,
                                      int m, int n, int k, int accumulate) {
    i64 item = blockIdx.y;
    gemvn16<0>(x + item * sx, ldx, w + item * sw, ldw, y + item * sy, ldy, m, n, k, accumulate);
}

extern "C" __global__ void gemvn_f16(const float* x, i64 ldx, i64 sx, const unsigned short* w, i64 ldw, i64 sw, float* y, i64 ldy, i64 sy,
                                     int m, int n, int k, int accumulate) {
    i64 item = blockIdx.y;
    gemvn16<1>(x + item * sx, ldx, w + item * sw, ldw, y + item * sy, ldy, m, n, k, accumulate);
}

// The routed experts of a MoE layer at decode: up to GEMV_GROUPS groups in one launch, group e
// (blockIdx.y) multiplying its m[e] rows at x[e] by its own weights w[e] into y[e]; n, k and the
// row strides are shared. The argument is passed by value (896 bytes), so no table is uploaded.
#define GEMV_GROUPS 32
struct GemvGroups {
    const float* x[GEMV_GROUPS];
    const unsigned short* w[GEMV_GROUPS];
    float* y[GEMV_GROUPS];
    int m[GEMV_GROUPS];
};

extern "C" __global__ void gemv_bf16_grouped(GemvGroups g, i64 ldx, i64 ldw, i64 ldy, int n, int k, int accumulate) {
    int e = blockIdx.y;
    gemv16<0>(g.x[e], ldx, g.w[e], ldw, g.y[e], ldy, g.m[e], n, k, accumulate);
}

extern "C" __global__ void gemv_f16_grouped(GemvGroups g, i64 ldx, i64 ldw, i64 ldy, int n, int k, int accumulate) {
    int e = blockIdx.y;
    gemv16<1>(g.x[e], ldx, g.w[e], ldw, g.y[e], ldy, g.m[e], n, k, accumulate);
}
