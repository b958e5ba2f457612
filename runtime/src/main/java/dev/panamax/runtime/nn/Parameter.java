package dev.panamax.runtime.nn;

import dev.panamax.runtime.Tensor;

/**
 * A named trainable tensor. Names follow Hugging Face's dotted paths
 * ({@code model.layers.0.self_attn.q_proj.weight}) so state dicts map one to one onto
 * checkpoints. The value is a leaf that requires grad; its gradient accumulates in
 * {@code value().grad()}.
 *
 * @param name  full dotted name
 * @param value the tensor
 */
public record Parameter(String name, Tensor value) {
}
