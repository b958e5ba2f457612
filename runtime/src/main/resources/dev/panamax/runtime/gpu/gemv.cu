// Decode-shaped products against 16-bit weights, read in their storage dtype, for r < m rows (at
// most GEMV_ROWS) of x F32 (m, k) with row stride ldx into y F32 (m, n) with row stride ldy:
//   gemv_*:  y[r, j] (+)= sum_k x[r, k] * w[j, k], w BF16 or F16 (n, k) with row stride ldw (a
//            linear layer's weight);
//   gemvn_*: y[r, j] (+)= sum_k x[r, k] * w[k, j], w (k, n) with row stride ldw (e.g. the absorbed
//            MLA query's per-head W_UK).
// Both are batched: item blockIdx.y starts at x + item * sx, w + item * sw and y + item * sy (sw 0
// shares one weight), so every head of an attention layer is one launch. The weights are widened in
// registers (exact) and the sums are F32, the CPU kernels' arithmetic; only the order of the
// additions differs. gemv_*: one warp per output column j; each lane reads 16 bytes of the weight
// row at a time when rows are 16-byte aligned, so a warp streams 512 contiguous bytes.
// The routed experts of a MoE layer (moe_gemv_*, at the end) use the same warp product, with the
// rows gathered by the routing that moe.cu's moe_route_plan laid out on the device.
#include "common.cuh"

#define GEMV_ROWS 8

// Weight element types: a 16-byte load unpacks into VEC floats.
template <int F16> struct W16 {
    typedef unsigned short T;
    static const int VEC = 8;
    static __device__ __forceinline__ float wide(T h) { return F16 ? f16_to_f32(h) : bf16_to_f32(h); }
    static __device__ __forceinline__ void unpack(uint4 p, float* wv) {
        unsigned int words[4] = {p.x, p.y, p.z, p.w};
        for (int q = 0; q < 4; q++) {
            wv[2 * q] = wide((unsigned short) (words[q] & 0xffffu));
            wv[2 * q + 1] = wide((unsigned short) (words[q] >> 16));
        }
    }
};
struct W32 {
    typedef float T;
    static const int VEC = 4;
    static __device__ __forceinline__ float wide(T f) { return f; }
    static __device__ __forceinline__ void unpack(uint4 p, float* wv) {
        wv[0] = __uint_as_float(p.x);
        wv[1] = __uint_as_float(p.y);
        wv[2] = __uint_as_float(p.z);
        wv[3] = __uint_as_float(p.w);
    }
};

// Whether rows of w with stride ldw all start 16-byte aligned (the vector loads of gemv_lane).
template <class W> __device__ __forceinline__ bool gemv_vec(const typename W::T* w, i64 ldw) {
    return ldw % W::VEC == 0 && (((unsigned long long) w) & 15) == 0;
}

// Rows of x: x + r * ld (a batch of rows), or x + row[r] * ld (rows gathered by a routing).
struct StridedRows {
    const float* x;
    i64 ld;
    __device__ __forceinline__ const float* operator()(int r) const { return x + (i64) r * ld; }
};
struct GatheredRows {
    const float* x;
    i64 ld;
    int row[GEMV_ROWS];
    __device__ __forceinline__ const float* operator()(int r) const { return x + (i64) row[r] * ld; }
};

