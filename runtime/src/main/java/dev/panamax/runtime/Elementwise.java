package dev.panamax.runtime;

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
        Tensor t = Tensor.zeros(dt);
        Elem.set(t.storage, dt, 0, v);
        return t;
    }

    static Tensor unary(UnaryOp op, Tensor x) {
        DType dt = computeType(x);
        Tensor a = cast(x, dt);
        Tensor out = Tensor.zeros(dt, a.dims());
        Loops.Plan plan = Loops.plan(a.dims(), new long[]{out.offset, a.offset}, out.shape.strides(), a.shape.strides());
        if (dt == DType.F32) {
            Kernels k = Kernels.active();
            plan.forEach((off, n, inc) -> k.unary(op, a.storage, off[1], inc[1], out.storage, off[0], n));
        } else {
            plan.forEach((off, n, inc) -> ScalarKernels.unaryD(op, a.storage, off[1], inc[1], out.storage, off[0], n));
        }
        return out;
    }

    static Tensor binary(BinaryOp op, Tensor x, Tensor y) {
        DType dt = computeType(x, y);
        long[] dims = Shape.broadcast(x.dims(), y.dims());
        Tensor out = Tensor.zeros(dt, dims);
        run(op, cast(x, dt).expand(dims), cast(y, dt).expand(dims), out);
        return out;
    }

    static Tensor binaryScalar(BinaryOp op, Tensor x, double s) {
        return binary(op, x, scalarLike(x, s));
    }

    static Tensor binaryInPlace(BinaryOp op, Tensor x, Tensor y) {
        if (x.dtype != DType.F32 && x.dtype != DType.F64) {
            throw new IllegalArgumentException("in-place ops need an F32 or F64 tensor, got " + x.dtype);
        }
        long[] dims = x.dims();
        run(op, x, cast(y, x.dtype).expand(dims), x);
        return x;
    }

    /** out = op(a, b) for a, b already expanded to out's dims and of out's dtype. */
    private static void run(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        Loops.Plan plan = Loops.plan(out.dims(), new long[]{out.offset, a.offset, b.offset},
                out.shape.strides(), a.shape.strides(), b.shape.strides());
        boolean f32 = out.dtype == DType.F32;
        Kernels k = Kernels.active();
        plan.forEach((off, n, inc) -> {
            if (inc[0] == 1) {
                if (f32) k.binary(op, a.storage, off[1], inc[1], b.storage, off[2], inc[2], out.storage, off[0], n);
                else ScalarKernels.binaryD(op, a.storage, off[1], inc[1], b.storage, off[2], inc[2], out.storage, off[0], n);
            } else {
                for (long i = 0; i < n; i++) {
                    long o = off[0] + i * inc[0];
                    if (f32) {
                        Elem.setF(out.storage, o, op.apply(Elem.getF(a.storage, off[1] + i * inc[1]), Elem.getF(b.storage, off[2] + i * inc[2])));
                    } else {
                        Elem.setD(out.storage, o, op.apply(Elem.getD(a.storage, off[1] + i * inc[1]), Elem.getD(b.storage, off[2] + i * inc[2])));
                    }
                }
            }
        });
    }
}
