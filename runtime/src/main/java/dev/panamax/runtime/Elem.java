package dev.panamax.runtime;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Little-endian, unaligned element access by dtype. Storage is always little-endian. */
final class Elem {
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Elem() {
    }

    static float getF(MemorySegment s, long i) {
        return s.getAtIndex(F32, i);
    }

    static void setF(MemorySegment s, long i, float v) {
        s.setAtIndex(F32, i, v);
    }

    static double getD(MemorySegment s, long i) {
        return s.getAtIndex(F64, i);
    }

    static void setD(MemorySegment s, long i, double v) {
        s.setAtIndex(F64, i, v);
    }

    /** Element {@code i} (in elements) of a segment of type {@code t}, as a double. */
    static double get(MemorySegment s, DType t, long i) {
        return switch (t) {
            case F32 -> s.getAtIndex(F32, i);
            case F64 -> s.getAtIndex(F64, i);
            case BF16 -> Half.bf16ToFloat(s.getAtIndex(I16, i));
            case F16 -> Half.f16ToFloat(s.getAtIndex(I16, i));
            case I32 -> s.getAtIndex(I32, i);
            case I64 -> s.getAtIndex(I64, i);
            case I8 -> s.get(ValueLayout.JAVA_BYTE, i);
            case U8 -> s.get(ValueLayout.JAVA_BYTE, i) & 0xff;
            case F8_E4M3 -> Fp8.e4m3ToFloat(s.get(ValueLayout.JAVA_BYTE, i));
            case F8_E5M2 -> Fp8.e5m2ToFloat(s.get(ValueLayout.JAVA_BYTE, i));
        };
    }

    /** Element {@code i} of an integer or float segment as a long (floats truncate). */
    static long getLong(MemorySegment s, DType t, long i) {
        return switch (t) {
            case I64 -> s.getAtIndex(I64, i);
            case I32 -> s.getAtIndex(I32, i);
            default -> (long) get(s, t, i);
        };
    }

    /** Stores {@code v} rounded to type {@code t} (RNE for floats, truncation for integers). */
    static void set(MemorySegment s, DType t, long i, double v) {
        switch (t) {
            case F32 -> s.setAtIndex(F32, i, (float) v);
            case F64 -> s.setAtIndex(F64, i, v);
            case BF16 -> s.setAtIndex(I16, i, Half.floatToBf16((float) v));
            case F16 -> s.setAtIndex(I16, i, Half.floatToF16((float) v));
            case I32 -> s.setAtIndex(I32, i, (int) v);
            case I64 -> s.setAtIndex(I64, i, (long) v);
            case I8 -> s.set(ValueLayout.JAVA_BYTE, i, (byte) v);
            case U8 -> s.set(ValueLayout.JAVA_BYTE, i, (byte) (int) v);
            case F8_E4M3 -> s.set(ValueLayout.JAVA_BYTE, i, Fp8.floatToE4m3((float) v));
            case F8_E5M2 -> s.set(ValueLayout.JAVA_BYTE, i, Fp8.floatToE5m2((float) v));
        }
    }

    static void setLong(MemorySegment s, DType t, long i, long v) {
        switch (t) {
            case I64 -> s.setAtIndex(I64, i, v);
            case I32 -> s.setAtIndex(I32, i, (int) v);
            default -> set(s, t, i, v);
        }
    }

    /**
     * Converts {@code n} contiguous elements between the float types that loads and casts meet
     * (F32 to and from BF16 and F16, FP8 to F32 and BF16), each as {@link #set}({@link #get})
     * would, in loops free of the per-element type switch, over the runtime's threads when long.
     * Returns false, having done nothing, for any other pair.
     */
    static boolean convertRun(MemorySegment dst, DType dt, long dOff, MemorySegment src, DType st, long sOff, long n) {
        RunConversion c = conversion(dt, st);
        if (c == null) return false;
        Parallel.forRange(n, Parallel.PARALLEL_THRESHOLD, (a, b) -> c.run(dst, dOff + a, src, sOff + a, b - a));
        return true;
    }

    private interface RunConversion {
        void run(MemorySegment dst, long d, MemorySegment src, long s, long n);
    }

    private static RunConversion conversion(DType dt, DType st) {
        if (st == DType.F32) {
            return switch (dt) {
                case BF16 -> (dst, d, src, s, n) -> {
                    for (long i = 0; i < n; i++) dst.setAtIndex(I16, d + i, Half.floatToBf16(src.getAtIndex(F32, s + i)));
                };
                case F16 -> (dst, d, src, s, n) -> {
                    for (long i = 0; i < n; i++) dst.setAtIndex(I16, d + i, Half.floatToF16(src.getAtIndex(F32, s + i)));
                };
                default -> null;
            };
        }
        if (dt == DType.F32) {
            return switch (st) {
                case BF16 -> (dst, d, src, s, n) -> {
                    for (long i = 0; i < n; i++) dst.setAtIndex(F32, d + i, Half.bf16ToFloat(src.getAtIndex(I16, s + i)));
                };
                case F16 -> (dst, d, src, s, n) -> {
                    for (long i = 0; i < n; i++) dst.setAtIndex(F32, d + i, Half.f16ToFloat(src.getAtIndex(I16, s + i)));
                };
                case F8_E4M3, F8_E5M2 -> (dst, d, src, s, n) -> {
                    for (long i = 0; i < n; i++) dst.setAtIndex(F32, d + i, Fp8.toFloat(src.get(ValueLayout.JAVA_BYTE, s + i), st));
                };
                default -> null;
            };
        }
        if (dt == DType.BF16 && st.isFp8()) {
            return (dst, d, src, s, n) -> {
                for (long i = 0; i < n; i++) dst.setAtIndex(I16, d + i, Half.floatToBf16(Fp8.toFloat(src.get(ValueLayout.JAVA_BYTE, s + i), st)));
            };
        }
        return null;
    }
}