// This lane's share of NW products at once: acc[q][r] = sum over the lane's k of xs(r)[k] * w[q][k]
// for r < m, each weight row read once by the warp (16 bytes a lane when vec), each x element once
// for all NW rows. The warp's lanes together cover k; warp_sum gives the products.
template <class W, int NW, class Rows>
__device__ __forceinline__ void gemv_lane(const Rows& xs, const typename W::T* const (&w)[NW], bool vec, int m, int k, int lane,
                                          float (&acc)[NW][GEMV_ROWS]) {
    for (int q = 0; q < NW; q++)
        for (int r = 0; r < GEMV_ROWS; r++) acc[q][r] = 0.f;
    int vecEnd = 0;
    if (vec) {
        vecEnd = k & ~(W::VEC - 1);
        for (int kk = lane * W::VEC; kk < vecEnd; kk += 32 * W::VEC) {
            float wv[NW][W::VEC];
            for (int q = 0; q < NW; q++) W::unpack(*reinterpret_cast<const uint4*>(w[q] + kk), wv[q]);
            for (int r = 0; r < GEMV_ROWS; r++) {
                if (r >= m) break;
                const float* xr = xs(r) + kk;
                for (int q = 0; q < NW; q++) {
                    float s = acc[q][r];
                    for (int v = 0; v < W::VEC; v++) s += xr[v] * wv[q][v];
                    acc[q][r] = s;
                }
            }
        }
    }
    for (int kk = vecEnd + lane; kk < k; kk += 32) {
        float wv[NW];
        for (int q = 0; q < NW; q++) wv[q] = W::wide(w[q][kk]);
        for (int r = 0; r < GEMV_ROWS; r++) {
            if (r >= m) break;
            float xv = xs(r)[kk];
            for (int q = 0; q < NW; q++) acc[q][r] += xv * wv[q];
        }
    }
}

// Stores the warp's products for rows r < m at out(r)[j], added to what is there when accumulate:
// the sum itself (NW 1), or SwiGLU of the two (NW 2: silu(a) * b, swiglu_f32's arithmetic); lane 0
// writes.
template <int NW, class Out>
__device__ __forceinline__ void gemv_store(float (&acc)[NW][GEMV_ROWS], int m, int lane, int j, const Out& out, int accumulate) {
    for (int r = 0; r < GEMV_ROWS; r++) {
        if (r >= m) break;
        float v = warp_sum(acc[0][r]);
        if (NW > 1) {
            float b = warp_sum(acc[NW - 1][r]);
            v = v / (1.f + expf(-v)) * b;
        }
        if (lane == 0) {
            float* o = out(r) + j;
            *o = accumulate ? *o + v : v;
        }
    }
}
struct StridedOut {
    float* y;
    i64 ld;
    __device__ __forceinline__ float* operator()(int r) const { return y + (i64) r * ld; }
};
struct GatheredOut {
    float* y;
    i64 ld;
    const int* row;
    __device__ __forceinline__ float* operator()(int r) const { return y + (i64) row[r] * ld; }
};

template <int F16>
__device__ void gemv16(const float* x, i64 ldx, const unsigned short* w, i64 ldw, float* y, i64 ldy, int m, int n, int k, int accumulate) {
    int j = (int) (((i64) blockIdx.x * blockDim.x + threadIdx.x) >> 5), lane = threadIdx.x & 31;
    if (j >= n) return;
    const unsigned short* const wr[1] = {w + (i64) j * ldw};
    float acc[1][GEMV_ROWS];
    gemv_lane<W16<F16>, 1>(StridedRows{x, ldx}, wr, gemv_vec<W16<F16>>(w, ldw), m, k, lane, acc);
    gemv_store<1>(acc, m, lane, j, StridedOut{y, ldy}, accumulate);
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) gemv_bf16(const float* x, i64 ldx, i64 sx, const unsigned short* w, i64 ldw, i64 sw, float* y, i64 ldy, i64 sy,
                                     int m, int n, int k, int accumulate) {
    pmx_grid_begin();
    i64 item = blockIdx.y;
    gemv16<0>(x + item * sx, ldx, w + item * sw, ldw, y + item * sy, ldy, m, n, k, accumulate);
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) gemv_f16(const float* x, i64 ldx, i64 sx, const unsigned short* w, i64 ldw, i64 sw, float* y, i64 ldy, i64 sy,
                                    int m, int n, int k, int accumulate) {
    pmx_grid_begin();
    i64 item = blockIdx.y;
    gemv16<1>(x + item * sx, ldx, w + item * sw, ldw, y + item * sy, ldy, m, n, k, accumulate);
}

