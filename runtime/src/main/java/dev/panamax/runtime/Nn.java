package dev.panamax.runtime;

/** Row-wise neural-network ops: softmax, RMSNorm, rotary embedding. */
final class Nn {
    private Nn() {
    }

    static Tensor softmax(Tensor x, int dim, boolean log) {
        int d = x.shape.normDim(dim);
        int last = x.rank() - 1;
        DType dt = Elementwise.computeType(x);
        Tensor c = Elementwise.cast(x, dt);
        if (d != last) c = c.transpose(d, last);
        c = c.contiguous();
        Tensor out = Tensor.outputLike(c, dt, c.dims());
        long n = c.dim(-1);
        long rows = n == 0 ? 0 : c.numel() / n;
        if (c.backend != null) c.backend.softmaxRows(c, out, rows, n, log);
        else if (dt == DType.F32) Kernels.active().softmaxRows(c.host(), c.offset, out.host(), out.offset, rows, n, log);
        else ScalarKernels.softmaxRowsD(c.host(), c.offset, out.host(), out.offset, rows, n, log);
        // backward over the last dim: softmax dx = y (g - sum(g y)); log-softmax dx = g - e^y sum(g)
        // (one fused kernel on a device)
        Tensor y = Autograd.record(out, log ? "logSoftmax" : "softmax", g -> {
            if (out.backend != null && dt == DType.F32) {
                Tensor gx = Tensor.zerosLike(out, dt, out.dims());
                out.backend.softmaxBackwardRows(out, Elementwise.cast(Elementwise.onDeviceOf(out, g), dt).contiguous(), gx, rows, n, log);
                return new Tensor[]{gx};
            }
            return new Tensor[]{log ? g.sub(out.exp().mul(g.sum(-1, true))) : out.mul(g.sub(g.mul(out).sum(-1, true)))};
        }, c);
        return d != last ? y.transpose(d, last).contiguous() : y;
    }

    static Tensor rmsNorm(Tensor x, Tensor weight, double eps) {
        long n = x.dim(-1);
        if (weight.rank() != 1 || weight.dim(0) != n) {
            throw new IllegalArgumentException("rmsNorm weight has shape " + weight.shape + ", expected [" + n + "] for input " + x.shape);
        }
        DType dt = Elementwise.computeType(x, weight);
        Tensor c = Elementwise.cast(x, dt).contiguous();
        Tensor w = Elementwise.cast(Elementwise.onDeviceOf(c, weight), dt).contiguous();
        Tensor out = Tensor.outputLike(c, dt, c.dims());
        long rows = n == 0 ? 0 : c.numel() / n;
        if (c.backend != null) c.backend.rmsNormRows(c, w, out, rows, n, eps);
        else if (dt == DType.F32) Kernels.active().rmsNormRows(c.host(), c.offset, w.host(), w.offset, out.host(), out.offset, rows, n, (float) eps);
        else ScalarKernels.rmsNormRowsD(c.host(), c.offset, w.host(), w.offset, out.host(), out.offset, rows, n, eps);
        return Autograd.record(out, "rmsNorm", g -> {
            if (c.backend != null && dt == DType.F32) {   // one fused kernel on a device
                Tensor dx = Tensor.zerosLike(c, dt, c.dims()), dw = w.requiresGrad ? Tensor.zerosLike(c, dt, n) : null;
                c.backend.rmsNormBackwardRows(c, w, Elementwise.cast(Elementwise.onDeviceOf(c, g), dt).contiguous(), dx, dw, rows, n, eps);
                return new Tensor[]{c.requiresGrad ? dx : null, dw};
            }
            // r = 1/sqrt(mean(x^2)+eps), xhat = x r, y = xhat w
            Tensor r = c.square().mean(-1, true).add(eps).rsqrt();
            Tensor xhat = c.mul(r);
            Tensor gw = g.mul(w);
            Tensor dx = c.requiresGrad ? r.mul(gw.sub(xhat.mul(gw.mul(xhat).mean(-1, true)))) : null;
            Tensor dw = w.requiresGrad ? g.mul(xhat).reshape(-1, n).sum(0, false) : null;
            return new Tensor[]{dx, dw};
        }, c, w);
    }

