package dev.panamax.runtime;

/**
 * Conversions between binary32 and the 16-bit float formats, with round-to-nearest-even and
 * NaN/Inf preserved. These scalar functions are the specification for the vectorised
 * conversions in the kernels.
 */
public final class Half {
    private Half() {
    }

    /** bfloat16 bits to float (exact). */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** float to bfloat16 bits, round-to-nearest-even; NaN stays a (quiet) NaN with its sign. */
    public static short floatToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7fffffff) > 0x7f800000) {
            return (short) ((x >>> 16) | 0x0040); // quiet NaN, keep sign and top payload bits
        }
        int lsb = (x >>> 16) & 1;
        int rounded = x + 0x7fff + lsb;
        return (short) (rounded >>> 16);
    }

    /** IEEE binary16 bits to float (exact). */
    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** float to IEEE binary16 bits, round-to-nearest-even, overflow to infinity, NaN preserved. */
    public static short floatToF16(float f) {
        return Float.floatToFloat16(f);
    }
}
