package dev.panamax.runtime;

import java.lang.foreign.MemorySegment;

/**
 * What a non-CPU device implements for the ops to run on it. Tensors on a device hold a device
 * pointer instead of a host segment; the op classes ({@code Elementwise}, {@code Nn},
 * {@code Reductions}, {@code Linalg}, {@code Indexing}) keep their shape checks and autograd
 * recording and call one of these primitives where the host path calls {@link Kernels}. Ops
 * without a device primitive run on the host through {@link Tensor#to(Device)} both ways, which
 * autograd records like any other op. Every tensor argument is on this device; F32 unless said.
 */
interface DeviceBackend {
    /** The device. */
    Device device();

    /** {@code bytes} of device memory (not zeroed). */
    long allocate(long bytes);

    /** Returns memory from {@link #allocate} (after the queued work that uses it). */
    void release(long pointer);

    /** Sets {@code bytes} at {@code pointer} to zero (queued). */
    void zero(long pointer, long bytes);

    /** Host to device, in the order of the queued work; {@code src} may be reused on return. */
    void upload(MemorySegment src, long dst, long bytes);

    /** Device to host, synchronous (waits for queued work). */
    void download(long src, MemorySegment dst, long bytes);

    /** A copy to the host queued by {@link #downloadLater}. */
    interface PendingDownload extends AutoCloseable {
        /** Waits for the copy (not for work queued after it) and copies its bytes into {@code dst}. */
        void read(MemorySegment dst);

        /** Frees what holds the copy, after it has arrived. */
        @Override
        void close();
    }

    /**
     * Device to host, queued behind the work so far without waiting for it; null when it cannot
     * be queued, and the caller then calls {@link #download}. By default never queued.
     */
    default PendingDownload downloadLater(long src, long bytes) {
        return null;
    }

    /** {@code dst = src} elementwise (same dims; any strides, 0 strides in src broadcast; any dtypes but F64). */
    void copy(Tensor src, Tensor dst);

    /** Sets every element of {@code dst} (any strides, any dtype but F64) to {@code v}. */
    void fill(Tensor dst, double v);

    /** {@code out = op(a)}, both contiguous. */
    void unary(UnaryOp op, Tensor a, Tensor out);

