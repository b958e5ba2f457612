// Row-wise reductions over the last dimension (one block per row): sum, max/argmax, softmax and
// log-softmax (stable; -inf entries are masks), RMSNorm, fused cross-entropy, and their backward.
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(ROW_THREADS) sum_rows_f32(const float* x, float* y, int cols) {
    pmx_grid_begin();
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

// the maximum of each row (into maxOut) or its index (into idxOut, I64), each output null where not
// wanted (blockDim.x a power of two, at most 1024)
extern "C" __global__ void __launch_bounds__(ROW_THREADS) argmax_rows_f32(const float* x, float* maxOut, i64* idxOut, int cols) {
    pmx_grid_begin();
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
    if (threadIdx.x == 0) {
        if (maxOut) maxOut[blockIdx.x] = sv[0];
        if (idxOut) idxOut[blockIdx.x] = si[0];
    }
}

// y = softmax(x) (log = 0) or log_softmax(x) (log = 1) over each row
extern "C" __global__ void __launch_bounds__(ROW_THREADS) softmax_rows_f32(const float* x, float* y, int cols, int log) {
    pmx_grid_begin();
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
extern "C" __global__ void __launch_bounds__(ROW_THREADS) softmax_backward_rows_f32(const float* y, const float* gy, float* gx, int cols, int log) {
    pmx_grid_begin();
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
extern "C" __global__ void __launch_bounds__(ROW_THREADS) rmsnorm_f32(const float* x, const float* w, float* y, float* rstd, int cols, float eps) {
    pmx_grid_begin();
    i64 base = (i64) blockIdx.x * cols;
    float r = row_rms_scale(x + base, cols, eps);
    if (threadIdx.x == 0) rstd[blockIdx.x] = r;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) y[base + j] = x[base + j] * r * w[j];
}

// The residual add and the next RMSNorm in one pass, at inference: h = x + d, then
// y = h * rsqrt(mean(h^2) + eps) * w, as binary_f32's add then rmsnorm_f32 compute them (each
// thread reads back only the elements of h it wrote)
extern "C" __global__ void __launch_bounds__(ROW_THREADS) add_rmsnorm_f32(const float* x, const float* d, const float* w, float* h, float* y, int cols, float eps) {
    pmx_grid_begin();
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
extern "C" __global__ void __launch_bounds__(ROW_THREADS) rmsnorm_backward_f32(const float* x, const float* w, const float* gy, float* gx, float* gw, int cols, float eps) {
    pmx_grid_begin();
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
extern "C" __global__ void __launch_bounds__(ROW_THREADS) cross_entropy_f32(const float* logits, const i64* targets, float* loss, float* lse, int cols, i64 ignoreIndex) {
    pmx_grid_begin();
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
extern "C" __global__ void __launch_bounds__(ROW_THREADS) cross_entropy_backward_f32(const float* logits, const i64* targets, const float* lse, const float* gloss,
                                                      float* glogits, int cols, i64 ignoreIndex, float scale) {
    pmx_grid_begin();
    i64 base = (i64) blockIdx.x * cols;
    i64 t = targets[blockIdx.x];
    float g = (t == ignoreIndex) ? 0.f : gloss[blockIdx.x] * scale, l = lse[blockIdx.x];
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float p = expf(logits[base + j] - l);
        glogits[base + j] = g * (p - (j == t ? 1.f : 0.f));
    }
}

// Row r's uniform in [0, 1): the (r + 1)-th nextDouble() of Java's new SplittableRandom(key), its
// seed after r + 1 steps of the golden gamma through the generator's mixing function (Sampling.uniform)
__device__ __forceinline__ double row_uniform(unsigned long long key, long long row) {
    unsigned long long z = key + (unsigned long long) (row + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double) (z >> 11) / 9007199254740992.0;   // times 2^-53, exactly
}

// A token's weight exp((v - m) / temperature) in double, 0 for a NaN logit (Sampling.weight)
__device__ __forceinline__ double draw_weight(float v, float m, double temperature) {
    double p = exp(((double) v - (double) m) / temperature);
    return p == p ? p : 0.0;
}

// The first of n weights at which the running sum passes *target, *target then made relative to
// it; where rounding leaves none, the last positive weight, and *target becomes +infinity so that
// the levels below take their last positive weight too (-1 when no weight is positive)
__device__ __forceinline__ int draw_walk(const double* w, int n, double* target) {
    double cum = 0.0;
    int last = -1;
    for (int i = 0; i < n; i++) {
        if (w[i] > 0.0) {
            last = i;
            if (cum + w[i] > *target) { *target -= cum; return i; }
            cum += w[i];
        }
    }
    *target = __longlong_as_double(0x7ff0000000000000LL);
    return last;
}

// At most 512 threads a row: the walk's doubles take more than the 64 registers a thread of 1,024 may have
#define SAMPLE_THREADS 512

// Functional.sampleRows: one token per row of logits (I64), drawn from softmax(x / temperature)
// by the inverse transform over the ids in order, with the row's uniform; temperature 0, or an
// infinite maximum, gives the lowest id of the maximum (0 for a row of NaN). One block per row
// (blockDim.x a power of two, 32 to SAMPLE_THREADS): thread t sums the weights of the t-th contiguous chunk
// of the row, then thread 0 walks the sums of 32 groups of chunks, the chunks of its group, and the
// weights of its chunk.
extern "C" __global__ void __launch_bounds__(SAMPLE_THREADS) sample_rows_f32(const float* x, i64* out, int cols, double temperature, unsigned long long key) {
    pmx_grid_begin();
    const float* r = x + (i64) blockIdx.x * cols;
    float m = NEG_INF;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, r[j]);   // NaN never
    m = block_max(m);
    __shared__ double part[SAMPLE_THREADS];
    __shared__ double group[32];
    __shared__ int first[32];
    if (temperature == 0.0 || isinf(m)) {
        int f = cols;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) if (r[j] == m) { f = j; break; }
        for (int o = 16; o > 0; o >>= 1) f = min(f, __shfl_xor_sync(0xffffffffu, f, o));
        if ((threadIdx.x & 31) == 0) first[threadIdx.x >> 5] = f;
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int w = 1; w < (int) (blockDim.x >> 5); w++) f = min(f, first[w]);
            out[blockIdx.x] = f == cols ? 0 : f;
        }
        return;
    }
    int chunk = (cols + blockDim.x - 1) / blockDim.x;
    int lo = min(cols, (int) threadIdx.x * chunk), hi = min(cols, lo + chunk);
    double s = 0.0;
    for (int j = lo; j < hi; j++) s += draw_weight(r[j], m, temperature);
    part[threadIdx.x] = s;
    __syncthreads();
    int per = blockDim.x >> 5;   // chunks per group
    if (threadIdx.x < 32) {
        double g = 0.0;
        for (int i = 0; i < per; i++) g += part[threadIdx.x * per + i];
        group[threadIdx.x] = g;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        double total = 0.0;
        for (int i = 0; i < 32; i++) total += group[i];
        double target = row_uniform(key, blockIdx.x) * total;
        int gi = draw_walk(group, 32, &target);   // the largest logit weighs 1: some group is positive
        int ci = gi * per + draw_walk(part + gi * per, per, &target);
        int c0 = ci * chunk, c1 = min(cols, c0 + chunk);
        double cum = 0.0;
        i64 token = -1, last = c0;
        for (int j = c0; j < c1; j++) {
            double p = draw_weight(r[j], m, temperature);
            if (p > 0.0) {
                cum += p;
                last = j;
                if (cum > target) { token = j; break; }
            }
        }
        out[blockIdx.x] = token >= 0 ? token : last;
    }
}

