/** Optimisers (AdamW, SGD), gradient clipping and learning-rate schedules with PyTorch's semantics. */
package dev.panamax.runtime.optim;
