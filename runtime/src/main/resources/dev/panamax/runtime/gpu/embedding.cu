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
