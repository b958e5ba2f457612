package dev.panamax.runtime;

/**
 * The DeepSeekMoE gate behind {@link Functional#moeGate}. On the host the choice is made from the
 * scores in double precision and the weights are composed of ops (the specification); on a device
 * one kernel ({@code gate_topk_f32}) makes the choice and the weights in float, and the choice
 * stays on the device. {@link #forwardFloat} and {@link #backwardFloat} are that kernel's
 * arithmetic on host memory, for the emulated device.
 */
final class MoeGate {
    /** The kernel's limits (its shared-memory arrays of experts, its per-thread array of choices). */
    static final int MAX_EXPERTS = 256, MAX_TOPK = 16;

    private MoeGate() {
    }

    static Functional.GateChoice apply(Tensor logits, Tensor bias, Functional.GateSpec spec) {
        if (logits.rank() != 2) throw new IllegalArgumentException("moeGate needs logits (tokens, experts), got " + logits.shape);
        long n = logits.dim(0);
        int e = Math.toIntExact(logits.dim(1)), k = spec.topk();
        if (e % spec.groups() != 0) throw new IllegalArgumentException("moeGate: " + e + " experts do not split into " + spec.groups() + " groups");
        if (k > e / spec.groups() * spec.topkGroups()) {
            throw new IllegalArgumentException("moeGate: top-" + k + " of " + spec.topkGroups() + " groups of " + e / spec.groups() + " experts is impossible");
        }
        if (bias != null && (bias.rank() != 1 || bias.dim(0) != e)) throw new IllegalArgumentException("moeGate bias " + bias.shape + " does not match " + e + " experts");
        if (logits.backend != null && e <= MAX_EXPERTS && k <= MAX_TOPK) return onDevice(logits, bias, spec, n, e);
        Tensor scores = spec.sigmoid() ? logits.sigmoid() : logits.softmax(-1);
        float[] sc = scores.detach().toFloatArray();
        float[] b = bias == null ? null : bias.toFloatArray();
        long[] idx = new long[Math.toIntExact(n * k)];
        double[] sel = new double[e];
        for (int t = 0; t < n; t++) {
            for (int j = 0; j < e; j++) sel[j] = (double) sc[t * e + j] + (b == null ? 0 : b[j]);
            int[] top = choose(sel, spec, b != null, false);
            for (int j = 0; j < k; j++) idx[t * k + j] = top[j];
        }
        Tensor chosen = Tensor.ofLongs(idx, n, k);
        Tensor w = scores.gather(1, chosen);
        if (spec.normalize()) w = w.div(w.sum(-1, true));
        if (spec.scale() != 1.0) w = w.mul(spec.scale());
        return new Functional.GateChoice(chosen, w);
    }

