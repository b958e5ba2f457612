package dev.panamax.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;

/**
 * The backend of {@link Device#EMULATED}: "device memory" is host memory (one arena per block,
 * freed on release) and the primitives run the scalar specification kernels. It drives every
 * device path of the op classes (allocation in scopes, uploads and downloads, offsets and strides
 * handed to the primitives, the host fallbacks, autograd across devices) without a GPU; only the
 * CUDA kernels themselves and cuBLAS are left to the GPU-tagged tests. Fresh blocks are filled
 * with NaN bytes, so a path that forgets to write its output shows up.
 */
final class EmulatedDevice implements DeviceBackend {
    private static volatile EmulatedDevice shared;

    private final Device device;
    private final Map<Long, Arena> arenas = new HashMap<>();
    private final Map<Long, MemorySegment> live = new HashMap<>();
    private long allocations, downloads;

    EmulatedDevice(Device device) {
        this.device = device;
    }

    /** The backend of {@link Device#EMULATED} (one per JVM). */
    static EmulatedDevice shared() {
        EmulatedDevice e = shared;
        if (e == null) {
            synchronized (EmulatedDevice.class) {
                if (shared == null) shared = new EmulatedDevice(Device.EMULATED);
                e = shared;
            }
        }
        return e;
    }

    /** Installs a fresh emulation as {@code device}; remove it with {@link #uninstall}. */
    static EmulatedDevice install(Device device) {
        EmulatedDevice e = new EmulatedDevice(device);
        Device.INSTALLED.put(device, e);
        return e;
    }

    void uninstall() {
        Device.INSTALLED.remove(device);
    }

    /** Blocks allocated and not yet released. */
    synchronized int liveBlocks() {
        return live.size();
    }

    /** Copies to the host so far. */
    synchronized long downloads() {
        return downloads;
    }

    /** Blocks allocated so far. */
    synchronized long allocations() {
        return allocations;
    }

    private synchronized MemorySegment block(long pointer) {
        MemorySegment s = live.get(pointer);
        if (s == null) throw new IllegalStateException("emulated device: no live block at " + pointer + " (use after release?)");
        return s;
    }

    /** The host view of a device tensor: same dtype, shape, strides and offset over its block. */
    private Tensor view(Tensor t) {
        if (t.backend != this) throw new IllegalStateException("tensor " + t + " is on " + t.device() + ", not on the emulated " + device);
        return new Tensor(block(t.devicePointer), t.dtype, t.shape, t.offset, null);
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public synchronized long allocate(long bytes) {
        Arena arena = Arena.ofShared();
        MemorySegment s = arena.allocate(Math.max(bytes, 1), 256);
        arenas.put(s.address(), arena);
        // poison, so that a path that forgets to zero or write its output shows up as NaN
        s.fill((byte) 0x7f);
        live.put(s.address(), s);
        allocations++;
        return s.address();
    }

    @Override
    public synchronized void release(long pointer) {
        if (live.remove(pointer) == null) throw new IllegalStateException("emulated device: double release of " + pointer);
        arenas.remove(pointer).close();
    }

    @Override
    public void zero(long pointer, long bytes) {
        block(pointer).asSlice(0, bytes).fill((byte) 0);
    }

    @Override
    public void upload(MemorySegment src, long dst, long bytes) {
        MemorySegment.copy(src, 0, block(dst), 0, bytes);
    }

    @Override
    public synchronized void download(long src, MemorySegment dst, long bytes) {
        downloads++;
        MemorySegment.copy(containing(src), src - base(src), dst, 0, bytes);
    }

    private synchronized long base(long address) {
        for (Map.Entry<Long, MemorySegment> e : live.entrySet()) {
            if (address >= e.getKey() && address < e.getKey() + e.getValue().byteSize()) return e.getKey();
        }
        throw new IllegalStateException("emulated device: address " + address + " is in no live block");
    }

    private MemorySegment containing(long address) {
        return block(base(address));
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        view(dst).copyFrom(view(src));
    }

    @Override
    public void fill(Tensor dst, double v) {
        view(dst).fillInPlace(v);
    }

    @Override
    public void unary(UnaryOp op, Tensor a, Tensor out) {
        Tensor x = view(a), y = view(out);
        ScalarKernels.INSTANCE.unary(op, x.storage, x.offset, 1, y.storage, y.offset, out.numel());
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor gy, Tensor gx) {
        Tensor a = view(x), b = view(y), g = view(gy), o = view(gx);
        for (long i = 0, n = gx.numel(); i < n; i++) {
            float xv = Elem.getF(a.storage, a.offset + i), yv = Elem.getF(b.storage, b.offset + i);
            float d = switch (op) {
                case NEG -> -1f;
                case EXP -> yv;
                case LOG -> 1f / xv;
                case SQRT -> 0.5f / yv;
                case RSQRT -> -0.5f * yv * yv * yv;
                case SIGMOID -> yv * (1f - yv);
                case SILU -> {
                    float s = 1f / (1f + (float) Math.exp(-xv));
                    yield s * (1f + xv * (1f - s));
                }
                case TANH -> 1f - yv * yv;
                case ABS -> xv > 0 ? 1f : xv < 0 ? -1f : 0f;
                case RELU -> xv > 0 ? 1f : 0f;
                case SQUARE -> 2f * xv;
                case RECIPROCAL -> -(yv * yv);
            };
            Elem.setF(o.storage, o.offset + i, Elem.getF(g.storage, g.offset + i) * d);
        }
    }

    @Override
    public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        Tensor x = view(a), y = view(b), o = view(out);
        Loops.Plan plan = Loops.plan(out.dims(), new long[]{o.offset, x.offset, y.offset}, o.shape.strides(), x.shape.strides(), y.shape.strides());
        plan.forEach((off, n, inc) -> {
            for (long i = 0; i < n; i++) {
                Elem.setF(o.storage, off[0] + i * inc[0], op.apply(Elem.getF(x.storage, off[1] + i * inc[1]), Elem.getF(y.storage, off[2] + i * inc[2])));
            }
        });
    }

