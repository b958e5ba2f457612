package dev.panamax.runtime;

/** Reductions over one dim: the input is viewed as (outer, r, inner). */
final class Reductions {
    private Reductions() {
    }

    private static long[] outDims(Tensor x, int d, boolean keepDim) {
        long[] dims = x.dims();
        if (keepDim) {
            dims[d] = 1;
            return dims;
        }
        long[] out = new long[dims.length - 1];
        for (int i = 0, j = 0; i < dims.length; i++) if (i != d) out[j++] = dims[i];
        return out;
    }

    /**
     * Contiguous c viewed as (outer, r, inner) with the reduced dim r moved last, so that each
     * output of a device's row primitive is one contiguous row of r (c itself when inner is 1).
     */
    private static Tensor reducedDimLast(Tensor c, long outer, long r, long inner) {
        if (inner == 1) return c;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            return c.view(outer, r, inner).transpose(1, 2).contiguous();
        }
    }

    static Tensor reduce(ReduceOp op, Tensor x, int dim, boolean keepDim, boolean mean) {
        int d = x.shape.normDim(dim);
        DType dt = Elementwise.computeType(x);
        Tensor c = Elementwise.cast(x, dt).contiguous();
        long[] dims = c.dims();
        long outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= dims[i];
        for (int i = d + 1; i < dims.length; i++) inner *= dims[i];
        long r = dims[d];
        if (r == 0 && op == ReduceOp.MAX) throw new IllegalArgumentException("max over an empty dim " + dim + " of shape " + x.shape);
        Tensor out = Tensor.zerosLike(c, dt, outDims(x, d, keepDim));
        if (c.backend != null) {
            c.backend.reduceRows(op, reducedDimLast(c, outer, r, inner), out, outer * inner, r);
        } else if (dt == DType.F32) Kernels.active().reduce(op, c.host(), c.offset, outer, r, inner, out.host(), out.offset);
        else ScalarKernels.reduceD(op, c.host(), c.offset, outer, r, inner, out.host(), out.offset);
        if (mean) out.mulInPlace(1.0 / r);
        return Autograd.record(out, mean ? "mean" : op == ReduceOp.SUM ? "sum" : "max", g -> {
            Tensor gk = keepDim ? g : g.unsqueeze(d);
            if (op == ReduceOp.SUM) {
                Tensor e = gk.expand(dims);
                return new Tensor[]{mean ? e.mul(1.0 / r) : e};
            }
            // the gradient goes to the first maximum, as the argmax picks it
            return new Tensor[]{Tensor.zerosLike(g, g.dtype, dims).scatterAddInPlace(d, c.argmax(d, true), gk)};
        }, c);
    }

    /**
     * The index of the maximum along dim: the first NaN, else the first maximum. On a device a
     * floating tensor's indices are found there ({@link DeviceBackend#argmaxRows}); an integer
     * one's go through the host (F32 would round large values together).
     */
    static Tensor argmax(Tensor x, int dim, boolean keepDim) {
        if (x.backend != null && !x.dtype.isFloating()) return argmax(x.to(Device.CPU), dim, keepDim).to(x.device());
        int d = x.shape.normDim(dim);
        Tensor c;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {   // indices carry no gradient
            c = x.backend != null ? Elementwise.cast(x, DType.F32).contiguous() : x.contiguous();
        }
        long[] dims = c.dims();
        long outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= dims[i];
        for (int i = d + 1; i < dims.length; i++) inner *= dims[i];
        long r = dims[d];
        if (r == 0) throw new IllegalArgumentException("argmax over an empty dim " + dim + " of shape " + x.shape);
        if (c.backend != null) {
            Tensor out = Tensor.outputLike(c, DType.I64, outDims(x, d, keepDim));
            c.backend.argmaxRows(reducedDimLast(c, outer, r, inner), out, outer * inner, r);
            return out;
        }
        Tensor out = Tensor.zeros(DType.I64, outDims(x, d, keepDim));
        for (long o = 0; o < outer; o++) {
            for (long i = 0; i < inner; i++) {
                long best = 0;
                double bv = Elem.get(c.host(), c.dtype, c.offset + o * r * inner + i);
                for (long j = 1; j < r && !Double.isNaN(bv); j++) {
                    double v = Elem.get(c.host(), c.dtype, c.offset + (o * r + j) * inner + i);
                    if (v > bv || Double.isNaN(v)) {
                        bv = v;
                        best = j;
                    }
                }
                Elem.setLong(out.host(), DType.I64, o * inner + i, best);
            }
        }
        return out;
    }
}