// SwiGLU of a linear layer pair at decode, h[r, j] = silu(x[r] . gate[j]) * (x[r] . up[j]) for r < m
// (at most GEMV_ROWS) rows: both products of a column by one warp, x read once for both, in one
// launch where the composed op takes two products and a swiglu_f32. gate and up (n, k) with row
// stride ldw, F32, BF16 or F16; h (m, n) with row stride ldh.
template <class W>
__device__ void gemv_swiglu(const float* x, i64 ldx, const typename W::T* gate, const typename W::T* up, i64 ldw, float* h, i64 ldh,
                            int m, int n, int k) {
    int j = (int) (((i64) blockIdx.x * blockDim.x + threadIdx.x) >> 5), lane = threadIdx.x & 31;
    if (j >= n) return;
    const typename W::T* wr[2] = {gate + (i64) j * ldw, up + (i64) j * ldw};
    float acc[2][GEMV_ROWS];
    gemv_lane<W, 2>(StridedRows{x, ldx}, wr, gemv_vec<W>(gate, ldw) && gemv_vec<W>(up, ldw), m, k, lane, acc);
    gemv_store<2>(acc, m, lane, j, StridedOut{h, ldh}, 0);
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) gemv_swiglu_bf16(const float* x, i64 ldx, const unsigned short* gate, const unsigned short* up, i64 ldw, float* h,
                                            i64 ldh, int m, int n, int k) {
    pmx_grid_begin();
    gemv_swiglu<W16<0>>(x, ldx, gate, up, ldw, h, ldh, m, n, k);
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) gemv_swiglu_f16(const float* x, i64 ldx, const unsigned short* gate, const unsigned short* up, i64 ldw, float* h,
                                           i64 ldh, int m, int n, int k) {
    pmx_grid_begin();
    gemv_swiglu<W16<1>>(x, ldx, gate, up, ldw, h, ldh, m, n, k);
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) gemv_swiglu_f32(const float* x, i64 ldx, const float* gate, const float* up, i64 ldw, float* h, i64 ldh,
                                           int m, int n, int k) {
    pmx_grid_begin();
    gemv_swiglu<W32>(x, ldx, gate, up, ldw, h, ldh, m, n, k);
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
            float wv = W16<F16>::wide(w[(i64) kk * ldw + j]);
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

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) gemvn_bf16(const float* x, i64 ldx, i64 sx, const unsigned short* w, i64 ldw, i64 sw, float* y, i64 ldy, i64 sy,
                                      int m, int n, int k, int accumulate) {
    pmx_grid_begin();
    i64 item = blockIdx.y;
    gemvn16<0>(x + item * sx, ldx, w + item * sw, ldw, y + item * sy, ldy, m, n, k, accumulate);
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) gemvn_f16(const float* x, i64 ldx, i64 sx, const unsigned short* w, i64 ldw, i64 sw, float* y, i64 ldy, i64 sy,
                                     int m, int n, int k, int accumulate) {
    pmx_grid_begin();
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

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) gemv_bf16_grouped(GemvGroups g, i64 ldx, i64 ldw, i64 ldy, int n, int k, int accumulate) {
    pmx_grid_begin();
    int e = blockIdx.y;
    gemv16<0>(g.x[e], ldx, g.w[e], ldw, g.y[e], ldy, g.m[e], n, k, accumulate);
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) gemv_f16_grouped(GemvGroups g, i64 ldx, i64 ldw, i64 ldy, int n, int k, int accumulate) {
    pmx_grid_begin();
    int e = blockIdx.y;
    gemv16<1>(g.x[e], ldx, g.w[e], ldw, g.y[e], ldy, g.m[e], n, k, accumulate);
}