    @Override
    public void maxMinBackward(BinaryOp op, Tensor a, Tensor b, Tensor gy, Tensor ga, Tensor gb) {
        if (op != BinaryOp.MAX && op != BinaryOp.MIN) throw new IllegalArgumentException("maxMinBackward takes MAX or MIN, got " + op);
        Tensor x = view(a), y = view(b), g = view(gy), oa = ga == null ? null : view(ga), ob = gb == null ? null : view(gb);
        Loops.Plan plan = Loops.plan(gy.dims(), new long[]{0, x.offset, y.offset}, g.shape.strides(), x.shape.strides(), y.shape.strides());
        plan.forEach((off, n, inc) -> {
            for (long i = 0; i < n; i++) {
                long e = off[0] + i * inc[0];   // the element's position in gy, ga and gb (all contiguous)
                float u = Elem.getF(x.storage, off[1] + i * inc[1]), v = Elem.getF(y.storage, off[2] + i * inc[2]);
                float gv = Elem.getF(g.storage, g.offset + e);
                if (oa != null) Elem.setF(oa.storage, oa.offset + e, gv * (float) Elementwise.pickWeight(op, u, v));
                if (ob != null) Elem.setF(ob.storage, ob.offset + e, gv * (float) Elementwise.pickWeight(op, v, u));
            }
        });
    }

    @Override
    public void softmaxRows(Tensor x, Tensor out, long rows, long n, boolean log) {
        Tensor a = view(x), o = view(out);
        ScalarKernels.INSTANCE.softmaxRows(a.storage, a.offset, o.storage, o.offset, rows, n, log);
    }

    @Override
    public void softmaxBackwardRows(Tensor y, Tensor gy, Tensor gx, long rows, long n, boolean log) {
        Tensor a = view(y), g = view(gy), o = view(gx);
        for (long r = 0; r < rows; r++) {
            float s = 0f;
            for (long j = 0; j < n; j++) {
                float gv = Elem.getF(g.storage, g.offset + r * n + j);
                s += log ? gv : gv * Elem.getF(a.storage, a.offset + r * n + j);
            }
            for (long j = 0; j < n; j++) {
                float yv = Elem.getF(a.storage, a.offset + r * n + j), gv = Elem.getF(g.storage, g.offset + r * n + j);
                Elem.setF(o.storage, o.offset + r * n + j, log ? gv - (float) Math.exp(yv) * s : yv * (gv - s));
            }
        }
    }

