package dev.panamax.runtime;

import java.util.SplittableRandom;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Compares autograd gradients with central finite differences in F64. The scalar checked is
 * {@code sum(f(inputs) * R)} for a fixed random R, so every output element's gradient counts.
 */
final class GradCheck {
    private GradCheck() {
    }

    /** Seeded F64 leaf requiring grad, values in [lo, hi). */
    static Tensor leaf(long seed, double lo, double hi, long... dims) {
        return Tensor.uniform(DType.F64, seed, lo, hi, dims).requiresGrad(true);
    }

    /** Seeded F64 leaf in [-1, 1). */
    static Tensor leaf(long seed, long... dims) {
        return leaf(seed, -1, 1, dims);
    }

    static void check(String name, Function<Tensor[], Tensor> f, Tensor... leaves) {
        check(name, 1e-6, f, leaves);
    }

    static void check(String name, double h, Function<Tensor[], Tensor> f, Tensor... leaves) {
        for (Tensor t : leaves) t.clearGrad();
        Tensor out = f.apply(leaves);
        Tensor r = Tensor.uniform(DType.F64, 99, -1, 1, out.dims());
        Tensor loss = out.mul(r).sum();
        loss.backward();
        for (int li = 0; li < leaves.length; li++) {
            Tensor x = leaves[li];
            if (!x.requiresGrad()) continue;
            assertThat(x.grad()).as("%s: input %d got no gradient", name, li).isNotNull();
            double[] analytic = x.grad().toDoubleArray();
            long n = x.numel();
            assertThat(x.isContiguous()).isTrue();
            for (long i = 0; i < n; i++) {
                double orig = Elem.get(x.storage, x.dtype, x.offset + i);
                double lp, lm;
                try (Autograd.NoGrad ng = Autograd.noGrad()) {
                    Elem.set(x.storage, x.dtype, x.offset + i, orig + h);
                    lp = f.apply(leaves).mul(r).sum().item();
                    Elem.set(x.storage, x.dtype, x.offset + i, orig - h);
                    lm = f.apply(leaves).mul(r).sum().item();
                    Elem.set(x.storage, x.dtype, x.offset + i, orig);
                }
                double numeric = (lp - lm) / (2 * h);
                double a = analytic[(int) i];
                assertThat(Math.abs(a - numeric)).as("%s: d/d input%d[%d]: autograd %s, finite differences %s", name, li, i, a, numeric)
                        .isLessThanOrEqualTo(1e-6 + 1e-5 * Math.abs(numeric));
            }
        }
    }

    static long[] randomIds(long seed, int n, int v) {
        SplittableRandom r = new SplittableRandom(seed);
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextInt(v);
        return ids;
    }
}
