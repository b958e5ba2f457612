package dev.panamax.moe;

import dev.panamax.runtime.Functional;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.nn.Module;

/**
 * SwiGLU feed-forward: {@code down_proj(silu(gate_proj(x)) * up_proj(x))}. Used for the dense
 * layers, each routed expert, and the shared experts (one MLP of width
 * {@code n_shared_experts * moe_intermediate_size}).
 */
public final class Mlp extends Module {
    final Tensor gate, up, down;

    /** Loads {@code prefix + "gate_proj.weight"} etc. */
    public Mlp(WeightSource w, String prefix) {
        gate = parameter("gate_proj.weight", w.get(prefix + "gate_proj.weight"));
        up = parameter("up_proj.weight", w.get(prefix + "up_proj.weight"));
        down = parameter("down_proj.weight", w.get(prefix + "down_proj.weight"));
    }

    /** x (..., C) -> (..., C). */
    public Tensor forward(Tensor x) {
        return Functional.linear(Functional.swiglu(x, gate, up), down);
    }
}
