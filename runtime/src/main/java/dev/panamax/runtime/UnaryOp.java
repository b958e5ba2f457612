package dev.panamax.runtime;

/** Elementwise unary operations. {@link #apply(double)} is the specification. */
public enum UnaryOp {
    /** {@code -x}. */
    NEG,
    /** {@code e^x}. */
    EXP,
    /** The natural logarithm. */
    LOG,
    /** The square root. */
    SQRT,
    /** {@code 1 / sqrt(x)}. */
    RSQRT,
    /** {@code 1 / (1 + e^-x)}. */
    SIGMOID,
    /** {@code x * sigmoid(x)} (SiLU, swish). */
    SILU,
    /** The hyperbolic tangent. */
    TANH,
    /** The absolute value. */
    ABS,
    /** {@code max(x, 0)}, with NaN kept. */
    RELU,
    /** {@code x * x}. */
    SQUARE,
    /** {@code 1 / x}. */
    RECIPROCAL;

    /** The operation in float arithmetic. */
    public float apply(float x) {
        return switch (this) {
            case NEG -> -x;
            case EXP -> (float) Math.exp(x);
            case LOG -> (float) Math.log(x);
            case SQRT -> (float) Math.sqrt(x);
            case RSQRT -> (float) (1.0 / Math.sqrt(x));
            case SIGMOID -> (float) (1.0 / (1.0 + Math.exp(-x)));
            case SILU -> (float) (x / (1.0 + Math.exp(-x)));
            case TANH -> (float) Math.tanh(x);
            case ABS -> Math.abs(x);
            case RELU -> x > 0 ? x : (x == x ? 0f : x);
            case SQUARE -> x * x;
            case RECIPROCAL -> 1f / x;
        };
    }

    /** The operation in double arithmetic. */
    public double apply(double x) {
        return switch (this) {
            case NEG -> -x;
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case SQRT -> Math.sqrt(x);
            case RSQRT -> 1.0 / Math.sqrt(x);
            case SIGMOID -> 1.0 / (1.0 + Math.exp(-x));
            case SILU -> x / (1.0 + Math.exp(-x));
            case TANH -> Math.tanh(x);
            case ABS -> Math.abs(x);
            case RELU -> x > 0 ? x : (x == x ? 0.0 : x);
            case SQUARE -> x * x;
            case RECIPROCAL -> 1.0 / x;
        };
    }
}
