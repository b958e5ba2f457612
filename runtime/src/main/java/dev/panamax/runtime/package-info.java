/**
 * The Panamax tensor runtime: {@link dev.panamax.runtime.Tensor} over off-heap memory with
 * explicit lifetimes ({@link dev.panamax.runtime.Scope}), kernels ({@link dev.panamax.runtime.ScalarKernels}
 * as the specification, {@link dev.panamax.runtime.VectorKernels} on the Vector API).
 *
 * <p>Dimension letters used in every Javadoc shape: B batch, T time, C channels (hidden), H heads,
 * D head dim, E experts, K top-k, V vocabulary, Lkv kv_lora_rank, Lq q_lora_rank, R rope dim.
 * A tensor parameter documented as {@code x (B,T,C)} has those three dims in that order.
 */
package dev.panamax.runtime;
