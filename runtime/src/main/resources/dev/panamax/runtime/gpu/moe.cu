// DeepSeekMoE routing on the GPU (Functional.moeGate, Functional.moeUnpermute): the gate's scoring,
// group-limited top-k choice and weights (DeepSeek-V3's Gate.forward), the weighted combine of the
// experts' outputs back onto their tokens (un-permute), and the backward of both. When training,
// the host reads back only the chosen indices, to size each expert's product; the permute itself is
// index_select_rows (embedding.cu) with positions from a counting sort on the host. At inference
// the routing stays on the device: moe_route_plan groups the pairs by expert there, gemv.cu's
// moe_gemv_* run the experts from that plan, and moe_combine_f32 weights their rows onto the tokens.
#include "common.cuh"

#define MAX_EXPERTS 256
#define MAX_TOPK 16

// logits (tokens, experts) -> idx, weights (tokens, topk). scoring: 0 softmax, 1 sigmoid. bias
// (experts) or null, added for the choice only. Groups: experts split into nGroups equal groups, of
// which topkGroups survive, ranked by their best score (no bias) or the sum of their two best (with
// bias); ties go to the lower index. Weights: the unbiased scores of the chosen experts, divided by
// their sum when norm, times routeScale. One block per token: the block loads the token's logits
// into shared memory, and its first thread makes the (sequential, small) choice there, so that no
// thread needs kilobytes of local memory.
extern "C" __global__ void __launch_bounds__(WARP_THREADS) gate_topk_f32(const float* logits, const float* bias, int* idx, float* weights, int experts,
                                         int topk, int nGroups, int topkGroups, int scoring, int norm, float routeScale) {
    pmx_grid_begin();
    __shared__ float orig[MAX_EXPERTS], sc[MAX_EXPERTS], gs[MAX_EXPERTS];
    __shared__ bool keep[MAX_EXPERTS];
    i64 t = blockIdx.x;
    const float* l = logits + t * experts;
    for (int e = threadIdx.x; e < experts; e += blockDim.x) orig[e] = l[e];
    __syncthreads();
    if (threadIdx.x != 0) return;
    if (scoring == 0) {
        float m = NEG_INF, s = 0.f;
        for (int e = 0; e < experts; e++) m = fmaxf(m, orig[e]);
        for (int e = 0; e < experts; e++) s += expf(orig[e] - m);
        for (int e = 0; e < experts; e++) orig[e] = expf(orig[e] - m) / s;
    } else {
        for (int e = 0; e < experts; e++) orig[e] = 1.f / (1.f + expf(-orig[e]));
    }
    for (int e = 0; e < experts; e++) sc[e] = bias ? orig[e] + bias[e] : orig[e];
    if (nGroups > 1) {
        int per = experts / nGroups;
        for (int g = 0; g < nGroups; g++) {
            float a = NEG_INF, b = NEG_INF;  // best and second best
            for (int e = g * per; e < (g + 1) * per; e++) {
                float v = sc[e];
                if (v > a) { b = a; a = v; } else if (v > b) b = v;
            }
            gs[g] = bias ? a + b : a;
            keep[g] = false;
        }
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
        if (norm) w /= sum;
        idx[t * topk + r] = chosen[r];
        weights[t * topk + r] = w * routeScale;
    }
}

// d loss / d logits from d loss / d weights (the choice itself has no gradient). With s_j the chosen
// scores and g_j the weights' gradient: d/ds_j = rs (g_j - sum_i g_i s_i / S) / S when normalised
// (S = sum of s), else rs g_j; then through the sigmoid (s (1 - s)) or the softmax over all experts.
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) gate_topk_backward_f32(const float* logits, const int* idx, const float* gweights, float* glogits,
                                                  int tokens, int experts, int topk, int scoring, int norm, float routeScale) {
    pmx_grid_begin();
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= tokens) return;
    const float* l = logits + (i64) t * experts;
    float* gl = glogits + (i64) t * experts;
    const int* ix = idx + (i64) t * topk;
    const float* gw = gweights + (i64) t * topk;
    float m = NEG_INF, z = 0.f;
    if (scoring == 0) {
        for (int e = 0; e < experts; e++) m = fmaxf(m, l[e]);
        for (int e = 0; e < experts; e++) z += expf(l[e] - m);
    }
    float s[MAX_TOPK], gs[MAX_TOPK];
    float S = 0.f, dot = 0.f;
    for (int r = 0; r < topk; r++) {
        s[r] = scoring == 1 ? 1.f / (1.f + expf(-l[ix[r]])) : expf(l[ix[r]] - m) / z;
        S += s[r];
        dot += gw[r] * s[r];
    }
    for (int r = 0; r < topk; r++) gs[r] = norm ? routeScale * (gw[r] - dot / S) / S : routeScale * gw[r];
    if (scoring == 1) {
        for (int e = 0; e < experts; e++) gl[e] = 0.f;
        for (int r = 0; r < topk; r++) gl[ix[r]] += gs[r] * s[r] * (1.f - s[r]);
    } else {
        float sp = 0.f;
        for (int r = 0; r < topk; r++) sp += gs[r] * s[r];
        for (int e = 0; e < experts; e++) {
            float p = expf(l[e] - m) / z, gp = 0.f;
            for (int r = 0; r < topk; r++) if (ix[r] == e) gp += gs[r];
            gl[e] = p * (gp - sp);
        }
    }
}