    static Tensor rope(Tensor x, Tensor cos, Tensor sin) {
        long r = x.dim(-1);
        if (r % 2 != 0) throw new IllegalArgumentException("rope needs an even last dim, the shape is " + x.shape);
        long[] td = x.dims();
        td[td.length - 1] = r / 2;
        DType dt = Elementwise.computeType(x, cos, sin);
        Tensor xc = Elementwise.cast(x, dt);
        if (xc.backend != null) return ropeOnDevice(xc, cos, sin, td);
        Tensor c = xc.contiguous();
        Tensor cs = Elementwise.cast(Elementwise.onDeviceOf(c, cos), dt).expand(td).contiguous();
        Tensor sn = Elementwise.cast(Elementwise.onDeviceOf(c, sin), dt).expand(td).contiguous();
        Tensor out = Tensor.zerosLike(c, dt, c.dims());
        long rows = r == 0 ? 0 : c.numel() / r;
        if (dt == DType.F32) {
            Kernels.active().ropeRows(c.host(), c.offset, cs.host(), cs.offset, sn.host(), sn.offset, out.host(), out.offset, rows, r / 2);
        } else {
            ScalarKernels.ropeRowsD(c.host(), c.offset, cs.host(), cs.offset, sn.host(), sn.offset, out.host(), out.offset, rows, r / 2);
        }
        // a rotation by theta: its backward rotates by -theta (cos and sin are constants)
        return Autograd.record(out, "rope", g -> new Tensor[]{rope(g, cs, sn.neg())}, c);
    }

    /**
     * {@link #rope} on a device: x's rows read in place when they are evenly spaced (a narrowed
     * view's), and cos/sin rows not expanded over the dims they broadcast across when those dims
     * follow or precede the ones they hold (a position's row for every head): one launch.
     */
    private static Tensor ropeOnDevice(Tensor x, Tensor cos, Tensor sin, long[] td) {
        long r = x.dim(-1), half = r / 2;
        long ldx = rowStride(x);
        Tensor c = ldx < 0 ? x.contiguous() : x;
        if (ldx < 0) ldx = r;
        Tensor cs = Elementwise.cast(Elementwise.onDeviceOf(c, cos), x.dtype), sn = Elementwise.cast(Elementwise.onDeviceOf(c, sin), x.dtype);
        long[] table = java.util.Arrays.equals(cs.dims(), sn.dims()) ? tableRows(cs.dims(), td) : null;
        if (table == null) {
            cs = cs.expand(td);
            sn = sn.expand(td);
            table = new long[]{1, Math.max(1, x.numel() / Math.max(1, r))};
        }
        cs = cs.contiguous();
        sn = sn.contiguous();
        Tensor out = Tensor.outputLike(c, x.dtype, c.dims());
        long rows = r == 0 ? 0 : c.numel() / r;
        if (rows > 0) c.backend.ropeRows(c, ldx, cs, sn, table[0], table[1], out, rows, half);
        Tensor fcs = cs, fsn = sn;
        return Autograd.record(out, "rope", g -> new Tensor[]{rope(g, fcs, fsn.neg())}, x);
    }

    /** The element distance between consecutive rows (last dim) of t when it is one for all of them and the last dim is contiguous, else -1. */
    private static long rowStride(Tensor t) {
        int n = t.rank();
        if (n == 0 || (t.dim(-1) > 1 && t.shape.stride(n - 1) != 1)) return -1;
        long ld = -1, span = 1;
        for (int d = n - 2; d >= 0; d--) {
            if (t.dim(d) == 1) continue;
            if (ld < 0) ld = t.shape.stride(d);
            else if (t.shape.stride(d) != ld * span) return -1;
            span *= t.dim(d);
        }
        return ld < 0 ? t.dim(-1) : ld;
    }

    /**
     * For a table of dims {@code cd} broadcast to {@code td} (its last dim the pairs): {rep,
     * tableRows} such that row r of the broadcast reads row {@code (r / rep) % tableRows} of the
     * table laid out contiguously, or null when the dims it holds are not adjacent (among the
     * non-unit dims) or its last dim does not match.
     */
    private static long[] tableRows(long[] cd, long[] td) {
        int n = td.length, off = n - cd.length;
        if (off < 0 || cd[cd.length - 1] != td[n - 1]) return null;
        long rep = 1, rows = 1;
        int state = 0;   // 0 before the table's dims, 1 among them, 2 after them
        for (int d = 0; d < n - 1; d++) {
            if (td[d] == 1) continue;
            long c = d < off ? 1 : cd[d - off];
            if (c != 1 && c != td[d]) return null;   // not broadcastable: expand says so
            boolean held = c == td[d];
            if (held && state == 2) return null;
            if (held) {
                state = 1;
                rows *= td[d];
            } else if (state > 0) {
                state = 2;
                rep *= td[d];
            }
        }
        return new long[]{rep, rows};
    }
}
