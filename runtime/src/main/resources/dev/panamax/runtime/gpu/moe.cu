// DeepSeekMoE routing on the GPU: the weighted combine of the experts' outputs (un-permute,
// Functional.moeUnpermute) and its backward; and the gate's scoring, group-limited top-k selection
// and weights (DeepSeek-V3's Gate.forward) with their backward, which the runtime does not call yet
// (Gate.route chooses on the host from the downloaded scores, since the host sizes each expert's
// product from the choice anyway). The permute itself is index_select_rows (embedding.cu) with
// positions from a counting sort on the host.
#include "common.cuh"

#define MAX_EXPERTS 256
#define MAX_TOPK 16

// logits (tokens, experts) -> idx, weights (tokens, topk). scoring: 0 softmax, 1 sigmoid.
// bias (experts) or null. Groups: experts split into nGroups equal groups, of which topkGroups
// survive, ranked by their best score (no bias) or the sum of their two best (with bias).
extern "C" __global__ void gate_topk_f32(const float* logits, const float* bias, int* idx, float* weights, int tokens, int experts,
                                         int topk, int nGroups, int topkGroups, int scoring, float routeScale) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= tokens) return;
    const float* l = logits + (i64) t * experts;
    float orig[MAX_EXPERTS], sc[MAX_EXPERTS];
    if (scoring == 0) {
        float m = NEG_INF, s = 0.f;
        for (int e = 0; e < experts; e++) m = fmaxf(m, l[e]);
        for (int e = 0; e < experts; e++) s += expf(l[e] - m);
        for (int e = 0; e < experts; e++) orig[e] = expf(l[e] - m) / s;
    } else {
        for (int e = 0; e < experts; e++) orig[e] = 1.f / (1.f + expf(-l[e]));
    }
    for (int e = 0; e < experts; e++) sc[e] = bias ? orig[e] + bias[e] : orig[e];
    if (nGroups > 1) {
        int per = experts / nGroups;
        float gs[MAX_EXPERTS];
        for (int g = 0; g < nGroups; g++) {
            float a = NEG_INF, b = NEG_INF;  // best and second best
            for (int e = g * per; e < (g + 1) * per; e++) {
                float v = sc[e];
                if (v > a) { b = a; a = v; } else if (v > b) b = v;
            }
            gs[g] = bias ? a + b : a;
        }
        bool keep[MAX_EXPERTS];
        for (int g = 0; g < nGroups; g++) keep[g] = false;
        for (int r = 0; r < topkGroups; r++) {
            int best = -1;
            for (int g = 0; g < nGroups; g++) if (!keep[g] && (best < 0 || gs[g] > gs[best])) best = g;
            keep[best] = true;
        }
        for (int e = 0; e < experts; e++) if (!keep[e / per]) sc[e] = NEG_INF;
    }
    float sum = 0.f;
    int chosen[MAX_TOPK];
    for (int r = 0; r < topk; r++) {
        int best = -1;
        for (int e = 0; e < experts; e++) {
            bool taken = false;
            for (int q = 0; q < r; q++) taken |= chosen[q] == e;
            if (!taken && (best < 0 || sc[e] > sc[best])) best = e;
        }
        chosen[r] = best;
        sum += orig[best];
    }
    for (int r = 0; r < topk; r++) {
        float w = orig[chosen[r]];
        if (scoring == 1) w /= sum;
        idx[(i64) t * topk + r] = chosen[r];
        weights[(i64) t * topk + r] = w * routeScale;
    }
}

// d loss / d logits from d loss / d weights (the selection itself has no gradient)
extern "C" __global__ void gate_topk_backward_f32(const float* logits, const int* idx, const float* gweights, float* glogits,
                                                  int tokens, int experts, int topk, int scoring, float routeScale) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= tokens) return;
    const float* l = logits + (i64) t * experts;
    float* gl = glogits + (i64) t * experts;
    const int* ix = idx + (i64) t * topk;
    const float* gw = gweights + (i64) t * topk;
    if (scoring == 1) {
        // w_j = rs * s_j / S, S = sum of chosen s: dL/ds_j = rs * (g_j - sum_i g_i s_i / S) / S; ds/dl = s (1 - s)
        float S = 0.f, gs = 0.f;
        for (int r = 0; r < topk; r++) {
            float s = 1.f / (1.f + expf(-l[ix[r]]));
            S += s;
            gs += gw[r] * s;
        }
        for (int e = 0; e < experts; e++) gl[e] = 0.f;
        for (int r = 0; r < topk; r++) {
            float s = 1.f / (1.f + expf(-l[ix[r]]));
            gl[ix[r]] += routeScale * (gw[r] - gs / S) / S * s * (1.f - s);
        }
    } else {
        // w_j = rs * p_j: dL/dp = rs * g on the chosen experts, then the softmax backward
        float m = NEG_INF, z = 0.f;
        for (int e = 0; e < experts; e++) m = fmaxf(m, l[e]);
        for (int e = 0; e < experts; e++) z += expf(l[e] - m);
        float dot = 0.f;
        for (int r = 0; r < topk; r++) dot += routeScale * gw[r] * expf(l[ix[r]] - m) / z;
        for (int e = 0; e < experts; e++) {
            float p = expf(l[e] - m) / z, gp = 0.f;
            for (int r = 0; r < topk; r++) if (ix[r] == e) gp += routeScale * gw[r];
            gl[e] = p * (gp - dot);
        }
    }
}

// out[t, :] = sum_j w[t, j] * y[pos[t, j], :] (the experts' rows back in token order, summed in slot
// order: deterministic, unlike a scatter-add)
extern "C" __global__ void moe_unpermute_f32(const float* y, const i64* pos, const float* w, float* out, i64 tokens, int topk, i64 dim) {
    GRID_STRIDE(i, tokens * dim) {
        i64 t = i / dim;
        i64 d = i % dim;
        float s = 0.f;
        for (int j = 0; j < topk; j++) s += w[t * topk + j] * y[(i64) pos[t * topk + j] * dim + d];
        out[i] = s;
    }
}

// gy[pos[t, j], :] = w[t, j] * gout[t, :]; gw[t, j] = gout[t, :] . y[pos[t, j], :] (one block per token;
// pos is a permutation, so every row of gy is written once)
extern "C" __global__ void moe_unpermute_backward_f32(const float* y, const i64* pos, const float* w, const float* gout,
                                                      float* gy, float* gw, int topk, i64 dim) {
    i64 t = blockIdx.x;
    for (int j = 0; j < topk; j++) {
        i64 row = pos[t * topk + j];
        float wj = w[t * topk + j], s = 0.f;
        for (i64 d = threadIdx.x; d < dim; d += blockDim.x) {
            float g = gout[t * dim + d];
            gy[row * dim + d] = wj * g;
            s += g * y[row * dim + d];
        }
        s = block_sum(s);
        if (threadIdx.x == 0) gw[t * topk + j] = s;
    }
}
