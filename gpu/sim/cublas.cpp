// libcublas.so.13 of the Panamax CUDA simulator (test-only; see README.md beside this file): the
// cuBLAS calls Panamax binds, as plain column-major loops accumulating in double, queued on the
// handle's stream like any other work. Arguments are checked as cuBLAS documents (sizes, leading
// dimensions, type and compute-type combinations), and every matrix must lie inside one device
// allocation; with beta == 0, C is not read (so uninitialised C may hold NaN).
#include "gemm_common.h"

struct cublasContext {
    CUstream stream = nullptr;
    void* workspace = nullptr;
    size_t workspaceBytes = 0;
    int math = CUBLAS_DEFAULT_MATH;
};
typedef cublasContext* cublasHandle_t;

namespace {

cublasStatus_t submit(const char* what, cublasHandle_t h, const Gemm& g) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    return submit(what, h->stream, g);
}

}  // namespace


extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* h) {
    if (!h) return CUBLAS_STATUS_INVALID_VALUE;
    CUcontext ctx = nullptr;
    if (cuCtxGetCurrent(&ctx) != CUDA_SUCCESS || !ctx) return fail(CUBLAS_STATUS_NOT_INITIALIZED, "cublasCreate", "no current CUDA context");
    *h = new cublasContext();
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t h) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetVersion_v2(cublasHandle_t h, int* v) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!v) return CUBLAS_STATUS_INVALID_VALUE;
    *v = 130000;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t h, CUstream s) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    h->stream = s;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t h, void* w, size_t bytes) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (bytes > 0 && (!w || reinterpret_cast<uintptr_t>(w) % 256 != 0)) return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasSetWorkspace", "workspace must be 256-byte aligned");
    if (bytes > 0 && !pmxsim_in_allocation(reinterpret_cast<uintptr_t>(w), bytes)) return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasSetWorkspace", "workspace is not device memory");
    h->workspace = w;
    h->workspaceBytes = bytes;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    int base = mode & 0xf;
    if (base != CUBLAS_DEFAULT_MATH && base != CUBLAS_TENSOR_OP_MATH && base != CUBLAS_PEDANTIC_MATH && base != CUBLAS_TF32_TENSOR_OP_MATH) return CUBLAS_STATUS_INVALID_VALUE;
    h->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t h, cublasPointerMode_t mode) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_POINTER_MODE_HOST) return fail(CUBLAS_STATUS_NOT_SUPPORTED, "cublasSetPointerMode", "the simulator takes alpha and beta from host memory only");
    return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusName(cublasStatus_t s) {
    return statusName(s);
}

const char* cublasGetStatusString(cublasStatus_t s) {
    return statusString(s);
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                              const float* B, int ldb, const float* beta, float* C, int ldc) {
    if (!alpha || !beta) return CUBLAS_STATUS_INVALID_VALUE;
    return submit("cublasSgemm", h, Gemm{ta, tb, m, n, k, *alpha, *beta, A, CUDA_R_32F, lda, 0, B, CUDA_R_32F, ldb, 0, C, CUDA_R_32F, ldc, 0, 1});
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void* alpha, const void* A,
                            cudaDataType at, int lda, const void* B, cudaDataType bt, int ldb, const void* beta, void* C, cudaDataType ct, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t) {
    if (!alpha || !beta) return CUBLAS_STATUS_INVALID_VALUE;
    if (!supported(at, bt, ct, compute)) return fail(CUBLAS_STATUS_NOT_SUPPORTED, "cublasGemmEx", "unsupported combination of types and compute type");
    return submit("cublasGemmEx", h, Gemm{ta, tb, m, n, k, scalar(alpha, compute), scalar(beta, compute), A, at, lda, 0, B, bt, ldb, 0, C, ct, ldc, 0, 1});
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void* alpha,
                                          const void* A, cudaDataType at, int lda, long long sa, const void* B, cudaDataType bt, int ldb, long long sb,
                                          const void* beta, void* C, cudaDataType ct, int ldc, long long sc, int batch, cublasComputeType_t compute,
                                          cublasGemmAlgo_t) {
    if (!alpha || !beta) return CUBLAS_STATUS_INVALID_VALUE;
    if (!supported(at, bt, ct, compute)) return fail(CUBLAS_STATUS_NOT_SUPPORTED, "cublasGemmStridedBatchedEx", "unsupported combination of types and compute type");
    return submit("cublasGemmStridedBatchedEx", h,
                  Gemm{ta, tb, m, n, k, scalar(alpha, compute), scalar(beta, compute), A, at, lda, sa, B, bt, ldb, sb, C, ct, ldc, sc, batch});
}

