package dev.panamax.runtime.optim;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.nn.Parameter;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Base of the optimisers: a list of named parameters, a learning rate, and per-parameter state
 * tensors that live in the parameter's own scope (so they outlive training steps). The state
 * saves and loads by name ({@link #stateDict()}, {@link #loadStateDict}) so training can resume
 * exactly. Parameters without a gradient are skipped, as in PyTorch.
 */
public abstract class Optimizer {
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The parameters, in order. */
    protected final List<Parameter> params;
    /** Per-parameter state tensors by name, e.g. {@code "exp_avg"}. */
    protected final Map<String, Map<String, Tensor>> state = new LinkedHashMap<>();
    /** Steps taken. */
    protected long steps;
    private double lr;

    /** Creates an optimiser over {@code params} with learning rate {@code lr}. */
    protected Optimizer(List<Parameter> params, double lr) {
        for (Parameter p : params) {
            Tensor t = p.value();
            if (!t.isContiguous() || (t.dtype() != DType.F32 && t.dtype() != DType.F64)) {
                throw new IllegalArgumentException("parameter " + p.name() + " must be a contiguous F32 or F64 tensor, it is " + t);
            }
            if (t.dtype() == DType.F64 && t.device().isDevice()) {
                throw new IllegalArgumentException("parameter " + p.name() + " is F64 on " + t.device() + "; device parameters must be F32");
            }
        }
        this.params = List.copyOf(params);
        this.lr = checkedLr(lr);
    }

    /** The current learning rate. */
    public double lr() {
        return lr;
    }

    /** Sets the learning rate (schedules call this before each step). */
    public void setLr(double lr) {
        this.lr = checkedLr(lr);
    }

    private static double checkedLr(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("learning rate must be finite and >= 0, got " + lr);
        return lr;
    }

    /** Number of steps taken. */
    public long steps() {
        return steps;
    }

    /** Applies one update from the accumulated gradients. */
    public final void step() {
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            steps++;
            for (Parameter p : params) {
                Tensor g = p.value().grad();
                if (g != null) update(p, g);
            }
        }
    }

    /** Updates one parameter in place from its gradient. */
    protected abstract void update(Parameter p, Tensor grad);

    /** Zeroes every parameter's gradient. */
    public void zeroGrad() {
        for (Parameter p : params) p.value().zeroGrad();
    }

    /**
     * The state tensor {@code key} of a parameter, like it: created zero-filled in the parameter's
     * scope, on the parameter's device.
     */
    protected Tensor stateOf(Parameter p, String key) {
        return stateOf(p, key, p.value().dtype(), p.value().device(), p.value().dims());
    }

    /** A host state tensor of the given dtype and dims (a step count), created zero-filled in the parameter's scope. */
    protected Tensor hostStateOf(Parameter p, String key, DType dtype, long... dims) {
        return stateOf(p, key, dtype, Device.CPU, dims);
    }

    private Tensor stateOf(Parameter p, String key, DType dtype, Device device, long... dims) {
        return state.computeIfAbsent(p.name(), k -> new LinkedHashMap<>()).computeIfAbsent(key, k -> {
            Scope home = p.value().scope();
            boolean enter = home != null && !home.isClosed() && home != Scope.current();
            try (Scope.Entered e = enter ? home.enter() : null) {
                return Tensor.zeros(device, dtype, dims);
            }
        });
    }

    /** Reads element i of a contiguous F32/F64 tensor. */
    static double get(Tensor t, long i) {
        MemorySegment s = t.segment();
        long o = t.storageOffset() + i;
        return t.dtype() == DType.F64 ? s.getAtIndex(D, o) : s.getAtIndex(F, o);
    }

    /** Writes element i of a contiguous F32/F64 tensor (rounded to its dtype). */
    static void set(Tensor t, long i, double v) {
        MemorySegment s = t.segment();
        long o = t.storageOffset() + i;
        if (t.dtype() == DType.F64) s.setAtIndex(D, o, v);
        else s.setAtIndex(F, o, (float) v);
    }

    /**
     * The state as host tensors named {@code "<param>.<key>"} plus {@code "step"} (an F64 scalar):
     * suitable for {@link dev.panamax.runtime.io.Safetensors#write}. State on a GPU is copied to
     * the host, in the current scope.
     */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        state.forEach((name, m) -> m.forEach((k, t) -> out.put(name + "." + k, t.to(Device.CPU))));
        out.put("step", Tensor.of(new double[]{steps}));
        return out;
    }

    /** Restores state written by {@link #stateDict()}; unknown names or shapes are an error listing them. */
    public void loadStateDict(Map<String, Tensor> saved) {
        Map<String, Parameter> byName = new LinkedHashMap<>();
        for (Parameter p : params) byName.put(p.name(), p);
        TreeSet<String> bad = new TreeSet<>();
        for (Map.Entry<String, Tensor> e : saved.entrySet()) {
            if (e.getKey().equals("step")) continue;
            int dot = e.getKey().lastIndexOf('.');
            Parameter p = dot < 0 ? null : byName.get(e.getKey().substring(0, dot));
            if (p == null) bad.add(e.getKey());
        }
        if (!saved.containsKey("step")) bad.add("step (missing)");
        if (!bad.isEmpty()) throw new IllegalArgumentException("optimizer state does not match the parameters: " + bad);
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            for (Map.Entry<String, Tensor> e : saved.entrySet()) {
                if (e.getKey().equals("step")) continue;
                int dot = e.getKey().lastIndexOf('.');
                Tensor v = e.getValue();
                Parameter p = byName.get(e.getKey().substring(0, dot));
                String key = e.getKey().substring(dot + 1);
                // moments live on the parameter's device; scalars (step counts) on the host
                Device where = v.dtype() == p.value().dtype() && java.util.Arrays.equals(v.dims(), p.value().dims()) ? p.value().device() : Device.CPU;
                Tensor dst = stateOf(p, key, v.dtype(), where, v.dims());
                if (!java.util.Arrays.equals(dst.dims(), v.dims())) throw new IllegalArgumentException("optimizer state " + e.getKey() + " has shape " + v.shape() + ", expected " + dst.shape());
                dst.copyFrom(v);
            }
        }
        steps = (long) saved.get("step").item();
    }
}
