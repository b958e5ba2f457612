// Elementwise kernels: unary and binary ops (with NumPy broadcasting through strides), their
// backward, SwiGLU, dtype conversions and fills. Op codes match dev.panamax.runtime.UnaryOp /
// BinaryOp ordinals as listed in GpuOps.
#include "common.cuh"

// unary op codes
#define U_NEG 0
#define U_EXP 1
#define U_LOG 2
#define U_SQRT 3
#define U_RSQRT 4
#define U_SIGMOID 5
#define U_SILU 6
#define U_TANH 7

__device__ __forceinline__ float unary(int op, float x) {
    switch (op) {
        case U_NEG: return -x;
        case U_EXP: return expf(x);
        case U_LOG: return logf(x);
        case U_SQRT: return sqrtf(x);
        case U_RSQRT: return rsqrtf(x);
        case U_SIGMOID: return 1.f / (1.f + expf(-x));
        case U_SILU: return x / (1.f + expf(-x));
        case U_TANH: return tanhf(x);
    }
    return QNAN;
}

extern "C" __global__ void unary_f32(int op, const float* x, float* y, i64 n) {
    GRID_STRIDE(i, n) y[i] = unary(op, x[i]);
}

// gx = gy * d op(x) / dx, with y = op(x) given where it is cheaper
extern "C" __global__ void unary_backward_f32(int op, const float* x, const float* y, const float* gy, float* gx, i64 n) {
    GRID_STRIDE(i, n) {
        float xv = x[i], yv = y[i], d;
        switch (op) {
            case U_NEG: d = -1.f; break;
            case U_EXP: d = yv; break;
            case U_LOG: d = 1.f / xv; break;
            case U_SQRT: d = 0.5f / yv; break;
            case U_RSQRT: d = -0.5f * yv * yv * yv; break;
            case U_SIGMOID: d = yv * (1.f - yv); break;
            case U_SILU: { float s = 1.f / (1.f + expf(-xv)); d = s * (1.f + xv * (1.f - s)); break; }
            case U_TANH: d = 1.f - yv * yv; break;
            default: d = QNAN;
        }
        gx[i] = gy[i] * d;
    }
}

// binary op codes
#define B_ADD 0
#define B_SUB 1
#define B_MUL 2
#define B_DIV 3
#define B_MAX 4
#define B_MIN 5
#define B_POW 6

#define MAX_DIMS 8
// Broadcast geometry: the output's sizes and each input's element strides (0 on broadcast dims).
struct Broadcast {
    int ndim;
    i64 size[MAX_DIMS];
    i64 sa[MAX_DIMS];
    i64 sb[MAX_DIMS];
};

__device__ __forceinline__ float binary(int op, float a, float b) {
    switch (op) {
        case B_ADD: return a + b;
        case B_SUB: return a - b;
        case B_MUL: return a * b;
        case B_DIV: return a / b;
        case B_MAX: return (a != a || b != b) ? QNAN : fmaxf(a, b);
        case B_MIN: return (a != a || b != b) ? QNAN : fminf(a, b);
        case B_POW: return powf(a, b);
    }
    return QNAN;
}

extern "C" __global__ void binary_f32(int op, const float* a, const float* b, float* out, Broadcast g, i64 n) {
    GRID_STRIDE(i, n) {
        i64 rem = i, ia = 0, ib = 0;
        for (int d = g.ndim - 1; d >= 0; d--) {
            i64 c = rem % g.size[d];
            rem /= g.size[d];
            ia += c * g.sa[d];
            ib += c * g.sb[d];
        }
        out[i] = binary(op, a[ia], b[ib]);
    }
}

// y = silu(gate) * up
extern "C" __global__ void swiglu_f32(const float* gate, const float* up, float* y, i64 n) {
    GRID_STRIDE(i, n) {
        float g = gate[i];
        y[i] = g / (1.f + expf(-g)) * up[i];
    }
}

extern "C" __global__ void swiglu_backward_f32(const float* gate, const float* up, const float* gy, float* ggate, float* gup, i64 n) {
    GRID_STRIDE(i, n) {
        float g = gate[i], s = 1.f / (1.f + expf(-g)), dy = gy[i];
        gup[i] = dy * g * s;
        ggate[i] = dy * up[i] * s * (1.f + g * (1.f - s));
    }
}

extern "C" __global__ void bf16_to_f32_kernel(const unsigned short* x, float* y, i64 n) {
    GRID_STRIDE(i, n) y[i] = bf16_to_f32(x[i]);
}

extern "C" __global__ void f16_to_f32_kernel(const unsigned short* x, float* y, i64 n) {
    GRID_STRIDE(i, n) y[i] = f16_to_f32(x[i]);
}

extern "C" __global__ void f32_to_bf16_kernel(const float* x, unsigned short* y, i64 n) {
    GRID_STRIDE(i, n) y[i] = f32_to_bf16(x[i]);
}

extern "C" __global__ void fill_f32(float* y, float v, i64 n) {
    GRID_STRIDE(i, n) y[i] = v;
}

// y += a * x (gradient accumulation, optimiser steps)
extern "C" __global__ void axpy_f32(float a, const float* x, float* y, i64 n) {
    GRID_STRIDE(i, n) y[i] += a * x[i];
}
