package dev.panamax.runtime;

/** Reductions that kernels implement; mean is a sum divided by the count. */
public enum ReduceOp {
    SUM, MAX
}
