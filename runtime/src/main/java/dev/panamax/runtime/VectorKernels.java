package dev.panamax.runtime;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.panamax.runtime.Elem.getF;
import static dev.panamax.runtime.Elem.setF;

/**
 * Kernels on the Vector API ({@code jdk.incubator.vector}), multi-threaded on the runtime's pool
 * ({@link Parallel}). They agree with {@link ScalarKernels} up to float rounding.
 *
 * <p>The vector width is fixed once per JVM, as a {@code static final} species so that C2
 * intrinsifies every vector operation: the preferred width of the CPU, or the width in bits
 * given by {@code -Dpanamax.vector.bits=128|256|512}. Every kernel works at any width (a width
 * above the hardware's runs correctly, only slowly) and has a scalar tail instead of masked tails.
 *
 * <p>SGEMM is a packed, register-blocked GEMM in the style of BLIS/GotoBLAS: B is packed into
 * panels KC deep and {@code NR = 2 * lanes} wide, A into panels {@value #MR} tall, and a
 * {@value #MR} x NR micro-kernel keeps 8 vector accumulators in registers. Work is split across
 * threads as tasks claimed from a counter, B's packed slice shared between them (see {@link #gemm}).
 * The blocking sizes were tuned on a Zen 3 core against OpenBLAS, interleaved in one process.
 * KC is 1024: each KC slice of K is one more pass that reads and writes C, and C's tiles are
 * walked down a column strip, one page per row, where the hardware prefetchers do not follow.
 * At KC 256, C's passes cost a third of the time at 2048^3 (0.5x OpenBLAS, 0.85x at KC 1024);
 * the 64 KiB B micro-panel then streams from L2, which the prefetchers do keep up with. MC 128
 * keeps A's packed block (512 KiB) in L2/L3, NC 2048 bounds B's shared packed slice at 8 MiB.
 * Override with {@code -Dpanamax.gemm.kc}, {@code -Dpanamax.gemm.mc} and {@code -Dpanamax.gemm.nc}
 * (the tests run small values so that every blocking edge is exercised).
 */
