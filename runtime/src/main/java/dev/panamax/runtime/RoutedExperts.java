package dev.panamax.runtime;

import java.util.Arrays;

/**
 * The routed experts of a DeepSeekMoE layer (SwiGLU MLPs, each with gate, up and down
 * projections) run at inference straight from a routing that stays where the gate made it: no
 * read-back of the chosen experts, no permutation built on the host, nothing uploaded. For N tokens
 * x (N, C), each choosing K experts {@code chosen} (N, K) with weights w (N, K):
 * <pre>
 *   h[t, j]  = silu(x[t] . gate[e]^T) * (x[t] . up[e]^T),  e = chosen[t, j]     (inner)
 *   out[t]   = sum over j of w[t, j] * (h[t, j] . down[e]^T)  (+ base[t])        (C)
 * </pre>
 * summed over the slots j in order, then {@code base} (the shared experts' output) added, as
 * {@link Functional#moeUnpermute} and an add compute it. A pair whose expert lies outside
 * {@code [0, E)} adds nothing.
 *
 * <p>On a CUDA GPU that is four launches whatever the number of experts chosen, none waiting for
 * the host: the pairs grouped by expert on the device, the gate and up projections of every chosen
 * expert with SwiGLU in one launch, the down projections in one, and the weighted sum with
 * {@code base} in one. Each expert's weights are read once per 8 of its pairs, in their own dtype
 * (F32, BF16 or F16), and the sums are F32. Elsewhere it is the same arithmetic in plain loops (on
 * the host, the specification the kernels are tested against). It records no gradient:
 * {@link #forward} throws when one is needed, and training takes the grouped products
 * ({@link Functional#groupedSwiglu}, {@link Functional#groupedLinear}).
 *
 * <pre>{@code
 * RoutedExperts experts = new RoutedExperts(gates, ups, downs);       // once, beside the weights
 * Functional.GateChoice c = Functional.moeGate(logits, bias, spec);   // on the device
 * Tensor y = experts.forward(x, c.chosen(), c.weights(), shared);     // (N, C), no host round trip
 * }</pre>
 *
 * <p>On a device the experts' device pointers are uploaded once, as a table in the scope of the
 * weights, and uploaded again only if the weights move.
 */
public final class RoutedExperts {
    /** The most experts (the routing kernels' shared arrays, as {@link Functional#moeGate}'s). */
    public static final int MAX_EXPERTS = MoeGate.MAX_EXPERTS;
    /**
     * The most tokens for which {@link #preferred} chooses this path: with at most this many, no
     * expert has more rows than the grouped gemv would give it, so the weights are read no more
     * often than on the grouped path.
     */
    public static final int DECODE_TOKENS = CudaBackend.GEMV_GROUPED_MAX_ROWS;

    private final Tensor[] gate, up, down;
    private long[] tablePointers;
    private Tensor table;

    /**
     * The experts' projections, one of each per expert: gate and up (I, C), down (C, I), all
     * contiguous, of one dtype (F32, BF16 or F16) and on one device.
     *
     * @throws IllegalArgumentException naming the expert and projection that does not fit
     */
    public RoutedExperts(Tensor[] gate, Tensor[] up, Tensor[] down) {
        int e = gate.length;
        if (e == 0 || up.length != e || down.length != e) {
            throw new IllegalArgumentException("routed experts need one gate, up and down projection per expert, got " + gate.length + ", " + up.length + " and " + down.length);
        }
        if (e > MAX_EXPERTS) throw new IllegalArgumentException("routed experts: " + e + " experts, at most " + MAX_EXPERTS);
        Tensor first = gate[0];
        if (first.rank() != 2) throw new IllegalArgumentException("routed experts: expert 0 gate must be (I, C), got " + first.shape);
        long inner = first.dim(0), c = first.dim(1);
        DType dt = first.dtype;
        if (dt != DType.F32 && dt != DType.BF16 && dt != DType.F16) throw new IllegalArgumentException("routed experts: weights must be F32, BF16 or F16, got " + dt);
        for (int j = 0; j < e; j++) {
            check(gate[j], "gate", j, inner, c, first);
            check(up[j], "up", j, inner, c, first);
            check(down[j], "down", j, c, inner, first);
        }
        this.gate = gate.clone();
        this.up = up.clone();
        this.down = down.clone();
    }

