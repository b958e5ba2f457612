package dev.panamax.runtime;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every vector kernel against the scalar specification, through the public ops (so strides,
 * broadcasting and dtype handling are covered too), over dtypes and awkward shapes. The build
 * runs this class once more at each vector width (128, 256, 512 bits) in its own JVM.
 */
@org.junit.jupiter.api.extension.ExtendWith(ScopePerTest.class)
class VectorKernelsMatchScalarTest {
    @AfterEach
    void restoreKernels() {
        Kernels.setActive(VectorKernels.preferred());
    }

    static final long[] SIZES = {1, 7, 33, 1000};

    record Case(String name, Function<Tensor[], Tensor> op, long[][] shapes, boolean positive) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** Inputs: random F32 tensors of the given shapes, some made non-contiguous. */
    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (long n : SIZES) {
            for (UnaryOp op : UnaryOp.values()) {
                boolean pos = op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT;
                out.add(Arguments.of(new Case(op + " n=" + n, t -> t[0].apply(op), new long[][]{{n}}, pos), false));
                out.add(Arguments.of(new Case(op + " n=" + n + " transposed", t -> t[0].apply(op), new long[][]{{3, n}}, pos), true));
            }
            for (BinaryOp op : BinaryOp.values()) {
                boolean pos = op == BinaryOp.POW;
                Function<Tensor[], Tensor> f = t -> switch (op) {
                    case ADD -> t[0].add(t[1]);
                    case SUB -> t[0].sub(t[1]);
                    case MUL -> t[0].mul(t[1]);
                    case DIV -> t[0].div(t[1]);
                    case POW -> t[0].pow(t[1]);
                    case MAX -> t[0].maximum(t[1]);
                    case MIN -> t[0].minimum(t[1]);
                };
                out.add(Arguments.of(new Case(op + " n=" + n, f, new long[][]{{n}, {n}}, pos), false));
                out.add(Arguments.of(new Case(op + " broadcast row n=" + n, f, new long[][]{{5, n}, {n}}, pos), false));
                out.add(Arguments.of(new Case(op + " broadcast col n=" + n, f, new long[][]{{n, 1}, {1, 6}}, pos), false));
                out.add(Arguments.of(new Case(op + " scalar n=" + n, f, new long[][]{{n}, {}}, pos), false));
                out.add(Arguments.of(new Case(op + " transposed n=" + n, f, new long[][]{{4, n}, {4, n}}, pos), true));
            }
            out.add(Arguments.of(new Case("sum last n=" + n, t -> t[0].sum(-1, false), new long[][]{{3, n}}, false), false));
            out.add(Arguments.of(new Case("sum first n=" + n, t -> t[0].sum(0, true), new long[][]{{n, 5}}, false), false));
            out.add(Arguments.of(new Case("sum middle n=" + n, t -> t[0].sum(1, false), new long[][]{{2, n, 9}}, false), true));
            out.add(Arguments.of(new Case("mean n=" + n, t -> t[0].mean(-1, true), new long[][]{{2, n}}, false), false));
            out.add(Arguments.of(new Case("max last n=" + n, t -> t[0].max(-1, false), new long[][]{{3, n}}, false), false));
            out.add(Arguments.of(new Case("max first n=" + n, t -> t[0].max(0, false), new long[][]{{n, 7}}, false), true));
            out.add(Arguments.of(new Case("softmax n=" + n, t -> t[0].softmax(-1), new long[][]{{3, n}}, false), false));
            out.add(Arguments.of(new Case("logSoftmax n=" + n, t -> t[0].logSoftmax(-1), new long[][]{{3, n}}, false), false));
            out.add(Arguments.of(new Case("softmax dim0 n=" + n, t -> t[0].softmax(0), new long[][]{{n, 4}}, false), true));
            out.add(Arguments.of(new Case("rmsNorm n=" + n, t -> t[0].rmsNorm(t[1], 1e-6), new long[][]{{4, n}, {n}}, false), false));
            out.add(Arguments.of(new Case("rope n=" + n, t -> t[0].rope(t[1], t[2]), new long[][]{{n, 2, 8}, {n, 1, 4}, {n, 1, 4}}, false), false));
            for (long m : new long[]{1, 7, 33}) {
                out.add(Arguments.of(new Case("matmul " + m + "x" + n + "x33", t -> t[0].matmul(t[1]), new long[][]{{m, n}, {n, 33}}, false), false));
                out.add(Arguments.of(new Case("matmul A^T " + m + "x" + n + "x7", t -> t[0].t().matmul(t[1]), new long[][]{{n, m}, {n, 7}}, false), false));
                out.add(Arguments.of(new Case("matmul B^T " + m + "x" + n + "x33", t -> t[0].matmul(t[1].t()), new long[][]{{m, n}, {33, n}}, false), false));
            }
            out.add(Arguments.of(new Case("matmul batched broadcast n=" + n, t -> t[0].matmul(t[1]), new long[][]{{2, 3, 5, n}, {3, n, 6}}, false), false));
        }
        out.add(Arguments.of(new Case("matmul big 150x300x70", t -> t[0].matmul(t[1]), new long[][]{{150, 300}, {300, 70}}, false), false));
        out.add(Arguments.of(new Case("matmul big B^T 97x520x260", t -> t[0].matmul(t[1].t()), new long[][]{{97, 520}, {260, 520}}, false), false));
        return out.stream();
    }

    private static Tensor input(long[] dims, long seed, boolean nonContiguous, boolean positive) {
        Tensor t;
        if (nonContiguous && dims.length >= 2) {
            long[] swapped = dims.clone();
            swapped[dims.length - 1] = dims[dims.length - 2];
            swapped[dims.length - 2] = dims[dims.length - 1];
            t = Tensor.randn(DType.F32, seed, 1.0, swapped).transpose(-2, -1);
        } else {
            t = Tensor.randn(DType.F32, seed, 1.0, dims);
        }
        return positive ? t.abs().add(0.1) : t;
    }

    @ParameterizedTest(name = "{0} nonContiguous={1}")
    @MethodSource("cases")
    void vectorMatchesScalar(Case c, boolean nonContiguous) {
        Tensor[] in = new Tensor[c.shapes.length];
        for (int i = 0; i < in.length; i++) in[i] = input(c.shapes[i], 17 + i, nonContiguous, c.positive);
        Kernels.setActive(ScalarKernels.INSTANCE);
        float[] expected = c.op.apply(in).toFloatArray();
        Kernels.setActive(VectorKernels.preferred());
        float[] got = c.op.apply(in).toFloatArray();
        assertThat(got).hasSize(expected.length);
        for (int i = 0; i < got.length; i++) {
            float e = expected[i];
            float tol = 2e-5f + 2e-5f * Math.abs(e) + (c.name.startsWith("matmul") ? 1e-5f * (float) Math.sqrt(c.shapes[0][c.shapes[0].length - 1]) : 0);
            if (Float.isNaN(e)) assertThat(got[i]).as("%s at %d", c.name, i).isNaN();
            else assertThat(Math.abs(got[i] - e)).as("%s at %d: %s vs %s", c.name, i, got[i], e).isLessThanOrEqualTo(tol);
        }
    }

    static Stream<Arguments> gemvCases() {
        List<Arguments> out = new ArrayList<>();
        for (DType w : new DType[]{DType.F32, DType.BF16, DType.F16}) {
            for (long n : SIZES) {
                for (long k : new long[]{1, 7, 33, 1000}) out.add(Arguments.of(w, n, k));
            }
        }
        return out.stream();
    }

    /** Decode-shaped products with 16-bit weights: x (1,K) . W^T, W (N,K) in BF16/F16 read directly. */
    @ParameterizedTest(name = "gemv {0} n={1} k={2}")
    @MethodSource("gemvCases")
    void matrixVectorWith16BitWeightsMatchesScalar(DType wType, long n, long k) {
        Tensor x = Tensor.randn(DType.F32, 3, 1.0, 1, k);
        Tensor w = Tensor.randn(DType.F32, 4, 0.5, n, k).to(wType);
        Kernels.setActive(ScalarKernels.INSTANCE);
        float[] expected = x.matmul(w.t()).toFloatArray();
        float[] expectedM = Tensor.randn(DType.F32, 5, 1.0, 9, k).matmul(w.t()).toFloatArray();
        Kernels.setActive(VectorKernels.preferred());
        float[] got = x.matmul(w.t()).toFloatArray();
        float[] gotM = Tensor.randn(DType.F32, 5, 1.0, 9, k).matmul(w.t()).toFloatArray();
        float tol = 1e-5f * (float) Math.sqrt(k) + 1e-5f;
        for (int i = 0; i < got.length; i++) assertThat(Math.abs(got[i] - expected[i])).as("gemv %d", i).isLessThanOrEqualTo(tol + 1e-5f * Math.abs(expected[i]));
        for (int i = 0; i < gotM.length; i++) assertThat(Math.abs(gotM[i] - expectedM[i])).as("gemm %d", i).isLessThanOrEqualTo(tol + 1e-5f * Math.abs(expectedM[i]));
    }

    /**
     * FP8 dequantisation, bit for bit: every code of both formats, at offsets and lengths around
     * the vector width, with scales that keep, flip, overflow and underflow the values, into each
     * output type.
     */
    @Test
    void fp8DequantisationMatchesScalarBitForBit() {
        int len = 256 * 3 + 37;
        MemorySegment q = Arena.ofAuto().allocate(len);
        for (int i = 0; i < len; i++) q.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + i / 256));
        int l = VectorKernels.L;
        long[][] ranges = {{0, len}, {1, len - 1}, {3, 2L * l + 3}, {5, l}, {7, l - 1}, {2, 1}, {0, 0}, {9, 8}};
        for (DType fp8 : new DType[]{DType.F8_E4M3, DType.F8_E5M2}) {
            for (DType out : new DType[]{DType.F32, DType.BF16, DType.F16}) {
                for (float scale : new float[]{1f, -0.75f, 3.1e-5f, 1e30f, 1e-40f, 0f}) {
                    for (long[] r : ranges) {
                        long bytes = (r[1] + 2) * out.byteSize();
                        MemorySegment want = Arena.ofAuto().allocate(bytes), got = Arena.ofAuto().allocate(bytes);
                        ScalarKernels.INSTANCE.dequantizeFp8(fp8, q, r[0], scale, out, want, 1, r[1]);
                        VectorKernels.preferred().dequantizeFp8(fp8, q, r[0], scale, out, got, 1, r[1]);
                        long at = want.mismatch(got);
                        assertThat(at).as("%s -> %s, scale %s, from %d, %d codes (L=%d): first differing byte", fp8, out, scale, r[0], r[1], l).isEqualTo(-1);
                    }
                }
            }
        }
    }
}
