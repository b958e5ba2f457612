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