    private static void check(Tensor w, String what, int expert, long rows, long cols, Tensor first) {
        if (w.rank() != 2 || w.dim(0) != rows || w.dim(1) != cols) {
            throw new IllegalArgumentException("routed experts: expert " + expert + " " + what + " must be (" + rows + ", " + cols + "), got " + w.shape);
        }
        if (w.dtype != first.dtype || w.backend != first.backend) {
            throw new IllegalArgumentException("routed experts: expert " + expert + " " + what + " is " + w.dtype + " on " + w.device()
                    + ", expert 0 gate " + first.dtype + " on " + first.device());
        }
        if (!w.isContiguous()) throw new IllegalArgumentException("routed experts: expert " + expert + " " + what + " must be contiguous");
    }

    /** The number of experts. */
    public int experts() {
        return gate.length;
    }

    /**
     * Whether {@link #forward} is the better way to run these operands than the grouped products:
     * the experts are on a device, x (N, C) with at most {@link #DECODE_TOKENS} tokens is there
     * too, and no gradient is needed.
     */
    public boolean preferred(Tensor x, Tensor weights, Tensor base) {
        return gate[0].backend != null && x.backend == gate[0].backend && x.rank() == 2 && x.dim(0) <= DECODE_TOKENS
                && !gradientNeeded(x, weights, base);
    }

    private boolean gradientNeeded(Tensor x, Tensor weights, Tensor base) {
        if (Autograd.needed(x, weights, base)) return true;
        return Autograd.needed(gate) || Autograd.needed(up) || Autograd.needed(down);
    }

