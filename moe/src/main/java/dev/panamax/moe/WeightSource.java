package dev.panamax.moe;

import dev.panamax.runtime.Tensor;

/** Supplies a model's weights by Hugging Face name, already validated against the config. */
@FunctionalInterface
public interface WeightSource {
    /** The tensor named {@code name}. */
    Tensor get(String name);
}
