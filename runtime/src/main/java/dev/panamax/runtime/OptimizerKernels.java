package dev.panamax.runtime;

import java.lang.foreign.MemorySegment;

/**
 * The optimisers' fused F32 update loops, run where the parameter lives: a host loop for host
 * tensors, one kernel per parameter on a device (optim.cu on CUDA), with the same arithmetic in
 * the same order on both, so that a step on a GPU follows the host step. Used by
 * {@code dev.panamax.runtime.optim}; parameter, gradient and state tensors are contiguous F32 of
 * one size, and the gradient is moved to the parameter's device when it is elsewhere.
 */
public final class OptimizerKernels {
    private OptimizerKernels() {
    }

    /**
     * The float coefficients of one AdamW step (each already rounded to float, as PyTorch's
     * scalar arguments are): {@code p = p*decay; m = m*beta1 + oneMinusBeta1*g;
     * v = v*beta2 + oneMinusBeta2*g*g; p = p - stepSize * (m / (sqrt(v)/bc2Sqrt + eps))}.
     */
    public record AdamWStep(float decay, float beta1, float oneMinusBeta1, float beta2, float oneMinusBeta2,
                            float stepSize, float bc2Sqrt, float eps) {
    }

    /**
     * The coefficients of one SGD step, computed in double as {@code torch.optim.SGD}'s
     * foreach-free path: {@code g += weightDecay p}; with a buffer, {@code buf = first ? g :
     * momentum buf + oneMinusDampening g} and {@code g = nesterov ? g + momentum buf : buf};
     * {@code p -= lr g}.
     */
    public record SgdStep(double lr, double momentum, double oneMinusDampening, double weightDecay, boolean nesterov, boolean first) {
    }

    /** One AdamW step in place on w, m and v. */
    public static void adamw(Tensor w, Tensor g, Tensor m, Tensor v, AdamWStep s) {
        Tensor gd = check("adamw", w, g, m, v);
        if (w.backend != null) {
            w.backend.adamw(w, gd, m, v, w.numel(), s);
            return;
        }
        adamwHost(w, gd, m, v, w.numel(), s);
    }

    /** One SGD step in place on w and (when not null) the momentum buffer. */
    public static void sgd(Tensor w, Tensor g, Tensor buf, SgdStep s) {
        Tensor gd = buf == null ? check("sgd", w, g) : check("sgd", w, g, buf);
        if (w.backend != null) {
            w.backend.sgd(w, gd, buf, w.numel(), s);
            return;
        }
        sgdHost(w, gd, buf, w.numel(), s);
    }

    /** Checks dtypes, sizes, layout and devices; returns the gradient on the parameter's device. */
    private static Tensor check(String op, Tensor w, Tensor g, Tensor... state) {
        Tensor gd = Elementwise.onDeviceOf(w, g).contiguous();
        for (Tensor t : java.util.List.of(w, gd)) require(op, t, w);
        for (Tensor t : state) {
            require(op, t, w);
            if (t.backend != w.backend) throw new IllegalArgumentException(op + ": state " + t + " is on " + t.device() + ", the parameter on " + w.device());
        }
        return gd;
    }

    private static void require(String op, Tensor t, Tensor w) {
        if (t.dtype != DType.F32 || !t.isContiguous() || t.numel() != w.numel()) {
            throw new IllegalArgumentException(op + " needs contiguous F32 tensors of " + w.numel() + " elements, got " + t);
        }
    }

    /** The host loop of {@link #adamw} (also the emulated device's). */
    static void adamwHost(Tensor w, Tensor g, Tensor m, Tensor v, long n, AdamWStep s) {
        MemorySegment ws = w.host(), gs = g.host(), ms = m.host(), vs = v.host();
        long wo = w.offset, go = g.offset, mo = m.offset, vo = v.offset;
        for (long i = 0; i < n; i++) {
            float gi = Elem.getF(gs, go + i);
            float pf = Elem.getF(ws, wo + i) * s.decay();
            float mf = Elem.getF(ms, mo + i) * s.beta1() + s.oneMinusBeta1() * gi;
            float vf = Elem.getF(vs, vo + i) * s.beta2() + s.oneMinusBeta2() * gi * gi;
            float denom = (float) Math.sqrt(vf) / s.bc2Sqrt() + s.eps();
            Elem.setF(ws, wo + i, pf - s.stepSize() * (mf / denom));
            Elem.setF(ms, mo + i, mf);
            Elem.setF(vs, vo + i, vf);
        }
    }

    /** The host loop of {@link #sgd} (also the emulated device's). */
    static void sgdHost(Tensor w, Tensor g, Tensor buf, long n, SgdStep s) {
        MemorySegment ws = w.host(), gs = g.host(), bs = buf == null ? null : buf.host();
        for (long i = 0; i < n; i++) {
            double pi = Elem.getF(ws, w.offset + i);
            double gi = Elem.getF(gs, g.offset + i) + s.weightDecay() * pi;
            if (bs != null) {
                double b = s.first() ? gi : s.momentum() * Elem.getF(bs, buf.offset + i) + s.oneMinusDampening() * gi;
                Elem.setF(bs, buf.offset + i, (float) b);
                gi = s.nesterov() ? gi + s.momentum() * b : b;
            }
            Elem.setF(ws, w.offset + i, (float) (pi - s.lr() * gi));
        }
    }
}
