package dev.panamax.runtime.optim;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.OptimizerKernels;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.nn.Parameter;

import java.util.List;

/**
 * AdamW with decoupled weight decay, exactly as {@code torch.optim.AdamW} (amsgrad off):
 * per parameter, with t its own step count,
 * <pre>
 *   p  = p * (1 - lr * weightDecay)
 *   m  = beta1 m + (1 - beta1) g          (torch 1.13's mul_/add_ form; torch 2 uses lerp_, equal up to rounding)
 *   v  = beta2 v + (1 - beta2) g^2
 *   p  = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * </pre>
 * F32 parameters update in one fused pass where they live ({@link OptimizerKernels#adamw}, on the
 * host or on their GPU); F64 parameters on the host.
 * PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2.
 */
public final class AdamW extends Optimizer {
    private final double beta1, beta2, eps, weightDecay;

    /** AdamW with PyTorch's default betas, eps and weight decay. */
    public AdamW(List<Parameter> params, double lr) {
        this(params, lr, 0.9, 0.999, 1e-8, 1e-2);
    }

    /** AdamW with every hyper-parameter given. */
    public AdamW(List<Parameter> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
        super(params, lr);
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("betas must be in [0, 1), got " + beta1 + ", " + beta2);
        if (!(eps >= 0) || !(weightDecay >= 0)) throw new IllegalArgumentException("eps and weight decay must be >= 0");
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    @Override
    protected void update(Parameter p, Tensor grad) {
        Tensor w = p.value();
        Tensor m = stateOf(p, "exp_avg");
        Tensor v = stateOf(p, "exp_avg_sq");
        Tensor stepT = hostStateOf(p, "step", DType.F64, 1);
        double t = stepT.item() + 1;
        stepT.setDouble(t, 0);
        Tensor g = grad.isContiguous() ? grad : grad.contiguous();
        double lr = lr();
        double decay = 1 - lr * weightDecay;
        double bc1 = 1 - Math.pow(beta1, t);
        double bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, t));
        double stepSize = lr / bc1;
        if (w.dtype() == DType.F32) {
            // float arithmetic in PyTorch's order, so F32 parameters follow torch bit for bit where possible
            OptimizerKernels.adamw(w, g, m, v, new OptimizerKernels.AdamWStep((float) decay, (float) beta1, (float) (1 - beta1),
                    (float) beta2, (float) (1 - beta2), (float) stepSize, (float) bc2Sqrt, (float) eps));
            return;
        }
        long n = w.numel();
        for (long i = 0; i < n; i++) {
            double gi = get(g, i);
            double mi = get(m, i) * beta1 + (1 - beta1) * gi;
            double vi = get(v, i) * beta2 + (1 - beta2) * gi * gi;
            set(w, i, get(w, i) * decay - stepSize * (mi / (Math.sqrt(vi) / bc2Sqrt + eps)));
            set(m, i, mi);
            set(v, i, vi);
        }
    }
}