// v of lane (this lane ^ o), moved as two 32-bit halves (as the hardware moves a double)
__device__ __forceinline__ double shfl_xor_double(double v, int o) {
    long long b = __double_as_longlong(v);
    unsigned int lo = __shfl_xor_sync(0xffffffffu, (unsigned int) b, o), hi = __shfl_xor_sync(0xffffffffu, (unsigned int) (b >> 32), o);
    return __longlong_as_double((long long) (((unsigned long long) hi << 32) | lo));
}

// The sum of v over the block in double, every thread getting it (blockDim.x a multiple of 32)
__device__ __forceinline__ double block_sum_double(double v) {
    __shared__ double part[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v += shfl_xor_double(v, o);
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = lane < (int) (blockDim.x >> 5) ? part[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) v += shfl_xor_double(v, o);
    return v;
}

// Functional.softmaxDenominators: each row's sum of draw_weight (m the row's largest logit that is
// not NaN), in double, its bits into out (I64: devices hold no F64). One block a row.
extern "C" __global__ void __launch_bounds__(ROW_THREADS) softmax_total_rows_f32(const float* x, i64* out, int cols, double temperature) {
    pmx_grid_begin();
    const float* r = x + (i64) blockIdx.x * cols;
    float m = NEG_INF;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, r[j]);   // NaN never
    m = block_max(m);
    double s = 0.0;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += draw_weight(r[j], m, temperature);
    s = block_sum_double(s);
    if (threadIdx.x == 0) out[blockIdx.x] = __double_as_longlong(s);
}

