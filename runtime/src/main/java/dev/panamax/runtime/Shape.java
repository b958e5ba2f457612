package dev.panamax.runtime;

import java.util.Arrays;

/**
 * Dimensions and strides (in elements) of a tensor view. Immutable. A stride of 0 marks a
 * broadcast (expanded) dimension. Row-major ("C") order is the default: the last index varies
 * fastest.
 */
public final class Shape {
    private final long[] dims;
    private final long[] strides;

    private Shape(long[] dims, long[] strides) {
        this.dims = dims;
        this.strides = strides;
    }

    /** A contiguous row-major shape. Every dim must be non-negative. */
    public static Shape of(long... dims) {
        long[] d = dims.clone();
        checkDims(d);
        return new Shape(d, contiguousStrides(d));
    }

    /** A shape with explicit strides (no checks beyond matching lengths and non-negative dims). */
    public static Shape strided(long[] dims, long[] strides) {
        if (dims.length != strides.length) throw new IllegalArgumentException("dims and strides differ in rank: " + Arrays.toString(dims) + " vs " + Arrays.toString(strides));
        long[] d = dims.clone();
        checkDims(d);
        return new Shape(d, strides.clone());
    }

    static void checkDims(long[] d) {
        long n = 1;
        for (long x : d) {
            if (x < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(d));
            n = Math.multiplyExact(n, x);
        }
    }

    /** Row-major strides for the given dims. */
    public static long[] contiguousStrides(long[] dims) {
        long[] s = new long[dims.length];
        long acc = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= Math.max(dims[i], 1);
        }
        return s;
    }

    /** Number of dimensions. */
    public int rank() {
        return dims.length;
    }

    /** Size of dimension {@code i}; negative {@code i} counts from the end. */
    public long dim(int i) {
        return dims[normDim(i)];
    }

    /** Stride of dimension {@code i} in elements; negative {@code i} counts from the end. */
    public long stride(int i) {
        return strides[normDim(i)];
    }

    /** A copy of the dims. */
    public long[] dims() {
        return dims.clone();
    }

    /** A copy of the strides. */
    public long[] strides() {
        return strides.clone();
    }

    /** Total number of elements. */
    public long numel() {
        long n = 1;
        for (long d : dims) n *= d;
        return n;
    }

    /** Whether the strides are row-major contiguous (size-1 dims may have any stride). */
    public boolean isContiguous() {
        long acc = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            if (dims[i] != 1 && strides[i] != acc) return false;
            acc *= dims[i];
        }
        return true;
    }

    /** Turns a possibly negative dim index into {@code 0..rank-1}, or throws naming the shape. */
    public int normDim(int i) {
        int r = dims.length;
        int n = i < 0 ? i + r : i;
        if (n < 0 || n >= r) throw new IllegalArgumentException("dim " + i + " out of range for shape " + this);
        return n;
    }

    /** Whether the dims equal {@code other}'s dims (strides ignored). */
    public boolean sameDims(Shape other) {
        return Arrays.equals(dims, other.dims);
    }

    /** Whether the dims equal {@code d}. */
    public boolean hasDims(long... d) {
        return Arrays.equals(dims, d);
    }

    /**
     * NumPy broadcasting of two dim lists.
     *
     * @throws IllegalArgumentException if they cannot be broadcast
     */
    public static long[] broadcast(long[] a, long[] b) {
        int r = Math.max(a.length, b.length);
        long[] out = new long[r];
        for (int i = 0; i < r; i++) {
            long x = i < r - a.length ? 1 : a[i - (r - a.length)];
            long y = i < r - b.length ? 1 : b[i - (r - b.length)];
            if (x != y && x != 1 && y != 1) {
                throw new IllegalArgumentException("shapes " + Arrays.toString(a) + " and " + Arrays.toString(b) + " cannot be broadcast");
            }
            out[i] = x == 1 ? y : x;
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims) && Arrays.equals(strides, s.strides);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims) * 31 + Arrays.hashCode(strides);
    }

    /** The dims as {@code [2, 3, 4]}. */
    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}