    @Override
    public void rmsNormBackwardRows(Tensor x, Tensor w, Tensor gy, Tensor gx, Tensor gw, long rows, long n, double eps) {
        Tensor a = view(x), b = view(w), g = view(gy), o = view(gx), dw = gw == null ? null : view(gw);
        for (long r = 0; r < rows; r++) {
            long base = r * n;
            float ss = 0f, s = 0f;
            for (long j = 0; j < n; j++) {
                float v = Elem.getF(a.storage, a.offset + base + j);
                ss += v * v;
            }
            float rs = (float) (1.0 / Math.sqrt(ss / n + (float) eps));
            for (long j = 0; j < n; j++) {
                s += Elem.getF(g.storage, g.offset + base + j) * Elem.getF(b.storage, b.offset + j) * Elem.getF(a.storage, a.offset + base + j) * rs;
            }
            s /= n;
            for (long j = 0; j < n; j++) {
                float xh = Elem.getF(a.storage, a.offset + base + j) * rs, gv = Elem.getF(g.storage, g.offset + base + j);
                Elem.setF(o.storage, o.offset + base + j, rs * (gv * Elem.getF(b.storage, b.offset + j) - xh * s));
                if (dw != null) Elem.setF(dw.storage, dw.offset + j, Elem.getF(dw.storage, dw.offset + j) + gv * xh);
            }
        }
    }

    @Override
    public void swiglu(Tensor gate, Tensor up, Tensor out, long n) {
        Tensor a = view(gate), b = view(up), o = view(out);
        for (long i = 0; i < n; i++) {
            float g = Elem.getF(a.storage, a.offset + i);
            Elem.setF(o.storage, o.offset + i, g / (1f + (float) Math.exp(-g)) * Elem.getF(b.storage, b.offset + i));
        }
    }

    @Override
    public void swigluBackward(Tensor gate, Tensor up, Tensor gy, Tensor gGate, Tensor gUp, long n) {
        Tensor a = view(gate), b = view(up), d = view(gy), ga = view(gGate), gb = view(gUp);
        for (long i = 0; i < n; i++) {
            float g = Elem.getF(a.storage, a.offset + i), s = 1f / (1f + (float) Math.exp(-g)), dy = Elem.getF(d.storage, d.offset + i);
            Elem.setF(gb.storage, gb.offset + i, dy * g * s);
            Elem.setF(ga.storage, ga.offset + i, dy * Elem.getF(b.storage, b.offset + i) * s * (1f + g * (1f - s)));
        }
    }

    @Override
    public void rmsNormRows(Tensor x, Tensor w, Tensor out, long rows, long n, double eps) {
        Tensor a = view(x), b = view(w), o = view(out);
        ScalarKernels.INSTANCE.rmsNormRows(a.storage, a.offset, b.storage, b.offset, o.storage, o.offset, rows, n, (float) eps);
    }

    @Override
    public void addRmsNormRows(Tensor x, Tensor d, Tensor w, Tensor h, Tensor out, long rows, long n, double eps) {
        Tensor a = view(x), b = view(d), s = view(h);
        for (long i = 0; i < rows * n; i++) Elem.setF(s.storage, s.offset + i, Elem.getF(a.storage, a.offset + i) + Elem.getF(b.storage, b.offset + i));
        rmsNormRows(h, w, out, rows, n, eps);
    }

    @Override
    public void crossEntropyRows(Tensor logits, Tensor targets, Tensor loss, Tensor lse, long rows, long cols, long ignoreIndex) {
        Tensor x = view(logits), l = view(loss), e = view(lse);
        long[] t = indices(targets);
        for (long r = 0; r < rows; r++) {
            long base = x.offset + r * cols;
            float m = Float.NEGATIVE_INFINITY, s = 0f;
            for (long j = 0; j < cols; j++) m = Math.max(m, Elem.getF(x.storage, base + j));
            for (long j = 0; j < cols; j++) s += (float) Math.exp(Elem.getF(x.storage, base + j) - m);
            float lr = m + (float) Math.log(s);
            Elem.setF(e.storage, e.offset + r, lr);
            Elem.setF(l.storage, l.offset + r, t[(int) r] == ignoreIndex ? 0f : lr - Elem.getF(x.storage, base + t[(int) r]));
        }
    }

