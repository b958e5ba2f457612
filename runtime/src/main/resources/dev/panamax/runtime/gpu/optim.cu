// Fused optimiser steps, one thread per element, in the arithmetic order of the host loops
// (OptimizerKernels.adamwHost / sgdHost): every product and sum is rounded on its own (the _rn
// intrinsics keep the compiler from contracting them into FMAs), so a step on the GPU gives the
// host step's values.
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) adamw_f32(float* w, const float* g, float* m, float* v, i64 n, float decay, float beta1, float omb1,
                                     float beta2, float omb2, float stepSize, float bc2Sqrt, float eps) {
    pmx_grid_begin();
    GRID_STRIDE(i, n) {
        float gi = g[i];
        float pf = __fmul_rn(w[i], decay);
        float mf = __fadd_rn(__fmul_rn(m[i], beta1), __fmul_rn(omb1, gi));
        float vf = __fadd_rn(__fmul_rn(v[i], beta2), __fmul_rn(__fmul_rn(omb2, gi), gi));
        float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vf), bc2Sqrt), eps);
        w[i] = __fsub_rn(pf, __fmul_rn(stepSize, __fdiv_rn(mf, denom)));
        m[i] = mf;
        v[i] = vf;
    }
}

// buf may be null (no momentum); the arithmetic is in double, as on the host
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) sgd_f32(float* w, const float* g, float* buf, i64 n, double lr, double momentum, double omd, double wd,
                                   int nesterov, int first) {
    pmx_grid_begin();
    GRID_STRIDE(i, n) {
        double pi = w[i];
        double gi = __dadd_rn((double) g[i], __dmul_rn(wd, pi));
        if (buf) {
            double b = first ? gi : __dadd_rn(__dmul_rn(momentum, (double) buf[i]), __dmul_rn(omd, gi));
            buf[i] = (float) b;
            gi = nesterov ? __dadd_rn(gi, __dmul_rn(momentum, b)) : b;
        }
        w[i] = (float) __dsub_rn(pi, __dmul_rn(lr, gi));
    }
}