    private static Functional.GateChoice onDevice(Tensor logits, Tensor bias, Functional.GateSpec spec, long n, int e) {
        Device d = logits.device();
        Tensor x, idx, w;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            x = Elementwise.cast(logits.detach(), DType.F32).contiguous();
            Tensor b = bias == null ? null : Elementwise.cast(Elementwise.onDeviceOf(x, bias.detach()), DType.F32).contiguous();
            idx = Tensor.outputLike(x, DType.I32, n, spec.topk());   // the kernel writes every slot
            w = Tensor.outputLike(x, DType.F32, n, spec.topk());
            x.backend.moeGate(x, b, idx, w, n, e, spec);
        }
        Tensor weights = Autograd.record(w, "moeGate", g -> {
            Tensor gl = Tensor.zeros(d, DType.F32, n, e);
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                Tensor go = Elementwise.cast(Elementwise.onDeviceOf(x, g), DType.F32).contiguous();
                x.backend.moeGateBackward(x, idx, go, gl, n, e, spec);
            }
            return new Tensor[]{gl};
        }, logits);
        return new Functional.GateChoice(idx, weights);
    }

    /**
     * The chosen experts, best first, from one token's selection scores {@code sel} (overwritten):
     * the best {@code topkGroups} groups (a group's score is its best, or with the bias its two best
     * summed, rounded to float when {@code single}) keep their experts, then the top-k; ties go to
     * the lower index.
     */
    static int[] choose(double[] sel, Functional.GateSpec spec, boolean topTwo, boolean single) {
        int groups = spec.groups();
        if (groups > 1) {
            int per = sel.length / groups;
            double[] gs = new double[groups];
            for (int g = 0; g < groups; g++) {
                double a = Double.NEGATIVE_INFINITY, c = Double.NEGATIVE_INFINITY;
                for (int j = g * per; j < (g + 1) * per; j++) {
                    if (sel[j] > a) {
                        c = a;
                        a = sel[j];
                    } else if (sel[j] > c) {
                        c = sel[j];
                    }
                }
                gs[g] = topTwo ? (single ? (float) a + (float) c : a + c) : a;
            }
            boolean[] kept = new boolean[groups];
            for (int g : topIndices(gs, spec.topkGroups())) kept[g] = true;
            for (int g = 0; g < groups; g++) {
                if (!kept[g]) for (int j = g * per; j < (g + 1) * per; j++) sel[j] = Double.NEGATIVE_INFINITY;
            }
        }
        return topIndices(sel, spec.topk());
    }

    /** Indices of the k largest values, largest first, lower index first on ties. */
    static int[] topIndices(double[] v, int k) {
        int[] out = new int[k];
        int filled = 0;
        for (int i = 0; i < v.length; i++) {
            if (filled == k && !(v[i] > v[out[k - 1]])) continue;
            int pos = filled == k ? k - 1 : filled++;
            while (pos > 0 && v[i] > v[out[pos - 1]]) {
                out[pos] = out[pos - 1];
                pos--;
            }
            out[pos] = i;
        }
        return out;
    }

    /** The unbiased scores of one token's logits starting at {@code base}, in the kernel's float arithmetic. */
    private static float[] scores(Tensor x, long base, int e, boolean sigmoid) {
        float[] s = new float[e];
        if (sigmoid) {
            for (int j = 0; j < e; j++) s[j] = 1f / (1f + (float) Math.exp(-Elem.getF(x.storage, base + j)));
            return s;
        }
        float m = Float.NEGATIVE_INFINITY, z = 0f;
        for (int j = 0; j < e; j++) m = Math.max(m, Elem.getF(x.storage, base + j));
        for (int j = 0; j < e; j++) z += (float) Math.exp(Elem.getF(x.storage, base + j) - m);
        for (int j = 0; j < e; j++) s[j] = (float) Math.exp(Elem.getF(x.storage, base + j) - m) / z;
        return s;
    }

    /** {@code gate_topk_f32} on host tensors (contiguous; idx I32): the emulated device's kernel. */
    static void forwardFloat(Tensor x, Tensor bias, Tensor idx, Tensor w, long n, int e, Functional.GateSpec spec) {
        int k = spec.topk();
        double[] sel = new double[e];
        for (long t = 0; t < n; t++) {
            float[] s = scores(x, x.offset + t * e, e, spec.sigmoid());
            for (int j = 0; j < e; j++) sel[j] = bias == null ? s[j] : s[j] + Elem.getF(bias.storage, bias.offset + j);
            int[] top = choose(sel, spec, bias != null, true);
            float sum = 0f;
            for (int r = 0; r < k; r++) sum += s[top[r]];
            for (int r = 0; r < k; r++) {
                float v = s[top[r]];
                if (spec.normalize()) v /= sum;
                idx.storage.setAtIndex(Elem.I32, idx.offset + t * k + r, top[r]);
                Elem.setF(w.storage, w.offset + t * k + r, v * (float) spec.scale());
            }
        }
    }

    /** {@code gate_topk_backward_f32} on host tensors (contiguous; idx I32): the emulated device's kernel. */
    static void backwardFloat(Tensor x, Tensor idx, Tensor gw, Tensor gl, long n, int e, Functional.GateSpec spec) {
        int k = spec.topk();
        float rs = (float) spec.scale();
        for (long t = 0; t < n; t++) {
            float[] p = scores(x, x.offset + t * e, e, spec.sigmoid());
            int[] ix = new int[k];
            float[] s = new float[k], gs = new float[k];
            float sum = 0f, dot = 0f;
            for (int r = 0; r < k; r++) {
                ix[r] = idx.storage.getAtIndex(Elem.I32, idx.offset + t * k + r);
                s[r] = p[ix[r]];
                sum += s[r];
                dot += Elem.getF(gw.storage, gw.offset + t * k + r) * s[r];
            }
            for (int r = 0; r < k; r++) {
                float g = Elem.getF(gw.storage, gw.offset + t * k + r);
                gs[r] = spec.normalize() ? rs * (g - dot / sum) / sum : rs * g;
            }
            long base = gl.offset + t * e;
            if (spec.sigmoid()) {
                for (int j = 0; j < e; j++) Elem.setF(gl.storage, base + j, 0f);
                for (int r = 0; r < k; r++) Elem.setF(gl.storage, base + ix[r], Elem.getF(gl.storage, base + ix[r]) + gs[r] * s[r] * (1f - s[r]));
            } else {
                float sp = 0f;
                for (int r = 0; r < k; r++) sp += gs[r] * s[r];
                for (int j = 0; j < e; j++) {
                    float gp = 0f;
                    for (int r = 0; r < k; r++) if (ix[r] == j) gp += gs[r];
                    Elem.setF(gl.storage, base + j, p[j] * (gp - sp));
                }
            }
        }
    }
}