    @Override
    public void crossEntropyBackwardRows(Tensor logits, Tensor targets, Tensor lse, Tensor gloss, Tensor glogits, long rows, long cols,
                                         long ignoreIndex, double scale) {
        Tensor x = view(logits), e = view(lse), gl = view(gloss), out = view(glogits);
        long[] t = indices(targets);
        for (long r = 0; r < rows; r++) {
            long tr = t[(int) r];
            float g = tr == ignoreIndex ? 0f : Elem.getF(gl.storage, gl.offset + r) * (float) scale, lr = Elem.getF(e.storage, e.offset + r);
            for (long j = 0; j < cols; j++) {
                float p = (float) Math.exp(Elem.getF(x.storage, x.offset + r * cols + j) - lr);
                Elem.setF(out.storage, out.offset + r * cols + j, g * (p - (j == tr ? 1f : 0f)));
            }
        }
    }

    @Override
    public void ropeRows(Tensor x, long ldx, Tensor cos, Tensor sin, long rep, long tableRows, Tensor out, long rows, long half) {
        Tensor a = view(x), c = view(cos), s = view(sin), o = view(out);
        for (long r = 0; r < rows; r++) {
            long t = (r / rep) % tableRows * half;
            ScalarKernels.INSTANCE.ropeRows(a.storage, a.offset + r * ldx, c.storage, c.offset + t, s.storage, s.offset + t,
                    o.storage, o.offset + r * 2 * half, 1, half);
        }
    }

