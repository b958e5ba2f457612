// libcublasLt.so.13 of the Panamax CUDA simulator (test-only; see README.md beside this file): the
// cuBLASLt calls Panamax binds. Descriptors hold what their attributes set, each attribute checked
// for the size its documentation gives. The heuristic offers a few made-up algorithms, some of which
// need what a real one may need (aligned operands, workspace), offered only where the preference
// allows it; cublasLtMatmul checks that its algorithm was found for this very product and that its
// needs are met, then computes as the simulated cuBLAS does (gemm_common.h), queued on the stream.
#include "gemm_common.h"

#include <cstdint>

struct cublasLtContext {
    int unused = 0;
};
typedef cublasLtContext* cublasLtHandle_t;

namespace {

struct MatmulDesc {
    int compute, scale;
    int32_t ta = CUBLAS_OP_N, tb = CUBLAS_OP_N;
};

struct Layout {
    cudaDataType type;
    uint64_t rows, cols;
    int64_t ld;
    int32_t batch = 1;
    int64_t stride = 0;
};

struct Preference {
    uint64_t maxWorkspace = 0;             // the default: no workspace
    uint32_t align[4] = {256, 256, 256, 256};   // A, B, C, D: the default minimum alignments
};

// Attribute numbers (cublasLtMatmulDescAttributes_t, cublasLtMatrixLayoutAttribute_t,
// cublasLtMatmulPreferenceAttributes_t) that Panamax sets.
enum { DESC_TRANSA = 3, DESC_TRANSB = 4 };
enum { LAYOUT_BATCH_COUNT = 5, LAYOUT_STRIDED_BATCH_OFFSET = 6 };
enum { PREF_MAX_WORKSPACE_BYTES = 1, PREF_MIN_ALIGNMENT_A = 5, PREF_MIN_ALIGNMENT_D = 8 };

// What cublasLtMatmulAlgo_t (uint64_t data[8]) holds here: a tag, the algorithm's number, and a
// fingerprint of the product it was found for.
const uint64_t ALGO_TAG = 0x504d584c54414c47ull;   // "PMXLTALG"

struct Algo {
    int id;
    uint32_t align;       // bytes every operand's address must be a multiple of
    uint64_t workspace;   // bytes of workspace it needs
};

// The made-up algorithms, in the heuristic's order: fastest needs 16-byte operands, then one that
// needs 1 MiB of workspace (a split-K, say), then one that needs nothing.
const Algo ALGOS[] = {{0, 16, 0}, {1, 0, 1u << 20}, {2, 0, 0}};

uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

uint64_t fingerprint(const MatmulDesc* d, const Layout* const* ls) {
    uint64_t h = mix(mix(mix(mix(0, (uint64_t) d->compute), (uint64_t) d->scale), (uint64_t) d->ta), (uint64_t) d->tb);
    for (int i = 0; i < 3; i++) {
        const Layout* l = ls[i];
        h = mix(mix(mix(mix(mix(mix(h, (uint64_t) l->type), l->rows), l->cols), (uint64_t) l->ld), (uint64_t) l->batch), (uint64_t) l->stride);
    }
    return h;
}

// Sets an attribute of type T from buf, refused unless size is T's, as cuBLASLt refuses it.
template <class T>
cublasStatus_t setSized(T* field, const void* buf, size_t size, const char* what) {
    if (size != sizeof(T)) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "the attribute's size does not match its type");
    std::memcpy(field, buf, sizeof(T));
    return CUBLAS_STATUS_SUCCESS;
}

// The product the descriptors describe, or a reason it is not one; m, n, k from the layouts.
const char* product(const MatmulDesc* d, const Layout* a, const Layout* b, const Layout* c, long long* m, long long* n, long long* k) {
    if (d->ta > CUBLAS_OP_T || d->tb > CUBLAS_OP_T) return "transpose must be N or T";
    *m = (long long) c->rows;
    *n = (long long) c->cols;
    *k = (long long) (d->ta == CUBLAS_OP_N ? a->cols : a->rows);
    long long am = (long long) (d->ta == CUBLAS_OP_N ? a->rows : a->cols);
    long long bk = (long long) (d->tb == CUBLAS_OP_N ? b->rows : b->cols), bn = (long long) (d->tb == CUBLAS_OP_N ? b->cols : b->rows);
    if (am != *m || bk != *k || bn != *n) return "the layouts of A, B and C do not make one product";
    if (a->batch != c->batch || b->batch != c->batch) return "A, B and C have different batch counts";
    for (const Layout* l : {a, b, c}) {
        if (l->ld < (long long) (l->rows > 1 ? l->rows : 1)) return "a leading dimension is less than its rows";
    }
    if (d->scale != CUDA_R_32F) return "the simulator takes F32 scalars only";
    if (!supported(a->type, b->type, c->type, d->compute)) return "unsupported combination of types and compute type";
    return nullptr;
}

}  // namespace

