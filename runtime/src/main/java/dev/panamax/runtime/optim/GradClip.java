package dev.panamax.runtime.optim;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.nn.Parameter;

import java.util.List;

/** Gradient clipping by global L2 norm, as {@code torch.nn.utils.clip_grad_norm_}. */
public final class GradClip {
    private GradClip() {
    }

    /**
     * Scales all gradients by {@code maxNorm / (norm + 1e-6)} when that is below 1.
     *
     * @return the total norm before clipping (NaN or infinite when a gradient is)
     */
    public static double clipGradNorm(List<Parameter> params, double maxNorm) {
        double sq = 0;
        Tensor deviceSq = null; // sum of squares of the gradients on a device, read once at the end
        for (Parameter p : params) {
            Tensor g = p.value().grad();
            if (g == null) continue;
            if (g.device().isDevice()) {
                try (Autograd.NoGrad ng = Autograd.noGrad()) {
                    Tensor s = g.square().sum();
                    deviceSq = deviceSq == null ? s : deviceSq.add(s);
                }
                continue;
            }
            Tensor c = g.contiguous();
            long n = c.numel();
            for (long i = 0; i < n; i++) {
                double v = Optimizer.get(c, i);
                sq += v * v;
            }
        }
        if (deviceSq != null) sq += deviceSq.item();
        double norm = Math.sqrt(sq);
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1) {
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                for (Parameter p : params) {
                    Tensor g = p.value().grad();
                    if (g != null) g.mulInPlace(coef);
                }
            }
        }
        return norm;
    }
}