    @Override
    public void latentKvRows(Tensor kv, long ldkv, Tensor w, double eps, Tensor cos, Tensor sin, Tensor latent, long latentSeqStride,
                             Tensor kRope, long kRopeSeqStride, Tensor pos, long rows, long perSeq, long tableRows, long n, long half) {
        Tensor x = view(kv), g = view(w), c = view(cos), s = view(sin), lat = view(latent), kr = view(kRope);
        long[] at = pos == null ? null : view(pos).toLongArray();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment normed = arena.allocate(n * 4), turned = arena.allocate(half * 8);
            for (long r = 0; r < rows; r++) {
                long seq = r / perSeq, tok = r % perSeq, row = x.offset + r * ldkv, t = r % tableRows * half;
                ScalarKernels.INSTANCE.rmsNormRows(x.storage, row, g.storage, g.offset, normed, 0, 1, n, (float) eps);
                ScalarKernels.INSTANCE.ropeRows(x.storage, row + n, c.storage, c.offset + t, s.storage, s.offset + t, turned, 0, 1, half);
                long row0 = tok + (at == null ? 0 : at[(int) seq]);
                long latAt = lat.offset + seq * latentSeqStride + row0 * n, krAt = kr.offset + seq * kRopeSeqStride + row0 * 2 * half;
                for (long j = 0; j < n; j++) Elem.set(lat.storage, lat.dtype, latAt + j, Elem.getF(normed, j));
                for (long j = 0; j < 2 * half; j++) Elem.set(kr.storage, kr.dtype, krAt + j, Elem.getF(turned, j));
            }
        }
    }

    @Override
    public void reduceRows(ReduceOp op, Tensor x, Tensor out, long rows, long n) {
        Tensor a = view(x), o = view(out);
        ScalarKernels.INSTANCE.reduce(op, a.storage, a.offset, rows, n, 1, o.storage, o.offset);
    }

    @Override
    public void topkRows(Tensor x, Tensor vals, Tensor idx, long rows, long n, int k, boolean largest) {
        Tensor.TopK h = Indexing.topk(view(x).view(rows, n), k, 1, largest);
        view(vals).view(rows, k).copyFrom(h.values());
        view(idx).view(rows, k).copyFrom(h.indices());
    }

    @Override
    public void argmaxRows(Tensor x, Tensor out, long rows, long n) {
        view(out).view(rows).copyFrom(Reductions.argmax(view(x).view(rows, n), 1, false));
    }

    @Override
    public void sampleRows(Tensor logits, Tensor out, long rows, long n, double temperature, long key) {
        Sampling.drawRows(view(logits), view(out), rows, n, temperature, key);
    }

    @Override
    public void softmaxTotalRows(Tensor logits, Tensor out, long rows, long n, double temperature) {
        Tensor x = view(logits), o = view(out);
        for (long r = 0; r < rows; r++) {
            Elem.setLong(o.storage, DType.I64, o.offset + r, Double.doubleToRawLongBits(Sampling.total(x.storage, x.offset + r * n, n, temperature)));
        }
    }

    @Override
    public void gemm(boolean ta, boolean tb, int m, int n, int k, Tensor a, long aOff, long lda, Tensor b, long bOff, long ldb,
                     Tensor c, long cOff, long ldc, boolean accumulate) {
        MemorySegment as = view(a).storage;
        if (a.dtype != DType.F32) {
            // a 16-bit left operand (with a 16-bit right one, as cuBLAS takes them): widen its whole block, same indices
            as = new Tensor(as, a.dtype, Shape.of(as.byteSize() / a.dtype.byteSize()), 0, null).to(DType.F32).storage;
        }
        Tensor cv = view(c);
        if (c.dtype == DType.F32) {
            ScalarKernels.INSTANCE.sgemm(ta, tb, m, n, k, as, aOff, lda, view(b).storage, bOff, ldb, b.dtype, cv.storage, cOff, ldc, accumulate);
            return;
        }
        // a 16-bit output (of two operands of its type): the F32 accumulators, rounded once
        Tensor block = new Tensor(cv.storage, c.dtype, Shape.strided(new long[]{m, n}, new long[]{ldc, 1}), cOff, null), wide = block.to(DType.F32);
        ScalarKernels.INSTANCE.sgemm(ta, tb, m, n, k, as, aOff, lda, view(b).storage, bOff, ldb, b.dtype, wide.storage, wide.offset, n, accumulate);
        block.copyFrom(wide);
    }

    private long[] indices(Tensor index) {
        return (index.backend == null ? index : view(index)).contiguous().toLongArray();
    }

    @Override
    public void indexSelectRows(Tensor x, Tensor index, Tensor out, long n, long dim, long rows) {
        Tensor a = view(x), o = view(out);
        long[] idx = indices(index);
        for (int r = 0; r < n; r++) {
            for (long j = 0; j < dim; j++) {
                float v = idx[r] >= 0 && idx[r] < rows ? (float) Elem.get(a.storage, a.dtype, a.offset + idx[r] * dim + j) : Float.NaN;
                Elem.setF(o.storage, o.offset + r * dim + j, v);
            }
        }
    }

    @Override
    public void indexAddRows(Tensor src, Tensor index, Tensor out, long n, long dim, long rows) {
        Tensor s = view(src), o = view(out);
        long[] idx = indices(index);
        for (int r = 0; r < n; r++) {
            if (idx[r] < 0 || idx[r] >= rows) continue;
            for (long j = 0; j < dim; j++) {
                long at = o.offset + idx[r] * dim + j;
                Elem.setF(o.storage, at, Elem.getF(o.storage, at) + Elem.getF(s.storage, s.offset + r * dim + j));
            }
        }
    }

    @Override
    public void gather(Tensor x, int d, Tensor index, Tensor out) {
        Tensor a = view(x), o = view(out);
        long[] idx = indices(index), dims = index.dims(), pos = new long[dims.length];
        int es = x.dtype.byteSize();
        long size = x.dim(d);
        for (int i = 0; i < idx.length; i++, Indexing.next(pos, dims)) {
            long c = fromEnd(idx[i], size);
            if (c >= 0 && c < size) {
                MemorySegment.copy(a.storage, Indexing.offsetWith(a, pos, d, c) * es, o.storage, (o.offset + i) * es, es);
            } else if (x.dtype.isFloating()) {
                Elem.set(o.storage, o.dtype, o.offset + i, Double.NaN);
            } else {
                Elem.setLong(o.storage, o.dtype, o.offset + i, 0);
            }
        }
    }

    @Override
    public void scatterAdd(Tensor src, int d, Tensor index, Tensor out) {
        Tensor s = view(src), o = view(out);
        long[] idx = indices(index), dims = index.dims(), pos = new long[dims.length];
        long size = out.dim(d);
        for (int i = 0; i < idx.length; i++, Indexing.next(pos, dims)) {   // in row-major order: each line along d in order
            long c = fromEnd(idx[i], size);
            if (c < 0 || c >= size) continue;
            long at = Indexing.offsetWith(o, pos, d, c);
            Elem.setF(o.storage, at, Elem.getF(o.storage, at) + Elem.getF(s.storage, Indexing.offsetWith(s, pos, -1, 0)));
        }
    }

    @Override
    public void where(Tensor cond, Tensor a, Tensor b, Tensor out) {
        Tensor c = view(cond), x = view(a), y = view(b), o = view(out);
        long[] dims = out.dims(), pos = new long[dims.length];
        boolean ints = !a.dtype.isFloating() && !b.dtype.isFloating() && !out.dtype.isFloating();
        for (long i = 0, n = out.numel(); i < n; i++, Indexing.next(pos, dims)) {
            Tensor t = Elem.get(c.storage, c.dtype, Indexing.offsetWith(c, pos, -1, 0)) != 0 ? x : y;
            long at = Indexing.offsetWith(t, pos, -1, 0);
            if (ints) Elem.setLong(o.storage, o.dtype, o.offset + i, Elem.getLong(t.storage, t.dtype, at));
            else Elem.set(o.storage, o.dtype, o.offset + i, Elem.get(t.storage, t.dtype, at));
        }
    }

    /** A last-dim index as the kernels read it: a negative one counts from the end. */
    private static long fromEnd(long index, long size) {
        return index < 0 ? index + size : index;
    }

    @Override
    public void moeGate(Tensor logits, Tensor bias, Tensor idx, Tensor w, long tokens, int experts, Functional.GateSpec spec) {
        MoeGate.forwardFloat(view(logits), bias == null ? null : view(bias), view(idx), view(w), tokens, experts, spec);
    }

    @Override
    public void moeGateBackward(Tensor logits, Tensor idx, Tensor gw, Tensor glogits, long tokens, int experts, Functional.GateSpec spec) {
        MoeGate.backwardFloat(view(logits), view(idx), view(gw), view(glogits), tokens, experts, spec);
    }

    @Override
    public void moeUnpermute(Tensor y, Tensor pos, Tensor w, Tensor out, long tokens, long k, long dim) {
        Indexing.unpermuteHost(view(y), indices(pos), view(w), view(out), tokens, (int) k, dim);
    }

    @Override
    public void moeUnpermuteBackward(Tensor y, Tensor pos, Tensor w, Tensor gout, Tensor gy, Tensor gw, long tokens, long k, long dim) {
        Indexing.unpermuteBackwardHost(view(y), indices(pos), view(w), view(gout), view(gy), view(gw), tokens, (int) k, dim);
    }

    @Override
    public void gemvSwiglu(Tensor x, Tensor w1, Tensor w3, Tensor h, long m, long n, long k) {
        RoutedExperts.swigluRows(view(x), view(w1), view(w3), view(h), m);
    }

    @Override
    public void moeExperts(Tensor x, Tensor chosen, Tensor w, Tensor base, Tensor out, Tensor[] gate, Tensor[] up, Tensor[] down, Tensor table,
                           long tokens, int k) {
        view(table);   // on this device, as CUDA reads it
        RoutedExperts.host(view(x), indices(chosen), view(w), base == null ? null : view(base), view(out), views(gate), views(up), views(down), tokens, k);
    }

    private Tensor[] views(Tensor[] ts) {
        Tensor[] v = new Tensor[ts.length];
        for (int i = 0; i < ts.length; i++) v[i] = view(ts[i]);
        return v;
    }

    @Override
    public void adamw(Tensor w, Tensor g, Tensor m, Tensor v, long n, OptimizerKernels.AdamWStep s) {
        OptimizerKernels.adamwHost(view(w), view(g), view(m), view(v), n, s);
    }

    @Override
    public void sgd(Tensor w, Tensor g, Tensor buf, long n, OptimizerKernels.SgdStep s) {
        OptimizerKernels.sgdHost(view(w), view(g), buf == null ? null : view(buf), n, s);
    }

    @Override
    public void mlaDecode(Tensor qLatent, Tensor qRope, Tensor latent, Tensor kRope, Tensor out, long len, Tensor positions, double scale) {
        long[] lens = positions == null ? null : view(positions).toLongArray();
        for (int b = 0; b < qLatent.dim(0); b++) {
            long n = lens == null ? len : lens[b] + 1;
            Tensor q = Tensor.concat(java.util.List.of(view(qLatent).select(0, b), view(qRope).select(0, b)), 1);          // (H,R+P)
            Tensor keys = Tensor.concat(java.util.List.of(view(latent).select(0, b), view(kRope).select(0, b)), 1).narrow(0, 0, n);   // (n,R+P)
            Tensor p = q.matmul(keys.transpose(0, 1)).mul(scale).softmax(-1);                                                // (H,n)
            view(out).select(0, b).copyFrom(p.matmul(view(latent).select(0, b).narrow(0, 0, n)));
        }
    }

    @Override
    public void synchronize() {
    }
}
