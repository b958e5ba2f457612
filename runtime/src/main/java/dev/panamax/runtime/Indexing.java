package dev.panamax.runtime;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Indexing and data-movement ops: gather/scatter, top-k, concat/split, where, embedding, masks. */
final class Indexing {
    private Indexing() {
    }

    private static void checkIndexType(Tensor index, String op) {
        if (index.dtype != DType.I64 && index.dtype != DType.I32) {
            throw new IllegalArgumentException(op + " needs an I64 or I32 index, got " + index.dtype);
        }
    }

    private static long checkedIndex(long v, long size, String op, Shape shape) {
        long i = v < 0 ? v + size : v;
        if (i < 0 || i >= size) throw new IndexOutOfBoundsException(op + ": index " + v + " out of range for a dim of size " + size + " (shape " + shape + ")");
        return i;
    }

    /** The device of the first tensor not on the host, or null when all are on the host. */
    static Device deviceOf(Tensor... ts) {
        for (Tensor t : ts) if (t.backend != null) return t.device();
        return null;
    }

    /** Whether the device kernels over a shape of these dims take it: at most 8 dims above 1 (else the host's loops). */
    private static boolean kernelFits(long[] dims) {
        int big = 0;
        for (long v : dims) if (v > 1) big++;
        return big <= 8;
    }

    /** Checked row indices (1-D, I64, on x's device) broadcast along dim d over {@code dims} (stride 0 elsewhere: nothing copied). */
    private static Tensor indexAlong(Tensor rows, int d, long[] dims) {
        long[] one = new long[dims.length];
        Arrays.fill(one, 1);
        one[d] = rows.numel();
        return rows.view(one).expand(dims);
    }

