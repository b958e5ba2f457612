// Elementwise kernels: unary and binary ops (with NumPy broadcasting through strides), the backward
// of the unary ops and of max/min, SwiGLU and its backward, strided copies (with dtype conversion)
// and fills. Op codes match dev.panamax.runtime.UnaryOp / BinaryOp as mapped in
// dev.panamax.runtime.CudaBackend (by name, not by ordinal).
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
#define U_ABS 8
#define U_RELU 9
#define U_SQUARE 10
#define U_RECIPROCAL 11

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
        case U_ABS: return fabsf(x);
        case U_RELU: return x > 0.f ? x : (x == x ? 0.f : x);
        case U_SQUARE: return x * x;
        case U_RECIPROCAL: return 1.f / x;
    }
    return QNAN;
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) unary_f32(int op, const float* x, float* y, i64 n) {
    pmx_grid_begin();
    GRID_STRIDE(i, n) y[i] = unary(op, x[i]);
}

// gx = gy * d op(x) / dx, with y = op(x) given where it is cheaper
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) unary_backward_f32(int op, const float* x, const float* y, const float* gy, float* gx, i64 n) {
    pmx_grid_begin();
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
            case U_ABS: d = xv > 0.f ? 1.f : (xv < 0.f ? -1.f : 0.f); break;
            case U_RELU: d = xv > 0.f ? 1.f : 0.f; break;
            case U_SQUARE: d = 2.f * xv; break;
            case U_RECIPROCAL: d = -(yv * yv); break;
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

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) binary_f32(int op, const float* a, const float* b, float* out, Broadcast g, i64 n) {
    pmx_grid_begin();
    GRID_STRIDE(i, n) {
        i64 ia, ib;
        offsets(g, i, &ia, &ib);
        out[i] = binary(op, a[ia], b[ib]);
    }
}

// the weight of u in d max(u, v) (op B_MAX) or d min(u, v) (B_MIN): 1 where u is picked, 1/2 at a
// tie, 0 where v is picked or either is NaN (Elementwise.pickWeight on the host)
__device__ __forceinline__ float pick_weight(int op, float u, float v) {
    bool picked = op == B_MAX ? u > v : u < v;
    return picked ? 1.f : (u == v ? 0.5f : 0.f);
}

// the gradients of out = max(a, b) or min(a, b), broadcast as in binary_f32: ga = gy * pick_weight(a, b)
// and gb = gy * pick_weight(b, a), each skipped where null
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) max_min_backward_f32(int op, const float* a, const float* b, const float* gy, float* ga, float* gb,
                                                Broadcast g, i64 n) {
    pmx_grid_begin();
    GRID_STRIDE(i, n) {
        i64 ia, ib;
        offsets(g, i, &ia, &ib);
        float x = a[ia], y = b[ib];
        if (ga) ga[i] = gy[i] * pick_weight(op, x, y);
        if (gb) gb[i] = gy[i] * pick_weight(op, y, x);
    }
}

// y = silu(gate) * up
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) swiglu_f32(const float* gate, const float* up, float* y, i64 n) {
    pmx_grid_begin();
    GRID_STRIDE(i, n) {
        float g = gate[i];
        y[i] = g / (1.f + expf(-g)) * up[i];
    }
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) swiglu_backward_f32(const float* gate, const float* up, const float* gy, float* ggate, float* gup, i64 n) {
    pmx_grid_begin();
    GRID_STRIDE(i, n) {
        float g = gate[i], s = 1.f / (1.f + expf(-g)), dy = gy[i];
        gup[i] = dy * g * s;
        ggate[i] = dy * up[i] * s * (1.f + g * (1.f - s));
    }
}

// ---- strided copies with dtype conversion (contiguous(), to(dtype), copyFrom, fill of views) ----

// element type codes (CudaBackend.typeCode)
#define T_F32 0
#define T_BF16 1
#define T_F16 2
#define T_I32 3
#define T_I64 4
#define T_U8 5
#define T_I8 6