// Tensor.topk's order as an unsigned key, ascending: NaN first (every NaN alike), then the values
// from the largest down (of the negated values for the smallest), -0.0 as 0.0; equal keys rank by
// the lower index
__device__ __forceinline__ unsigned int topk_key(float v, int largest) {
    if (v != v) return 0u;
    if (!largest) v = -v;
    unsigned int b = v == 0.f ? 0u : __float_as_uint(v);
    unsigned int ascending = (b & 0x80000000u) ? ~b : (b | 0x80000000u);   // unsigned order = float order
    return ~ascending;   // never 0: that would be a NaN's bits
}

#define TOPK_MAX 1024

// Tensor.topk over the last dim: the k (1 to TOPK_MAX) first of each row of cols in topk_key's
// order, sorted, their values into vals and indices into idx (rows, k). One block a row: a radix
// select (8 bits a pass, most significant first) finds the k-th key T and how many of the keys
// equal to T to take; the keys below T are gathered in any order and those equal to T in index
// order, the lowest first; then a bitonic sort of (key, index) in shared memory.
extern "C" __global__ void __launch_bounds__(ROW_THREADS) topk_rows_f32(const float* x, float* vals, i64* idx, int cols, int k, int largest) {
    pmx_grid_begin();
    const float* r = x + (i64) blockIdx.x * cols;
    __shared__ unsigned int hist[256];
    __shared__ unsigned int prefix, remaining;
    __shared__ int count, taken;
    __shared__ int warpFlags[32];
    __shared__ unsigned long long cand[TOPK_MAX];
    if (threadIdx.x == 0) { prefix = 0u; remaining = (unsigned int) k; count = 0; taken = 0; }
    unsigned int mask = 0u;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int i = threadIdx.x; i < 256; i += blockDim.x) hist[i] = 0u;
        __syncthreads();
        unsigned int p = prefix;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) {
            unsigned int key = topk_key(r[j], largest);
            if ((key & mask) == p) atomicAdd(&hist[(key >> shift) & 255u], 1u);
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            unsigned int cum = 0u;
            for (int bin = 0; bin < 256; bin++) {
                if (cum + hist[bin] >= remaining) { prefix = p | ((unsigned int) bin << shift); remaining -= cum; break; }
                cum += hist[bin];
            }
        }
        mask |= 255u << shift;
        __syncthreads();
    }
    unsigned int t = prefix;
    int need = (int) remaining, below = k - need;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        unsigned int key = topk_key(r[j], largest);
        if (key < t) cand[atomicAdd(&count, 1)] = ((unsigned long long) key << 32) | (unsigned int) j;
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    for (int base = 0; base < cols; base += blockDim.x) {   // the keys equal to t, in index order
        int j = base + threadIdx.x;
        bool flag = j < cols && topk_key(r[j], largest) == t;
        unsigned int ballot = __ballot_sync(0xffffffffu, flag);
        if (lane == 0) warpFlags[warp] = __popc(ballot);
        __syncthreads();
        int rank = __popc(ballot & ((1u << lane) - 1u)), total = 0;
        for (int w = 0; w < warps; w++) {
            if (w < warp) rank += warpFlags[w];
            total += warpFlags[w];
        }
        int at = taken + rank;
        if (flag && at < need) cand[below + at] = ((unsigned long long) t << 32) | (unsigned int) j;
        __syncthreads();
        if (threadIdx.x == 0) taken += total;
        __syncthreads();
        if (taken >= need) break;
    }
    int size = 1;
    while (size < k) size <<= 1;
    for (int i = k + threadIdx.x; i < size; i += blockDim.x) cand[i] = ~0ull;
    __syncthreads();
    for (int span = 2; span <= size; span <<= 1) {
        for (int stride = span >> 1; stride > 0; stride >>= 1) {
            for (int i = threadIdx.x; i < size; i += blockDim.x) {
                int j = i ^ stride;
                if (j > i) {
                    unsigned long long a = cand[i], b = cand[j];
                    if ((a > b) == ((i & span) == 0)) { cand[i] = b; cand[j] = a; }
                }
            }
            __syncthreads();
        }
    }
    for (int i = threadIdx.x; i < k; i += blockDim.x) {
        int j = (int) (cand[i] & 0xffffffffu);
        vals[(i64) blockIdx.x * k + i] = r[j];
        idx[(i64) blockIdx.x * k + i] = j;
    }
}
