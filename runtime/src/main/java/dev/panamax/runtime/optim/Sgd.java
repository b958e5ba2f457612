package dev.panamax.runtime.optim;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.OptimizerKernels;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.nn.Parameter;

import java.util.List;

/**
 * SGD with momentum, as {@code torch.optim.SGD}: {@code g += weightDecay p}; with momentum,
 * {@code buf = g} on the first step and {@code buf = momentum buf + (1 - dampening) g} after,
 * {@code g = nesterov ? g + momentum buf : buf}; then {@code p -= lr g}.
 */
public final class Sgd extends Optimizer {
    private final double momentum, dampening, weightDecay;
    private final boolean nesterov;

    /** SGD with the given momentum, no dampening, no weight decay, no Nesterov. */
    public Sgd(List<Parameter> params, double lr, double momentum) {
        this(params, lr, momentum, 0, 0, false);
    }

    /** SGD with every option given. */
    public Sgd(List<Parameter> params, double lr, double momentum, double dampening, double weightDecay, boolean nesterov) {
        super(params, lr);
        if (momentum < 0 || dampening < 0 || weightDecay < 0) throw new IllegalArgumentException("momentum, dampening and weight decay must be >= 0");
        if (nesterov && (momentum <= 0 || dampening != 0)) throw new IllegalArgumentException("Nesterov momentum requires a momentum and zero dampening");
        this.momentum = momentum;
        this.dampening = dampening;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
    }

    @Override
    protected void update(Parameter p, Tensor grad) {
        Tensor w = p.value();
        Tensor g = grad.isContiguous() ? grad : grad.contiguous();
        boolean first = momentum != 0 && (!state.containsKey(p.name()) || !state.get(p.name()).containsKey("momentum_buffer"));
        Tensor buf = momentum != 0 ? stateOf(p, "momentum_buffer") : null;
        double lr = lr();
        if (w.dtype() == DType.F32) {
            OptimizerKernels.sgd(w, g, buf, new OptimizerKernels.SgdStep(lr, momentum, 1 - dampening, weightDecay, nesterov, first));
            return;
        }
        long n = w.numel();
        for (long i = 0; i < n; i++) {
            double pi = get(w, i);
            double gi = get(g, i) + weightDecay * pi;
            if (buf != null) {
                double b = first ? gi : momentum * get(buf, i) + (1 - dampening) * gi;
                set(buf, i, b);
                gi = nesterov ? gi + momentum * b : b;
            }
            set(w, i, pi - lr * gi);
        }
    }
}
