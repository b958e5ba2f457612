// Embedding lookup (F32 or BF16 table), its backward (scatter-add of rows), and row gathers.
#include "common.cuh"

extern "C" __global__ void embedding_f32(const float* table, const int* ids, float* out, int n, int dim, int vocab) {
    GRID_STRIDE(i, (i64) n * dim) {
        int id = ids[i / dim];
        out[i] = (id >= 0 && id < vocab) ? table[(i64) id * dim + i % dim] : QNAN;
    }
}

extern "C" __global__ void embedding_bf16(const unsigned short* table, const int* ids, float* out, int n, int dim, int vocab) {
    GRID_STRIDE(i, (i64) n * dim) {
        int id = ids[i / dim];
        out[i] = (id >= 0 && id < vocab) ? bf16_to_f32(table[(i64) id * dim + i % dim]) : QNAN;
    }
}

// gtable[ids[r], :] += gout[r, :]
extern "C" __global__ void embedding_backward_f32(const int* ids, const float* gout, float* gtable, int n, int dim) {
    GRID_STRIDE(i, (i64) n * dim) atomicAdd(gtable + (i64) ids[i / dim] * dim + i % dim, gout[i]);
}

// out[r, :] = x[index[r], :] (index_select over rows)
extern "C" __global__ void gather_rows_f32(const float* x, const int* index, float* out, int n, int dim) {
    GRID_STRIDE(i, (i64) n * dim) out[i] = x[(i64) index[i / dim] * dim + i % dim];
}

// out[index[r], :] += x[r, :] (scatter_add over rows)
extern "C" __global__ void scatter_add_rows_f32(const float* x, const int* index, float* out, int n, int dim) {
    GRID_STRIDE(i, (i64) n * dim) atomicAdd(out + (i64) index[i / dim] * dim + i % dim, x[i]);
}

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

// out[r, j] = x[r, index[r, j]] for x (rows, cols) and index (rows, k): gather over the last dim
extern "C" __global__ void gather_last_f32(const float* x, const i64* index, float* out, i64 rows, i64 cols, i64 k) {
    GRID_STRIDE(i, rows * k) {
        i64 c = index[i];
        out[i] = (c >= 0 && c < cols) ? x[(i / k) * cols + c] : QNAN;
    }
}
