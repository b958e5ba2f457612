// Row gathers (embedding lookups and index_select over dim 0, from F32, BF16 or F16 tables), their
// scatter-add backward, and gathers along any dim of a strided tensor with theirs.
#include "common.cuh"

// out[r, :] = x[index[r], :] with I64 indices (index_select over dim 0 as the runtime calls it);
// an index outside [0, rows) gives NaN rows (the host checks indices it uploads)
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) index_select_rows_f32(const float* x, const i64* index, float* out, i64 n, i64 dim, i64 rows) {
    pmx_grid_begin();
    GRID_STRIDE(i, n * dim) {
        i64 r = index[i / dim];
        out[i] = (r >= 0 && r < rows) ? x[r * dim + i % dim] : QNAN;
    }
}

// the same gather from a BF16 or F16 table (inference embeddings in their storage dtype), widened to F32
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) index_select_rows_bf16(const unsigned short* x, const i64* index, float* out, i64 n, i64 dim, i64 rows) {
    pmx_grid_begin();
    GRID_STRIDE(i, n * dim) {
        i64 r = index[i / dim];
        out[i] = (r >= 0 && r < rows) ? bf16_to_f32(x[r * dim + i % dim]) : QNAN;
    }
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) index_select_rows_f16(const unsigned short* x, const i64* index, float* out, i64 n, i64 dim, i64 rows) {
    pmx_grid_begin();
    GRID_STRIDE(i, n * dim) {
        i64 r = index[i / dim];
        out[i] = (r >= 0 && r < rows) ? f16_to_f32(x[r * dim + i % dim]) : QNAN;
    }
}

// out[index[r], :] += src[r, :] with I64 indices (index_add over dim 0); out-of-range rows are skipped
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) index_add_rows_f32(const float* src, const i64* index, float* out, i64 n, i64 dim, i64 rows) {
    pmx_grid_begin();
    GRID_STRIDE(i, n * dim) {
        i64 r = index[i / dim];
        if (r >= 0 && r < rows) atomicAdd(out + r * dim + i % dim, src[i]);
    }
}

// Gathers along any dim of a strided tensor (Tensor.gather, and index_select through an index
// broadcast over the other dims): out[p] = x[p with dim d replaced by index[p]] over the n positions p
// of the index's shape g.size, out contiguous. g.sa holds x's strides with dim d's set to 0, sd the
// stride of dim d and size its length; g.sb holds the index's strides. A negative index counts from the
// end, as on the host; one outside [-size, size) gives the element `fill` (NaN for floating types, 0
// for integers; the host checks indices it uploads). Elements are es bytes, copied as they are.
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) gather_strided(int es, const void* x, const i64* index, void* out, Broadcast g, i64 sd, i64 size,
                                          i64 fill, i64 n) {
    pmx_grid_begin();
    GRID_STRIDE(i, n) {
        i64 ix, ii;
        offsets(g, i, &ix, &ii);
        i64 c = index[ii];
        if (c < 0) c += size;
        bool in = c >= 0 && c < size;
        i64 at = ix + c * sd;
        switch (es) {
            case 1: ((unsigned char*) out)[i] = in ? ((const unsigned char*) x)[at] : (unsigned char) fill; break;
            case 2: ((unsigned short*) out)[i] = in ? ((const unsigned short*) x)[at] : (unsigned short) fill; break;
            case 4: ((unsigned int*) out)[i] = in ? ((const unsigned int*) x)[at] : (unsigned int) fill; break;
            default: ((i64*) out)[i] = in ? ((const i64*) x)[at] : fill; break;
        }
    }
}

// The scatter-add that is gather_strided's backward (Tensor.scatterAdd): out[p with dim d replaced by
// index[p]] += src[p] over the positions p of the index's shape. One thread a line along dim d (the
// lines' shape g.size is the index's with dim d left out) adds that line's k values in order, as the
// host does, so repeated indices sum the same way, without atomics: distinct lines never meet. g.sa
// holds out's strides, g.sb the index's and g.sc src's; sd, id and srd the three strides along dim d.
// Indices as in gather_strided; one out of range is skipped.
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) scatter_add_strided_f32(const float* src, const i64* index, float* out, Broadcast3 g, i64 sd, i64 size,
                                                   i64 id, i64 srd, i64 k, i64 lines) {
    pmx_grid_begin();
    GRID_STRIDE(l, lines) {
        i64 io, ii, is;
        offsets3(g, l, &io, &ii, &is);
        for (i64 j = 0; j < k; j++) {
            i64 c = index[ii + j * id];
            if (c < 0) c += size;
            if (c >= 0 && c < size) out[io + c * sd] += src[is + j * srd];
        }
    }
}
