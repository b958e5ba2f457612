package dev.panamax.moe;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Intermediate values of one forward pass, by the names of the reference fixtures:
 * {@code embeddings}, {@code attn_out.{i}}, {@code hidden.{i}}, {@code final_norm}, and the
 * routing of each MoE layer. Values are detached copies, allocated in the current scope.
 */
public final class Trace {
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final Map<Integer, Gate.Routing> routing = new LinkedHashMap<>();

    /** An empty trace, to pass to a forward pass that fills it. */
    public Trace() {
    }

    void put(String name, Tensor t) {
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            tensors.put(name, t.detach().copy());
        }
    }

    void routing(int layer, Gate.Routing r) {
        routing.put(layer, r);
    }

    /** Recorded tensors by name. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** Routing by MoE layer index. */
    public Map<Integer, Gate.Routing> routing() {
        return routing;
    }
}
