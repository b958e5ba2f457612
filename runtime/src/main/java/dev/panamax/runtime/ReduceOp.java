package dev.panamax.runtime;

/** Reductions that kernels implement; mean is a sum divided by the count. */
public enum ReduceOp {
    /** The sum of the elements. */
    SUM,
    /** The largest element. */
    MAX
}