// One problem per group of the arrays' entries; the pointer arrays are device memory, read when
// the work runs (as cuBLAS's kernels read them), the size arrays host memory, read at the call.
cublasStatus_t cublasGemmGroupedBatchedEx(cublasHandle_t h, const cublasOperation_t* ta, const cublasOperation_t* tb, const int* m, const int* n,
                                          const int* k, const void* alpha, const void* const* A, cudaDataType at, const int* lda,
                                          const void* const* B, cudaDataType bt, const int* ldb, const void* beta, void* const* C,
                                          cudaDataType ct, const int* ldc, int groups, const int* groupSize, cublasComputeType_t compute) {
    const char* what = "cublasGemmGroupedBatchedEx";
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!ta || !tb || !m || !n || !k || !alpha || !lda || !ldb || !beta || !ldc || !groupSize || groups < 0) {
        return fail(CUBLAS_STATUS_INVALID_VALUE, what, "a NULL array or a negative group count");
    }
    bool typed = at == bt && bt == ct &&
                 (compute == CUBLAS_COMPUTE_32F ? (at == CUDA_R_32F || at == CUDA_R_16BF || at == CUDA_R_16F)
                  : compute == CUBLAS_COMPUTE_32F_PEDANTIC || compute == CUBLAS_COMPUTE_32F_FAST_TF32 ? at == CUDA_R_32F
                  : (compute == CUBLAS_COMPUTE_64F || compute == CUBLAS_COMPUTE_64F_PEDANTIC) && at == CUDA_R_64F);
    if (!typed) return fail(CUBLAS_STATUS_NOT_SUPPORTED, what, "A, B and C must have one type that the compute type takes (no 16-bit A, B with F32 C)");
    std::vector<Gemm> problems;
    for (int g = 0; g < groups; g++) {
        if (groupSize[g] < 0) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "negative group size");
        double al = compute == CUBLAS_COMPUTE_64F || compute == CUBLAS_COMPUTE_64F_PEDANTIC ? static_cast<const double*>(alpha)[g] : static_cast<const float*>(alpha)[g];
        double be = compute == CUBLAS_COMPUTE_64F || compute == CUBLAS_COMPUTE_64F_PEDANTIC ? static_cast<const double*>(beta)[g] : static_cast<const float*>(beta)[g];
        for (int j = 0; j < groupSize[g]; j++) {
            problems.push_back(Gemm{ta[g], tb[g], m[g], n[g], k[g], al, be, nullptr, at, lda[g], 0, nullptr, bt, ldb[g], 0, nullptr, ct, ldc[g], 0, 1});
        }
    }
    size_t count = problems.size();
    for (const Gemm& g : problems) {
        if (g.ta > CUBLAS_OP_T || g.tb > CUBLAS_OP_T) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "transpose must be N or T");
        if (g.m < 0 || g.n < 0 || g.k < 0) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "negative size");
        long long aRows = g.ta == CUBLAS_OP_N ? g.m : g.k, bRows = g.tb == CUBLAS_OP_N ? g.k : g.n;
        if (g.lda < (aRows > 1 ? aRows : 1)) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "lda < max(1, rows of A)");
        if (g.ldb < (bRows > 1 ? bRows : 1)) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "ldb < max(1, rows of B)");
        if (g.ldc < (g.m > 1 ? g.m : 1)) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "ldc < max(1, m)");
    }
    if (count == 0) return CUBLAS_STATUS_SUCCESS;
    for (const void* arr : {static_cast<const void*>(A), static_cast<const void*>(B), static_cast<const void*>(C)}) {
        if (!pmxsim_in_allocation(reinterpret_cast<uintptr_t>(arr), count * sizeof(void*))) {
            return fail(CUBLAS_STATUS_EXECUTION_FAILED, what, "a pointer array is not inside one device allocation");
        }
    }
    auto work = [problems, A, B, C]() mutable -> CUresult {
        for (size_t i = 0; i < problems.size(); i++) {
            Gemm& g = problems[i];
            g.A = A[i];
            g.B = B[i];
            g.C = C[i];
            if (g.m == 0 || g.n == 0) continue;
            long long aRows = g.ta == CUBLAS_OP_N ? g.m : g.k, aCols = g.ta == CUBLAS_OP_N ? g.k : g.m;
            long long bRows = g.tb == CUBLAS_OP_N ? g.k : g.n, bCols = g.tb == CUBLAS_OP_N ? g.n : g.k;
            bool ok = (g.k == 0 || (inside(g.A, g.at, aRows, aCols, g.lda, 0, 1) && inside(g.B, g.bt, bRows, bCols, g.ldb, 0, 1))) &&
                      inside(g.C, g.ct, g.m, g.n, g.ldc, 0, 1);
            if (!ok) {
                std::fprintf(stderr, "[cuda simulator] cublasGemmGroupedBatchedEx: problem %zu reads or writes outside device memory\n", i);
                return CUDA_ERROR_ILLEGAL_ADDRESS;
            }
            g();
        }
        return CUDA_SUCCESS;
    };
    int rc = pmxsim_enqueue(h->stream, new std::function<CUresult()>(work));
    return rc == CUDA_SUCCESS ? CUBLAS_STATUS_SUCCESS : fail(CUBLAS_STATUS_EXECUTION_FAILED, what, "the driver refused the work");
}

}  // extern "C"
