// Row gathers (embedding lookups and index_select over dim 0, from F32, BF16 or F16 tables), their
// scatter-add backward, and gathers along the last dim with theirs.
#include "common.cuh"

// out[r, :] = x[index[r], :] with I64 indices (index_select over dim 0 as the runtime calls it);
// an index outside [0, rows) gives NaN rows (the host checks indices it uploads)
extern "C" __global__ void index_select_rows_f32(const float* x, const i64* index, float* out, i64 n, i64 dim, i64 rows) {
    GRID_STRIDE(i, n * dim) {
        i64 r = index[i / dim];
        out[i] = (r >= 0 && r < rows) ? x[r * dim + i % dim] : QNAN;
    }
}

// the same gather from a BF16 or F16 table (inference embeddings in their storage dtype), widened to F32
extern "C" __global__ void index_select_rows_bf16(const unsigned short* x, const i64* index, float* out, i64 n, i64 dim, i64 rows) {
    GRID_STRIDE(i, n * dim) {
        i64 r = index[i / dim];
        out[i] = (r >= 0 && r < rows) ? bf16_to_f32(x[r * dim + i % dim]) : QNAN;
    }
}

extern "C" __global__ void index_select_rows_f16(const unsigned short* x, const i64* index, float* out, i64 n, i64 dim, i64 rows) {
    GRID_STRIDE(i, n * dim) {
        i64 r = index[i / dim];
        out[i] = (r >= 0 && r < rows) ? f16_to_f32(x[r * dim + i % dim]) : QNAN;
    }
}

// out[index[r], :] += src[r, :] with I64 indices (index_add over dim 0); out-of-range rows are skipped
extern "C" __global__ void index_add_rows_f32(const float* src, const i64* index, float* out, i64 n, i64 dim, i64 rows) {
    GRID_STRIDE(i, n * dim) {
        i64 r = index[i / dim];
        if (r >= 0 && r < rows) atomicAdd(out + r * dim + i % dim, src[i]);
    }
}

// out[r, j] = x[r, index[r, j]] for x (rows, cols) and index (rows, k): gather over the last dim. A
// negative index counts from the end, as on the host; one outside [-cols, cols) gives NaN (the host
// checks indices it uploads)
extern "C" __global__ void gather_last_f32(const float* x, const i64* index, float* out, i64 rows, i64 cols, i64 k) {
    GRID_STRIDE(i, rows * k) {
        i64 c = index[i];
        if (c < 0) c += cols;
        out[i] = (c >= 0 && c < cols) ? x[(i / k) * cols + c] : QNAN;
    }
}

// out[r, index[r, j]] += src[r, j] for src and index (rows, k), out (rows, cols): gather_last's
// backward (scatter-add over the last dim). One thread a row adds its k values in order, as the
// host does, so repeated indices sum the same way, without atomics; indices as in gather_last, one
// out of range is skipped
extern "C" __global__ void scatter_add_last_f32(const float* src, const i64* index, float* out, i64 rows, i64 cols, i64 k) {
    GRID_STRIDE(r, rows) {
        for (i64 j = 0; j < k; j++) {
            i64 c = index[r * k + j];
            if (c < 0) c += cols;
            if (c >= 0 && c < cols) out[r * cols + c] += src[r * k + j];
        }
    }
}
