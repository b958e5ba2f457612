// The GEMM arithmetic and argument checks that the Panamax CUDA simulator's cuBLAS (cublas.cpp,
// libcublas.so.13) and cuBLASLt (cublaslt.cpp, libcublasLt.so.13) share (test-only; see README.md):
// column-major loops accumulating in double, queued on a stream like any other work.
#pragma once
#include <cuda.h>
#include <library_types.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "cudasim.h"

typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_ARCH_MISMATCH = 8,
    CUBLAS_STATUS_MAPPING_ERROR = 11,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_INTERNAL_ERROR = 14,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
    CUBLAS_STATUS_LICENSE_ERROR = 16
} cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 } cublasOperation_t;
typedef enum { CUBLAS_POINTER_MODE_HOST = 0, CUBLAS_POINTER_MODE_DEVICE = 1 } cublasPointerMode_t;
typedef enum { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TENSOR_OP_MATH = 1, CUBLAS_PEDANTIC_MATH = 2, CUBLAS_TF32_TENSOR_OP_MATH = 3 } cublasMath_t;
typedef enum {
    CUBLAS_COMPUTE_16F = 64, CUBLAS_COMPUTE_16F_PEDANTIC = 65, CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32F_PEDANTIC = 69,
    CUBLAS_COMPUTE_32F_FAST_16F = 74, CUBLAS_COMPUTE_32F_FAST_16BF = 75, CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
    CUBLAS_COMPUTE_64F = 70, CUBLAS_COMPUTE_64F_PEDANTIC = 71
} cublasComputeType_t;
typedef int cublasGemmAlgo_t;  // CUBLAS_GEMM_DEFAULT = -1