extern "C" {

cublasStatus_t cublasLtCreate(cublasLtHandle_t* h) {
    if (!h) return CUBLAS_STATUS_INVALID_VALUE;
    CUcontext ctx = nullptr;
    if (cuCtxGetCurrent(&ctx) != CUDA_SUCCESS || !ctx) return fail(CUBLAS_STATUS_NOT_INITIALIZED, "cublasLtCreate", "no current CUDA context");
    *h = new cublasLtContext();
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}

size_t cublasLtGetVersion(void) {
    return 130000;
}

const char* cublasLtGetStatusName(cublasStatus_t s) {
    return statusName(s);
}

const char* cublasLtGetStatusString(cublasStatus_t s) {
    return statusString(s);
}

cublasStatus_t cublasLtMatmulDescCreate(MatmulDesc** d, int compute, cudaDataType scale) {
    if (!d) return CUBLAS_STATUS_INVALID_VALUE;
    *d = new MatmulDesc{compute, scale};
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(MatmulDesc* d) {
    delete d;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(MatmulDesc* d, int attr, const void* buf, size_t size) {
    const char* what = "cublasLtMatmulDescSetAttribute";
    if (!d || !buf) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "NULL descriptor or buffer");
    if (attr != DESC_TRANSA && attr != DESC_TRANSB) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "an attribute the simulator does not implement");
    return setSized(attr == DESC_TRANSA ? &d->ta : &d->tb, buf, size, what);
}

cublasStatus_t cublasLtMatrixLayoutCreate(Layout** l, cudaDataType type, uint64_t rows, uint64_t cols, int64_t ld) {
    if (!l) return CUBLAS_STATUS_INVALID_VALUE;
    if (sizeOf(type) == 0) return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasLtMatrixLayoutCreate", "a type the simulator does not know");
    if (rows > INT32_MAX || cols > INT32_MAX || ld < 0) return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasLtMatrixLayoutCreate", "rows, columns or leading dimension out of range");
    *l = new Layout{type, rows, cols, ld};
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(Layout* l) {
    delete l;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutSetAttribute(Layout* l, int attr, const void* buf, size_t size) {
    const char* what = "cublasLtMatrixLayoutSetAttribute";
    if (!l || !buf) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "NULL layout or buffer");
    if (attr == LAYOUT_BATCH_COUNT) return setSized(&l->batch, buf, size, what);
    if (attr == LAYOUT_STRIDED_BATCH_OFFSET) return setSized(&l->stride, buf, size, what);
    return fail(CUBLAS_STATUS_INVALID_VALUE, what, "an attribute the simulator does not implement");
}

cublasStatus_t cublasLtMatmulPreferenceCreate(Preference** p) {
    if (!p) return CUBLAS_STATUS_INVALID_VALUE;
    *p = new Preference();
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(Preference* p) {
    delete p;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(Preference* p, int attr, const void* buf, size_t size) {
    const char* what = "cublasLtMatmulPreferenceSetAttribute";
    if (!p || !buf) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "NULL preference or buffer");
    if (attr == PREF_MAX_WORKSPACE_BYTES) return setSized(&p->maxWorkspace, buf, size, what);
    if (attr >= PREF_MIN_ALIGNMENT_A && attr <= PREF_MIN_ALIGNMENT_D) return setSized(&p->align[attr - PREF_MIN_ALIGNMENT_A], buf, size, what);
    return fail(CUBLAS_STATUS_INVALID_VALUE, what, "an attribute the simulator does not implement");
}

// cublasLtMatmulHeuristicResult_t
struct HeuristicResult {
    uint64_t algo[8];
    size_t workspaceSize;
    cublasStatus_t state;
    float wavesCount;
    int reserved[4];
};
static_assert(sizeof(HeuristicResult) == 96, "cublasLtMatmulHeuristicResult_t is 96 bytes");

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, MatmulDesc* d, Layout* a, Layout* b, Layout* c, Layout* dl, Preference* pref,
                                              int requested, HeuristicResult* results, int* returned) {
    const char* what = "cublasLtMatmulAlgoGetHeuristic";
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!d || !a || !b || !c || !dl || !pref || !results || !returned) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "a NULL argument");
    if (requested <= 0) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "requestedAlgoCount <= 0");
    long long m, n, k;
    const char* why = product(d, a, b, c, &m, &n, &k);
    if (why) return fail(CUBLAS_STATUS_NOT_SUPPORTED, what, why);
    const Layout* ls[3] = {a, b, c};
    uint64_t print = fingerprint(d, ls);
    uint32_t least = pref->align[0];
    for (uint32_t al : pref->align) least = al < least ? al : least;
    int count = 0;
    for (const Algo& algo : ALGOS) {
        if (count == requested) break;
        if (algo.align > least || algo.workspace > pref->maxWorkspace) continue;   // the preference rules it out
        HeuristicResult& r = results[count++];
        std::memset(&r, 0, sizeof(r));
        r.algo[0] = ALGO_TAG;
        r.algo[1] = (uint64_t) algo.id;
        r.algo[2] = print;
        r.workspaceSize = algo.workspace;
        r.state = CUBLAS_STATUS_SUCCESS;
        r.wavesCount = 1.f;
    }
    *returned = count;
    return count == 0 ? CUBLAS_STATUS_NOT_SUPPORTED : CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, MatmulDesc* d, const void* alpha, const void* A, Layout* a, const void* B, Layout* b,
                              const void* beta, const void* C, Layout* c, void* D, Layout* dl, const uint64_t* algo, void* workspace,
                              size_t workspaceBytes, CUstream stream) {
    const char* what = "cublasLtMatmul";
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!d || !a || !b || !c || !dl || !alpha || !beta) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "a NULL descriptor or scalar");
    if (!algo) return fail(CUBLAS_STATUS_NOT_SUPPORTED, what, "the simulator runs only an algorithm its heuristic returned (algo is NULL)");
    if (C != D || c != dl) return fail(CUBLAS_STATUS_NOT_SUPPORTED, what, "the simulator computes in place only (C and D one matrix)");
    long long m, n, k;
    const char* why = product(d, a, b, c, &m, &n, &k);
    if (why) return fail(CUBLAS_STATUS_INVALID_VALUE, what, why);
    const Layout* ls[3] = {a, b, c};
    if (algo[0] != ALGO_TAG || algo[1] >= sizeof(ALGOS) / sizeof(ALGOS[0])) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "not an algorithm the heuristic returned");
    if (algo[2] != fingerprint(d, ls)) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "the algorithm was found for another product");
    const Algo& al = ALGOS[algo[1]];
    if (workspaceBytes < al.workspace) return fail(CUBLAS_STATUS_INVALID_VALUE, what, "less workspace than the algorithm needs");
    if (workspaceBytes > 0 && (!workspace || !pmxsim_in_allocation(reinterpret_cast<uintptr_t>(workspace), workspaceBytes))) {
        return fail(CUBLAS_STATUS_INVALID_VALUE, what, "the workspace is not device memory");
    }
    for (const void* p : {A, B, C}) {
        if (al.align && reinterpret_cast<uintptr_t>(p) % al.align != 0) {
            return fail(CUBLAS_STATUS_EXECUTION_FAILED, what, "an operand is less aligned than the algorithm needs (misaligned address)");
        }
    }
    if (m == 0 || n == 0 || c->batch == 0) return CUBLAS_STATUS_SUCCESS;
    if (k > 0 && !inside(A, a->type, (long long) a->rows, (long long) a->cols, a->ld, a->stride, a->batch)) return fail(CUBLAS_STATUS_EXECUTION_FAILED, what, "A is not inside one device allocation");
    if (k > 0 && !inside(B, b->type, (long long) b->rows, (long long) b->cols, b->ld, b->stride, b->batch)) return fail(CUBLAS_STATUS_EXECUTION_FAILED, what, "B is not inside one device allocation");
    if (!inside(C, c->type, m, n, c->ld, c->stride, c->batch)) return fail(CUBLAS_STATUS_EXECUTION_FAILED, what, "C is not inside one device allocation");
    Gemm g{(cublasOperation_t) d->ta, (cublasOperation_t) d->tb, (int) m, (int) n, (int) k, *static_cast<const float*>(alpha), *static_cast<const float*>(beta),
           A, a->type, a->ld, a->stride, B, b->type, b->ld, b->stride, D, c->type, c->ld, c->stride, c->batch};
    return submit(what, stream, g);
}

}  // extern "C"
