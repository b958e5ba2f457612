package dev.panamax.runtime.optim;

/** A learning rate as a function of the step (0-based). */
@FunctionalInterface
public interface LrSchedule {
    /** The learning rate for {@code step}. */
    double lr(long step);

    /** The same rate at every step. */
    static LrSchedule constant(double lr) {
        return step -> lr;
    }

    /**
     * Linear warm-up from {@code peak / warmup} to {@code peak} over the first {@code warmup}
     * steps, then a cosine decay to {@code min} at {@code total} steps (and {@code min} after).
     */
    static LrSchedule warmupCosine(double peak, long warmup, long total, double min) {
        if (warmup < 0 || total < warmup) throw new IllegalArgumentException("need 0 <= warmup <= total, got " + warmup + ", " + total);
        return step -> {
            if (step < warmup) return peak * (step + 1) / warmup;
            if (total == warmup) return min;
            double progress = Math.min(1.0, (double) (step - warmup) / (total - warmup));
            return min + 0.5 * (peak - min) * (1 + Math.cos(Math.PI * progress));
        };
    }

    /** Sets {@code opt}'s learning rate for {@code step}; returns it. */
    default double apply(Optimizer opt, long step) {
        double lr = lr(step);
        opt.setLr(lr);
        return lr;
    }
}