// out[t, :] = sum_j w[t, j] * y[pos[t, j], :] (the experts' rows back in token order, summed in slot
// order: deterministic, unlike a scatter-add)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) moe_unpermute_f32(const float* y, const i64* pos, const float* w, float* out, i64 tokens, int topk, i64 dim) {
    pmx_grid_begin();
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
extern "C" __global__ void __launch_bounds__(ROW_THREADS) moe_unpermute_backward_f32(const float* y, const i64* pos, const float* w, const float* gout,
                                                      float* gy, float* gw, int topk, i64 dim) {
    pmx_grid_begin();
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

// ---- the routed experts at inference, the routing left on the device (RoutedExperts) ----

// The plan (common.cuh's MOE_PLAN_*) of pairs p < pairs whose experts are chosen[p]; one block,
// blockDim.x a multiple of 32 (at most 1024). Each warp takes experts e = warp, warp + warps, ...
// and finds their pairs by ballots over chosen, 32 pairs at a time, so the pairs of an expert are
// listed in ascending order and the plan does not depend on thread timing; warp 0 turns the counts
// into the list of experts used and their starts (a warp scan over 32 runs of experts). A pair whose
// expert lies outside [0, experts) is in no group (moe_combine_f32 leaves it out).
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) moe_route_plan(const int* chosen, int pairs, int experts, int* plan) {
    pmx_grid_begin();
    __shared__ int count[MAX_EXPERTS], start[MAX_EXPERTS];
    if (experts > MAX_EXPERTS || (blockDim.x & 31) != 0) __trap();   // the shared arrays and the ballots are sized for it
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int e = warp; e < experts; e += warps) {
        int c = 0;
        for (int base = 0; base < pairs; base += 32) {
            int p = base + lane;
            c += __popc(__ballot_sync(0xffffffffu, p < pairs && chosen[p] == e));
        }
        if (lane == 0) count[e] = c;
    }
    __syncthreads();
    if (warp == 0) {
        int per = (experts + 31) / 32, lo = min(lane * per, experts), hi = min(lo + per, experts);
        int sum = 0, used = 0;
        for (int e = lo; e < hi; e++) {
            sum += count[e];
            used += count[e] > 0;
        }
        int sums = sum, useds = used;   // inclusive scans over the lanes
        for (int o = 1; o < 32; o <<= 1) {
            int s = __shfl_up_sync(0xffffffffu, sums, o), u = __shfl_up_sync(0xffffffffu, useds, o);
            if (lane >= o) {
                sums += s;
                useds += u;
            }
        }
        int at = sums - sum, i = useds - used;
        for (int e = lo; e < hi; e++) {
            if (count[e] == 0) continue;
            plan[MOE_PLAN_EXPERT(experts, i)] = e;
            plan[MOE_PLAN_START(experts, i)] = at;
            start[e] = at;
            at += count[e];
            i++;
        }
        if (lane == 31) {
            plan[0] = useds;
            plan[MOE_PLAN_START(experts, useds)] = sums;
        }
    }
    __syncthreads();
    for (int e = warp; e < experts; e += warps) {
        if (count[e] == 0) continue;
        int at = start[e];
        for (int base = 0; base < pairs; base += 32) {
            int p = base + lane;
            bool hit = p < pairs && chosen[p] == e;
            unsigned int ballot = __ballot_sync(0xffffffffu, hit);
            if (hit) plan[MOE_PLAN_PAIR(experts, at + __popc(ballot & ((1u << lane) - 1u)))] = p;
            at += __popc(ballot);
        }
    }
}

// out[t, :] = sum_j w[t, j] * y[t * topk + j, :] (+ base[t, :]): the experts' rows, in pair order,
// weighted onto their tokens in slot order, then the shared experts' output added (base may be
// null): moe_unpermute_f32's arithmetic with the identity permutation, then an add. A pair whose
// expert lies outside [0, experts) adds nothing.
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) moe_combine_f32(const float* y, const int* chosen, int experts, const float* w, const float* base, float* out,
                                           i64 tokens, int topk, i64 dim) {
    pmx_grid_begin();
    GRID_STRIDE(i, tokens * dim) {
        i64 t = i / dim;
        i64 d = i % dim;
        float s = 0.f;
        for (int j = 0; j < topk; j++) {
            int e = chosen[t * topk + j];
            if (e >= 0 && e < experts) s += w[t * topk + j] * y[(t * topk + j) * dim + d];
        }
        out[i] = base ? s + base[i] : s;
    }
}