    /**
     * The routed experts' output (N, C), F32, on the experts' device, for x (N, C), the chosen
     * experts (N, K; any integer dtype, anywhere: moved to the device and narrowed to I32 when
     * not there already), their weights (N, K) and base (N, C) or null.
     *
     * @throws IllegalArgumentException on mismatched shapes or devices, or when a gradient is
     *                                  needed (use the grouped products)
     */
    public Tensor forward(Tensor x, Tensor chosen, Tensor weights, Tensor base) {
        long c = gate[0].dim(1);
        if (x.rank() != 2 || x.dim(1) != c) throw new IllegalArgumentException("routed experts need x (N, " + c + "), got " + x.shape);
        long n = x.dim(0);
        if (chosen.rank() != 2 || chosen.dim(0) != n || chosen.dtype.isFloating()) {
            throw new IllegalArgumentException("routed experts need integer chosen experts (" + n + ", K), got " + chosen.dtype + " " + chosen.shape);
        }
        int k = Math.toIntExact(chosen.dim(1));
        if (weights.rank() != 2 || weights.dim(0) != n || weights.dim(1) != k) {
            throw new IllegalArgumentException("routed experts need weights (" + n + ", " + k + ") beside the chosen experts, got " + weights.shape);
        }
        if (base != null && (base.rank() != 2 || base.dim(0) != n || base.dim(1) != c)) {
            throw new IllegalArgumentException("routed experts need base (" + n + ", " + c + ") or null, got " + base.shape);
        }
        if (x.backend != gate[0].backend) throw new IllegalArgumentException("routed experts are on " + gate[0].device() + ", x on " + x.device());
        if (gradientNeeded(x, weights, base)) {
            throw new IllegalArgumentException("routed experts record no gradient; with one needed use the grouped products (Functional.groupedSwiglu, groupedLinear)");
        }
        if (n * k > Integer.MAX_VALUE) throw new IllegalArgumentException("routed experts: " + n + " x " + k + " pairs exceed one launch");
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            Tensor xc = Elementwise.cast(x, DType.F32).contiguous();
            Tensor wc = Elementwise.cast(Elementwise.onDeviceOf(x, weights), DType.F32).contiguous();
            Tensor bc = base == null ? null : Elementwise.cast(Elementwise.onDeviceOf(x, base), DType.F32).contiguous();
            if (n * k == 0) return bc != null ? bc.copy() : Tensor.zerosLike(xc, DType.F32, n, c);   // no pair: base alone
            Tensor out = Tensor.outputLike(xc, DType.F32, n, c);
            if (x.backend == null) {
                host(xc, chosen.toLongArray(), wc, bc, out, gate, up, down, n, k);
            } else {
                Tensor ids = Elementwise.cast(Elementwise.onDeviceOf(x, chosen), DType.I32).contiguous();
                x.backend.moeExperts(xc, ids, wc, bc, out, gate, up, down, table(x.backend), n, k);
            }
            return out;
        }
    }

    /**
     * The experts' device pointers, gate then up then down (3E, I64), on {@code backend}: uploaded
     * once into the scope of the weights, again only when a weight's memory moved.
     */
    private synchronized Tensor table(DeviceBackend backend) {
        int e = gate.length;
        long[] p = new long[3 * e];
        for (int j = 0; j < e; j++) {
            p[j] = address(gate[j]);
            p[e + j] = address(up[j]);
            p[2 * e + j] = address(down[j]);
        }
        if (table != null && Arrays.equals(p, tablePointers) && table.backend == backend && (table.home == null || !table.home.isClosed())) return table;
        Scope home = gate[0].home != null ? gate[0].home : Scope.global();
        try (Scope.Entered in = home.enter()) {
            table = Tensor.ofLongs(p).to(backend.device());
        }
        tablePointers = p;
        return table;
    }

    private static long address(Tensor w) {
        return w.devicePointer + w.offset * w.dtype.byteSize();
    }

    /**
     * The specification, on host memory (and the emulated device's arithmetic): every pair's
     * products summed in order of k in F32, SwiGLU as {@code a / (1 + exp(-a)) * b}, the slots
     * summed in order, then base added.
     */
    static void host(Tensor x, long[] chosen, Tensor w, Tensor base, Tensor out, Tensor[] gate, Tensor[] up, Tensor[] down, long tokens, int topk) {
        int experts = gate.length;
        int inner = Math.toIntExact(gate[0].dim(0)), c = Math.toIntExact(gate[0].dim(1));
        float[] xr = new float[c], h = new float[inner], acc = new float[c];
        for (long t = 0; t < tokens; t++) {
            for (int i = 0; i < c; i++) xr[i] = Elem.getF(x.storage, x.offset + t * c + i);
            Arrays.fill(acc, 0f);
            for (int j = 0; j < topk; j++) {
                long e = chosen[(int) (t * topk + j)];
                if (e < 0 || e >= experts) continue;
                Tensor g = gate[(int) e], u = up[(int) e], d = down[(int) e];
                for (int r = 0; r < inner; r++) h[r] = swiglu(xr, g, u, (long) r * c);
                float wj = Elem.getF(w.storage, w.offset + t * topk + j);
                for (int col = 0; col < c; col++) acc[col] += wj * dot(h, d, (long) col * inner);
            }
            for (int col = 0; col < c; col++) {
                float v = acc[col];
                if (base != null) v += Elem.getF(base.storage, base.offset + t * c + col);
                Elem.setF(out.storage, out.offset + t * c + col, v);
            }
        }
    }

    /**
     * The specification of {@link DeviceBackend#gemvSwiglu} on host memory: {@code h[r, j] =
     * silu(x[r] . w1[j]) * (x[r] . w3[j])} for m contiguous rows, with {@link #host}'s arithmetic.
     */
    static void swigluRows(Tensor x, Tensor w1, Tensor w3, Tensor h, long m) {
        int n = Math.toIntExact(w1.dim(0)), k = Math.toIntExact(w1.dim(1));
        float[] xr = new float[k];
        for (long r = 0; r < m; r++) {
            for (int i = 0; i < k; i++) xr[i] = Elem.getF(x.storage, x.offset + r * k + i);
            for (int j = 0; j < n; j++) Elem.setF(h.storage, h.offset + r * n + j, swiglu(xr, w1, w3, (long) j * k));
        }
    }

    /** silu(a) * b for a = v . g[row..] and b = v . u[row..], as {@code a / (1 + exp(-a)) * b} in float. */
    private static float swiglu(float[] v, Tensor g, Tensor u, long row) {
        float a = dot(v, g, row), b = dot(v, u, row);
        return a / (1f + (float) Math.exp(-a)) * b;
    }

    /** {@code sum over i of v[i] * w[row + i]} in order, F32, w's elements widened (exactly) from its dtype. */
    private static float dot(float[] v, Tensor w, long row) {
        float s = 0f;
        for (int i = 0; i < v.length; i++) s += v[i] * (float) Elem.get(w.storage, w.dtype, w.offset + row + i);
        return s;
    }
}
