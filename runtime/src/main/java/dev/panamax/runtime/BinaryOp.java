package dev.panamax.runtime;

/** Elementwise binary operations with NumPy broadcasting. {@link #apply(double, double)} is the specification. */
public enum BinaryOp {
    /** {@code a + b}. */
    ADD,
    /** {@code a - b}. */
    SUB,
    /** {@code a * b}. */
    MUL,
    /** {@code a / b}. */
    DIV,
    /** {@code a} to the power {@code b}, as {@link Math#pow}. */
    POW,
    /** The larger, as {@link Math#max} (NaN if either is NaN). */
    MAX,
    /** The smaller, as {@link Math#min} (NaN if either is NaN). */
    MIN;

    /** The operation in float arithmetic. */
    public float apply(float a, float b) {
        return switch (this) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case POW -> (float) Math.pow(a, b);
            case MAX -> Math.max(a, b);
            case MIN -> Math.min(a, b);
        };
    }

    /** The operation in double arithmetic. */
    public double apply(double a, double b) {
        return switch (this) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case POW -> Math.pow(a, b);
            case MAX -> Math.max(a, b);
            case MIN -> Math.min(a, b);
        };
    }
}