    /** {@code gx = gy * d op(x) / dx} with y = op(x), all contiguous: the backward of {@link #unary}. */
    void unaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor gy, Tensor gx);

    /** {@code out = op(a, b)}; a and b expanded to out's dims (any strides), out contiguous. */
    void binary(BinaryOp op, Tensor a, Tensor b, Tensor out);

    /**
     * The backward of {@link #binary} for {@link BinaryOp#MAX} or {@link BinaryOp#MIN}:
     * {@code ga = gy * w(a, b)} and {@code gb = gy * w(b, a)}, w being
     * {@link Elementwise#pickWeight}; a and b as in {@link #binary}, gy, ga and gb contiguous with
     * out's dims; ga or gb null where that gradient is not wanted.
     */
    void maxMinBackward(BinaryOp op, Tensor a, Tensor b, Tensor gy, Tensor ga, Tensor gb);

    /** Softmax or log-softmax of each of {@code rows} contiguous rows of {@code n}. */
    void softmaxRows(Tensor x, Tensor out, long rows, long n, boolean log);

    /** The backward of {@link #softmaxRows} from its output y and the output's gradient gy (all contiguous). */
    void softmaxBackwardRows(Tensor y, Tensor gy, Tensor gx, long rows, long n, boolean log);

    /** RMSNorm of each row times {@code w} (n). */
    void rmsNormRows(Tensor x, Tensor w, Tensor out, long rows, long n, double eps);

    /**
     * The backward of {@link #rmsNormRows}: gx (rows, n), and gw (n, zeroed first; null when not
     * wanted) summed over the rows, from the input x, w and the output's gradient gy.
     */
    void rmsNormBackwardRows(Tensor x, Tensor w, Tensor gy, Tensor gx, Tensor gw, long rows, long n, double eps);

    /** {@code h = x + d}, then {@link #rmsNormRows} of h into out: the residual add and the next norm in one pass (all contiguous F32). */
    void addRmsNormRows(Tensor x, Tensor d, Tensor w, Tensor h, Tensor out, long rows, long n, double eps);

    /** {@code out = silu(gate) * up} over n contiguous elements. */
    void swiglu(Tensor gate, Tensor up, Tensor out, long n);

    /** The backward of {@link #swiglu}: the gradients of gate and up from the output's gradient gy. */
    void swigluBackward(Tensor gate, Tensor up, Tensor gy, Tensor gGate, Tensor gUp, long n);

    /**
     * Cross-entropy of each of {@code rows} contiguous rows of {@code cols} logits against its
     * target (I64, in range or {@code ignoreIndex}): {@code loss[r] = lse[r] - logits[r, t]} (0 on
     * ignored rows) and {@code lse[r]}, the row's log-sum-exp, kept for the backward.
     */
    void crossEntropyRows(Tensor logits, Tensor targets, Tensor loss, Tensor lse, long rows, long cols, long ignoreIndex);

    /**
     * The backward of {@link #crossEntropyRows}:
     * {@code glogits[r] = scale * gloss[r] * (softmax(logits[r]) - onehot(t))}, 0 on ignored rows.
     */
    void crossEntropyBackwardRows(Tensor logits, Tensor targets, Tensor lse, Tensor gloss, Tensor glogits, long rows, long cols,
                                  long ignoreIndex, double scale);

    /**
     * Rotary embedding of the pairs of {@code rows} rows of {@code 2 * half} values: row {@code r}
     * of x starts {@code r * ldx} elements from its offset and is rotated by row
     * {@code (r / rep) % tableRows} of cos and sin (contiguous, {@code (tableRows, half)}) into row
     * {@code r} of out (contiguous). {@code rep} and {@code tableRows} let one position's row serve
     * every head without being expanded.
     */
    void ropeRows(Tensor x, long ldx, Tensor cos, Tensor sin, long rep, long tableRows, Tensor out, long rows, long half);

    /**
     * New entries of MLA's compressed KV cache, at inference: row {@code r} of kv (F32, rows
     * {@code ldkv} elements apart) holds a latent of n values and then a RoPE key of
     * {@code 2 * half}. The latent's {@link #rmsNormRows} by w goes to latent, the key's
     * {@link #ropeRows} by table row {@code r % tableRows} of cos and sin (contiguous,
     * {@code (tableRows, half)}: tableRows is perSeq where every sequence is at the same
     * positions, {@code rows} where each has its own) to kRope. Output row r of each sits at
     * {@code (r / perSeq) * seqStride + (r % perSeq + pos[r / perSeq]) * width} (width n, and
     * {@code 2 * half}; pos, I32 per sequence in device memory, read when the kernel runs, or null
     * for 0), in that tensor's dtype: F32, or BF16 rounded to nearest even as a copy rounds.
     */
    void latentKvRows(Tensor kv, long ldkv, Tensor w, double eps, Tensor cos, Tensor sin, Tensor latent, long latentSeqStride,
                      Tensor kRope, long kRopeSeqStride, Tensor pos, long rows, long perSeq, long tableRows, long n, long half);

    /** Sum or max of each of {@code rows} contiguous rows of {@code n} into out (rows). */
    void reduceRows(ReduceOp op, Tensor x, Tensor out, long rows, long n);

    /**
     * The index of the maximum of each of {@code rows} contiguous rows of {@code n} into out (rows)
     * I64: the first NaN, else the first maximum, as {@link Tensor#argmax} on the host.
     */
    void argmaxRows(Tensor x, Tensor out, long rows, long n);

    /**
     * {@link Tensor#topk} over each of {@code rows} contiguous rows of {@code n}: the k (1 to
     * {@code Indexing.TOPK_DEVICE_MAX}) largest (or smallest) first, NaN before everything, equal
     * values (-0.0 = 0.0) by the lower index; their values into vals and indices into idx (rows, k)
     * I64.
     */
    void topkRows(Tensor x, Tensor vals, Tensor idx, long rows, long n, int k, boolean largest);

    /**
     * {@link Functional#sampleRows}: the token of each of {@code rows} contiguous rows of {@code n}
     * logits into out (rows) I64, row r drawn with {@code Sampling.uniform(key, r)}.
     */
    void sampleRows(Tensor logits, Tensor out, long rows, long n, double temperature, long key);

    /**
     * {@link Functional#softmaxDenominators}: each of {@code rows} contiguous rows of {@code n} F32
     * logits summed as {@code Sampling.weight}s in double, its bits into out (rows) I64.
     */
    void softmaxTotalRows(Tensor logits, Tensor out, long rows, long n, double temperature);

    /**
     * The {@link Kernels#sgemm} contract on device memory: a F32 and b F32, BF16 or F16; or a and b
     * both BF16 or both F16 (F32 accumulation). c is F32, or of a and b's 16-bit type (the F32
     * accumulators rounded once).
     */
    void gemm(boolean ta, boolean tb, int m, int n, int k, Tensor a, long aOff, long lda, Tensor b, long bOff, long ldb,
              Tensor c, long cOff, long ldc, boolean accumulate);

    /**
     * {@link #gemm} over {@code batch} products, item {@code i} at element offsets
     * {@code aOff + i * strideA}, {@code bOff + i * strideB} and {@code cOff + i * strideC} (a stride
     * of 0 uses one operand for every item; strideC is never 0 when batch > 1). One product per item
     * unless the device has a batched primitive.
     */
    default void gemmBatched(boolean ta, boolean tb, int m, int n, int k, Tensor a, long aOff, long lda, long strideA,
                             Tensor b, long bOff, long ldb, long strideB, Tensor c, long cOff, long ldc, long strideC,
                             long batch, boolean accumulate) {
        for (long i = 0; i < batch; i++) {
            gemm(ta, tb, m, n, k, a, aOff + i * strideA, lda, b, bOff + i * strideB, ldb, c, cOff + i * strideC, ldc, accumulate);
        }
    }

    /**
     * One product of {@link #gemmGrouped}: {@code m x n x k}, its operands at element offsets
     * (counted from each tensor's storage, as in {@link #gemm}).
     */
    record GemmItem(int m, int n, int k, Tensor a, long aOff, Tensor b, long bOff, Tensor c, long cOff) {
    }

    /**
     * {@link #gemm} for each item, all with the same transposes and leading dimensions (the routed
     * experts of a MoE layer, each over its own rows and weights). One product per item unless the
     * device has a grouped primitive.
     */
    default void gemmGrouped(boolean ta, boolean tb, long lda, long ldb, long ldc, java.util.List<GemmItem> items, boolean accumulate) {
        for (GemmItem it : items) {
            gemm(ta, tb, it.m(), it.n(), it.k(), it.a(), it.aOff(), lda, it.b(), it.bOff(), ldb, it.c(), it.cOff(), ldc, accumulate);
        }
    }

    /** {@code out[r] = x[index[r]]} for n rows of {@code dim} (x F32, BF16 or F16 with {@code rows} rows; out F32; index I64). */
    void indexSelectRows(Tensor x, Tensor index, Tensor out, long n, long dim, long rows);

    /** {@code out[index[r]] += src[r]} for n rows of {@code dim} (out has {@code rows} rows; index I64). */
    void indexAddRows(Tensor src, Tensor index, Tensor out, long n, long dim, long rows);

    /**
     * The DeepSeekMoE gate ({@link Functional#moeGate}) over {@code tokens} contiguous rows of
     * {@code experts} F32 logits, with bias (experts) or null: the chosen experts into idx (tokens,
     * k) I32, best first, and their weights into w (tokens, k) F32. At most 256 experts and top-16.
     */
    void moeGate(Tensor logits, Tensor bias, Tensor idx, Tensor w, long tokens, int experts, Functional.GateSpec spec);

    /** The backward of {@link #moeGate}: d loss / d logits (tokens, experts) from d loss / d w. */
    void moeGateBackward(Tensor logits, Tensor idx, Tensor gw, Tensor glogits, long tokens, int experts, Functional.GateSpec spec);

    /**
     * The MoE un-permute: {@code out[t] = sum over j < k of w[t, j] * y[pos[t * k + j]]} for
     * {@code tokens} rows of {@code dim}, summed in slot order. y (tokens * k, dim), w (tokens, k)
     * and out contiguous F32; pos I64, a permutation of the rows of y.
     */
    void moeUnpermute(Tensor y, Tensor pos, Tensor w, Tensor out, long tokens, long k, long dim);

    /** The backward of {@link #moeUnpermute}: {@code gy[pos[t * k + j]] = w[t, j] gout[t]}, {@code gw[t, j] = gout[t] . y[pos[t * k + j]]}. */
    void moeUnpermuteBackward(Tensor y, Tensor pos, Tensor w, Tensor gout, Tensor gy, Tensor gw, long tokens, long k, long dim);

    /**
     * SwiGLU of a linear pair at decode: {@code h[r, j] = silu(x[r] . w1[j]) * (x[r] . w3[j])} for
     * m (at most {@link CudaBackend#GEMV_ROWS}) contiguous rows x (m, k); w1 and w3 (n, k)
     * contiguous, of one dtype (F32, BF16 or F16); h (m, n) contiguous.
     */
    void gemvSwiglu(Tensor x, Tensor w1, Tensor w3, Tensor h, long m, long n, long k);

    /**
     * The routed experts at inference ({@link RoutedExperts#forward}): for pair p = t * k + j,
     * e = chosen[p] (I32) in [0, E): h_p = silu(x[t] . gate[e]^T) * (x[t] . up[e]^T) and
     * out[t] = sum over j of w[t, j] * (h_p . down[e]^T), plus base[t] (base may be null). x and
     * base (tokens, C), chosen and w (tokens, k), out (tokens, C), all contiguous; the experts'
     * weights contiguous, of one dtype (F32, BF16 or F16); {@code table} holds their device pointers
     * (gate, then up, then down; 3E I64) on this device.
     */
    void moeExperts(Tensor x, Tensor chosen, Tensor w, Tensor base, Tensor out, Tensor[] gate, Tensor[] up, Tensor[] down, Tensor table,
                    long tokens, int k);

    /**
     * {@code out[p] = x[p with dim d replaced by index[p]]} over the positions p of index's dims:
     * {@link Tensor#gather} for x of any strides and device dtype, index of x's rank (I64 or I32, on
     * the host or this device, any strides; a device I64 index is read where it is, so one broadcast
     * with stride 0 costs nothing) and out contiguous, of x's dtype and index's dims. At most 8 of
     * index's dims exceed 1. A negative index counts from the end; one out of range gives NaN, or 0
     * for an integer dtype.
     */
    void gather(Tensor x, int d, Tensor index, Tensor out);

    /**
     * {@code out[p with dim d replaced by index[p]] += src[p]} over the positions p of index's dims:
     * {@link #gather}'s backward, for out and src F32 of any strides (src at least index's dims).
     * The values meeting one element are added in order of their position along d, as the host adds
     * them; indices as in gather, one out of range skipped.
     */
    void scatterAdd(Tensor src, int d, Tensor index, Tensor out);

    /**
     * {@code out = cond != 0 ? a : b} for cond, a and b of out's dims (broadcast by strides, any
     * device dtypes) and out contiguous: the picked value converted to out's dtype, exactly when both
     * are integers; a NaN condition counts as true. At most 8 of out's dims exceed 1.
     */
    void where(Tensor cond, Tensor a, Tensor b, Tensor out);

    /**
     * One AdamW step over {@code n} contiguous F32 elements of parameter w, gradient g and the
     * moments m and v, in the float order of {@link OptimizerKernels#adamw}.
     */
    void adamw(Tensor w, Tensor g, Tensor m, Tensor v, long n, OptimizerKernels.AdamWStep step);

    /** One SGD step over {@code n} contiguous F32 elements (buf null without momentum), as {@link OptimizerKernels#sgd}. */
    void sgd(Tensor w, Tensor g, Tensor buf, long n, OptimizerKernels.SgdStep step);

    /**
     * Absorbed-MLA decode attention: for each sequence b and head h,
     * {@code out[b,h] = softmax(scale * q[b,h] . [latent[b,s] ++ kRope[b,s]] over s < len) . latent[b,.]},
     * the query q in two parts: qLatent (B,H,R) and qRope (B,H,P), F32, each with unit element
     * stride and batch stride H times its head stride (the halves of one joined tensor, or two);
     * out (B,H,R) contiguous F32; latent (B,L,R) and kRope (B,L,P) with unit row strides and batch
     * strides {@code L*R} and {@code L*P}. With {@code positions} (I32 (B), in device memory, read
     * when the kernel runs: each sequence's position of its query) sequence b attends over
     * {@code positions[b] + 1} rows and {@code len} is only the most it may be (the work is sized
     * for that, as a replayed graph needs); without, every sequence over {@code len}.
     */
    void mlaDecode(Tensor qLatent, Tensor qRope, Tensor latent, Tensor kRope, Tensor out, long len, Tensor positions, double scale);

    /** Waits for all queued work. */
    void synchronize();

    /**
     * The work {@code body} queues, recorded into a graph that replays it (not run now), or null
     * where this device has no graphs (then body has not run). See {@link DeviceGraph}.
     */
    default Replayable captureGraph(Runnable body) {
        return null;
    }

    /** A recorded graph: {@link #replay()} queues its work again; {@link #close()} frees it. */
    interface Replayable extends AutoCloseable {
        /** Queues the recorded work. */
        void replay();

        /** Its nodes (kernel launches, copies, memsets). */
        long nodes();

        @Override
        void close();
    }

    /**
     * A point recorded in this device's queue of work ({@link Device#record()}): by default the
     * host's clock, since a backend that runs its ops as they are called has finished the work
     * queued before it.
     */
    default Mark mark() {
        return HostMark.now();
    }

    /** A point in a device's queue of work: see {@link Device.Event}. */
    interface Mark extends AutoCloseable {
        /** Waits until the work queued before this mark has run; the milliseconds from {@code start} (a mark of the same backend) to this one. */
        double millisSince(Mark start);

        @Override
        void close();
    }

    /** A mark of the host's clock ({@link System#nanoTime}). */
    record HostMark(long nanos) implements Mark {
        /** The host's clock now. */
        static HostMark now() {
            return new HostMark(System.nanoTime());
        }

        @Override
        public double millisSince(Mark start) {
            if (!(start instanceof HostMark h)) throw new IllegalArgumentException("the start event was recorded by another backend of the device");
            return (nanos - h.nanos) / 1e6;
        }

        @Override
        public void close() {
        }
    }
}
