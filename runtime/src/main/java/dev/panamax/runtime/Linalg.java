package dev.panamax.runtime;

import java.util.Arrays;

/** Matrix products: batched, broadcast, with transposed operands used in place. */
final class Linalg {
    private Linalg() {
    }

    static Tensor matmul(Tensor a0, Tensor b0) {
        Tensor a = Elementwise.onDeviceOf(b0, a0), b = Elementwise.onDeviceOf(a, b0);
        if (a.rank() == 0 || b.rank() == 0) throw new IllegalArgumentException("matmul needs tensors of rank >= 1, got " + a.shape + " and " + b.shape);
        boolean vecA = a.rank() == 1;
        boolean vecB = b.rank() == 1;
        Tensor x = vecA ? a.unsqueeze(0) : a;
        Tensor y = vecB ? b.unsqueeze(-1) : b;
        long[] batch = batchDims(x, y);
        long[] od = Arrays.copyOf(batch, batch.length + 2);
        od[batch.length] = x.dim(-2);
        od[batch.length + 1] = y.dim(-1);
        DType dt = (a.dtype == DType.F64 || b.dtype == DType.F64) ? DType.F64 : DType.F32;
        Tensor out = Tensor.outputLike(x, dt, od);
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            matmulInto(x, y, out, false);
        }
        long[] xd = x.dims(), yd = y.dims();
        out = Autograd.record(out, "matmul", g -> new Tensor[]{
                x.requiresGrad ? Autograd.sumTo(g.matmul(y.t()), xd) : null,
                y.requiresGrad ? Autograd.sumTo(x.t().matmul(g), yd) : null}, x, y);
        if (vecA) out = out.squeeze(-2);
        if (vecB) out = out.squeeze(-1);
        return out;
    }

    private static long[] batchDims(Tensor x, Tensor y) {
        if (x.dim(-1) != y.dim(-2)) {
            throw new IllegalArgumentException("matmul shapes " + x.shape + " and " + y.shape + " do not match (K " + x.dim(-1) + " vs " + y.dim(-2) + ")");
        }
        long[] bx = Arrays.copyOf(x.dims(), x.rank() - 2);
        long[] by = Arrays.copyOf(y.dims(), y.rank() - 2);
        return Shape.broadcast(bx, by);
    }

    /** {trans ? 1 : 0, ld} for a matrix view usable without a copy, or null. */
    private static long[] layout(Tensor t) {
        long rows = t.dim(-2), cols = t.dim(-1), rs = t.shape.stride(-2), cs = t.shape.stride(-1);
        if (cs == 1 || cols == 1) return new long[]{0, rows == 1 ? Math.max(cols, 1) : rs};
        if (rs == 1 || rows == 1) return new long[]{1, cs};
        return null;
    }

    static Tensor matmulInto(Tensor a, Tensor b, Tensor out, boolean accumulate) {
        if (Autograd.needed(a, b)) throw new IllegalStateException("matmulInto is not recorded by autograd; use matmul, or run it inside Autograd.noGrad()");
        Autograd.checkInPlace(out, "matmulInto");
        if (a.backend != out.backend || b.backend != out.backend) {
            throw new IllegalArgumentException("matmulInto needs its operands and output on one device, got " + a.device() + ", " + b.device() + " and " + out.device());
        }
        if (a.rank() < 2 || b.rank() < 2) return matmulIntoVectors(a, b, out, accumulate);
        long[] batch = batchDims(a, b);
        long m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
        long[] od = Arrays.copyOf(batch, batch.length + 2);
        od[batch.length] = m;
        od[batch.length + 1] = n;
        if (!out.shape.hasDims(od)) throw new IllegalArgumentException("matmul output has shape " + out.shape + ", expected " + Arrays.toString(od));
        if (m > Integer.MAX_VALUE || n > Integer.MAX_VALUE || k > Integer.MAX_VALUE) throw new IllegalArgumentException("matmul dims too large: " + m + "x" + k + "x" + n);
        boolean f64 = out.dtype == DType.F64, halfOut = out.dtype == DType.BF16 || out.dtype == DType.F16;
        if (!f64 && out.dtype != DType.F32 && !halfOut) throw new IllegalArgumentException("matmul output must be F32, F64, BF16 or F16, got " + out.dtype);
        if (halfOut && !(out.backend != null && a.dtype == out.dtype && b.dtype == out.dtype)) {
            // a 16-bit output: the F32 product, rounded once into it
            Tensor wide = accumulate ? Elementwise.cast(out, DType.F32).contiguous() : Tensor.zerosLike(out, DType.F32, od);
            matmulInto(a, b, wide, accumulate);
            out.copyFrom(wide);
            return out;
        }
        // on a device, two 16-bit operands of one type go to the GPU as they are (cuBLAS GemmEx,
        // F32 accumulation: the same products as widening both first), into an F32 output or one
        // of their type (the accumulators rounded once)
        boolean sixteen = out.backend != null && !f64 && a.dtype == b.dtype && (a.dtype == DType.BF16 || a.dtype == DType.F16);
        Tensor x = sixteen ? a : Elementwise.cast(a, f64 ? DType.F64 : DType.F32);
        Tensor y = f64 ? Elementwise.cast(b, DType.F64)
                : (b.dtype == DType.F32 || b.dtype == DType.BF16 || b.dtype == DType.F16) ? b : b.to(DType.F32);
        long[] ad = Arrays.copyOf(batch, batch.length + 2);
        ad[batch.length] = m;
        ad[batch.length + 1] = k;
        long[] bd = Arrays.copyOf(batch, batch.length + 2);
        bd[batch.length] = k;
        bd[batch.length + 1] = n;
        x = x.expand(ad);
        y = y.expand(bd);
        long[] la = layout(x);
        if (la == null) {
            x = x.contiguous();
            la = layout(x);
        }
        long[] lb = layout(y);
        if (lb == null) {
            y = y.contiguous();
            lb = layout(y);
        }
        Tensor c = out;
        boolean direct = out.shape.stride(-1) == 1 && (m == 1 || out.shape.stride(-2) >= n);
        if (!direct) {
            c = accumulate ? out.copy() : Tensor.zerosLike(out, out.dtype, od);
        }
        long nb = 1;
        for (long d : batch) nb *= d;
        final Tensor xa = x, yb = y, cc = c;
        final long[] fla = la, flb = lb;
        int mi = (int) m, ni = (int) n, ki = (int) k;
        long ldc = m == 1 ? n : c.shape.stride(-2);
        Kernels kern = Kernels.active();
        Parallel.RangeBody body = (b0, b1) -> {
            for (long bi = b0; bi < b1; bi++) {
                long ao = batchOffset(xa, batch, bi), bo = batchOffset(yb, batch, bi), co = batchOffset(cc, batch, bi);
                if (f64) {
                    ScalarKernels.dgemm(fla[0] == 1, flb[0] == 1, mi, ni, ki, xa.host(), ao, fla[1], yb.host(), bo, flb[1], cc.host(), co, ldc, accumulate);
                } else {
                    kern.sgemm(fla[0] == 1, flb[0] == 1, mi, ni, ki, xa.host(), ao, fla[1], yb.host(), bo, flb[1], yb.dtype, cc.host(), co, ldc, accumulate);
                }
            }
        };
        if (c.backend != null) {
            long sa = batchStride(xa, batch, nb), sb = batchStride(yb, batch, nb), sc = batchStride(cc, batch, nb);
            if (nb > 1 && sa != IRREGULAR && sb != IRREGULAR && sc != IRREGULAR && sc != 0) {
                // every operand's items one stride apart: one batched product (cuBLAS GemmStridedBatchedEx)
                c.backend.gemmBatched(la[0] == 1, lb[0] == 1, mi, ni, ki, xa, batchOffset(xa, batch, 0), la[1], sa,
                        yb, batchOffset(yb, batch, 0), lb[1], sb, cc, batchOffset(cc, batch, 0), ldc, sc, nb, accumulate);
            } else if (batch.length > 1 && batch[batch.length - 1] > 1 && cc.shape.stride(batch.length - 1) > 0
                    && xa.shape.stride(batch.length - 1) >= 0 && yb.shape.stride(batch.length - 1) >= 0) {
                // uneven over the outer batch dims (e.g. heads' weights broadcast over sequences), but
                // evenly spaced along the last one: one batched product per run of that dim
                int last = batch.length - 1;
                long inner = batch[last];
                long ia = xa.shape.stride(last), ib = yb.shape.stride(last), ic = cc.shape.stride(last);
                for (long bi = 0; bi < nb; bi += inner) {
                    c.backend.gemmBatched(la[0] == 1, lb[0] == 1, mi, ni, ki, xa, batchOffset(xa, batch, bi), la[1], ia,
                            yb, batchOffset(yb, batch, bi), lb[1], ib, cc, batchOffset(cc, batch, bi), ldc, ic, inner, accumulate);
                }
            } else {
                for (long bi = 0; bi < nb; bi++) {
                    c.backend.gemm(la[0] == 1, lb[0] == 1, mi, ni, ki, xa, batchOffset(xa, batch, bi), la[1], yb,
                            batchOffset(yb, batch, bi), lb[1], cc, batchOffset(cc, batch, bi), ldc, accumulate);
                }
            }
            if (!direct) out.copyFrom(c);
            return out;
        }
        double flops = 2.0 * m * n * k;
        if (nb > 1 && flops < 4e6) Parallel.forRange(nb, Math.max(1, (long) (4e5 / Math.max(flops, 1))), body);
        else body.run(0, nb);
        if (!direct) out.copyFrom(c);
        return out;
    }

    private static Tensor matmulIntoVectors(Tensor a, Tensor b, Tensor out, boolean accumulate) {
        Tensor x = a.rank() == 1 ? a.unsqueeze(0) : a;
        Tensor y = b.rank() == 1 ? b.unsqueeze(-1) : b;
        Tensor o = out;
        if (a.rank() == 1) o = o.unsqueeze(-2);
        if (b.rank() == 1) o = o.unsqueeze(-1);
        matmulInto(x, y, o, accumulate);
        return out;
    }

    /**
     * The products of {@code items} (F32 a and c, b F32, BF16 or F16, all on one device or all in
     * host memory) with shared transposes and leading dimensions: on a device its grouped path, on
     * the host one {@link Kernels#sgemm} per item, items in parallel when each is small.
     */
    static void gemmGrouped(boolean ta, boolean tb, long lda, long ldb, long ldc, java.util.List<DeviceBackend.GemmItem> items, boolean accumulate) {
        if (items.isEmpty()) return;
        DeviceBackend backend = items.getFirst().c().backend;
        if (backend != null) {
            backend.gemmGrouped(ta, tb, lda, ldb, ldc, items, accumulate);
            return;
        }
        Kernels kern = Kernels.active();
        double flops = 0;
        for (DeviceBackend.GemmItem it : items) flops = Math.max(flops, 2.0 * it.m() * it.n() * it.k());
        Parallel.RangeBody body = (i0, i1) -> {
            for (long i = i0; i < i1; i++) {
                DeviceBackend.GemmItem it = items.get((int) i);
                kern.sgemm(ta, tb, it.m(), it.n(), it.k(), it.a().host(), it.aOff(), lda, it.b().host(), it.bOff(), ldb, it.b().dtype,
                        it.c().host(), it.cOff(), ldc, accumulate);
            }
        };
        if (items.size() > 1 && flops < 4e6) Parallel.forRange(items.size(), Math.max(1, (long) (4e5 / Math.max(flops, 1))), body);
        else body.run(0, items.size());
    }

    /** {@link #batchStride} of an operand whose batch items are not evenly spaced. */
    private static final long IRREGULAR = Long.MIN_VALUE;

    /**
     * The element distance between consecutive batch items of an expanded tensor when every item
     * is that far from the one before (0 for a broadcast operand), else {@link #IRREGULAR}.
     */
    private static long batchStride(Tensor t, long[] batch, long nb) {
        if (nb < 2) return 0;
        long first = batchOffset(t, batch, 0), step = batchOffset(t, batch, 1) - first;
        if (step < 0) return IRREGULAR;
        for (long bi = 2; bi < nb; bi++) {
            if (batchOffset(t, batch, bi) != first + bi * step) return IRREGULAR;
        }
        return step;
    }

    /** Element offset of batch item {@code bi} (row-major over {@code batch}) of an expanded tensor. */
    private static long batchOffset(Tensor t, long[] batch, long bi) {
        long off = t.offset;
        long rem = bi;
        for (int d = batch.length - 1; d >= 0; d--) {
            long idx = rem % batch[d];
            rem /= batch[d];
            off += idx * t.shape.stride(d);
        }
        return off;
    }
}
