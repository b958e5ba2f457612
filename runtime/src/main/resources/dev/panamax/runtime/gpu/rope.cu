// Rotary embedding in the interleaved-pair convention of DeepSeek's reference code: the pair
// (x[2i], x[2i+1]) is rotated by the angle pos * freq[i]. x is (tokens, heads, dim) contiguous;
// cos/sin are (maxPos, dim/2) tables; positions[t] gives each token's position.
#include "common.cuh"

extern "C" __global__ void rope_f32(const float* x, float* y, const float* cosT, const float* sinT, const int* positions,
                                    int tokens, int heads, int dim, int inverse) {
    i64 pairs = (i64) tokens * heads * (dim / 2);
    GRID_STRIDE(i, pairs) {
        int half = dim / 2;
        int p = (int) (i % half);
        i64 th = i / half;
        int t = (int) (th / heads);
        i64 tab = (i64) positions[t] * half + p;
        float c = cosT[tab], s = inverse ? -sinT[tab] : sinT[tab];
        i64 at = th * dim + 2 * p;
        float a = x[at], b = x[at + 1];
        y[at] = a * c - b * s;
        y[at + 1] = a * s + b * c;
    }
}

// The runtime's row contract (ScalarKernels.ropeRows): pairs (x[2i], x[2i+1]) of each row rotated
// by the row's own cos/sin (rows, half), already expanded by the caller.
extern "C" __global__ void rope_rows_f32(const float* x, const float* cosT, const float* sinT, float* y, i64 rows, i64 half) {
    GRID_STRIDE(i, rows * half) {
        float c = cosT[i], s = sinT[i];
        i64 p = 2 * i;
        float x0 = x[p], x1 = x[p + 1];
        y[p] = x0 * c - x1 * s;
        y[p + 1] = x0 * s + x1 * c;
    }
}