    static Tensor indexSelect(Tensor x, int dim, Tensor index) {
        checkIndexType(index, "indexSelect");
        if (index.rank() > 1) throw new IllegalArgumentException("indexSelect needs a 1-D index, got " + index.shape);
        int d = x.shape.normDim(dim);
        long[] idx = index.toLongArray();
        long[] od = x.dims();
        od[d] = idx.length;
        if (x.backend != null) return indexSelectOnDevice(x, d, idx, od);
        Tensor out = Tensor.zeros(x.dtype, od);
        long[] rows = new long[idx.length];
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            for (int j = 0; j < idx.length; j++) {
                rows[j] = checkedIndex(idx[j], x.dim(d), "indexSelect", x.shape);
                out.narrow(d, j, 1).copyFrom(x.narrow(d, rows[j], 1));
            }
        }
        long[] in = x.dims();
        return Autograd.record(out, "indexSelect", g -> {
            Tensor gx = Tensor.zeros(g.dtype, in);
            for (int j = 0; j < rows.length; j++) gx.narrow(d, rows[j], 1).addInPlace(g.narrow(d, j, 1));
            return new Tensor[]{gx};
        }, x);
    }

    /** indexSelect of a device tensor: one gather along dim d, of any strides and dtype, through the row indices broadcast over the other dims. */
    private static Tensor indexSelectOnDevice(Tensor x, int d, long[] idx, long[] od) {
        long size = x.dim(d);
        long[] rows = new long[idx.length];
        for (int j = 0; j < idx.length; j++) rows[j] = checkedIndex(idx[j], size, "indexSelect", x.shape);
        if (!kernelFits(od)) return indexSelect(x.to(Device.CPU), d, Tensor.ofLongs(rows)).to(x.device());
        Tensor out = Tensor.outputLike(x, x.dtype, od);
        Tensor onDevice = Tensor.ofLongs(rows).to(x.device());   // uploaded once, for the backward too
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            x.backend.gather(x, d, indexAlong(onDevice, d, od), out);
        }
        long[] in = x.dims();
        return Autograd.record(out, "indexSelect", g -> new Tensor[]{addRowsOnDevice(Tensor.zerosLike(g, g.dtype, in), d, onDevice, g)}, x);
    }

    /**
     * {@code self} (an F32 device tensor) with slice j of {@code src} along d added to slice rows[j],
     * rows checked indices (1-D, I64) on self's device; returns self. Over dim 0 of a contiguous self,
     * one thread an element (atomic adds: many rows at once, as an embedding's backward); else a
     * scatter-add along d, one thread a line.
     */
    private static Tensor addRowsOnDevice(Tensor self, int d, Tensor rows, Tensor src) {
        long[] sd = self.dims();
        sd[d] = rows.numel();
        if (Shape.of(sd).numel() == 0) return self;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            Tensor s = Elementwise.cast(Elementwise.onDeviceOf(self, src), DType.F32).expand(sd);
            if (d == 0 && self.isContiguous()) {
                long width = self.numel() / self.dim(0);
                self.backend.indexAddRows(s.contiguous(), rows, self, rows.numel(), width, self.dim(0));
            } else if (kernelFits(sd)) {
                self.backend.scatterAdd(s, d, indexAlong(rows, d, sd), self);
            } else {
                Tensor h = self.to(Device.CPU);
                long[] r = rows.toLongArray();
                for (int j = 0; j < r.length; j++) h.narrow(d, r[j], 1).addInPlace(src.narrow(d, j, 1).to(Device.CPU));
                self.copyFrom(h);
            }
        }
        return self;
    }

    static Tensor embedding(Tensor weight, Tensor ids) {
        if (weight.rank() != 2) throw new IllegalArgumentException("embedding weight must be (V, C), got " + weight.shape);
        checkIndexType(ids, "embedding");
        long v = weight.dim(0);
        if (weight.backend != null && ids.backend == weight.backend && !Autograd.needed(weight) && weight.isContiguous()
                && (weight.dtype == DType.F32 || weight.dtype == DType.BF16 || weight.dtype == DType.F16)) {
            // ids already on the device (a decode step a graph replays): gathered there, never read by the host;
            // an id outside the vocabulary gives a NaN row
            long n = ids.numel();
            long[] od = Arrays.copyOf(ids.dims(), ids.rank() + 1);
            od[ids.rank()] = weight.dim(1);
            Tensor out = Tensor.outputLike(weight, DType.F32, n, weight.dim(1));
            weight.backend.indexSelectRows(weight, ids, out, n, weight.dim(1), v);
            return out.view(od);
        }
        long[] flat = ids.toLongArray();
        for (long id : flat) {
            if (id < 0 || id >= v) throw new IndexOutOfBoundsException("token id " + id + " out of range for a vocabulary of " + v);
        }
        DType dt = Elementwise.computeType(weight);
        long[] od = Arrays.copyOf(ids.dims(), ids.rank() + 1);
        od[ids.rank()] = weight.dim(1);
        if (weight.backend != null) {
            if ((weight.dtype == DType.BF16 || weight.dtype == DType.F16) && weight.isContiguous() && !Autograd.needed(weight)) {
                // inference weights in their storage dtype: gather the rows, widened, without converting the table
                Tensor out = Tensor.outputLike(weight, DType.F32, flat.length, weight.dim(1));
                try (Scope host = Scope.openConfined()) {   // the ids' host copy, which the gather uploads: its close costs no handshake
                    weight.backend.indexSelectRows(weight, Tensor.ofLongs(flat), out, flat.length, weight.dim(1), v);
                }
                return out.view(od);
            }
            return indexSelect(Elementwise.cast(weight, DType.F32), 0, Tensor.ofLongs(flat)).view(od);
        }
        Tensor out = Tensor.zeros(dt, flat.length, weight.dim(1));
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            for (int j = 0; j < flat.length; j++) out.select(0, j).copyFrom(weight.select(0, flat[j]));
        }
        long[] wd = weight.dims();
        // backward: each position's gradient row is added to its token's row (rows of absent ids stay 0)
        Tensor flatOut = Autograd.record(out, "embedding", g -> {
            Tensor gw = Tensor.zeros(g.dtype, wd);
            for (int j = 0; j < flat.length; j++) gw.select(0, flat[j]).addInPlace(g.select(0, j));
            return new Tensor[]{gw};
        }, weight);
        return flatOut.view(od);
    }

    /** Offset in t of the element addressed by {@code pos}, with dim d (unless -1) replaced by {@code di}. */
    static long offsetWith(Tensor t, long[] pos, int d, long di) {
        long off = t.offset;
        for (int i = 0; i < pos.length; i++) off += (i == d ? di : pos[i]) * t.shape.stride(i);
        return off;
    }

    /** pos moved to the next row-major position of dims; false when it wrapped round to the first. */
    static boolean next(long[] pos, long[] dims) {
        for (int i = dims.length - 1; i >= 0; i--) {
            if (++pos[i] < dims[i]) return true;
            pos[i] = 0;
        }
        return false;
    }

    private static void checkIndexShape(Tensor x, Tensor index, int d, String op) {
        if (index.rank() != x.rank()) throw new IllegalArgumentException(op + ": index " + index.shape + " must have the rank of " + x.shape);
        for (int i = 0; i < x.rank(); i++) {
            if (i != d && index.dim(i) > x.dim(i)) throw new IllegalArgumentException(op + ": index " + index.shape + " exceeds " + x.shape + " in dim " + i);
        }
    }

    /** Whether two positions of t share memory (a dim above 1 with stride 0, as an expanded tensor has). */
    private static boolean overlapping(Tensor t) {
        for (int i = 0; i < t.rank(); i++) if (t.dim(i) > 1 && t.shape.stride(i) == 0) return true;
        return false;
    }

    /**
     * Checks a host index tensor for a dim of {@code size}, as the host path does (a device kernel
     * cannot throw; one given device indices out of range gives NaN or skips them).
     */
    private static void checkHostIndices(Tensor index, long size, String op, Shape shape) {
        if (index.backend != null) return;
        for (long v : index.toLongArray()) checkedIndex(v, size, op, shape);
    }

    static Tensor gather(Tensor x, int dim, Tensor index) {
        checkIndexType(index, "gather");
        int d = x.shape.normDim(dim);
        checkIndexShape(x, index, d, "gather");
        long[] dims = index.dims();
        if (x.backend != null) {
            if (!kernelFits(dims)) return gather(x.to(Device.CPU), dim, index.to(Device.CPU)).to(x.device());
            // one kernel, whatever the dim, strides and dtype (the log-probs of chosen tokens out of (B, T, V) log-softmax)
            checkHostIndices(index, x.dim(d), "gather", x.shape);
            Tensor out = Tensor.outputLike(x, x.dtype, dims);
            Tensor idx = Elementwise.onDeviceOf(x, index);
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                x.backend.gather(x, d, idx, out);
            }
            long[] in = x.dims();
            return Autograd.record(out, "gather", g -> new Tensor[]{Tensor.zerosLike(g, g.dtype, in).scatterAddInPlace(d, idx, g)}, x);
        }
        Tensor out = Tensor.zeros(x.dtype, dims);
        if (out.numel() == 0) return out;
        int es = x.dtype.byteSize();
        long[] pos = new long[dims.length];
        long o = 0;
        do {
            long di = checkedIndex(index.getLong(pos), x.dim(d), "gather", x.shape);
            MemorySegment.copy(x.host(), offsetWith(x, pos, d, di) * es, out.host(), (o++) * es, es);
        } while (next(pos, dims));
        long[] in = x.dims();
        return Autograd.record(out, "gather", g -> new Tensor[]{Tensor.zerosLike(g, g.dtype, in).scatterAddInPlace(d, index, g)}, x);
    }

    /** Out-of-place scatter-add, recorded: d self = g, d src = g gathered at index. */
    static Tensor scatterAdd(Tensor self, int dim, Tensor index, Tensor src) {
        Tensor out = self.detach().copy();
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            scatterAddInPlace(out, dim, index, src);
        }
        int d = self.shape.normDim(dim);
        return Autograd.record(out, "scatterAdd", g -> new Tensor[]{g, src.requiresGrad ? g.gather(d, index) : null}, self, src);
    }

    /**
     * The MoE un-permute (see {@link Functional#moeUnpermute}): y (N*K, C), w (N, K), pos a
     * permutation of 0..N*K-1. F64 when y or w is, else F32; on y's device.
     */
    static Tensor moeUnpermute(Tensor y0, long[] pos, Tensor w0) {
        if (y0.rank() != 2 || w0.rank() != 2) throw new IllegalArgumentException("moeUnpermute needs y (N*K, C) and w (N, K), got " + y0.shape + " and " + w0.shape);
        long tokens = w0.dim(0), c = y0.dim(1);
        int k = Math.toIntExact(w0.dim(1));
        if (y0.dim(0) != tokens * k || pos.length != tokens * k) {
            throw new IllegalArgumentException("moeUnpermute: y " + y0.shape + ", " + pos.length + " positions and w " + w0.shape + " do not match (N*K rows each)");
        }
        boolean[] seen = new boolean[pos.length];
        for (int i = 0; i < pos.length; i++) {
            if (pos[i] < 0 || pos[i] >= pos.length || seen[(int) pos[i]]) {
                throw new IllegalArgumentException("moeUnpermute: positions must be a permutation of 0.." + (pos.length - 1) + ", got " + pos[i] + " at " + i);
            }
            seen[(int) pos[i]] = true;
        }
        Tensor w1 = Elementwise.onDeviceOf(y0, w0);
        DType dt = y0.dtype == DType.F64 || w1.dtype == DType.F64 ? DType.F64 : DType.F32;
        Tensor y, w, out;
        Tensor index = Tensor.ofLongs(pos);
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            y = Elementwise.cast(y0.detach(), dt).contiguous();
            w = Elementwise.cast(w1.detach(), dt).contiguous();
            out = Tensor.outputLike(y, dt, tokens, c);
            if (y.backend != null) {
                if (dt != DType.F32) throw new UnsupportedOperationException("moeUnpermute on " + y.device() + " takes F32, got " + dt);
                y.backend.moeUnpermute(y, index, w, out, tokens, k, c);
            } else {
                unpermuteHost(y, pos, w, out, tokens, k, c);
            }
        }
        return Autograd.record(out, "moeUnpermute", g -> {
            Tensor gy = Tensor.zerosLike(y, dt, y.dims()), gw = Tensor.zerosLike(y, dt, w.dims());
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                Tensor go = Elementwise.cast(Elementwise.onDeviceOf(y, g), dt).contiguous();
                if (y.backend != null) y.backend.moeUnpermuteBackward(y, index, w, go, gy, gw, tokens, k, c);
                else unpermuteBackwardHost(y, pos, w, go, gy, gw, tokens, k, c);
            }
            return new Tensor[]{gy, gw};
        }, y0, w1);
    }

    /** {@link DeviceBackend#moeUnpermute} on host tensors (contiguous, all F32 or all F64), summing in slot order. */
    static void unpermuteHost(Tensor y, long[] pos, Tensor w, Tensor out, long tokens, int k, long c) {
        boolean f64 = out.dtype == DType.F64;
        MemorySegment ys = y.storage, ws = w.storage, os = out.storage;
        for (long t = 0; t < tokens; t++) {
            for (long d = 0; d < c; d++) {
                if (f64) {
                    double s = 0;
                    for (int j = 0; j < k; j++) s += Elem.getD(ws, w.offset + t * k + j) * Elem.getD(ys, y.offset + pos[(int) (t * k + j)] * c + d);
                    Elem.setD(os, out.offset + t * c + d, s);
                } else {
                    float s = 0f;
                    for (int j = 0; j < k; j++) s += Elem.getF(ws, w.offset + t * k + j) * Elem.getF(ys, y.offset + pos[(int) (t * k + j)] * c + d);
                    Elem.setF(os, out.offset + t * c + d, s);
                }
            }
        }
    }

    /** {@link DeviceBackend#moeUnpermuteBackward} on host tensors (contiguous, all F32 or all F64). */
    static void unpermuteBackwardHost(Tensor y, long[] pos, Tensor w, Tensor gout, Tensor gy, Tensor gw, long tokens, int k, long c) {
        boolean f64 = gy.dtype == DType.F64;
        for (long t = 0; t < tokens; t++) {
            for (int j = 0; j < k; j++) {
                long row = pos[(int) (t * k + j)];
                double wj = Elem.get(w.storage, w.dtype, w.offset + t * k + j), dot = 0;
                float dotF = 0f;
                for (long d = 0; d < c; d++) {
                    double g = Elem.get(gout.storage, gout.dtype, gout.offset + t * c + d);
                    double yv = Elem.get(y.storage, y.dtype, y.offset + row * c + d);
                    if (f64) {
                        Elem.setD(gy.storage, gy.offset + row * c + d, wj * g);
                        dot += g * yv;
                    } else {
                        Elem.setF(gy.storage, gy.offset + row * c + d, (float) wj * (float) g);
                        dotF += (float) g * (float) yv;
                    }
                }
                Elem.set(gw.storage, gw.dtype, gw.offset + t * k + j, f64 ? dot : dotF);
            }
        }
    }

    /** {@code out = self; out[..index[j]..] += src[..j..]} along dim (index 1-D), recorded. */
    static Tensor indexAdd(Tensor self, int dim, Tensor index, Tensor src) {
        checkIndexType(index, "indexAdd");
        if (index.rank() != 1) throw new IllegalArgumentException("indexAdd needs a 1-D index, got " + index.shape);
        int d = self.shape.normDim(dim);
        long[] idx = index.toLongArray();
        if (src.rank() != self.rank() || src.dim(d) != idx.length) {
            throw new IllegalArgumentException("indexAdd: src " + src.shape + " does not match self " + self.shape + " with " + idx.length + " indices along dim " + dim);
        }
        long[] rows = new long[idx.length];
        for (int j = 0; j < idx.length; j++) rows[j] = checkedIndex(idx[j], self.dim(d), "indexAdd", self.shape);
        Tensor out = self.detach().copy();
        if (!out.dtype.isFloating()) throw new IllegalArgumentException("indexAdd needs a floating-point tensor, got " + out.dtype);
        Tensor s = Elementwise.cast(src.detach(), out.dtype);
        if (out.backend != null && out.dtype == DType.F32) {
            addRowsOnDevice(out, d, Tensor.ofLongs(rows).to(out.device()), s);
        } else {
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                for (int j = 0; j < rows.length; j++) out.narrow(d, rows[j], 1).addInPlace(s.narrow(d, j, 1));
            }
        }
        return Autograd.record(out, "indexAdd", g -> new Tensor[]{g, src.requiresGrad ? g.indexSelect(d, index) : null}, self, src);
    }

    static Tensor scatterAddInPlace(Tensor self, int dim, Tensor index, Tensor src) {
        Autograd.checkInPlace(self, "scatterAddInPlace");
        checkIndexType(index, "scatterAdd");
        int d = self.shape.normDim(dim);
        checkIndexShape(self, index, d, "scatterAdd");
        for (int i = 0; i < index.rank(); i++) {
            if (index.dim(i) > src.dim(i)) throw new IllegalArgumentException("scatterAdd: index " + index.shape + " exceeds src " + src.shape);
        }
        if (deviceOf(self, index, src) != null) {
            if (self.backend != null && self.dtype == DType.F32 && !overlapping(self) && kernelFits(index.dims())) {
                // one kernel, whatever the dim and strides (gather's backward): src's part within the index's dims
                checkHostIndices(index, self.dim(d), "scatterAdd", self.shape);
                try (Autograd.NoGrad ng = Autograd.noGrad()) {
                    Tensor s = Elementwise.cast(Elementwise.onDeviceOf(self, src), DType.F32);
                    self.backend.scatterAdd(s, d, Elementwise.onDeviceOf(self, index), self);
                }
                return self;
            }
            // else through the host: a copy of self there, then back into self's memory
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                Tensor h = self.to(Device.CPU);
                if (h == self) h = self.copy();
                scatterAddInPlace(h, dim, index.to(Device.CPU), src.to(Device.CPU));
                self.copyFrom(h);
            }
            return self;
        }
        long[] dims = index.dims();
        if (index.numel() == 0) return self;
        long[] pos = new long[dims.length];
        boolean ints = !self.dtype.isFloating();
        MemorySegment ss = self.host(), rs = src.host();
        do {
            long di = checkedIndex(index.getLong(pos), self.dim(d), "scatterAdd", self.shape);
            long at = offsetWith(self, pos, d, di);
            long so = offsetWith(src, pos, -1, 0);
            if (ints) Elem.setLong(ss, self.dtype, at, Elem.getLong(ss, self.dtype, at) + Elem.getLong(rs, src.dtype, so));
            else Elem.set(ss, self.dtype, at, Elem.get(ss, self.dtype, at) + Elem.get(rs, src.dtype, so));
        } while (next(pos, dims));
        return self;
    }

    /** The most a device's top-k kernel selects per row; beyond it, and for integer tensors, top-k on a device goes through the host. */
    static final int TOPK_DEVICE_MAX = 1024;

    static Tensor.TopK topk(Tensor x, int k, int dim, boolean largest) {
        int d = x.shape.normDim(dim);
        long n = x.dim(d);
        if (k < 0 || k > n) throw new IllegalArgumentException("topk k=" + k + " out of range for dim " + dim + " of size " + n);
        if (x.backend != null && (!x.dtype.isFloating() || k > TOPK_DEVICE_MAX)) {
            Tensor.TopK h = topk(x.to(Device.CPU), k, dim, largest);
            return new Tensor.TopK(h.values().to(x.device()), h.indices().to(x.device()));
        }
        int last = x.rank() - 1;
        Tensor c;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            Tensor xf = x.backend != null ? Elementwise.cast(x, DType.F32) : x;   // devices hold no F64
            c = (d == last ? xf : xf.transpose(d, last)).contiguous();
        }
        DType dt = c.dtype.isFloating() ? Elementwise.computeType(c) : c.dtype;
        long rows = n == 0 ? 0 : c.numel() / n;
        long[] od = c.dims();
        od[last] = k;
        Tensor vals = Tensor.outputLike(c, dt, od);
        Tensor idx = Tensor.outputLike(c, DType.I64, od);
        if (c.backend != null) {
            if (k > 0) c.backend.topkRows(c, vals, idx, rows, n, k, largest);
            return topkResult(x, d, last, vals, idx);
        }
        double[] row = new double[(int) n];
        int[] best = new int[k];
        MemorySegment cs = c.host(), vs = vals.host(), is = idx.host();
        for (long r = 0; r < rows; r++) {
            for (int i = 0; i < n; i++) {
                double v = Elem.get(cs, c.dtype, c.offset + r * n + i);
                row[i] = largest ? v : -v;
            }
            selectTop(row, k, best);
            for (int j = 0; j < k; j++) {
                Elem.set(vs, dt, r * k + j, Elem.get(cs, c.dtype, c.offset + r * n + best[j]));
                Elem.setLong(is, DType.I64, r * k + j, best[j]);
            }
        }
        return topkResult(x, d, last, vals, idx);
    }

    /** The values and indices of rows with {@code d} last, moved back to dim d; the values record the gather for autograd. */
    private static Tensor.TopK topkResult(Tensor x, int d, int last, Tensor vals, Tensor idx) {
        if (d != last) {
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                vals = vals.transpose(d, last).contiguous();
                idx = idx.transpose(d, last).contiguous();
            }
        }
        Tensor indices = idx;
        long[] in = x.dims();
        // the values are x gathered at the indices; indices carry no gradient
        vals = Autograd.record(vals, "topk", g -> new Tensor[]{Tensor.zerosLike(g, g.dtype, in).scatterAddInPlace(d, indices, g)}, x);
        return new Tensor.TopK(vals, indices);
    }

    /** Greater-than with NaN the largest and ties broken by lower index. */
    private static boolean before(double a, int ia, double b, int ib) {
        boolean an = Double.isNaN(a), bn = Double.isNaN(b);
        if (an || bn) return an && (!bn || ia < ib);
        return a > b || (a == b && ia < ib);
    }

    /** Indices of the k largest values of {@code row}, in descending order, into {@code out}. */
    private static void selectTop(double[] row, int k, int[] out) {
        if (k == 0) return;
        int filled = 0;
        for (int i = 0; i < row.length; i++) {
            if (filled == k && !before(row[i], i, row[out[k - 1]], out[k - 1])) continue;
            int pos = filled == k ? k - 1 : filled++;
            while (pos > 0 && before(row[i], i, row[out[pos - 1]], out[pos - 1])) {
                out[pos] = out[pos - 1];
                pos--;
            }
            out[pos] = i;
        }
    }

    static List<Tensor> split(Tensor x, int dim, long... sizes) {
        int d = x.shape.normDim(dim);
        long total = 0;
        for (long s : sizes) {
            if (s < 0) throw new IllegalArgumentException("negative split size in " + Arrays.toString(sizes));
            total += s;
        }
        if (total != x.dim(d)) throw new IllegalArgumentException("split sizes " + Arrays.toString(sizes) + " do not add up to dim " + dim + " of " + x.shape);
        List<Tensor> out = new ArrayList<>(sizes.length);
        long at = 0;
        for (long s : sizes) {
            out.add(x.narrow(d, at, s));
            at += s;
        }
        return out;
    }

    static Tensor concat(List<Tensor> parts, int dim) {
        if (parts.isEmpty()) throw new IllegalArgumentException("concat of no tensors");
        Tensor first = parts.getFirst();
        int d = first.shape.normDim(dim);
        long total = 0;
        DType dt = first.dtype;
        for (Tensor p : parts) {
            if (p.rank() != first.rank()) throw new IllegalArgumentException("concat: ranks differ, " + first.shape + " vs " + p.shape);
            for (int i = 0; i < p.rank(); i++) {
                if (i != d && p.dim(i) != first.dim(i)) throw new IllegalArgumentException("concat along dim " + dim + ": shapes " + first.shape + " and " + p.shape + " differ in dim " + i);
            }
            total += p.dim(d);
            if (p.dtype != dt) dt = Elementwise.computeType(parts.toArray(new Tensor[0]));
        }
        long[] od = first.dims();
        od[d] = total;
        Device dev = deviceOf(parts.toArray(new Tensor[0]));
        Tensor out = dev == null ? Tensor.zeros(dt, od) : Tensor.outputOn(dev.backend(), dt, od);   // the parts cover it
        long at = 0;
        long[] starts = new long[parts.size()];
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            for (int i = 0; i < parts.size(); i++) {
                Tensor p = parts.get(i);
                starts[i] = at;
                out.narrow(d, at, p.dim(d)).copyFrom(p);
                at += p.dim(d);
            }
        }
        Tensor[] in = parts.toArray(new Tensor[0]);
        return Autograd.record(out, "concat", g -> {
            Tensor[] gs = new Tensor[in.length];
            for (int i = 0; i < in.length; i++) gs[i] = g.narrow(d, starts[i], in[i].dim(d));
            return gs;
        }, in);
    }

    static Tensor where(Tensor cond, Tensor a, Tensor b) {
        Device dev = deviceOf(cond, a, b);
        long[] dims = Shape.broadcast(Shape.broadcast(cond.dims(), a.dims()), b.dims());
        if (dev != null && !kernelFits(dims)) return where(cond.to(Device.CPU), a.to(Device.CPU), b.to(Device.CPU)).to(dev);
        DType dt = a.dtype == b.dtype ? a.dtype : Elementwise.computeType(a, b);
        Tensor out = dev == null ? whereOnHost(cond, a, b, dims, dt) : Tensor.outputOn(dev.backend(), dt, dims);
        if (dev != null) {   // one kernel: each operand read where it is, through its strides
            Tensor on = cond.backend != null ? cond : a.backend != null ? a : b;
            out.backend.where(Elementwise.onDeviceOf(on, cond).expand(dims), Elementwise.onDeviceOf(on, a).expand(dims),
                    Elementwise.onDeviceOf(on, b).expand(dims), out);
        }
        long[] ad = a.dims(), bd = b.dims();
        return Autograd.record(out, "where", g -> {
            Tensor zero = Elementwise.scalarLike(g, 0);
            return new Tensor[]{a.requiresGrad ? Autograd.sumTo(where(cond, g, zero), ad) : null,
                    b.requiresGrad ? Autograd.sumTo(where(cond, zero, g), bd) : null};
        }, a, b);
    }

    /** where's host loop: cond != 0 picks a, else b, over dims, into a fresh tensor of dtype dt. */
    private static Tensor whereOnHost(Tensor cond, Tensor a, Tensor b, long[] dims, DType dt) {
        Tensor out = Tensor.zeros(dt, dims);
        Tensor c = cond.expand(dims), x = a.expand(dims), y = b.expand(dims);
        Loops.Plan plan = Loops.plan(dims, new long[]{out.offset, c.offset, x.offset, y.offset},
                out.shape.strides(), c.shape.strides(), x.shape.strides(), y.shape.strides());
        MemorySegment cs = c.host(), xs = x.host(), ys = y.host(), os = out.host();
        plan.forEach((off, n, inc) -> {
            for (long i = 0; i < n; i++) {
                boolean t = Elem.get(cs, c.dtype, off[1] + i * inc[1]) != 0;
                MemorySegment src = t ? xs : ys;
                DType st = t ? x.dtype : y.dtype;
                long so = t ? off[2] + i * inc[2] : off[3] + i * inc[3];
                if (dt.isFloating()) Elem.set(os, dt, off[0] + i, Elem.get(src, st, so));
                else Elem.setLong(os, dt, off[0] + i, Elem.getLong(src, st, so));
            }
        });
        return out;
    }

    static Tensor causalMask(long t, long s, long offset) {
        Tensor m = Tensor.zeros(DType.F32, t, s);
        for (long i = 0; i < t; i++) {
            for (long j = Math.max(0, i + offset + 1); j < s; j++) Elem.setF(m.host(), i * s + j, Float.NEGATIVE_INFINITY);
        }
        return m;
    }
}