namespace pmxgemm {


inline const char* statusName(cublasStatus_t s) {
    switch (s) {
        case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
        default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

inline const char* statusString(cublasStatus_t s) {
    switch (s) {
        case CUBLAS_STATUS_SUCCESS: return "success";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
        case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
        default: return "unknown error";
    }
}

inline cublasStatus_t fail(cublasStatus_t s, const char* what, const char* why) {
    std::fprintf(stderr, "[cuda simulator] %s: %s\n", what, why);
    return s;
}

inline size_t sizeOf(cudaDataType t) {
    switch (t) {
        case CUDA_R_32F: return 4;
        case CUDA_R_64F: return 8;
        case CUDA_R_16F: case CUDA_R_16BF: return 2;
        default: return 0;
    }
}

inline float half(uint16_t h) {
    int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
    float v = exp == 0 ? std::ldexp((float) man, -24) : exp == 31 ? (man ? NAN : INFINITY) : std::ldexp((float) (man | 1024), exp - 25);
    return sign ? -v : v;
}

inline uint16_t toHalf(float f) {  // round to nearest even, as cuBLAS writes F16
    uint32_t u;
    std::memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    float a = std::fabs(f);
    if (std::isnan(f)) return (uint16_t) (sign | 0x7e00u);
    if (a >= 65520.f) return (uint16_t) (sign | 0x7c00u);
    if (a < 6.103515625e-05f) return (uint16_t) (sign | (uint16_t) std::nearbyint(a * 16777216.f));  // subnormal: units of 2^-24
    int e;
    float m = std::frexp(a, &e);                                   // a = m * 2^e, m in [0.5, 1)
    uint32_t mant = (uint32_t) std::nearbyint(std::ldexp(m, 11));  // 11 significant bits
    if (mant == 2048) { mant = 1024; e++; }
    if (e + 14 >= 31) return (uint16_t) (sign | 0x7c00u);
    return (uint16_t) (sign | ((uint32_t) (e + 14) << 10) | (mant & 1023u));
}

inline uint16_t toBf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t) ((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t) (u >> 16);
}

inline double load(const void* p, cudaDataType t, size_t i) {
    switch (t) {
        case CUDA_R_32F: return static_cast<const float*>(p)[i];
        case CUDA_R_64F: return static_cast<const double*>(p)[i];
        case CUDA_R_16F: return half(static_cast<const uint16_t*>(p)[i]);
        case CUDA_R_16BF: { uint32_t u = (uint32_t) static_cast<const uint16_t*>(p)[i] << 16; float f; std::memcpy(&f, &u, 4); return f; }
        default: return NAN;
    }
}

inline void store(void* p, cudaDataType t, size_t i, double v) {
    switch (t) {
        case CUDA_R_32F: static_cast<float*>(p)[i] = (float) v; break;
        case CUDA_R_64F: static_cast<double*>(p)[i] = v; break;
        case CUDA_R_16F: static_cast<uint16_t*>(p)[i] = toHalf((float) v); break;
        case CUDA_R_16BF: static_cast<uint16_t*>(p)[i] = toBf16((float) v); break;
        default: break;
    }
}

// Whether the rows x cols matrix at p (leading dimension ld), repeated batch times stride elements
// apart, lies inside one allocation.
inline bool inside(const void* p, cudaDataType t, long long rows, long long cols, long long ld, long long stride, int batch) {
    if (rows == 0 || cols == 0 || batch == 0) return true;
    long long last = (cols - 1) * ld + rows;
    long long lo = 0, hi = last;
    if (stride >= 0) hi += stride * (batch - 1);
    else lo += stride * (batch - 1);
    uintptr_t a = reinterpret_cast<uintptr_t>(p) + lo * (long long) sizeOf(t);
    return pmxsim_in_allocation(a, (size_t) (hi - lo) * sizeOf(t));
}

struct Gemm {
    cublasOperation_t ta, tb;
    int m, n, k;
    double alpha, beta;
    const void* A; cudaDataType at; long long lda, sa;
    const void* B; cudaDataType bt; long long ldb, sb;
    void* C; cudaDataType ct; long long ldc, sc;
    int batch;

    CUresult operator()() const {
        static const bool hostOnly = std::getenv("PANAMAX_CUDASIM_HOST_ONLY") != nullptr;
        if (hostOnly) return CUDA_SUCCESS;   // timing the host's side only: no arithmetic
        for (int b = 0; b < batch; b++) {
            const void* a = static_cast<const char*>(A) + b * sa * (long long) sizeOf(at);
            const void* bb = static_cast<const char*>(B) + b * sb * (long long) sizeOf(bt);
            void* c = static_cast<char*>(C) + b * sc * (long long) sizeOf(ct);
            for (int j = 0; j < n; j++) {
                for (int i = 0; i < m; i++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        double x = load(a, at, ta == CUBLAS_OP_N ? (size_t) p * lda + i : (size_t) i * lda + p);
                        double y = load(bb, bt, tb == CUBLAS_OP_N ? (size_t) j * ldb + p : (size_t) p * ldb + j);
                        s += x * y;
                    }
                    size_t at_ = (size_t) j * ldc + i;
                    double v = alpha * s;
                    if (beta != 0) v += beta * load(c, ct, at_);
                    store(c, ct, at_, v);
                }
            }
        }
        return CUDA_SUCCESS;
    }
};

inline cublasStatus_t submit(const char* what, CUstream stream, const Gemm& g) {
    if (g.ta > CUBLAS_OP_T || g.tb > CUBLAS_OP_T) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "transpose must be N or T");
    if (g.m < 0 || g.n < 0 || g.k < 0 || g.batch < 0) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "negative size");
    long long aRows = g.ta == CUBLAS_OP_N ? g.m : g.k, aCols = g.ta == CUBLAS_OP_N ? g.k : g.m;
    long long bRows = g.tb == CUBLAS_OP_N ? g.k : g.n, bCols = g.tb == CUBLAS_OP_N ? g.n : g.k;
    if (g.lda < (aRows > 1 ? aRows : 1)) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "lda < max(1, rows of A)");
    if (g.ldb < (bRows > 1 ? bRows : 1)) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "ldb < max(1, rows of B)");
    if (g.ldc < (g.m > 1 ? g.m : 1)) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "ldc < max(1, m)");
    if (g.m == 0 || g.n == 0 || g.batch == 0) return CUBLAS_STATUS_SUCCESS;
    if (g.k > 0 && !inside(g.A, g.at, aRows, aCols, g.lda, g.sa, g.batch)) return fail(CUBLAS_STATUS_EXECUTION_FAILED, what, "A is not inside one device allocation");
    if (g.k > 0 && !inside(g.B, g.bt, bRows, bCols, g.ldb, g.sb, g.batch)) return fail(CUBLAS_STATUS_EXECUTION_FAILED, what, "B is not inside one device allocation");
    if (!inside(g.C, g.ct, g.m, g.n, g.ldc, g.sc, g.batch)) return fail(CUBLAS_STATUS_EXECUTION_FAILED, what, "C is not inside one device allocation");
    int rc = pmxsim_enqueue(stream, new std::function<CUresult()>(g));
    return rc == CUDA_SUCCESS ? CUBLAS_STATUS_SUCCESS : fail(CUBLAS_STATUS_EXECUTION_FAILED, what, "the driver refused the work");
}

// The (A, B, C, compute) combinations of cublasGemmEx's documentation that Panamax can meet.
inline bool supported(cudaDataType a, cudaDataType b, cudaDataType c, int compute) {
    if (a != b) return false;
    switch (compute) {
        case CUBLAS_COMPUTE_32F:
        case CUBLAS_COMPUTE_32F_PEDANTIC:
            return (a == CUDA_R_32F && c == CUDA_R_32F) || ((a == CUDA_R_16BF || a == CUDA_R_16F) && (c == a || c == CUDA_R_32F));
        case CUBLAS_COMPUTE_32F_FAST_TF32:
        case CUBLAS_COMPUTE_32F_FAST_16F:
        case CUBLAS_COMPUTE_32F_FAST_16BF:
            return a == CUDA_R_32F && c == CUDA_R_32F;
        case CUBLAS_COMPUTE_64F:
        case CUBLAS_COMPUTE_64F_PEDANTIC:
            return a == CUDA_R_64F && c == CUDA_R_64F;
        default:
            return false;
    }
}

inline double scalar(const void* p, int compute) {
    return compute == CUBLAS_COMPUTE_64F || compute == CUBLAS_COMPUTE_64F_PEDANTIC ? *static_cast<const double*>(p) : *static_cast<const float*>(p);
}

}  // namespace pmxgemm

using namespace pmxgemm;