public final class VectorKernels implements Kernels {
    static final VectorSpecies<Float> F = speciesFromProperty();
    static final int L = F.length();
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(Math.max(64, F.vectorBitSize() / 2)));
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    static final int MR = 4;
    static final int NR = 2 * L;
    static final int KC = Math.max(1, Integer.getInteger("panamax.gemm.kc", 1024));
    static final int MC = Math.max(MR, Integer.getInteger("panamax.gemm.mc", 128) / MR * MR);
    static final int NC = Math.max(NR, Integer.getInteger("panamax.gemm.nc", 2048) / NR * NR);

    private static final VectorKernels INSTANCE = new VectorKernels();

    private VectorKernels() {
    }

    private static VectorSpecies<Float> speciesFromProperty() {
        String p = System.getProperty("panamax.vector.bits");
        if (p == null || p.isBlank()) return FloatVector.SPECIES_PREFERRED;
        int bits;
        try {
            bits = Integer.parseInt(p.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("panamax.vector.bits must be 128, 256 or 512, got \"" + p + "\"");
        }
        return switch (bits) {
            case 128 -> FloatVector.SPECIES_128;
            case 256 -> FloatVector.SPECIES_256;
            case 512 -> FloatVector.SPECIES_512;
            default -> throw new IllegalArgumentException("panamax.vector.bits must be 128, 256 or 512, got " + bits);
        };
    }

    /** The vector kernels at this JVM's width. */
    public static VectorKernels preferred() {
        return INSTANCE;
    }

    /** Lanes of the float species in use. */
    public static int lanes() {
        return L;
    }

    @Override
    public String name() {
        return "vector" + F.vectorBitSize();
    }

    private static FloatVector load(MemorySegment s, long idx) {
        return FloatVector.fromMemorySegment(F, s, idx * 4, LE);
    }

    private static void store(FloatVector v, MemorySegment s, long idx) {
        v.intoMemorySegment(s, idx * 4, LE);
    }

    // ---- elementwise ------------------------------------------------------------------------

    // ---- deterministic building blocks ---------------------------------------------------------
    // The Vector API's EXP/LOG/TANH/POW and reduceLanes(ADD) give different roundings when C2 has
    // intrinsified them (SVML stubs, tree reductions) than in the interpreter, so results depended
    // on JIT timing and seeded training was not repeatable. These use only IEEE-exact lane
    // operations (add, mul, fma, conversions), which agree in every tier.

    /** Sum of the lanes in lane order. */
    static float sum(FloatVector v) {
        float[] t = new float[L];
        v.intoArray(t, 0);
        float s = 0f;
        for (float x : t) s += x;
        return s;
    }

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float ROUND = 12582912f; // 1.5 * 2^23: adding and subtracting it rounds to an integer

    /**
     * e^x: n = round(x log2 e), r = x - n ln 2 (two-part constant), a degree-7 Taylor polynomial
     * on |r| &lt;= ln2/2 (error below 1.2e-7 relative), times 2^n built from exponent bits in two
     * halves so that results underflow to 0 and overflow to +inf as Math.exp does.
     */
    static FloatVector exp(FloatVector x) {
        FloatVector c = x.max(-104f).min(89f);
        FloatVector n = c.mul(LOG2E).add(ROUND).sub(ROUND);
        FloatVector r = c.sub(n.mul(LN2_HI)).sub(n.mul(LN2_LO)); // n * LN2_HI is exact (9-bit constant)
        FloatVector p = FloatVector.broadcast(F, 1f / 5040);
        p = p.fma(r, FloatVector.broadcast(F, 1f / 720));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 120));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 24));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 6));
        p = p.fma(r, FloatVector.broadcast(F, 0.5f));
        p = p.fma(r, FloatVector.broadcast(F, 1f));
        p = p.fma(r, FloatVector.broadcast(F, 1f));
        IntVector ni = (IntVector) n.convert(VectorOperators.F2I, 0);
        IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1);
        IntVector n2 = ni.sub(n1);
        FloatVector s1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(s1).mul(s2);
    }

    private static FloatVector apply(UnaryOp op, FloatVector v) {
        return switch (op) {
            case NEG -> v.neg();
            case EXP -> exp(v);
            case LOG, TANH -> throw new AssertionError("computed lane by lane");
            case SQRT -> v.sqrt();
            case RSQRT -> FloatVector.broadcast(F, 1f).div(v.sqrt());
            case SIGMOID -> FloatVector.broadcast(F, 1f).div(exp(v.neg()).add(1f));
            case SILU -> v.div(exp(v.neg()).add(1f));
            case ABS -> v.abs();
            case RELU -> v.max(0f);
            case SQUARE -> v.mul(v);
            case RECIPROCAL -> FloatVector.broadcast(F, 1f).div(v);
        };
    }

    private static FloatVector apply(BinaryOp op, FloatVector a, FloatVector b) {
        return switch (op) {
            case ADD -> a.add(b);
            case SUB -> a.sub(b);
            case MUL -> a.mul(b);
            case DIV -> a.div(b);
            case POW -> throw new AssertionError("computed lane by lane");
            case MAX -> a.max(b);
            case MIN -> a.min(b);
        };
    }

    @Override
    public void unary(UnaryOp op, MemorySegment x, long xOff, long xInc, MemorySegment y, long yOff, long n) {
        if (xInc == 0) {
            float v = op.apply(getF(x, xOff));
            for (long i = 0; i < n; i++) setF(y, yOff + i, v);
            return;
        }
        if (xInc != 1 || op == UnaryOp.LOG || op == UnaryOp.TANH) {
            ScalarKernels.INSTANCE.unary(op, x, xOff, xInc, y, yOff, n);
            return;
        }
        long i = 0;
        long bound = n - n % L;
        for (; i < bound; i += L) store(apply(op, load(x, xOff + i)), y, yOff + i);
        for (; i < n; i++) setF(y, yOff + i, op.apply(getF(x, xOff + i)));
    }

    @Override
    public void binary(BinaryOp op, MemorySegment a, long aOff, long aInc, MemorySegment b, long bOff, long bInc,
                       MemorySegment y, long yOff, long n) {
        if ((aInc != 0 && aInc != 1) || (bInc != 0 && bInc != 1) || op == BinaryOp.POW) {
            ScalarKernels.INSTANCE.binary(op, a, aOff, aInc, b, bOff, bInc, y, yOff, n);
            return;
        }
        long i = 0;
        long bound = n - n % L;
        if (aInc == 1 && bInc == 1) {
            for (; i < bound; i += L) store(apply(op, load(a, aOff + i), load(b, bOff + i)), y, yOff + i);
        } else if (aInc == 1) {
            FloatVector bv = FloatVector.broadcast(F, getF(b, bOff));
            for (; i < bound; i += L) store(apply(op, load(a, aOff + i), bv), y, yOff + i);
        } else if (bInc == 1) {
            FloatVector av = FloatVector.broadcast(F, getF(a, aOff));
            for (; i < bound; i += L) store(apply(op, av, load(b, bOff + i)), y, yOff + i);
        } else {
            bound = 0;
        }
        for (; i < n; i++) setF(y, yOff + i, op.apply(getF(a, aOff + i * aInc), getF(b, bOff + i * bInc)));
    }

    // ---- reductions and row ops ---------------------------------------------------------------

    @Override
    public void reduce(ReduceOp op, MemorySegment x, long xOff, long outer, long r, long inner, MemorySegment y, long yOff) {
        long work = outer * r * inner;
        long grain = Math.max(1, Parallel.PARALLEL_THRESHOLD / Math.max(1, r * inner));
        Parallel.RangeBody body = (o0, o1) -> {
            for (long o = o0; o < o1; o++) reduceOne(op, x, xOff + o * r * inner, r, inner, y, yOff + o * inner);
        };
        if (work >= Parallel.PARALLEL_THRESHOLD) Parallel.forRange(outer, grain, body);
        else body.run(0, outer);
    }

    private static void reduceOne(ReduceOp op, MemorySegment x, long xo, long r, long inner, MemorySegment y, long yo) {
        boolean sum = op == ReduceOp.SUM;
        if (inner == 1) {
            FloatVector acc = FloatVector.broadcast(F, sum ? 0f : Float.NEGATIVE_INFINITY);
            long j = 0;
            long bound = r - r % L;
            for (; j < bound; j += L) acc = sum ? acc.add(load(x, xo + j)) : acc.max(load(x, xo + j));
            float s = sum ? sum(acc) : acc.reduceLanes(VectorOperators.MAX);
            for (; j < r; j++) s = sum ? s + getF(x, xo + j) : Math.max(s, getF(x, xo + j));
            setF(y, yo, s);
            return;
        }
        long bound = inner - inner % L;
        for (long i = 0; i < inner; i++) setF(y, yo + i, sum ? 0f : Float.NEGATIVE_INFINITY);
        for (long j = 0; j < r; j++) {
            long row = xo + j * inner;
            long i = 0;
            for (; i < bound; i += L) {
                FloatVector v = load(x, row + i);
                FloatVector acc = load(y, yo + i);
                store(sum ? acc.add(v) : acc.max(v), y, yo + i);
            }
            for (; i < inner; i++) {
                float v = getF(x, row + i);
                float acc = getF(y, yo + i);
                setF(y, yo + i, sum ? acc + v : Math.max(acc, v));
            }
        }
    }

    private static float rowMax(MemorySegment x, long xo, long n) {
        FloatVector acc = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        long i = 0;
        long bound = n - n % L;
        for (; i < bound; i += L) acc = acc.max(load(x, xo + i));
        float m = acc.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) m = Math.max(m, getF(x, xo + i));
        return m;
    }

    @Override
    public void softmaxRows(MemorySegment x, long xOff, MemorySegment y, long yOff, long rows, long n, boolean log) {
        Parallel.RangeBody body = (r0, r1) -> {
            for (long row = r0; row < r1; row++) {
                long xo = xOff + row * n;
                long yo = yOff + row * n;
                float max = rowMax(x, xo, n);
                FloatVector mv = FloatVector.broadcast(F, max);
                FloatVector acc = FloatVector.zero(F);
                long bound = n - n % L;
                long i = 0;
                for (; i < bound; i += L) {
                    FloatVector e = exp(load(x, xo + i).sub(mv));
                    acc = acc.add(e);
                    if (!log) store(e, y, yo + i);
                }
                float sum = sum(acc);
                for (; i < n; i++) {
                    float e = (float) Math.exp(getF(x, xo + i) - max);
                    sum += e;
                    if (!log) setF(y, yo + i, e);
                }
                if (log) {
                    float logSum = (float) Math.log(sum);
                    FloatVector lv = FloatVector.broadcast(F, logSum);
                    for (i = 0; i < bound; i += L) store(load(x, xo + i).sub(mv).sub(lv), y, yo + i);
                    for (; i < n; i++) setF(y, yo + i, (getF(x, xo + i) - max) - logSum);
                } else {
                    float inv = 1f / sum;
                    for (i = 0; i < bound; i += L) store(load(y, yo + i).mul(inv), y, yo + i);
                    for (; i < n; i++) setF(y, yo + i, getF(y, yo + i) * inv);
                }
            }
        };
        rows(rows, n, body);
    }

    private static void rows(long rows, long n, Parallel.RangeBody body) {
        if (rows * n >= Parallel.PARALLEL_THRESHOLD && rows > 1) {
            Parallel.forRange(rows, Math.max(1, Parallel.PARALLEL_THRESHOLD / 4 / Math.max(1, n)), body);
        } else {
            body.run(0, rows);
        }
    }

    @Override
    public void rmsNormRows(MemorySegment x, long xOff, MemorySegment w, long wOff, MemorySegment y, long yOff,
                            long rows, long n, float eps) {
        rows(rows, n, (r0, r1) -> {
            long bound = n - n % L;
            for (long row = r0; row < r1; row++) {
                long xo = xOff + row * n;
                long yo = yOff + row * n;
                FloatVector acc = FloatVector.zero(F);
                long i = 0;
                for (; i < bound; i += L) {
                    FloatVector v = load(x, xo + i);
                    acc = v.fma(v, acc);
                }
                float ss = sum(acc);
                for (; i < n; i++) {
                    float v = getF(x, xo + i);
                    ss += v * v;
                }
                float inv = (float) (1.0 / Math.sqrt(ss / n + eps));
                for (i = 0; i < bound; i += L) store(load(x, xo + i).mul(inv).mul(load(w, wOff + i)), y, yo + i);
                for (; i < n; i++) setF(y, yo + i, getF(x, xo + i) * inv * getF(w, wOff + i));
            }
        });
    }

    /** Rotary embedding is a negligible share of any step; the scalar loop is used as is. */
    @Override
    public void ropeRows(MemorySegment x, long xOff, MemorySegment cos, long cosOff, MemorySegment sin, long sinOff,
                         MemorySegment y, long yOff, long rows, long half) {
        ScalarKernels.INSTANCE.ropeRows(x, xOff, cos, cosOff, sin, sinOff, y, yOff, rows, half);
    }

    // ---- matrix-vector ------------------------------------------------------------------------

    static FloatVector bf16(ShortVector s) {
        IntVector i = (IntVector) s.convertShape(VectorOperators.S2I, I, 0);
        return i.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }


    /** Bytes a step of {@link #dequantizeFp8} loads: at least L (the first L are used) and at least 64 bits. */
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, L * 8)));

    @Override
    public void dequantizeFp8(DType fp8, MemorySegment q, long qOff, float scale, DType out, MemorySegment y, long yOff, long n) {
        if (out != DType.F32 && out != DType.BF16) {
            ScalarKernels.INSTANCE.dequantizeFp8(fp8, q, qOff, scale, out, y, yOff, n);
            return;
        }
        boolean e4m3 = fp8 == DType.F8_E4M3, bf16 = out == DType.BF16;
        long i = 0;
        for (; i + B.length() <= n; i += L) {
            IntVector b = ((IntVector) ByteVector.fromMemorySegment(B, q, qOff + i, LE).convertShape(VectorOperators.B2I, I, 0)).and(0xff);
            IntVector mag = b.and(0x7f), sign = b.and(0x80).lanewise(VectorOperators.LSHL, 24);
            FloatVector v;
            if (e4m3) {
                // the exponent and mantissa bits placed in a binary32's, then 2^(127 - 7): exact,
                // subnormals included (they land on binary32 subnormals); S.1111.111 is NaN
                v = mag.lanewise(VectorOperators.LSHL, 20).reinterpretAsFloats().mul(0x1p120f);
                v = v.reinterpretAsInts().or(sign).reinterpretAsFloats().blend(Float.NaN, mag.eq(0x7f).cast(F));
            } else {
                // as binary16's top byte: 2^(127 - 15); exponent 31 is infinity or NaN, its mantissa kept
                v = mag.lanewise(VectorOperators.LSHL, 21).reinterpretAsFloats().mul(0x1p112f);
                IntVector special = b.and(3).lanewise(VectorOperators.LSHL, 21).or(0x7f800000);
                v = v.reinterpretAsInts().blend(special, mag.compare(VectorOperators.GE, 0x7c)).or(sign).reinterpretAsFloats();
            }
            v = v.mul(scale);
            if (!bf16) {
                v.intoMemorySegment(y, (yOff + i) * 4, LE);
                continue;
            }
            // Half.floatToBf16: round to nearest even; a NaN keeps its sign and top payload, quietened
            IntVector x = v.reinterpretAsInts(), top = x.lanewise(VectorOperators.LSHR, 16);
            IntVector r = x.add(0x7fff).add(top.and(1)).lanewise(VectorOperators.LSHR, 16)
                    .blend(top.or(0x40), x.and(0x7fffffff).compare(VectorOperators.GT, 0x7f800000));
            ((ShortVector) r.convertShape(VectorOperators.I2S, S, 0)).intoMemorySegment(y, (yOff + i) * 2, LE);
        }
        if (i < n) ScalarKernels.INSTANCE.dequantizeFp8(fp8, q, qOff + i, scale, out, y, yOff + i, n - i);
    }

    @Override
    public void gemv(DType wType, int n, int k, MemorySegment w, long wOff, long ldw, MemorySegment x, long xOff,
                     MemorySegment y, long yOff) {
        if (wType != DType.F32 && wType != DType.BF16 && wType != DType.F16) {
            throw new IllegalArgumentException("weights of dtype " + wType + " are not supported by matmul");
        }
        long work = (long) n * k;
        Parallel.RangeBody body = (j0, j1) -> {
            switch (wType) {
                case BF16 -> gemvRowsBf16((int) j0, (int) j1, k, w, wOff, ldw, x, xOff, y, yOff);
                case F16 -> gemvRowsF16((int) j0, (int) j1, k, w, wOff, ldw, x, xOff, y, yOff);
                default -> gemvRowsF32((int) j0, (int) j1, k, w, wOff, ldw, x, xOff, y, yOff);
            }
        };
        if (work >= GEMV_PARALLEL_WORK) Parallel.forRange(n, 16, body);
        else body.run(0, n);
    }

    // One loop per weight dtype, on purpose: a single loop with a dtype switch inside grows past
    // C2's inlining budget once two dtypes have been seen, the conversion is no longer inlined,
    // every vector is boxed, and BF16 drops from ~22 GB/s to ~2 GB/s (measured).

    private static void gemvRowsF32(int j0, int j1, int k, MemorySegment w, long wOff, long ldw,
                                      MemorySegment x, long xOff, MemorySegment y, long yOff) {
        int bound = k - k % L;
        int j = j0;
        for (; j + 4 <= j1; j += 4) {
            long r0 = wOff + (long) j * ldw, r1 = r0 + ldw, r2 = r1 + ldw, r3 = r2 + ldw;
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector xv = load(x, xOff + i);
                a0 = load(w, r0 + i).fma(xv, a0);
                a1 = load(w, r1 + i).fma(xv, a1);
                a2 = load(w, r2 + i).fma(xv, a2);
                a3 = load(w, r3 + i).fma(xv, a3);
            }
            setF(y, yOff + j, sum(a0) + tailF32(w, r0, x, xOff, bound, k));
            setF(y, yOff + j + 1, sum(a1) + tailF32(w, r1, x, xOff, bound, k));
            setF(y, yOff + j + 2, sum(a2) + tailF32(w, r2, x, xOff, bound, k));
            setF(y, yOff + j + 3, sum(a3) + tailF32(w, r3, x, xOff, bound, k));
        }
        for (; j < j1; j++) {
            long r0 = wOff + (long) j * ldw;
            FloatVector a0 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) a0 = load(w, r0 + i).fma(load(x, xOff + i), a0);
            setF(y, yOff + j, sum(a0) + tailF32(w, r0, x, xOff, bound, k));
        }
    }

    private static float tailF32(MemorySegment w, long row, MemorySegment x, long xOff, int from, int k) {
        float s = 0f;
        for (int i = from; i < k; i++) s += getF(w, row + i) * getF(x, xOff + i);
        return s;
    }

    private static void gemvRowsBf16(int j0, int j1, int k, MemorySegment w, long wOff, long ldw,
                                      MemorySegment x, long xOff, MemorySegment y, long yOff) {
        int bound = k - k % L;
        int j = j0;
        for (; j + 4 <= j1; j += 4) {
            long r0 = wOff + (long) j * ldw, r1 = r0 + ldw, r2 = r1 + ldw, r3 = r2 + ldw;
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector xv = load(x, xOff + i);
                a0 = bf16(ShortVector.fromMemorySegment(S, w, (r0 + i) * 2, LE)).fma(xv, a0);
                a1 = bf16(ShortVector.fromMemorySegment(S, w, (r1 + i) * 2, LE)).fma(xv, a1);
                a2 = bf16(ShortVector.fromMemorySegment(S, w, (r2 + i) * 2, LE)).fma(xv, a2);
                a3 = bf16(ShortVector.fromMemorySegment(S, w, (r3 + i) * 2, LE)).fma(xv, a3);
            }
            setF(y, yOff + j, sum(a0) + tailBf16(w, r0, x, xOff, bound, k));
            setF(y, yOff + j + 1, sum(a1) + tailBf16(w, r1, x, xOff, bound, k));
            setF(y, yOff + j + 2, sum(a2) + tailBf16(w, r2, x, xOff, bound, k));
            setF(y, yOff + j + 3, sum(a3) + tailBf16(w, r3, x, xOff, bound, k));
        }
        for (; j < j1; j++) {
            long r0 = wOff + (long) j * ldw;
            FloatVector a0 = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) a0 = bf16(ShortVector.fromMemorySegment(S, w, (r0 + i) * 2, LE)).fma(load(x, xOff + i), a0);
            setF(y, yOff + j, sum(a0) + tailBf16(w, r0, x, xOff, bound, k));
        }
    }

    private static float tailBf16(MemorySegment w, long row, MemorySegment x, long xOff, int from, int k) {
        float s = 0f;
        for (int i = from; i < k; i++) s += Half.bf16ToFloat(w.getAtIndex(Elem.I16, row + i)) * getF(x, xOff + i);
        return s;
    }

    /**
     * F16 rows: chunks of each row are widened with {@link Float#float16ToFloat} (a C2
     * intrinsic) into a scratch array, then dotted with x. A pure Vector API conversion (shifts,
     * masks, a 2^112 multiply) was measured at 2-3.5 GB/s on JDK 25 / AVX2 because some of its
     * operations are not intrinsified; this path reaches about 7.5 GB/s, a third of BF16.
     */
    private static void gemvRowsF16(int j0, int j1, int k, MemorySegment w, long wOff, long ldw,
                                    MemorySegment x, long xOff, MemorySegment y, long yOff) {
        final int chunk = 1024;
        float[] buf = F16_SCRATCH.get();
        for (int j = j0; j < j1; j++) {
            long row = wOff + (long) j * ldw;
            FloatVector acc = FloatVector.zero(F);
            float tail = 0f;
            for (int c = 0; c < k; c += chunk) {
                int len = Math.min(chunk, k - c);
                widenF16(w, row + c, buf, len);
                int bound = len - len % L;
                for (int i = 0; i < bound; i += L) acc = FloatVector.fromArray(F, buf, i).fma(load(x, xOff + c + i), acc);
                for (int i = bound; i < len; i++) tail += buf[i] * getF(x, xOff + c + i);
            }
            setF(y, yOff + j, sum(acc) + tail);
        }
    }

    private static final ThreadLocal<float[]> F16_SCRATCH = ThreadLocal.withInitial(() -> new float[1024]);

    private static void widenF16(MemorySegment w, long from, float[] buf, int len) {
        for (int i = 0; i < len; i++) buf[i] = Float.float16ToFloat(w.getAtIndex(Elem.I16, from + i));
    }

    private static float tailF16(MemorySegment w, long row, MemorySegment x, long xOff, int from, int k) {
        float s = 0f;
        for (int i = from; i < k; i++) s += Half.f16ToFloat(w.getAtIndex(Elem.I16, row + i)) * getF(x, xOff + i);
        return s;
    }

    // ---- SGEMM --------------------------------------------------------------------------------

    @Override
    public void sgemm(boolean ta, boolean tb, int m, int n, int k,
                      MemorySegment a, long aOff, long lda,
                      MemorySegment b, long bOff, long ldb, DType bType,
                      MemorySegment c, long cOff, long ldc, boolean accumulate) {
        if (m == 0 || n == 0) return;
        if (k == 0) {
            if (!accumulate) for (int i = 0; i < m; i++) c.asSlice((cOff + (long) i * ldc) * 4, (long) n * 4).fill((byte) 0);
            return;
        }
        if (m == 1 && tb && !accumulate) {
            // a row vector times a (n,k) weight: a matrix-vector product over W's rows
            gemv(bType, n, k, b, bOff, ldb, a, aOff, c, cOff);
            return;
        }
        if (m == 1 && !tb && (bType == DType.F32 || bType == DType.BF16)) {
            // a row vector times a (k,n) matrix: a sum of B's rows scaled by a's entries
            vectorTimesMatrix(n, k, a, aOff, ta ? lda : 1, b, bOff, ldb, bType, c, cOff, accumulate);
            return;
        }
        if (tb && m <= SMALL_M && !ta && (bType == DType.F32 || bType == DType.BF16)) {
            // a few rows (decode batches, MoE experts with few tokens): stream each weight row once
            // for all of them instead of packing (and widening) the whole weight
            gemmSmallM(m, n, k, a, aOff, lda, b, bOff, ldb, bType, c, cOff, ldc, accumulate);
            return;
        }
        gemm(ta, tb, m, n, k, a, aOff, lda, b, bOff, ldb, bType, c, cOff, ldc, accumulate);
    }

    /** c (n) (+)= sum_p a[p] B[p, :] for B (k,n) of F32 or BF16 with row stride ldb; a's entries aInc apart. */
    private static void vectorTimesMatrix(int n, int k, MemorySegment a, long aOff, long aInc, MemorySegment b, long bOff,
                                          long ldb, DType bType, MemorySegment c, long cOff, boolean accumulate) {
        Parallel.RangeBody body = (c0, c1) -> {
            int from = (int) c0 * L, to = (int) Math.min(n, c1 * L);
            boolean bf = bType == DType.BF16;
            if (!accumulate) for (int j = from; j < to; j++) setF(c, cOff + j, 0f);
            int vecTo = from + (to - from) / L * L;
            for (int p = 0; p < k; p++) {
                float ap = getF(a, aOff + p * aInc);
                FloatVector av = FloatVector.broadcast(F, ap);
                long row = bOff + (long) p * ldb;
                for (int j = from; j < vecTo; j += L) {
                    FloatVector bv = bf ? bf16(ShortVector.fromMemorySegment(S, b, (row + j) * 2, LE)) : load(b, row + j);
                    store(bv.fma(av, load(c, cOff + j)), c, cOff + j);
                }
                for (int j = vecTo; j < to; j++) setF(c, cOff + j, getF(c, cOff + j) + ap * (float) Elem.get(b, bType, row + j));
            }
        };
        long chunks = (n + L - 1) / L;
        if ((long) n * k >= GEMV_PARALLEL_WORK) Parallel.forRange(chunks, Math.max(1, 64 / L), body);
        else body.run(0, chunks);
    }

    /**
     * Weight elements below which a matrix-vector product stays on the calling thread: handing a
     * few hundred KiB to a second thread costs about as much as reading them.
     */
    static final long GEMV_PARALLEL_WORK = 1 << 18;

    /** Largest M handled by {@link #gemmSmallM}. */
    static final int SMALL_M = 16;

    /**
     * C (m,n) (+)= A (m,k) . W^T for W (n,k) of F32 or BF16 and m &lt;= {@value #SMALL_M}: each
     * weight row is read once per block of up to four activation rows, converted in registers.
     */
    private static void gemmSmallM(int m, int n, int k, MemorySegment a, long aOff, long lda, MemorySegment w, long wOff,
                                   long ldw, DType wType, MemorySegment c, long cOff, long ldc, boolean accumulate) {
        Parallel.RangeBody body = (j0, j1) -> {
            int bound = k - k % L;
            boolean bf = wType == DType.BF16;
            for (int i0 = 0; i0 < m; i0 += 4) {
                int rows = Math.min(4, m - i0);
                long x0 = aOff + (long) i0 * lda, x1 = x0 + (rows > 1 ? lda : 0), x2 = x0 + (rows > 2 ? 2 * lda : 0), x3 = x0 + (rows > 3 ? 3 * lda : 0);
                for (long j = j0; j < j1; j++) {
                    long wr = wOff + j * ldw;
                    FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F), s2 = FloatVector.zero(F), s3 = FloatVector.zero(F);
                    for (int i = 0; i < bound; i += L) {
                        FloatVector wv = bf ? bf16(ShortVector.fromMemorySegment(S, w, (wr + i) * 2, LE)) : load(w, wr + i);
                        s0 = wv.fma(load(a, x0 + i), s0);
                        s1 = wv.fma(load(a, x1 + i), s1);
                        s2 = wv.fma(load(a, x2 + i), s2);
                        s3 = wv.fma(load(a, x3 + i), s3);
                    }
                    float[] tot = {sum(s0), sum(s1),
                            sum(s2), sum(s3)};
                    long[] xs = {x0, x1, x2, x3};
                    for (int r = 0; r < rows; r++) {
                        float t = tot[r];
                        for (int i = bound; i < k; i++) t += (float) Elem.get(w, wType, wr + i) * getF(a, xs[r] + i);
                        long at = cOff + (long) (i0 + r) * ldc + j;
                        setF(c, at, accumulate ? getF(c, at) + t : t);
                    }
                }
            }
        };
        if ((long) n * k * m >= (1 << 16)) Parallel.forRange(n, 16, body);
        else body.run(0, n);
    }

    /**
     * The packed GEMM driver. For each block of C's columns (NC wide at most) and each
     * KC-deep slice of K, B's slice is packed once into a buffer all threads share (the threads
     * pack disjoint panels of it), then the work is cut into tasks, each a block of up to MC rows
     * of C times a range of B's panels, which the threads claim one at a time from a counter.
     * Each task packs its rows of A into a per-thread buffer that stays in L2 while the
     * micro-kernel streams B's panels through L1. Claiming tasks, rather than giving each thread
     * a fixed share, keeps both cores busy when one of them is slowed (on a shared machine a fixed
     * split runs at the speed of the slower core).
     */
    private static void gemm(boolean ta, boolean tb, int m, int n, int k,
                             MemorySegment a, long aOff, long lda,
                             MemorySegment b, long bOff, long ldb, DType bType,
                             MemorySegment c, long cOff, long ldc, boolean accumulate) {
        int threads = 2.0 * m * n * k < 2e6 ? 1 : Parallel.threads();
        float[] pb = scratch(SHARED_B, KC * NC);
        int mBlocks = (m + MC - 1) / MC;
        for (int jc = 0; jc < n; jc += NC) {
            final int jc0 = jc;
            int nc = Math.min(NC, n - jc);
            int panels = (nc + NR - 1) / NR;
            // enough tasks for the threads to balance, splitting B's panels only when there are
            // few row blocks (each split packs those rows of A once more)
            int nParts = threads == 1 ? 1 : Math.min(panels, Math.max(1, (4 * threads + mBlocks - 1) / mBlocks));
            int tasks = mBlocks * nParts;
            for (int pc = 0; pc < k; pc += KC) {
                final int pc0 = pc;
                int kc = Math.min(KC, k - pc);
                boolean acc = accumulate || pc > 0;
                if (threads == 1) {
                    packB(tb, b, bOff, ldb, bType, pc, kc, jc, nc, pb, 0);
                    for (int ib = 0; ib < mBlocks; ib++) gemmTask(ta, ib, 0, panels, m, nc, pc, kc, a, aOff, lda, pb, c, cOff + jc, ldc, acc);
                    continue;
                }
                Parallel.forRange(panels, 1, (p0, p1) -> {
                    int from = (int) p0 * NR, to = (int) Math.min(nc, p1 * NR);
                    packB(tb, b, bOff, ldb, bType, pc0, kc, jc0 + from, to - from, pb, (int) p0 * kc * NR);
                });
                AtomicInteger next = new AtomicInteger();
                Parallel.forEachTask(threads, (x0, x1) -> {
                    for (int task; (task = next.getAndIncrement()) < tasks; ) {
                        int part = task % nParts;
                        gemmTask(ta, task / nParts, panels * part / nParts, panels * (part + 1) / nParts, m, nc, pc0, kc,
                                a, aOff, lda, pb, c, cOff + jc0, ldc, acc);
                    }
                });
            }
        }
    }

    /** B's packed slice: one buffer per calling thread, read by all the threads of its GEMM. */
    private static final ThreadLocal<float[]> SHARED_B = ThreadLocal.withInitial(() -> new float[0]);
    /** Each thread's packed rows of A, followed by one micro-tile. */
    private static final ThreadLocal<float[]> PACKED_A = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * A thread's scratch array of at least {@code floats} floats. The packed panels are Java
     * arrays, not native segments: C2 keeps the bounds checks of array loads out of the
     * micro-kernel's loop; on native segments the same kernel measured 1.3x slower (interleaved
     * in one process).
     */
    private static float[] scratch(ThreadLocal<float[]> local, int floats) {
        float[] s = local.get();
        if (s.length < floats) local.set(s = new float[floats]);
        return s;
    }

    /**
     * One task: rows {@code [ib*MC, ib*MC+MC)} of C (columns relative to cBase) times B's packed
     * panels {@code [panel0, panel1)}: packs those rows of A, then runs the micro-kernel over
     * every (panel, MR rows) pair, B's panel in the outer loop so that it stays in L1.
     */
    private static void gemmTask(boolean ta, int ib, int panel0, int panel1, int m, int nc, int pc, int kc,
                                 MemorySegment a, long aOff, long lda, float[] pb,
                                 MemorySegment c, long cBase, long ldc, boolean acc) {
        if (panel0 >= panel1) return;
        float[] pa = scratch(PACKED_A, MC * KC + MR * NR);
        int ic = ib * MC, mc = Math.min(MC, m - ic);
        packA(ta, a, aOff, lda, ic, mc, pc, kc, pa);
        int tile = MC * KC;
        for (int panel = panel0; panel < panel1; panel++) {
            int jr = panel * NR;
            int nr = Math.min(NR, nc - jr);
            int bBase = panel * kc * NR;
            for (int ir = 0; ir < mc; ir += MR) {
                int mr = Math.min(MR, mc - ir);
                micro(kc, pa, (ir / MR) * kc * MR, pb, bBase, tile);
                writeTile(c, cBase + (long) (ic + ir) * ldc + jr, ldc, acc, mr, nr, pa, tile);
            }
        }
    }

    /** Packs B[pc:pc+kc, jc:jc+nc] into NR-wide panels, k-major, zero-padded, from float {@code pbOff} of pb. */
    private static void packB(boolean tb, MemorySegment b, long bOff, long ldb, DType bType, int pc, int kc, int jc, int nc,
                              float[] pb, int pbOff) {
        if (!tb) {
            // row by row, so that B is read sequentially (a panel at a time would stride by ldb)
            for (int p = 0; p < kc; p++) {
                long row = bOff + (long) (pc + p) * ldb + jc;
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = Math.min(NR, nc - jr);
                    int o = pbOff + (jr / NR) * kc * NR + p * NR;
                    if (nr == NR && bType == DType.F32) {
                        load(b, row + jr).intoArray(pb, o);
                        load(b, row + jr + L).intoArray(pb, o + L);
                    } else {
                        for (int j = 0; j < nr; j++) pb[o + j] = (float) Elem.get(b, bType, row + jr + j);
                        for (int j = nr; j < NR; j++) pb[o + j] = 0f;
                    }
                }
            }
            return;
        }
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            int base = pbOff + (jr / NR) * kc * NR;
            for (int j = 0; j < NR; j++) {
                if (j >= nr) {
                    for (int p = 0; p < kc; p++) pb[base + p * NR + j] = 0f;
                    continue;
                }
                long row = bOff + (long) (jc + jr + j) * ldb + pc;
                if (bType == DType.F32) {
                    for (int p = 0; p < kc; p++) pb[base + p * NR + j] = getF(b, row + p);
                } else if (bType == DType.BF16) {
                    for (int p = 0; p < kc; p++) pb[base + p * NR + j] = Half.bf16ToFloat(b.getAtIndex(Elem.I16, row + p));
                } else {
                    for (int p = 0; p < kc; p++) pb[base + p * NR + j] = (float) Elem.get(b, bType, row + p);
                }
            }
        }
    }

    /** Packs A[ic:ic+mc, pc:pc+kc] into MR-tall panels, k-major, zero-padded. */
    private static void packA(boolean ta, MemorySegment a, long aOff, long lda, int ic, int mc, int pc, int kc, float[] pa) {
        for (int ir = 0; ir < mc; ir += MR) {
            int mr = Math.min(MR, mc - ir);
            int base = (ir / MR) * kc * MR;
            if (!ta) {
                for (int i = 0; i < MR; i++) {
                    if (i >= mr) {
                        for (int p = 0; p < kc; p++) pa[base + p * MR + i] = 0f;
                        continue;
                    }
                    long row = aOff + (long) (ic + ir + i) * lda + pc;
                    for (int p = 0; p < kc; p++) pa[base + p * MR + i] = getF(a, row + p);
                }
            } else {
                for (int p = 0; p < kc; p++) {
                    long row = aOff + (long) (pc + p) * lda + ic + ir;
                    for (int i = 0; i < MR; i++) pa[base + p * MR + i] = i < mr ? getF(a, row + i) : 0f;
                }
            }
        }
    }

    /**
     * The MR x NR register-blocked micro-kernel: the tile at float {@code t0} of {@code tile} =
     * A's panel . B's panel (MR rows of NR). Eight accumulators: on C2 a 4 x 2-vector block runs
     * at the FMA units' peak (measured 94 GFLOP/s on one Zen 3 core), while 5 x 2 and 6 x 2
     * blocks spill and run at less than half.
     */
    private static void micro(int kc, float[] pa, int aBase, float[] pb, int bBase, int t0) {
        FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F), c21 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F), c31 = FloatVector.zero(F);
        for (int p = 0; p < kc; p++) {
            int bo = bBase + p * NR, ao = aBase + p * MR;
            FloatVector b0 = FloatVector.fromArray(F, pb, bo);
            FloatVector b1 = FloatVector.fromArray(F, pb, bo + L);
            FloatVector av = FloatVector.broadcast(F, pa[ao]);
            c00 = av.fma(b0, c00);
            c01 = av.fma(b1, c01);
            av = FloatVector.broadcast(F, pa[ao + 1]);
            c10 = av.fma(b0, c10);
            c11 = av.fma(b1, c11);
            av = FloatVector.broadcast(F, pa[ao + 2]);
            c20 = av.fma(b0, c20);
            c21 = av.fma(b1, c21);
            av = FloatVector.broadcast(F, pa[ao + 3]);
            c30 = av.fma(b0, c30);
            c31 = av.fma(b1, c31);
        }
        c00.intoArray(pa, t0);
        c01.intoArray(pa, t0 + L);
        c10.intoArray(pa, t0 + NR);
        c11.intoArray(pa, t0 + NR + L);
        c20.intoArray(pa, t0 + 2 * NR);
        c21.intoArray(pa, t0 + 2 * NR + L);
        c30.intoArray(pa, t0 + 3 * NR);
        c31.intoArray(pa, t0 + 3 * NR + L);
    }

    /** Writes (or adds, when {@code acc}) the valid mr x nr part of the tile at float t0 of {@code tile} into C. */
    private static void writeTile(MemorySegment c, long cBase, long ldc, boolean acc, int mr, int nr, float[] tile, int t0) {
        for (int i = 0; i < mr; i++) {
            long at = cBase + (long) i * ldc;
            if (nr == NR) {
                FloatVector v0 = FloatVector.fromArray(F, tile, t0 + i * NR);
                FloatVector v1 = FloatVector.fromArray(F, tile, t0 + i * NR + L);
                if (acc) {
                    v0 = v0.add(load(c, at));
                    v1 = v1.add(load(c, at + L));
                }
                store(v0, c, at);
                store(v1, c, at + L);
            } else {
                for (int j = 0; j < nr; j++) {
                    float v = tile[t0 + i * NR + j];
                    setF(c, at + j, acc ? getF(c, at + j) + v : v);
                }
            }
        }
    }
}
