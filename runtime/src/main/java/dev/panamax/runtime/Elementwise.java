package dev.panamax.runtime;

import java.lang.foreign.MemorySegment;

/** Elementwise ops with NumPy broadcasting, run by the active {@link Kernels} (F32) or the scalar F64 twins. */
final class Elementwise {
    private Elementwise() {
    }

    /** F64 if any input is F64, else F32. */
    static DType computeType(Tensor... ts) {
        for (Tensor t : ts) if (t.dtype == DType.F64) return DType.F64;
        return DType.F32;
    }

    static Tensor cast(Tensor t, DType dt) {
        return t.dtype == dt ? t : t.to(dt);
    }

    /** A 0-d tensor holding {@code v} in x's compute type. */
    static Tensor scalarLike(Tensor x, double v) {
        DType dt = computeType(x);
        Tensor t = Tensor.zerosLike(x, dt);
        if (x.backend != null) {
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                t.fillInPlace(v);
            }
        } else {
            Elem.set(t.host(), dt, 0, v);
        }
        return t;
    }

    /**
     * {@code y} on {@code x}'s device: a host operand (an index, a mask, a constant) meeting a
     * device tensor is copied to that device; tensors on two different GPUs are an error.
     */
    static Tensor onDeviceOf(Tensor x, Tensor y) {
        if (x.backend == y.backend) return y;
        if (y.backend == null) return y.to(x.device());
        if (x.backend == null) return y;
        throw new IllegalArgumentException("tensors on different devices: " + x.device() + " and " + y.device());
    }

    static Tensor unary(UnaryOp op, Tensor x) {
        DType dt = computeType(x);
        Tensor a = cast(x, dt);
        Tensor out = unaryForward(op, a, dt);
        return Autograd.record(out, op.name().toLowerCase(java.util.Locale.ROOT), g -> {
            if (out.backend != null && dt == DType.F32) {   // one kernel on a device
                Tensor gx = Tensor.zerosLike(out, dt, out.dims());
                out.backend.unaryBackward(op, a.contiguous(), out, cast(onDeviceOf(out, g), dt).contiguous(), gx);
                return new Tensor[]{gx};
            }
            return new Tensor[]{unaryBackward(op, a, out, g)};
        }, a);
    }

    /** d op(a) given the output y and upstream gradient g. */
    private static Tensor unaryBackward(UnaryOp op, Tensor a, Tensor y, Tensor g) {
        return switch (op) {
            case NEG -> g.neg();
            case EXP -> g.mul(y);
            case LOG -> g.div(a);
            case SQRT -> g.mul(0.5).div(y);
            case RSQRT -> g.mul(y.mul(y).mul(y)).mul(-0.5);
            case SIGMOID -> g.mul(y.mul(y.neg().add(1.0)));
            case SILU -> {
                Tensor s = a.sigmoid();
                yield g.mul(s.mul(a.mul(s.neg().add(1.0)).add(1.0)));
            }
            case TANH -> g.mul(y.square().neg().add(1.0));
            case ABS -> g.mul(map(a, v -> v > 0 ? 1 : v < 0 ? -1 : 0));
            case RELU -> g.mul(map(a, v -> v > 0 ? 1 : 0));
            case SQUARE -> g.mul(a).mul(2.0);
            case RECIPROCAL -> g.mul(y.square()).neg();
        };
    }

    /** {@code f} applied elementwise by a plain loop (masks and signs for backward passes). */
    static Tensor map(Tensor x, java.util.function.DoubleUnaryOperator f) {
        if (x.backend != null) return map(x.to(Device.CPU), f).to(x.device());
        DType dt = computeType(x);
        Tensor c = x.contiguous();
        Tensor out = Tensor.zeros(dt, c.dims());
        long n = c.numel();
        MemorySegment in = c.host(), o = out.host();
        for (long i = 0; i < n; i++) Elem.set(o, dt, i, f.applyAsDouble(Elem.get(in, c.dtype, c.offset + i)));
        return out;
    }

    /** {@code f(a, b)} elementwise with broadcasting, by a plain loop. */
    static Tensor map2(Tensor a, Tensor b, java.util.function.DoubleBinaryOperator f) {
        if (a.backend != null || b.backend != null) {
            Device d = a.backend != null ? a.device() : b.device();
            return map2(a.to(Device.CPU), b.to(Device.CPU), f).to(d);
        }
        long[] dims = Shape.broadcast(a.dims(), b.dims());
        DType dt = computeType(a, b);
        Tensor x = a.expand(dims).contiguous(), y = b.expand(dims).contiguous();
        Tensor out = Tensor.zeros(dt, dims);
        long n = out.numel();
        MemorySegment xs = x.host(), ys = y.host(), o = out.host();
        for (long i = 0; i < n; i++) {
            Elem.set(o, dt, i, f.applyAsDouble(Elem.get(xs, x.dtype, x.offset + i), Elem.get(ys, y.dtype, y.offset + i)));
        }
        return out;
    }

    private static Tensor unaryForward(UnaryOp op, Tensor a, DType dt) {
        Tensor out = Tensor.outputLike(a, dt, a.dims());
        if (a.backend != null) {
            a.backend.unary(op, a.contiguous(), out);
            return out;
        }
        Loops.Plan plan = Loops.plan(a.dims(), new long[]{out.offset, a.offset}, out.shape.strides(), a.shape.strides());
        if (dt == DType.F32) {
            Kernels k = Kernels.active();
            plan.forEach((off, n, inc) -> k.unary(op, a.host(), off[1], inc[1], out.host(), off[0], n));
        } else {
            plan.forEach((off, n, inc) -> ScalarKernels.unaryD(op, a.host(), off[1], inc[1], out.host(), off[0], n));
        }
        return out;
    }

    static Tensor binary(BinaryOp op, Tensor x0, Tensor y0) {
        Tensor x = onDeviceOf(y0, x0), y = onDeviceOf(x, y0);
        DType dt = computeType(x, y);
        long[] dims = Shape.broadcast(x.dims(), y.dims());
        Tensor out = Tensor.outputLike(x, dt, dims);
        Tensor a = cast(x, dt).expand(dims), b = cast(y, dt).expand(dims);
        run(op, a, b, out);
        return Autograd.record(out, op.name().toLowerCase(java.util.Locale.ROOT), g -> binaryBackward(op, a, b, out, g), a, b);
    }

    /** Gradients of op(a, b) for a and b (already broadcast to the output's dims). */
    private static Tensor[] binaryBackward(BinaryOp op, Tensor a, Tensor b, Tensor y, Tensor g) {
        boolean ga = a.requiresGrad, gb = b.requiresGrad;
        return switch (op) {
            case ADD -> new Tensor[]{g, g};
            case SUB -> new Tensor[]{g, gb ? g.neg() : null};
            case MUL -> new Tensor[]{ga ? g.mul(b) : null, gb ? g.mul(a) : null};
            case DIV -> new Tensor[]{ga ? g.div(b) : null, gb ? g.mul(a).div(b.square()).neg() : null};
            case POW -> new Tensor[]{ga ? g.mul(b).mul(a.pow(b.sub(1.0))) : null, gb ? g.mul(y).mul(a.log()) : null};
            case MAX, MIN -> maxMinBackward(op, a, b, y, g);
        };
    }

    /**
     * The weight of u in the gradient of {@code max(u, v)} (op MAX) or {@code min(u, v)} (MIN): 1
     * where u is picked, 1/2 at a tie (the two share the gradient), 0 where v is picked or either
     * is NaN. The specification of the device kernels' {@code pick_weight}.
     */
    static double pickWeight(BinaryOp op, double u, double v) {
        boolean picked = op == BinaryOp.MAX ? u > v : u < v;
        return picked ? 1 : u == v ? 0.5 : 0;
    }

    /** The gradients of y = max(a, b) or min(a, b): one kernel on a device, pickWeight's masks on the host. */
    private static Tensor[] maxMinBackward(BinaryOp op, Tensor a, Tensor b, Tensor y, Tensor g) {
        boolean ga = a.requiresGrad, gb = b.requiresGrad;
        if (y.backend != null && y.dtype == DType.F32) {
            Tensor gy = cast(onDeviceOf(y, g), DType.F32).contiguous();
            Tensor da = ga ? Tensor.outputLike(y, DType.F32, y.dims()) : null, db = gb ? Tensor.outputLike(y, DType.F32, y.dims()) : null;
            y.backend.maxMinBackward(op, a, b, gy, da, db);
            return new Tensor[]{da, db};
        }
        return new Tensor[]{ga ? g.mul(map2(a, b, (u, v) -> pickWeight(op, u, v))) : null,
                gb ? g.mul(map2(a, b, (u, v) -> pickWeight(op, v, u))) : null};
    }

    static Tensor binaryScalar(BinaryOp op, Tensor x, double s) {
        return binary(op, x, scalarLike(x, s));
    }

    static Tensor binaryInPlace(BinaryOp op, Tensor x, Tensor y) {
        Autograd.checkInPlace(x, op.name().toLowerCase(java.util.Locale.ROOT) + "InPlace");
        if (x.dtype != DType.F32 && x.dtype != DType.F64) {
            throw new IllegalArgumentException("in-place ops need an F32 or F64 tensor, got " + x.dtype);
        }
        long[] dims = x.dims();
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            // the operand comes to the target's memory, whichever side that is on
            run(op, x, cast(y.to(x.device()), x.dtype).expand(dims), x);
        }
        return x;
    }

    /** out = op(a, b) for a, b already expanded to out's dims and of out's dtype. */
    private static void run(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        if (out.backend != null) {
            if (out.isContiguous()) {
                out.backend.binary(op, a, b, out);
            } else {
                // a strided destination (an in-place op on a view): compute, then copy in
                Tensor tmp = Tensor.outputLike(out, out.dtype, out.dims());
                out.backend.binary(op, a, b, tmp);
                out.backend.copy(tmp, out);
            }
            return;
        }
        Loops.Plan plan = Loops.plan(out.dims(), new long[]{out.offset, a.offset, b.offset},
                out.shape.strides(), a.shape.strides(), b.shape.strides());
        boolean f32 = out.dtype == DType.F32;
        Kernels k = Kernels.active();
        MemorySegment as = a.host(), bs = b.host(), os = out.host();
        plan.forEach((off, n, inc) -> {
            if (inc[0] == 1) {
                if (f32) k.binary(op, as, off[1], inc[1], bs, off[2], inc[2], os, off[0], n);
                else ScalarKernels.binaryD(op, as, off[1], inc[1], bs, off[2], inc[2], os, off[0], n);
            } else {
                for (long i = 0; i < n; i++) {
                    long o = off[0] + i * inc[0];
                    if (f32) {
                        Elem.setF(os, o, op.apply(Elem.getF(as, off[1] + i * inc[1]), Elem.getF(bs, off[2] + i * inc[2])));
                    } else {
                        Elem.setD(os, o, op.apply(Elem.getD(as, off[1] + i * inc[1]), Elem.getD(bs, off[2] + i * inc[2])));
                    }
                }
            }
        });
    }
}
