// Row-wise reductions over the last dimension (one block per row): sum, max/argmax, softmax and
// log-softmax (stable; -inf entries are masks), RMSNorm, fused cross-entropy, and their backward.
#include "common.cuh"

extern "C" __global__ void sum_rows_f32(const float* x, float* y, int cols) {
    const float* r = x + (i64) blockIdx.x * cols;
    float s = 0.f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += r[j];
    s = block_sum(s);
    if (threadIdx.x == 0) y[blockIdx.x] = s;
}

// Whether (v, j) beats (best, bi) for argmax: the first NaN wins, else the first maximum
// (the CPU kernels' rule); bi < 0 means "nothing yet".
__device__ __forceinline__ bool beats(float v, int j, float best, int bi) {
    if (bi < 0) return true;
    if (j < 0) return false;
    bool vn = v != v, bn = best != best;
    if (vn != bn) return vn;
    if (vn || v == best) return j < bi;
    return v > best;
}

// the maximum of each row and its index (blockDim.x a power of two, at most 1024)
extern "C" __global__ void argmax_rows_f32(const float* x, float* maxOut, int* idxOut, int cols) {
    const float* r = x + (i64) blockIdx.x * cols;
    float best = NEG_INF;
    int bi = -1;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        if (beats(r[j], j, best, bi)) { best = r[j]; bi = j; }
    }
    __shared__ float sv[1024];
    __shared__ int si[1024];
    sv[threadIdx.x] = best;
    si[threadIdx.x] = bi;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s && beats(sv[threadIdx.x + s], si[threadIdx.x + s], sv[threadIdx.x], si[threadIdx.x])) {
            sv[threadIdx.x] = sv[threadIdx.x + s];
            si[threadIdx.x] = si[threadIdx.x + s];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) { maxOut[blockIdx.x] = sv[0]; idxOut[blockIdx.x] = si[0]; }
}

// y = softmax(x) (log = 0) or log_softmax(x) (log = 1) over each row
extern "C" __global__ void softmax_rows_f32(const float* x, float* y, int cols, int log) {
    const float* r = x + (i64) blockIdx.x * cols;
    float* o = y + (i64) blockIdx.x * cols;
    float m = NEG_INF;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, r[j]);
    m = block_max(m);
    float s = 0.f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += expf(r[j] - m);
    s = block_sum(s);
    if (log) {
        float lse = m + logf(s);
        for (int j = threadIdx.x; j < cols; j += blockDim.x) o[j] = r[j] - lse;
    } else {
        float inv = 1.f / s;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) o[j] = expf(r[j] - m) * inv;
    }
}

// softmax: gx = y * (gy - sum(gy * y)); log-softmax: gx = gy - exp(y) * sum(gy)
extern "C" __global__ void softmax_backward_rows_f32(const float* y, const float* gy, float* gx, int cols, int log) {
    i64 base = (i64) blockIdx.x * cols;
    float s = 0.f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += log ? gy[base + j] : gy[base + j] * y[base + j];
    s = block_sum(s);
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float yv = y[base + j], g = gy[base + j];
        gx[base + j] = log ? g - expf(yv) * s : yv * (g - s);
    }
}

// y = x * rsqrt(mean(x^2) + eps) * w; rstd saved per row for the backward
extern "C" __global__ void rmsnorm_f32(const float* x, const float* w, float* y, float* rstd, int cols, float eps) {
    i64 base = (i64) blockIdx.x * cols;
    float r = row_rms_scale(x + base, cols, eps);
    if (threadIdx.x == 0) rstd[blockIdx.x] = r;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) y[base + j] = x[base + j] * r * w[j];
}

// The residual add and the next RMSNorm in one pass, at inference: h = x + d, then
// y = h * rsqrt(mean(h^2) + eps) * w, as binary_f32's add then rmsnorm_f32 compute them (each
// thread reads back only the elements of h it wrote)
extern "C" __global__ void add_rmsnorm_f32(const float* x, const float* d, const float* w, float* h, float* y, int cols, float eps) {
    i64 base = (i64) blockIdx.x * cols;
    float s = 0.f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float v = x[base + j] + d[base + j];
        h[base + j] = v;
        s += v * v;
    }
    s = block_sum(s);
    float r = rsqrtf(s / cols + eps);
    for (int j = threadIdx.x; j < cols; j += blockDim.x) y[base + j] = h[base + j] * r * w[j];
}

// gx = r * (gy*w - xhat * mean(gy*w*xhat)), xhat = x*r, r = rsqrt(mean(x^2) + eps) recomputed from
// x; gw (null when not wanted) += gy * xhat, atomically over the rows
extern "C" __global__ void rmsnorm_backward_f32(const float* x, const float* w, const float* gy, float* gx, float* gw, int cols, float eps) {
    i64 base = (i64) blockIdx.x * cols;
    float r = row_rms_scale(x + base, cols, eps);
    float s = 0.f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += gy[base + j] * w[j] * x[base + j] * r;
    s = block_sum(s) / cols;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float xh = x[base + j] * r, g = gy[base + j];
        gx[base + j] = r * (g * w[j] - xh * s);
        if (gw) atomicAdd(gw + j, g * xh);
    }
}

// per-row loss = logsumexp(logits) - logits[target]; rows whose target is ignoreIndex give 0
// (targets are checked in range on the host). lse is kept for the backward.
extern "C" __global__ void cross_entropy_f32(const float* logits, const i64* targets, float* loss, float* lse, int cols, i64 ignoreIndex) {
    i64 base = (i64) blockIdx.x * cols;
    float m = NEG_INF;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, logits[base + j]);
    m = block_max(m);
    float s = 0.f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += expf(logits[base + j] - m);
    s = block_sum(s);
    if (threadIdx.x == 0) {
        i64 t = targets[blockIdx.x];
        float l = m + logf(s);
        lse[blockIdx.x] = l;
        loss[blockIdx.x] = (t == ignoreIndex) ? 0.f : l - logits[base + t];
    }
}

// glogits = scale * gloss[row] * (softmax(logits) - onehot(target)); zero on ignored rows
extern "C" __global__ void cross_entropy_backward_f32(const float* logits, const i64* targets, const float* lse, const float* gloss,
                                                      float* glogits, int cols, i64 ignoreIndex, float scale) {
    i64 base = (i64) blockIdx.x * cols;
    i64 t = targets[blockIdx.x];
    float g = (t == ignoreIndex) ? 0.f : gloss[blockIdx.x] * scale, l = lse[blockIdx.x];
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float p = expf(logits[base + j] - l);
        glogits[base + j] = g * (p - (j == t ? 1.f : 0.f));
    }
}
