package dev.panamax.runtime.nn;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.io.Safetensors;
import dev.panamax.runtime.io.SafetensorsFile;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * A tree of named parameters and child modules, as in PyTorch's {@code nn.Module}. Subclasses
 * register parameters with {@link #parameter} and children with {@link #child} in their
 * constructor (allocate them in a long-lived {@link dev.panamax.runtime.Scope}), and define
 * their own forward method.
 *
 * <p>{@link #stateDict()} / {@link #loadStateDict} and {@link #save} / {@link #load} move the
 * parameters through safetensors under their full dotted names; loading checks names and
 * shapes first and reports every missing, unexpected or mis-shaped tensor at once.
 */
public abstract class Module {
    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();

    /** A module with no parameters, buffers or children yet; subclasses register theirs. */
    protected Module() {
    }

    /** Registers {@code value} as a trainable parameter named {@code name}; returns it. */
    protected Tensor parameter(String name, Tensor value) {
        checkName(name);
        if (!value.isLeaf()) throw new IllegalArgumentException("parameter " + name + " must be a leaf tensor");
        if (value.dtype() == dev.panamax.runtime.DType.F32 || value.dtype() == dev.panamax.runtime.DType.F64) value.requiresGrad(true);
        params.put(name, value);
        return value;
    }

    /**
     * Registers a non-trainable state tensor (a "buffer", e.g. a routing bias): saved and loaded
     * with the parameters, never given gradients or optimised.
     */
    protected Tensor buffer(String name, Tensor value) {
        checkName(name);
        buffers.put(name, value);
        return value;
    }

    /** Registers a child module under {@code name}; returns it. */
    protected <M extends Module> M child(String name, M module) {
        checkName(name);
        children.put(name, module);
        return module;
    }

    private void checkName(String name) {
        if (name.isEmpty() || params.containsKey(name) || buffers.containsKey(name) || children.containsKey(name)) {
            throw new IllegalArgumentException("duplicate or empty name \"" + name + "\" in " + getClass().getSimpleName());
        }
    }

    /** All parameters with their full dotted names, own ones first, then each child's in order. */
    public List<Parameter> parameters() {
        List<Parameter> out = new ArrayList<>();
        collect("", out);
        return out;
    }

    private void collect(String prefix, List<Parameter> out) {
        params.forEach((n, t) -> out.add(new Parameter(prefix + n, t)));
        children.forEach((n, m) -> m.collect(prefix + n + ".", out));
    }

    /** Number of scalar parameters. */
    public long parameterCount() {
        long n = 0;
        for (Parameter p : parameters()) n += p.value().numel();
        return n;
    }

    /** Buffers with their full dotted names. */
    public List<Parameter> buffers() {
        List<Parameter> out = new ArrayList<>();
        collectBuffers("", out);
        return out;
    }

    private void collectBuffers(String prefix, List<Parameter> out) {
        buffers.forEach((n, t) -> out.add(new Parameter(prefix + n, t)));
        children.forEach((n, m) -> m.collectBuffers(prefix + n + ".", out));
    }

    /** Parameters and buffers by name (live tensors, not copies). */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (Parameter p : parameters()) m.put(p.name(), p.value());
        for (Parameter p : buffers()) m.put(p.name(), p.value());
        return m;
    }

    /** Turns gradient tracking of every parameter on or off (off for inference-only use). */
    public void requiresGrad(boolean on) {
        for (Parameter p : parameters()) p.value().requiresGrad(on);
    }

    /**
     * Copies {@code state} into the parameters. Every parameter must be present with its exact
     * dims and no extra names may appear; otherwise nothing is copied and the exception lists
     * every missing, unexpected and mis-shaped name.
     */
    public void loadStateDict(Map<String, Tensor> state) {
        Map<String, Tensor> mine = stateDict();
        TreeSet<String> missing = new TreeSet<>(), unexpected = new TreeSet<>(), misShaped = new TreeSet<>();
        for (String n : mine.keySet()) if (!state.containsKey(n)) missing.add(n);
        for (Map.Entry<String, Tensor> e : state.entrySet()) {
            Tensor t = mine.get(e.getKey());
            if (t == null) unexpected.add(e.getKey());
            else if (!Arrays.equals(t.dims(), e.getValue().dims())) {
                misShaped.add(e.getKey() + " (expected " + Arrays.toString(t.dims()) + ", got " + Arrays.toString(e.getValue().dims()) + ")");
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty() || !misShaped.isEmpty()) {
            throw new IllegalArgumentException("state dict does not match " + getClass().getSimpleName()
                    + (missing.isEmpty() ? "" : "; missing: " + missing)
                    + (unexpected.isEmpty() ? "" : "; unexpected: " + unexpected)
                    + (misShaped.isEmpty() ? "" : "; mis-shaped: " + misShaped));
        }
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            for (Map.Entry<String, Tensor> e : mine.entrySet()) e.getValue().copyFrom(state.get(e.getKey()));
        }
    }

    /** Sets every parameter's gradient to zero. */
    public void zeroGrad() {
        for (Parameter p : parameters()) p.value().zeroGrad();
    }

    /** Writes the parameters to a safetensors file (atomically). */
    public void save(Path file) {
        Safetensors.write(file, stateDict(), Map.of("format", "pt"));
    }

    /** Reads parameters written by {@link #save} (or any safetensors file with the same names). */
    public void load(Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            for (String n : f.names()) m.put(n, f.tensor(n));
            loadStateDict(m);
        }
    }
}