__device__ __forceinline__ unsigned short f32_to_f16(float f) {
#ifdef __CUDA_ARCH__
    unsigned short h;
    asm("{ cvt.rn.f16.f32 %0, %1; }" : "=h"(h) : "f"(f));
    return h;
#else  // portable path (host compilers): round to nearest even, as cvt.rn
    unsigned int u = __float_as_uint(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (unsigned short) (sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN stays NaN
    if (a >= 0x477ff000u) return (unsigned short) (sign | 0x7c00u);                       // from 65520 on: infinity
    if (a < 0x38800000u) return (unsigned short) (sign | (unsigned int) rintf(__uint_as_float(a) * 16777216.f));  // subnormal
    unsigned int r = a + 0xfffu + ((a >> 13) & 1u);
    return (unsigned short) (sign | ((r >> 13) - (112u << 10)));
#endif
}

__device__ __forceinline__ double load_real(int t, const void* p, i64 i) {
    switch (t) {
        case T_F32: return ((const float*) p)[i];
        case T_BF16: return bf16_to_f32(((const unsigned short*) p)[i]);
        case T_F16: return f16_to_f32(((const unsigned short*) p)[i]);
        case T_I32: return ((const int*) p)[i];
        case T_I64: return (double) ((const i64*) p)[i];
        case T_U8: return ((const unsigned char*) p)[i];
        case T_I8: return ((const signed char*) p)[i];
    }
    return QNAN;
}

__device__ __forceinline__ i64 load_int(int t, const void* p, i64 i) {
    switch (t) {
        case T_I32: return ((const int*) p)[i];
        case T_I64: return ((const i64*) p)[i];
        case T_U8: return ((const unsigned char*) p)[i];
        case T_I8: return ((const signed char*) p)[i];
    }
    return 0;
}

// a real value into an integer type: truncated toward zero, NaN to 0 (Java's (long) cast)
__device__ __forceinline__ i64 real_to_int(double v) {
    if (v != v) return 0;
    if (v >= 9.2233720368547758e18) return 0x7fffffffffffffffLL;
    if (v <= -9.2233720368547758e18) return (i64) 0x8000000000000000ULL;
    return (i64) v;
}

__device__ __forceinline__ void store_value(int t, void* p, i64 i, double v, i64 iv, bool isInt) {
    switch (t) {
        case T_F32: ((float*) p)[i] = isInt ? (float) iv : (float) v; break;
        case T_BF16: ((unsigned short*) p)[i] = f32_to_bf16(isInt ? (float) iv : (float) v); break;
        case T_F16: ((unsigned short*) p)[i] = f32_to_f16(isInt ? (float) iv : (float) v); break;
        case T_I32: ((int*) p)[i] = (int) (isInt ? iv : real_to_int(v)); break;
        case T_I64: ((i64*) p)[i] = isInt ? iv : real_to_int(v); break;
        case T_U8: ((unsigned char*) p)[i] = (unsigned char) (isInt ? iv : real_to_int(v)); break;
        case T_I8: ((signed char*) p)[i] = (signed char) (isInt ? iv : real_to_int(v)); break;
    }
}

// dst[g.sb . idx] = convert(src[g.sa . idx]) over the n elements of the shape g.size
// (g.sa may hold zeros: broadcasting); integer to integer copies are exact
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) copy_strided(int st, const void* src, int dt, void* dst, Broadcast g, i64 n) {
    pmx_grid_begin();
    bool ints = st >= T_I32 && dt >= T_I32;
    GRID_STRIDE(i, n) {
        i64 is, id;
        offsets(g, i, &is, &id);
        if (ints) store_value(dt, dst, id, 0.0, load_int(st, src, is), true);
        else store_value(dt, dst, id, load_real(st, src, is), 0, false);
    }
}

// dst[g.sb . idx] = v for every index of the shape g.size
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) fill_strided(int dt, void* dst, Broadcast g, double v, i64 n) {
    pmx_grid_begin();
    bool isInt = dt >= T_I32;
    i64 iv = real_to_int(v);
    GRID_STRIDE(i, n) {
        i64 unused, id;
        offsets(g, i, &unused, &id);
        store_value(dt, dst, id, v, iv, isInt);
    }
}

// out[i] = cond[.] != 0 ? a[.] : b[.] over the n elements of the shape g.size, out contiguous and
// cond, a, b through the strides g.sa, g.sb, g.sc; each in its own type, the picked value converted
// to out's (Tensor.where on the host: a NaN condition counts as true, integer to integer is exact)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) where_strided(int ct, const void* cond, int at, const void* a, int bt, const void* b, int ot, void* out,
                                         Broadcast3 g, i64 n) {
    pmx_grid_begin();
    bool ints = at >= T_I32 && bt >= T_I32 && ot >= T_I32;
    GRID_STRIDE(i, n) {
        i64 ic, ia, ib;
        offsets3(g, i, &ic, &ia, &ib);
        bool pick = load_real(ct, cond, ic) != 0.0;
        int t = pick ? at : bt;
        const void* p = pick ? a : b;
        i64 j = pick ? ia : ib;
        if (ints) store_value(ot, out, i, 0.0, load_int(t, p, j), true);
        else store_value(ot, out, i, load_real(t, p, j), 0, false);
    }
}