// The routed experts of a MoE layer at inference, with the routing left on the device: blockIdx.y
// is the i-th expert of the plan (moe.cu's moe_route_plan; blocks past the experts used return),
// one warp per output column j, the expert's pairs p = t * topk + slot taken GEMV_ROWS at a time,
// so each expert's weight rows are read once per GEMV_ROWS of its pairs, as the grouped gemv reads
// them. The weights are tables of device pointers, one per expert, all of one shape and row stride
// ldw, F32, BF16 or F16:
//   moe_gemv_swiglu_*: h[p, j] = silu(a) * b, a = x[t] . gate[e][j], b = x[t] . up[e][j]
//                      (x (tokens, k) with row stride ldx, h (pairs, n) with row stride ldh);
//   moe_gemv_down_*:   y[p, j] = h[p] . down[e][j] (h (pairs, k), y (pairs, n)).
// The products are gemv_*'s arithmetic, and silu(a) * b is swiglu_f32's.
template <class W, int NW>
__device__ void moe_gemv(const float* x, i64 ldx, int div, const int* plan, int experts, const typename W::T* const* w0,
                         const typename W::T* const* w1, i64 ldw, float* y, i64 ldy, int n, int k) {
    int g = blockIdx.y;
    if (g >= plan[0]) return;
    int j = (int) (((i64) blockIdx.x * blockDim.x + threadIdx.x) >> 5), lane = threadIdx.x & 31;
    if (j >= n) return;
    int e = plan[MOE_PLAN_EXPERT(experts, g)];
    int from = plan[MOE_PLAN_START(experts, g)], to = plan[MOE_PLAN_START(experts, g + 1)];
    const typename W::T* wr[NW];
    wr[0] = w0[e] + (i64) j * ldw;
    if (NW > 1) wr[NW - 1] = w1[e] + (i64) j * ldw;
    bool vec = gemv_vec<W>(w0[e], ldw) && gemv_vec<W>(w1[e], ldw);
    for (int c = from; c < to; c += GEMV_ROWS) {
        int m = min(GEMV_ROWS, to - c), pair[GEMV_ROWS];
        GatheredRows xs;
        xs.x = x;
        xs.ld = ldx;
        for (int r = 0; r < GEMV_ROWS; r++) {
            pair[r] = r < m ? plan[MOE_PLAN_PAIR(experts, c + r)] : 0;
            xs.row[r] = pair[r] / div;
        }
        float acc[NW][GEMV_ROWS];
        gemv_lane<W, NW>(xs, wr, vec, m, k, lane, acc);
        gemv_store<NW>(acc, m, lane, j, GatheredOut{y, ldy, pair}, 0);
    }
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) moe_gemv_swiglu_bf16(const float* x, i64 ldx, int topk, const int* plan, int experts, const unsigned short* const* gate,
                                                const unsigned short* const* up, i64 ldw, float* h, i64 ldh, int n, int k) {
    pmx_grid_begin();
    moe_gemv<W16<0>, 2>(x, ldx, topk, plan, experts, gate, up, ldw, h, ldh, n, k);
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) moe_gemv_swiglu_f16(const float* x, i64 ldx, int topk, const int* plan, int experts, const unsigned short* const* gate,
                                               const unsigned short* const* up, i64 ldw, float* h, i64 ldh, int n, int k) {
    pmx_grid_begin();
    moe_gemv<W16<1>, 2>(x, ldx, topk, plan, experts, gate, up, ldw, h, ldh, n, k);
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) moe_gemv_swiglu_f32(const float* x, i64 ldx, int topk, const int* plan, int experts, const float* const* gate,
                                               const float* const* up, i64 ldw, float* h, i64 ldh, int n, int k) {
    pmx_grid_begin();
    moe_gemv<W32, 2>(x, ldx, topk, plan, experts, gate, up, ldw, h, ldh, n, k);
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) moe_gemv_down_bf16(const float* h, i64 ldh, const int* plan, int experts, const unsigned short* const* down, i64 ldw,
                                              float* y, i64 ldy, int n, int k) {
    pmx_grid_begin();
    moe_gemv<W16<0>, 1>(h, ldh, 1, plan, experts, down, down, ldw, y, ldy, n, k);
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) moe_gemv_down_f16(const float* h, i64 ldh, const int* plan, int experts, const unsigned short* const* down, i64 ldw,
                                             float* y, i64 ldy, int n, int k) {
    pmx_grid_begin();
    moe_gemv<W16<1>, 1>(h, ldh, 1, plan, experts, down, down, ldw, y, ldy, n, k);
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) moe_gemv_down_f32(const float* h, i64 ldh, const int* plan, int experts, const float* const* down, i64 ldw,
                                             float* y, i64 ldy, int n, int k) {
    pmx_grid_begin();
    moe_gemv<W32, 1>(h, ldh, 1, plan, experts, down, down, ldw, y, ldy, n, k);
}
