package dev.panamax.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Fused ops with their own backward, for the shapes of training: linear layers, SwiGLU,
 * softmax cross-entropy and causal scaled-dot-product attention. Each could be composed from
 * primitives; fusing saves the intermediate tensors a composed backward would record.
 */
public final class Functional {
    private Functional() {
    }

    /** How a loss over positions is reduced. */
    public enum Reduction {
        /** Mean over the positions that are not ignored. */
        MEAN,
        /** Sum over the positions that are not ignored. */
        SUM
    }

    /** A linear layer without bias: {@code x (..., Cin) . weight (Cout, Cin)^T -> (..., Cout)}. */
    public static Tensor linear(Tensor x, Tensor weight) {
        return x.matmul(weight.t());
    }

    /**
     * SwiGLU: {@code silu(x W1^T) * (x W3^T)} for x (..., C), w1 and w3 (I, C); result (..., I).
     * Backward: with a = x W1^T, b = x W3^T, s = sigmoid(a): da = g b s (1 + a (1 - s)),
     * db = g a s; dx = da W1 + db W3; dW1 = da^T x; dW3 = db^T x. On a device, with no gradient
     * needed and at most 8 rows (decoding), one kernel computes both products and the gated
     * product ({@code gemv.cu}'s gemv_swiglu), reading the weights in their own dtype.
     */
    public static Tensor swiglu(Tensor x, Tensor w1, Tensor w3) {
        if (fusedGemvSwiglu(x, w1, w3)) {
            long c = x.dim(-1), rows = x.numel() / c, inner = w1.dim(0);
            Tensor xc = Elementwise.cast(x, DType.F32).contiguous();
            Tensor out = Tensor.outputLike(xc, DType.F32, rows, inner);
            x.backend.gemvSwiglu(xc, w1, w3, out, rows, inner, c);
            long[] dims = x.dims();
            dims[dims.length - 1] = inner;
            return out.view(dims);
        }
        Tensor a, b, out;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            a = linear(x, w1).contiguous();
            b = linear(x, w3).contiguous();
            out = siluMulForward(a, b);
        }
        long c = x.dim(-1);
        return Autograd.record(out, "swiglu", g -> {
            Tensor[] d = siluMulBackward(a, b, g);
            Tensor da = d[0], db = d[1];
            Tensor dx = x.requiresGrad ? da.matmul(w1).add(db.matmul(w3)) : null;
            Tensor x2 = x.reshape(-1, c);
            Tensor dw1 = w1.requiresGrad ? da.reshape(-1, w1.dim(0)).t().matmul(x2) : null;
            Tensor dw3 = w3.requiresGrad ? db.reshape(-1, w3.dim(0)).t().matmul(x2) : null;
            return new Tensor[]{dx, dw1, dw3};
        }, x, w1, w3);
    }

    /**
     * A residual add and the RMSNorm after it: {@code {h, rmsNorm(h, weight, eps)}} with
     * {@code h = x + d} (d null: h is x), the pre-norm residual stream of a decoder layer. On a
     * device with no gradient needed and x and d of one shape, one kernel writes both
     * ({@code reduce.cu}'s add_rmsnorm_f32, the add's and the norm's own arithmetic); otherwise
     * the add and the norm, as recorded ops.
     */
    public static Tensor[] addRmsNorm(Tensor x, Tensor d, Tensor weight, double eps) {
        if (d == null) return new Tensor[]{x, x.rmsNorm(weight, eps)};
        long n = x.dim(-1);
        if (x.backend != null && d.backend == x.backend && x.shape.sameDims(d.shape) && x.dtype == DType.F32 && d.dtype == DType.F32 && n > 0
                && weight.rank() == 1 && weight.dim(0) == n && !Autograd.needed(x, d, weight)) {
            Tensor xc = x.contiguous(), dc = d.contiguous();
            Tensor w = Elementwise.cast(Elementwise.onDeviceOf(xc, weight), DType.F32).contiguous();
            Tensor h = Tensor.outputLike(xc, DType.F32, xc.dims()), out = Tensor.outputLike(xc, DType.F32, xc.dims());
            xc.backend.addRmsNormRows(xc, dc, w, h, out, xc.numel() / n, n, eps);
            return new Tensor[]{h, out};
        }
        Tensor h = x.add(d);
        return new Tensor[]{h, h.rmsNorm(weight, eps)};
    }

    /**
     * New entries of a multi-head latent attention cache. Of {@code kv} (B, T, n + r), the
     * compressed latent {@code kv[..., :n]}, RMS-normalised by {@code normWeight} (n), goes into
     * {@code latentDst} (B, T, n). The RoPE key {@code kv[..., n:]}, rotated by {@code cos} and
     * {@code sin} (T rows of r / 2, in any shape holding that many, one for every sequence; or
     * B x T rows, each sequence's own), goes into {@code kRopeDst} (B, T, r). Each lands in its
     * destination's dtype.
     * <p>
     * This writes and records no gradient. On a device it is one launch ({@code rope.cu}'s
     * latent_kv_rows_*) where kv is contiguous F32 and the destinations are F32 or BF16 with
     * contiguous rows. Otherwise it is the norm, the rotation and two copies, each computed as its
     * op computes it; the launch is the same arithmetic.
     *
     * @throws IllegalArgumentException where the shapes do not fit together (naming the operand)
     */
    public static void latentKvInto(Tensor kv, Tensor normWeight, double eps, Tensor cos, Tensor sin, Tensor latentDst, Tensor kRopeDst) {
        if (kv.rank() != 3) throw new IllegalArgumentException("latentKvInto: kv must be (B, T, latent + rope), got " + kv.shape);
        long b = kv.dim(0), t = kv.dim(1), n = latentDst.dim(-1), r = kRopeDst.dim(-1);
        if (!latentDst.shape.sameDims(Shape.of(b, t, n)) || !kRopeDst.shape.sameDims(Shape.of(b, t, r)))
            throw new IllegalArgumentException("latentKvInto: kv " + kv.shape + " does not split into latentDst " + latentDst.shape + " and kRopeDst " + kRopeDst.shape + " (an even RoPE width)");
        latentKv(kv, normWeight, eps, cos, sin, latentDst, kRopeDst, null);
    }

    /**
     * {@link #latentKvInto(Tensor, Tensor, double, Tensor, Tensor, Tensor, Tensor)} at positions
     * held in a tensor: the T new entries of sequence b go to rows {@code positions[b] ..
     * positions[b] + T - 1} of the whole caches {@code latentCache} (B, L, n) and
     * {@code kRopeCache} (B, L, r). {@code positions} is I32 (B), on the caches' device. On a
     * device the kernel reads it when it runs, so a {@link DeviceGraph} that captured this call
     * writes wherever the positions then say; elsewhere it is read here.
     *
     * @throws IllegalArgumentException where the shapes do not fit together (naming the operand)
     * @throws IndexOutOfBoundsException where a position (read on the host) leaves no room for the T entries
     */
    public static void latentKvInto(Tensor kv, Tensor normWeight, double eps, Tensor cos, Tensor sin, Tensor latentCache, Tensor kRopeCache,
                                    Tensor positions) {
        if (kv.rank() != 3) throw new IllegalArgumentException("latentKvInto: kv must be (B, T, latent + rope), got " + kv.shape);
        long b = kv.dim(0), n = latentCache.dim(-1), r = kRopeCache.dim(-1);
        if (latentCache.rank() != 3 || kRopeCache.rank() != 3 || latentCache.dim(0) != b || kRopeCache.dim(0) != b || kRopeCache.dim(1) != latentCache.dim(1))
            throw new IllegalArgumentException("latentKvInto: latentCache " + latentCache.shape + " and kRopeCache " + kRopeCache.shape + " must be (" + b + ", L, width), one L");
        checkPositions("latentKvInto", positions, b, latentCache);
        latentKv(kv, normWeight, eps, cos, sin, latentCache, kRopeCache, positions);
    }

    /** positions must be I32 (b) on the device of {@code on}. */
    private static void checkPositions(String op, Tensor positions, long b, Tensor on) {
        if (positions.dtype != DType.I32 || positions.rank() != 1 || positions.dim(0) != b)
            throw new IllegalArgumentException(op + ": positions must be I32 (" + b + "), got " + positions.dtype + " " + positions.shape);
        if (positions.backend != on.backend) throw new IllegalArgumentException(op + ": positions are on " + positions.device() + ", the cache on " + on.device());
    }

    /** latentKvInto into dst (B,T,width) when pos is null, else into rows pos[b].. of the whole caches (B,L,width). */
    private static void latentKv(Tensor kv, Tensor normWeight, double eps, Tensor cos, Tensor sin, Tensor latentDst, Tensor kRopeDst, Tensor pos) {
        long b = kv.dim(0), t = kv.dim(1), n = latentDst.dim(-1), r = kRopeDst.dim(-1), half = r / 2;
        if (n + r != kv.dim(2) || r % 2 != 0)
            throw new IllegalArgumentException("latentKvInto: kv " + kv.shape + " does not split into latentDst " + latentDst.shape + " and kRopeDst " + kRopeDst.shape + " (an even RoPE width)");
        if (normWeight.rank() != 1 || normWeight.dim(0) != n) throw new IllegalArgumentException("latentKvInto: normWeight must be (" + n + "), got " + normWeight.shape);
        boolean perSeq = b > 1 && cos.numel() == b * t * half;   // each sequence's own rows (at its own positions)
        if (cos.numel() != sin.numel() || (cos.numel() != t * half && !perSeq))
            throw new IllegalArgumentException("latentKvInto: cos and sin must hold " + t + " x " + half + " values (or " + b + " x " + t + " x " + half
                    + ", each sequence's), got " + cos.shape + " and " + sin.shape);
        if (b * t == 0) return;
        DeviceBackend dev = kv.backend;
        DType out = latentDst.dtype;
        boolean fused = dev != null && latentDst.backend == dev && kRopeDst.backend == dev && kv.dtype == DType.F32 && kv.isContiguous()
                && kRopeDst.dtype == out && (out == DType.F32 || out == DType.BF16) && n > 0
                && latentDst.shape.stride(2) == 1 && (t == 1 && pos == null || latentDst.shape.stride(1) == n)
                && kRopeDst.shape.stride(2) == 1 && (t == 1 && pos == null || kRopeDst.shape.stride(1) == r)
                && (pos == null || pos.isContiguous());
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            if (fused) {
                Tensor w = Elementwise.cast(Elementwise.onDeviceOf(kv, normWeight), DType.F32).contiguous();
                Tensor c = Elementwise.cast(Elementwise.onDeviceOf(kv, cos), DType.F32).contiguous();
                Tensor s = Elementwise.cast(Elementwise.onDeviceOf(kv, sin), DType.F32).contiguous();
                dev.latentKvRows(kv, n + r, w, eps, c, s, latentDst, latentDst.shape.stride(0), kRopeDst, kRopeDst.shape.stride(0), pos, b * t, t, perSeq ? b * t : t, n, half);
                return;
            }
            long tables = perSeq ? b : 1;
            if (pos == null) {
                latentDst.copyFrom(kv.narrow(2, 0, n).rmsNorm(normWeight, eps));
                kRopeDst.copyFrom(kv.narrow(2, n, r).rope(cos.reshape(tables, t, half), sin.reshape(tables, t, half)));
                return;
            }
            long[] at = pos.toLongArray();
            for (int i = 0; i < b; i++) {
                if (at[i] < 0 || at[i] + t > latentDst.dim(1))
                    throw new IndexOutOfBoundsException("latentKvInto: position " + at[i] + " of sequence " + i + " leaves no room for " + t + " entries in a cache of " + latentDst.dim(1));
            }
            // every sequence's entries at once, then each copied to its own position
            Tensor normed = kv.narrow(2, 0, n).rmsNorm(normWeight, eps);
            Tensor turned = kv.narrow(2, n, r).rope(cos.reshape(tables, t, half), sin.reshape(tables, t, half));
            for (int i = 0; i < b; i++) {
                latentDst.narrow(0, i, 1).narrow(1, at[i], t).copyFrom(normed.narrow(0, i, 1));
                kRopeDst.narrow(0, i, 1).narrow(1, at[i], t).copyFrom(turned.narrow(0, i, 1));
            }
        }
    }

    /** Whether {@link #swiglu} is one gemv_swiglu launch: decode rows on a device, no gradient, contiguous weights of one float dtype. */
    private static boolean fusedGemvSwiglu(Tensor x, Tensor w1, Tensor w3) {
        if (x.backend == null || w1.backend != x.backend || w3.backend != x.backend || Autograd.needed(x, w1, w3)) return false;
        if (x.rank() < 1 || w1.rank() != 2 || !w1.shape.sameDims(w3.shape) || w1.dim(1) != x.dim(-1) || x.dim(-1) == 0) return false;
        if (w1.dtype != w3.dtype || (w1.dtype != DType.F32 && w1.dtype != DType.BF16 && w1.dtype != DType.F16)) return false;
        if (x.dtype == DType.F64 || !w1.isContiguous() || !w3.isContiguous()) return false;
        long rows = x.numel() / x.dim(-1);
        return rows >= 1 && rows <= CudaBackend.GEMV_ROWS;
    }

    /**
     * The gated product of SwiGLU on its two projections: {@code silu(a) * b} for a and b of the
     * same dims (one fused kernel each way on a device for F32). Backward, with s = sigmoid(a):
     * da = g b s (1 + a (1 - s)), db = g a s.
     */
    public static Tensor siluMul(Tensor a, Tensor b) {
        if (!a.shape.sameDims(b.shape)) throw new IllegalArgumentException("siluMul needs operands of one shape, got " + a.shape + " and " + b.shape);
        Tensor ac, bc, out;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            ac = a.contiguous();
            bc = Elementwise.onDeviceOf(a, b).contiguous();
            out = siluMulForward(ac, bc);
        }
        return Autograd.record(out, "siluMul", g -> siluMulBackward(ac, bc, g), a, b);
    }

    private static boolean fusedSiluMul(Tensor a, Tensor b) {
        return a.backend != null && a.dtype == DType.F32 && b.dtype == DType.F32;   // one kernel each way on a device
    }

    /** silu(a) * b for contiguous a and b, outside autograd. */
    private static Tensor siluMulForward(Tensor a, Tensor b) {
        if (!fusedSiluMul(a, b)) return a.silu().mul(b);
        Tensor out = Tensor.outputLike(a, DType.F32, a.dims());
        a.backend.swiglu(a, b, out, a.numel());
        return out;
    }

    /** {da, db} of silu(a) * b for contiguous a and b and upstream g. */
    private static Tensor[] siluMulBackward(Tensor a, Tensor b, Tensor g) {
        if (fusedSiluMul(a, b)) {
            Tensor da = Tensor.zerosLike(a, DType.F32, a.dims());
            Tensor db = Tensor.zerosLike(a, DType.F32, a.dims());
            a.backend.swigluBackward(a, b, Elementwise.cast(Elementwise.onDeviceOf(a, g), DType.F32).contiguous(), da, db, a.numel());
            return new Tensor[]{da, db};
        }
        Tensor s = a.sigmoid();
        return new Tensor[]{g.mul(b).mul(s.mul(a.mul(s.neg().add(1.0)).add(1.0))), g.mul(a.mul(s))};
    }

    /**
     * Grouped linear layers, one weight per group of rows (the routed experts of a MoE layer,
     * each over the tokens routed to it): x (R, Cin) holds the groups one after another, group g
     * being rows {@code [offsets[g], offsets[g + 1])}, and row r of group g becomes
     * {@code x[r] . weights[g]^T}; result (R, Cout). The weights are (Cout, Cin), all of one dtype
     * (F32, BF16 or F16); x is F32. An empty group costs nothing and its weight gets no gradient.
     * On a GPU each direction is one grouped call (a grouped gemv.cu launch against 16-bit
     * weights at decode, else one {@code cublasGemmGroupedBatchedEx}) instead of one product per
     * group. Backward: dx[rows of g] = g[rows of g] . W_g; dW_g = g[rows of g]^T . x[rows of g].
     *
     * @throws IllegalArgumentException when the offsets do not cover x's rows in order, or the
     *                                  weights differ in shape, dtype or device
     */
    public static Tensor groupedLinear(Tensor x, int[] offsets, Tensor... weights) {
        checkGroups("groupedLinear", x, offsets, weights);
        int groups = weights.length;
        long cout = weights[0].dim(0), cin = x.dim(1);
        Tensor xc, out;
        Tensor[] wc = new Tensor[groups];
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            xc = Elementwise.cast(Elementwise.onDeviceOf(weights[0], x), DType.F32).contiguous();
            for (int g = 0; g < groups; g++) wc[g] = weights[g].contiguous();
            out = Tensor.outputLike(xc, DType.F32, xc.dim(0), cout);   // the groups cover every row
            List<DeviceBackend.GemmItem> items = new ArrayList<>();
            addRowBlocks(items, xc, offsets, wc, out);
            Linalg.gemmGrouped(false, true, cin, cin, cout, items, false);
        }
        return Autograd.record(out, "groupedLinear", gradOut -> {
            Tensor g = Elementwise.cast(Elementwise.onDeviceOf(out, gradOut), DType.F32).contiguous();
            Tensor[] grads = new Tensor[groups + 1];
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                if (x.requiresGrad) {
                    grads[0] = Tensor.zerosLike(xc, DType.F32, xc.dim(0), cin);
                    List<DeviceBackend.GemmItem> dx = new ArrayList<>();
                    addRowBlocks(dx, g, offsets, wc, grads[0]);
                    Linalg.gemmGrouped(false, false, cout, cin, cin, dx, false);
                }
                List<DeviceBackend.GemmItem> dw = new ArrayList<>();
                addWeightGrads(dw, g, xc, offsets, weights, grads, 1);
                Linalg.gemmGrouped(true, false, cout, cin, cin, dw, false);
            }
            return grads;
        }, prepend(x, weights));
    }

    /**
     * The SwiGLU of grouped experts: {@code siluMul(groupedLinear(x, offsets, w1), groupedLinear(x,
     * offsets, w3))} with both projections in one grouped call each way (on a GPU one grouped
     * launch or cuBLAS call for the gate and up projections of every expert together) and one
     * recorded node, as {@link #swiglu} is for one MLP. x (R, C); w1 and w3 (I, C) per group;
     * result (R, I).
     */
    public static Tensor groupedSwiglu(Tensor x, int[] offsets, Tensor[] w1, Tensor[] w3) {
        checkGroups("groupedSwiglu", x, offsets, w1);
        checkGroups("groupedSwiglu", x, offsets, w3);
        if (w1[0].dim(0) != w3[0].dim(0) || w1[0].dtype != w3[0].dtype || w1[0].backend != w3[0].backend) {
            throw new IllegalArgumentException("groupedSwiglu needs gate and up weights of one shape, dtype and device, got "
                    + w1[0].shape + " " + w1[0].dtype + " and " + w3[0].shape + " " + w3[0].dtype);
        }
        int groups = w1.length;
        long inner = w1[0].dim(0), c = x.dim(1);
        Tensor xc, a, b, out;
        Tensor[] w1c = new Tensor[groups], w3c = new Tensor[groups];
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            xc = Elementwise.cast(Elementwise.onDeviceOf(w1[0], x), DType.F32).contiguous();
            for (int g = 0; g < groups; g++) {
                w1c[g] = w1[g].contiguous();
                w3c[g] = w3[g].contiguous();
            }
            a = Tensor.outputLike(xc, DType.F32, xc.dim(0), inner);   // the groups cover every row
            b = Tensor.outputLike(xc, DType.F32, xc.dim(0), inner);
            List<DeviceBackend.GemmItem> items = new ArrayList<>();
            addRowBlocks(items, xc, offsets, w1c, a);
            addRowBlocks(items, xc, offsets, w3c, b);
            Linalg.gemmGrouped(false, true, c, c, inner, items, false);
            out = siluMulForward(a, b);
        }
        Tensor[] inputs = prepend(x, w1, w3);
        return Autograd.record(out, "groupedSwiglu", gradOut -> {
            Tensor[] d = siluMulBackward(a, b, gradOut);
            Tensor da = d[0].contiguous(), db = d[1].contiguous();
            Tensor[] grads = new Tensor[inputs.length];
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                if (x.requiresGrad) {
                    // dx = da W1 + db W3: two calls, since one call's outputs may not overlap
                    grads[0] = Tensor.zerosLike(xc, DType.F32, xc.dim(0), c);
                    List<DeviceBackend.GemmItem> d1 = new ArrayList<>(), d3 = new ArrayList<>();
                    addRowBlocks(d1, da, offsets, w1c, grads[0]);
                    addRowBlocks(d3, db, offsets, w3c, grads[0]);
                    Linalg.gemmGrouped(false, false, inner, c, c, d1, false);
                    Linalg.gemmGrouped(false, false, inner, c, c, d3, true);
                }
                List<DeviceBackend.GemmItem> dw = new ArrayList<>();
                addWeightGrads(dw, da, xc, offsets, w1, grads, 1);
                addWeightGrads(dw, db, xc, offsets, w3, grads, 1 + groups);
                Linalg.gemmGrouped(true, false, inner, c, c, dw, false);
            }
            return grads;
        }, inputs);
    }

    /** Checks x (R, Cin), offsets from 0 to R in order, and weights (Cout, Cin) of one dtype and device. */
    private static void checkGroups(String op, Tensor x, int[] offsets, Tensor[] weights) {
        int groups = weights.length;
        if (x.rank() != 2) throw new IllegalArgumentException(op + " needs x (R, Cin), got " + x.shape);
        if (groups == 0) throw new IllegalArgumentException(op + " needs at least one weight");
        if (offsets.length != groups + 1 || offsets[0] != 0 || offsets[groups] != x.dim(0)) {
            throw new IllegalArgumentException(op + " offsets must run from 0 to the " + x.dim(0) + " rows of x in " + (groups + 1)
                    + " entries, got " + Arrays.toString(offsets));
        }
        for (int g = 0; g < groups; g++) {
            if (offsets[g + 1] < offsets[g]) throw new IllegalArgumentException(op + " offsets decrease at group " + g + ": " + Arrays.toString(offsets));
        }
        Tensor w0 = weights[0];
        long cout = w0.dim(0), cin = x.dim(1);
        for (int g = 0; g < groups; g++) {
            Tensor w = weights[g];
            if (w.rank() != 2 || w.dim(0) != cout || w.dim(1) != cin) {
                throw new IllegalArgumentException(op + " weight " + g + " has shape " + w.shape + ", expected (" + cout + ", " + cin + ") for x " + x.shape);
            }
            if (w.dtype != w0.dtype || (w.dtype != DType.F32 && w.dtype != DType.BF16 && w.dtype != DType.F16)) {
                throw new IllegalArgumentException(op + " weights must share one dtype of F32, BF16 or F16; weight " + g + " is " + w.dtype + ", weight 0 " + w0.dtype);
            }
            if (w.backend != w0.backend) throw new IllegalArgumentException(op + " weights on different devices: " + w0.device() + " and " + w.device());
        }
        if (x.dtype == DType.F64) throw new IllegalArgumentException(op + " takes F32 (or 16-bit) activations, got F64");
    }

    private static Tensor[] prepend(Tensor x, Tensor[]... weights) {
        List<Tensor> all = new ArrayList<>();
        all.add(x);
        for (Tensor[] w : weights) all.addAll(Arrays.asList(w));
        return all.toArray(Tensor[]::new);
    }

    /**
     * For each non-empty group g, the product of a's rows of g with w[g] into out's rows of g (a
     * (R, K), out (R, N), contiguous): {@code x . w^T} forward (with tb), {@code dy . w} for the
     * input's gradient.
     */
    private static void addRowBlocks(List<DeviceBackend.GemmItem> items, Tensor a, int[] offsets, Tensor[] w, Tensor out) {
        long k = a.dim(1), n = out.dim(1);
        for (int g = 0; g < w.length; g++) {
            int rows = offsets[g + 1] - offsets[g];
            if (rows > 0) {
                items.add(new DeviceBackend.GemmItem(rows, (int) n, (int) k, a, a.offset + offsets[g] * k, w[g], w[g].offset,
                        out, out.offset + offsets[g] * n));
            }
        }
    }

    /**
     * dW_g = dy[rows of g]^T . x[rows of g] into new (Cout, Cin) tensors at grads[first + g], for each
     * non-empty group whose weight requires grad.
     */
    private static void addWeightGrads(List<DeviceBackend.GemmItem> items, Tensor dy, Tensor x, int[] offsets, Tensor[] w, Tensor[] grads, int first) {
        long cin = x.dim(1), cout = dy.dim(1);
        for (int g = 0; g < w.length; g++) {
            int rows = offsets[g + 1] - offsets[g];
            if (rows == 0 || !w[g].requiresGrad) continue;
            grads[first + g] = Tensor.zerosLike(x, DType.F32, cout, cin);
            items.add(new DeviceBackend.GemmItem((int) cout, (int) cin, rows, dy, dy.offset + offsets[g] * cout, x, x.offset + offsets[g] * cin,
                    grads[first + g], grads[first + g].offset));
        }
    }

    /**
     * Softmax cross-entropy of logits (N, V) against integer targets (N); positions whose target
     * is {@code ignoreIndex} contribute nothing (and are not counted by MEAN). Returns a
     * 0-dimensional loss. Backward: (softmax(logits) - onehot(target)) * g / count.
     */
    public static Tensor crossEntropy(Tensor logits, Tensor targets, long ignoreIndex, Reduction reduction) {
        if (logits.rank() != 2) throw new IllegalArgumentException("crossEntropy needs logits (N, V), got " + logits.shape());
        if (targets.rank() != 1 || targets.dim(0) != logits.dim(0)) {
            throw new IllegalArgumentException("crossEntropy targets " + targets.shape() + " do not match logits " + logits.shape());
        }
        long n = logits.dim(0), v = logits.dim(1);
        long[] t = targets.toLongArray();
        long count = countTargets(t, v, ignoreIndex);
        double scale = reduction == Reduction.MEAN ? 1.0 / Math.max(count, 1) : 1.0;
        if (logits.backend != null) return crossEntropyOnDevice(logits, t, ignoreIndex, scale);
        Tensor lp;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            lp = logits.logSoftmax(-1);
        }
        double total = 0;
        for (int i = 0; i < n; i++) {
            if (t[i] != ignoreIndex) total -= lp.getDouble(i, t[i]);
        }
        DType dt = lp.dtype();
        Tensor loss = Tensor.zerosLike(logits, dt);
        loss.fillInPlace(total * scale);
        return Autograd.record(loss, "crossEntropy", g -> {
            Tensor d = lp.exp();
            for (int i = 0; i < n; i++) {
                if (t[i] == ignoreIndex) d.select(0, i).fillInPlace(0);
                else d.setDouble(d.getDouble(i, t[i]) - 1.0, i, t[i]);
            }
            return new Tensor[]{d.mul(g.mul(scale))};
        }, logits);
    }

    /**
     * Draws one token from each row of {@code logits} (..., V): token j with probability
     * {@code softmax(logits / temperature)[j]}, by the inverse transform over the ids in order. Row r
     * (of the rows the leading dims flatten to, in row-major order) takes the uniform u, the
     * {@code (r + 1)}-th {@code nextDouble()} of {@code new java.util.SplittableRandom(key)}. With m
     * the row's largest logit that is not NaN and {@code w[j] = exp((logits[j] - m) / temperature)}
     * in double (0 for a NaN logit), the token is the first j whose running sum of w exceeds u times
     * their total (the last token of positive weight where rounding leaves none). Temperature 0, or
     * an infinite m, gives the greedy token: the lowest id whose logit is m (0 when every logit is
     * NaN). The logits are read as F32. Not recorded by autograd.
     *
     * <p>On a device one kernel draws every row and only the tokens stay there, so a sampling loop
     * reads back 8 bytes a row instead of the row of logits. Its sums are taken in another order:
     * where u falls within rounding of the boundary between two tokens, the device may draw the
     * other one.
     *
     * @return the tokens, I64, of the leading dims (a 0-d tensor for one row of rank 1), on the
     *         logits' device
     * @throws IllegalArgumentException for a negative or infinite temperature, a rank-0 tensor or
     *                                  an empty last dim
     */
    public static Tensor sampleRows(Tensor logits, double temperature, long key) {
        if (!(temperature >= 0) || Double.isInfinite(temperature))
            throw new IllegalArgumentException("sampleRows: temperature must be finite and >= 0, got " + temperature);
        if (logits.rank() == 0 || logits.dim(-1) == 0)
            throw new IllegalArgumentException("sampleRows needs logits (..., V) with V > 0, got " + logits.shape());
        long[] dims = logits.dims();
        long n = dims[dims.length - 1], rows = logits.numel() / n;
        Tensor out = Tensor.outputLike(logits, DType.I64, Arrays.copyOf(dims, dims.length - 1));
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            Tensor x = Elementwise.cast(logits, DType.F32).contiguous();
            if (x.backend != null) x.backend.sampleRows(x, out, rows, n, temperature, key);
            else Sampling.drawRows(x, out, rows, n, temperature, key);
        }
        return out;
    }

    /**
     * The denominator of {@code softmax(logits / temperature)} for each row of {@code logits}
     * (..., V; the leading dims flatten to the rows, in row-major order), as {@link #sampleRows}
     * weighs the tokens: with m the row's largest logit that is not NaN, the sum of
     * {@code exp((logits[j] - m) / temperature)} in double, 0 for a NaN logit. A sampler that
     * ranks only a row's leading candidates (top-p over a large vocabulary) cuts the nucleus with
     * it. The logits are read as F32.
     *
     * <p>On a device one kernel sums every row, and 8 bytes a row are read back; its sums are
     * taken in another order than the host's (id order), so they may differ in the last bits.
     *
     * @return one sum per row
     * @throws IllegalArgumentException for a temperature that is not finite and positive, a rank-0
     *                                  tensor or an empty last dim
     */
    public static double[] softmaxDenominators(Tensor logits, double temperature) {
        if (!(temperature > 0) || Double.isInfinite(temperature))
            throw new IllegalArgumentException("softmaxDenominators: temperature must be finite and > 0, got " + temperature);
        if (logits.rank() == 0 || logits.dim(-1) == 0)
            throw new IllegalArgumentException("softmaxDenominators needs logits (..., V) with V > 0, got " + logits.shape());
        long n = logits.dim(-1), rows = logits.numel() / n;
        double[] totals = new double[Math.toIntExact(rows)];
        // on a device the only host memory is the read-back, on this thread: a confined scope's close costs no handshake
        try (Autograd.NoGrad ng = Autograd.noGrad(); Scope s = logits.device().isDevice() ? Scope.openConfined() : Scope.open()) {
            Tensor x = Elementwise.cast(logits, DType.F32).contiguous();
            if (x.backend != null) {
                Tensor bits = Tensor.outputLike(x, DType.I64, rows);
                x.backend.softmaxTotalRows(x, bits, rows, n, temperature);
                long[] b = bits.toLongArray();
                for (int r = 0; r < totals.length; r++) totals[r] = Double.longBitsToDouble(b[r]);
            } else {
                Parallel.forRange(rows, 1, (lo, hi) -> {
                    for (long r = lo; r < hi; r++) totals[(int) r] = Sampling.total(x.storage, x.offset + r * n, n, temperature);
                });
            }
        }
        return totals;
    }

    /**
     * How a DeepSeekMoE gate chooses (DeepSeek-V3's {@code Gate.forward}).
     *
     * @param sigmoid    sigmoid scores, else softmax over the experts
     * @param topk       experts per token
     * @param groups     expert groups ({@code n_group}; 1 for none)
     * @param topkGroups groups kept per token ({@code topk_group})
     * @param normalize  whether the chosen weights are divided by their sum ({@code norm_topk_prob})
     * @param scale      multiplies the weights ({@code routed_scaling_factor})
     */
    public record GateSpec(boolean sigmoid, int topk, int groups, int topkGroups, boolean normalize, double scale) {
        /** Checks the counts. */
        public GateSpec {
            if (topk < 1 || groups < 1 || topkGroups < 1 || topkGroups > groups) {
                throw new IllegalArgumentException("gate: topk " + topk + ", groups " + groups + ", topkGroups " + topkGroups + " (each >= 1, topkGroups <= groups)");
            }
        }
    }

    /**
     * A gate's choice for N tokens.
     *
     * @param chosen  the chosen experts (N, K), best first, where the gate ran: I64 on the host, I32
     *                on a device (left there, for {@link RoutedExperts#forward})
     * @param weights their routing weights (N, K), differentiable with respect to the logits
     */
    public record GateChoice(Tensor chosen, Tensor weights) {
        /** The chosen experts on the host, row-major (N, K): a read-back (and a wait) when they are on a device. */
        public long[] indices() {
            return chosen.toLongArray();
        }
    }

    /**
     * The DeepSeekMoE gate over logits (N, E): scores are {@code sigmoid} or {@code softmax} of the
     * logits; experts are chosen by the scores plus {@code bias} (E, or null; for the choice only),
     * within the {@code topkGroups} best of {@code groups} groups (a group's score is the sum of its
     * two best with a bias, its best without), top-K, ties to the lower index; the weights are the
     * unbiased scores of the chosen experts, divided by their sum when {@code normalize}, times
     * {@code scale}. The choice is a constant for autograd. On a device (up to 256 experts, top-16)
     * one kernel each way, and the choice stays on the device.
     */
    public static GateChoice moeGate(Tensor logits, Tensor bias, GateSpec spec) {
        return MoeGate.apply(logits, bias, spec);
    }

    /**
     * The DeepSeekMoE un-permute: the experts' output rows y (N*K, C), stored in expert order, back
     * onto their tokens weighted by the routing weights w (N, K):
     * {@code out[t] = sum over j of w[t, j] * y[pos[t * K + j]]}, summed in slot order (so the
     * result does not depend on thread timing, unlike a scatter-add). {@code pos} must be a
     * permutation of {@code 0..N*K-1}. Differentiable in y and w; one kernel each way on a device.
     */
    public static Tensor moeUnpermute(Tensor y, long[] pos, Tensor w) {
        return Indexing.moeUnpermute(y, pos, w);
    }

    /** The targets that count (not {@code ignoreIndex}), each checked to lie in {@code [0, v)}. */
    private static long countTargets(long[] t, long v, long ignoreIndex) {
        long count = 0;
        for (int i = 0; i < t.length; i++) {
            if (t[i] == ignoreIndex) continue;
            if (t[i] < 0 || t[i] >= v) throw new IndexOutOfBoundsException("target " + t[i] + " at position " + i + " out of range for " + v + " classes");
            count++;
        }
        return count;
    }

    /** {@link #crossEntropy} of device logits (targets checked): one fused kernel per direction, the loss left on the device. */
    private static Tensor crossEntropyOnDevice(Tensor logits, long[] t, long ignoreIndex, double scale) {
        long n = logits.dim(0), v = logits.dim(1);
        Device d = logits.device();
        Tensor x, tg, lse, loss;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            x = Elementwise.cast(logits.detach(), DType.F32).contiguous();
            tg = Tensor.ofLongs(t).to(d);
            lse = Tensor.zeros(d, DType.F32, n);
            Tensor rowLoss = Tensor.zeros(d, DType.F32, n);
            x.backend.crossEntropyRows(x, tg, rowLoss, lse, n, v, ignoreIndex);
            loss = rowLoss.sum().mul(scale);
        }
        return Autograd.record(loss, "crossEntropy", g -> {
            Tensor gl = Tensor.zeros(d, DType.F32, n, v);
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                Tensor perRow = Elementwise.cast(Elementwise.onDeviceOf(gl, g), DType.F32).reshape(1).expand(n).contiguous();
                x.backend.crossEntropyBackwardRows(x, tg, lse, perRow, gl, n, v, ignoreIndex, scale);
            }
            return new Tensor[]{gl};
        }, logits);
    }

    /**
     * Causal scaled-dot-product attention: q (..., T, D), k (..., S, D), v (..., S, Dv) with
     * S >= T; query t sits at position {@code S - T + t} and sees keys {@code 0..S-T+t}. Returns
     * (..., T, Dv). Backward from the saved probabilities p: dV = p^T g, dP = g V^T,
     * dS = p (dP - sum(dP p)), dQ = scale dS K, dK = scale dS^T Q.
     */
    public static Tensor scaledDotProductAttention(Tensor q, Tensor k, Tensor v, double scale) {
        long t = q.dim(-2), s = k.dim(-2);
        if (s < t) throw new IllegalArgumentException("attention needs at least as many keys (" + s + ") as queries (" + t + ")");
        Tensor p, out;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            Tensor scores = q.matmul(k.t()).mul(scale).add(Tensor.causalMask(t, s, s - t));
            p = scores.softmax(-1);
            out = p.matmul(v);
        }
        return Autograd.record(out, "attention", g -> {
            Tensor dv = v.requiresGrad ? Autograd.sumTo(p.t().matmul(g), v.dims()) : null;
            Tensor dp = g.matmul(v.t());
            Tensor ds = p.mul(dp.sub(dp.mul(p).sum(-1, true))).mul(scale);
            Tensor dq = q.requiresGrad ? Autograd.sumTo(ds.matmul(k), q.dims()) : null;
            Tensor dk = k.requiresGrad ? Autograd.sumTo(ds.t().matmul(q), k.dims()) : null;
            return new Tensor[]{dq, dk, dv};
        }, q, k, v);
    }

    /**
     * Absorbed multi-head latent attention for one new token per sequence (decoding). Each head's
     * query, already in the latent space ({@code [q_nope W_UK ; q_rope]}, q (B,H,R+P)), attends
     * over the first {@code length} positions of the shared latent (B,L,R) and RoPE keys (B,L,P),
     * which serve as keys ({@code [latent ; kRope]}) and values ({@code latent}):
     * {@code out[b,h] = softmax(scale q[b,h] . keys[b]^T) . latent[b]}, (B,H,R).
     *
     * <p>On a device, when no gradient is needed, this is one FlashMLA-style kernel over the
     * cache ({@code mla_decode.cu}: the sequence split over thread blocks, an online softmax per
     * head, the splits merged), which reads each cached position once for all heads; the cache may
     * be a prefix view of a longer buffer (latent and kRope with unit row strides and batch
     * strides {@code L' R} and {@code L' P}). Over a BF16 cache with a latent a multiple of 64 and a
     * rope width a multiple of 16 on a CUDA GPU of compute capability 8.0 or later, the kernel runs
     * on tensor cores, and the queries and the softmax weights enter its products rounded to BF16
     * (scores, softmax and outputs stay F32), as FlashMLA and DeepSeek's reference compute a BF16
     * cache: each output moves by at most 2^-9 of the spread of the latent values it averages.
     * Otherwise it is the same product composed of ops.
     *
     * @throws IllegalArgumentException naming the mismatched shapes
     */
    public static Tensor latentAttentionDecode(Tensor q, Tensor latent, Tensor kRope, long length, double scale) {
        if (q.rank() != 3 || latent.rank() != 3 || kRope.rank() != 3 || q.dim(2) != latent.dim(2) + kRope.dim(2)) {
            throw new IllegalArgumentException("latent attention needs q (B,H,R+P), latent (B,L,R), kRope (B,L,P); got " + q.shape() + ", " + latent.shape() + ", " + kRope.shape());
        }
        long r = latent.dim(2);
        return latentAttentionDecode(q.narrow(2, 0, r), q.narrow(2, r, kRope.dim(2)), latent, kRope, length, scale);
    }

    /**
     * {@link #latentAttentionDecode(Tensor, Tensor, Tensor, long, double)} with the query in its
     * two parts, as MLA computes them: {@code qLatent} (B,H,R), the absorbed {@code q_nope W_UK},
     * and {@code qRope} (B,H,P), the rotated part. The query is never joined: on a device the
     * kernel reads both parts where they are (each copied only if its rows are not evenly strided).
     *
     * @throws IllegalArgumentException naming the mismatched shapes
     */
    public static Tensor latentAttentionDecode(Tensor qLatent, Tensor qRope, Tensor latent, Tensor kRope, long length, double scale) {
        checkLatentAttention(qLatent, qRope, latent, kRope);
        if (length < 1 || length > latent.dim(1)) throw new IllegalArgumentException("latent attention length " + length + " outside 1.." + latent.dim(1));
        Tensor lat = latent.narrow(1, 0, length), kr = kRope.narrow(1, 0, length);
        if (fusedDecodeApplies(qLatent, qRope, latent, kRope)) return fusedDecode(qLatent, qRope, latent, kRope, length, null, scale);
        Tensor scores = qLatent.matmul(lat.transpose(1, 2)).add(qRope.matmul(kr.transpose(1, 2)));
        return scores.mul(scale).softmax(-1).matmul(lat);
    }

    /**
     * {@link #latentAttentionDecode(Tensor, Tensor, Tensor, Tensor, long, double)} with each
     * sequence's length in a tensor: {@code positions} (I32 (B), on the cache's device) holds the
     * position of each sequence's query, whose entries the cache already holds, and sequence b
     * attends over rows {@code 0 .. positions[b]} of the whole cache (B, L, ...). On a device the
     * kernel reads the positions when it runs, its work sized for L, so that a {@link DeviceGraph}
     * that captured this call attends over whatever lengths the positions then give; elsewhere they
     * are read here, and the sequences attend at once over the longest one's rows, each row past a
     * sequence's own position weighted 0 (so those rows must hold finite values: zeros, or older
     * entries).
     *
     * @throws IllegalArgumentException naming the mismatched shapes
     * @throws IndexOutOfBoundsException where a position (read on the host) lies outside the cache
     */
    public static Tensor latentAttentionDecode(Tensor qLatent, Tensor qRope, Tensor latent, Tensor kRope, Tensor positions, double scale) {
        checkLatentAttention(qLatent, qRope, latent, kRope);
        long b = qLatent.dim(0);
        checkPositions("latentAttentionDecode", positions, b, latent);
        if (fusedDecodeApplies(qLatent, qRope, latent, kRope) && positions.isContiguous())
            return fusedDecode(qLatent, qRope, latent, kRope, latent.dim(1), positions, scale);
        long[] at = positions.toLongArray();
        long most = 0;
        for (int i = 0; i < b; i++) {
            if (at[i] < 0 || at[i] >= latent.dim(1))
                throw new IndexOutOfBoundsException("latentAttentionDecode: position " + at[i] + " of sequence " + i + " outside a cache of " + latent.dim(1));
            most = Math.max(most, at[i] + 1);
        }
        if (b == 1) return latentAttentionDecode(qLatent, qRope, latent, kRope, most, scale);
        // every sequence over the longest one's rows at once, each row past its own position masked
        // out (its weight exactly 0): the ops of one sequence, not of each in turn
        long s = most;
        float[] mask = new float[Math.toIntExact(b * s)];
        for (int i = 0; i < b; i++) java.util.Arrays.fill(mask, (int) (i * s + at[i] + 1), (int) ((i + 1) * s), Float.NEGATIVE_INFINITY);
        Tensor lat = latent.narrow(1, 0, s), kr = kRope.narrow(1, 0, s);
        Tensor scores = qLatent.matmul(lat.transpose(1, 2)).add(qRope.matmul(kr.transpose(1, 2)));
        Tensor m = Elementwise.onDeviceOf(scores, Tensor.of(mask, b, 1, s));
        return scores.mul(scale).add(m).softmax(-1).matmul(lat);
    }

    private static void checkLatentAttention(Tensor qLatent, Tensor qRope, Tensor latent, Tensor kRope) {
        if (qLatent.rank() != 3 || qRope.rank() != 3 || latent.rank() != 3 || kRope.rank() != 3 || qRope.dim(0) != qLatent.dim(0)
                || qRope.dim(1) != qLatent.dim(1) || latent.dim(0) != qLatent.dim(0) || kRope.dim(0) != qLatent.dim(0)
                || kRope.dim(1) != latent.dim(1) || qLatent.dim(2) != latent.dim(2) || qRope.dim(2) != kRope.dim(2)) {
            throw new IllegalArgumentException("latent attention needs qLatent (B,H,R), qRope (B,H,P), latent (B,L,R), kRope (B,L,P); got "
                    + qLatent.shape() + ", " + qRope.shape() + ", " + latent.shape() + ", " + kRope.shape());
        }
    }

    /** The MLA kernel over the whole cache buffers, for {@code length} positions or those {@code positions} give. */
    private static Tensor fusedDecode(Tensor qLatent, Tensor qRope, Tensor latent, Tensor kRope, long length, Tensor positions, double scale) {
        Tensor qn = evenRows(qLatent), qr = evenRows(qRope);
        Tensor out = Tensor.outputLike(qn, DType.F32, qLatent.dim(0), qLatent.dim(1), latent.dim(2));
        qn.backend.mlaDecode(qn, qr, latent, kRope, out, length, positions, scale);
        return out;
    }

    /**
     * q (B,H,W) itself where the MLA kernels can read it in place (unit element stride, each batch
     * H head rows apart: {@link DeviceBackend#mlaDecode}), else a contiguous copy.
     */
    private static Tensor evenRows(Tensor q) {
        Shape s = q.shape;
        long b = q.dim(0), h = q.dim(1);
        boolean even = s.stride(2) == 1 && (b == 1 || h == 1 || s.stride(0) == h * s.stride(1));
        return even ? q : q.contiguous();
    }

    private static boolean fusedDecodeApplies(Tensor qLatent, Tensor qRope, Tensor latent, Tensor kRope) {
        Tensor q = qLatent;
        if (q.backend == null || qRope.backend != q.backend || latent.backend != q.backend || kRope.backend != q.backend) return false;
        if (Autograd.needed(qLatent, qRope, latent, kRope) || q.dtype != DType.F32 || qRope.dtype != DType.F32) return false;
        if (latent.dtype != kRope.dtype || (latent.dtype != DType.F32 && latent.dtype != DType.BF16)) return false;
        long r = latent.dim(2), p = kRope.dim(2);
        if (r > CudaBackend.MLA_MAX_R || r + p > CudaBackend.MLA_MAX_D) return false;
        Shape ls = latent.shape, ks = kRope.shape;
        if (ls.stride(2) != 1 || ks.stride(2) != 1 || ls.stride(1) != r || ks.stride(1) != p) return false;
        if (latent.dim(0) > 1 && (ls.stride(0) % r != 0 || ks.stride(0) % p != 0 || ls.stride(0) / r != ks.stride(0) / p)) return false;
        return latent.dim(0) == 1 || ls.stride(0) / r >= latent.dim(1);
    }
}
