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

// The runtime's row contract (DeviceBackend.ropeRows): the pairs (x[2i], x[2i+1]) of each row
// rotated by its table row's cos/sin. Row r of x starts at r * ldx (a narrowed view's rows read in
// place); its table row is (r / rep) % tableRows of the contiguous (tableRows, half) cos and sin, so
// one position's row serves every head without being expanded; y is contiguous (rows, 2 * half).
extern "C" __global__ void rope_rows_f32(const float* x, i64 ldx, const float* cosT, const float* sinT, i64 rep, i64 tableRows,
                                         float* y, i64 rows, i64 half) {
    GRID_STRIDE(i, rows * half) {
        i64 row = i / half, p = i - row * half;
        i64 t = ((row / rep) % tableRows) * half + p;
        float c = cosT[t], s = sinT[t];
        const float* xr = x + row * ldx + 2 * p;
        float x0 = xr[0], x1 = xr[1];
        y[2 * i] = x0 * c - x1 * s;
        y[2 * i + 1] = x0 * s + x1 * c;
    }
}
