package dev.panamax.runtime;

import java.lang.foreign.MemorySegment;

/**
 * The 8-bit float formats of FP8 checkpoints ({@link DType#F8_E4M3}, {@link DType#F8_E5M2}):
 * conversions to and from binary32, and the block-scaled dequantisation of DeepSeek-V3's weights.
 *
 * <p>Conversions to FP8 round to nearest, ties to even, and do not saturate, as CUDA's
 * {@code __nv_cvt_float_to_fp8(x, __NV_NOSAT, ...)} does: E4M3 has no infinity, so a value that
 * rounds past 448 (magnitude above 464; 464 ties to 448) or an infinity becomes NaN with its sign
 * ({@code 0x7F}, {@code 0xFF}); E5M2 rounds past 57344 to infinity. A NaN becomes {@code 0x7F}
 * in both, as CUDA makes it. The tests hold these functions to CUDA's own conversions
 * ({@code runtime/src/test/resources/fp8/}).
 *
 * <p>DeepSeek-V3's FP8 checkpoints store each linear weight {@code W} ({@code [out, in]}) as E4M3
 * with a {@code weight_scale_inv} tensor of F32 scales, one per block of
 * {@code blockRows x blockCols} weights ({@code [ceil(out / blockRows), ceil(in / blockCols)]},
 * blocks of 128 x 128 in the released models). The weight is {@code float(W[i][j]) *
 * scale[i / blockRows][j / blockCols]}, computed in F32: what the official code's
 * {@code weight_dequant} computes before it casts to BF16. {@link #dequantizeBlocks} runs it on the
 * active {@link Kernels} ({@code dequantizeFp8}: SIMD, or the scalar specification), over the
 * runtime's threads.
 */
public final class Fp8 {
    private static final float[] E4M3 = new float[256];
    private static final float[] E5M2 = new float[256];

    static {
        for (int b = 0; b < 256; b++) {
            E4M3[b] = e4m3ToFloatScalar((byte) b);
            E5M2[b] = Half.f16ToFloat((short) (b << 8));
        }
    }

    private Fp8() {
    }

    /**
     * The value of E4M3 bits, exact: {@code (-1)^s * 2^(e-7) * (1 + m/8)}, subnormals
     * {@code (-1)^s * 2^-6 * m/8}, and NaN for {@code S.1111.111}. The specification of the
     * table {@link #e4m3ToFloat} reads.
     */
    static float e4m3ToFloatScalar(byte bits) {
        int b = bits & 0xff, e = (b >>> 3) & 0xf, m = b & 7;
        float sign = (b & 0x80) != 0 ? -1f : 1f;
        if (e == 15 && m == 7) return Float.NaN;
        if (e == 0) return sign * Math.scalb(m / 8f, -6);
        return sign * Math.scalb(1 + m / 8f, e - 7);
    }

    /** E4M3 bits to float (exact). */
    public static float e4m3ToFloat(byte bits) {
        return E4M3[bits & 0xff];
    }

    /** E5M2 bits to float (exact): the top byte of a binary16. */
    public static float e5m2ToFloat(byte bits) {
        return E5M2[bits & 0xff];
    }

    /** float to E4M3 bits: round to nearest even; past 448 and infinities give NaN with the sign, NaN gives 0x7F. */
    public static byte floatToE4m3(float f) {
        int x = Float.floatToRawIntBits(f), sign = (x >>> 24) & 0x80, abs = x & 0x7fffffff;
        if (abs > 0x7f800000) return 0x7f;                                      // NaN, whatever its sign
        if (abs >= 0x43f00000) return (byte) (sign | 0x7f);                    // 480 or more, inf
        if (abs < 0x3c800000) {                                                 // below 2^-6: steps of 2^-9
            return (byte) (sign | (int) Math.rint(Float.intBitsToFloat(abs) * 512f));  // 8 = the smallest normal
        }
        // rebias the exponent (127 -> 7) and round the 20 dropped mantissa bits to nearest even;
        // 464 up to 480 rounds to 0x7f, the NaN
        int r = abs + ((7 - 127) << 23) + 0x7ffff + ((abs >>> 20) & 1);
        return (byte) (sign | (r >>> 20));
    }

    /** float to E5M2 bits: round to nearest even; past 57344 gives infinity, NaN gives 0x7F. */
    public static byte floatToE5m2(float f) {
        int x = Float.floatToRawIntBits(f), sign = (x >>> 24) & 0x80, abs = x & 0x7fffffff;
        if (abs > 0x7f800000) return 0x7f;                                      // NaN, whatever its sign
        if (abs >= 0x47800000) return (byte) (sign | 0x7c);                    // 65536 or more, inf
        if (abs < 0x38800000) {                                                 // below 2^-14: steps of 2^-16
            return (byte) (sign | (int) Math.rint(Float.intBitsToFloat(abs) * 65536f));
        }
        int r = abs + ((15 - 127) << 23) + 0xfffff + ((abs >>> 21) & 1);      // 61440 up to 65536 rounds to inf
        return (byte) (sign | (r >>> 21));
    }

    /** The value of FP8 bits of type {@code t} ({@link DType#F8_E4M3} or {@link DType#F8_E5M2}). */
    public static float toFloat(byte bits, DType t) {
        return switch (t) {
            case F8_E4M3 -> e4m3ToFloat(bits);
            case F8_E5M2 -> e5m2ToFloat(bits);
            default -> throw new IllegalArgumentException(t + " is not an FP8 type");
        };
    }

    /** {@code f} as FP8 bits of type {@code t}. */
    public static byte fromFloat(float f, DType t) {
        return switch (t) {
            case F8_E4M3 -> floatToE4m3(f);
            case F8_E5M2 -> floatToE5m2(f);
            default -> throw new IllegalArgumentException(t + " is not an FP8 type");
        };
    }

    /**
     * Dequantises a block-scaled FP8 weight, as DeepSeek-V3's checkpoints store them: element
     * {@code (i, j)} is {@code toFloat(weight[i][j]) * scaleInv[i / blockRows][j / blockCols]} in
     * F32, stored in {@code out} (rounded to nearest even for BF16 and F16). The result is a new
     * contiguous host tensor in the current scope.
     *
     * @param weight    {@code [rows, cols]}, F8_E4M3 or F8_E5M2, on the host (a mapped checkpoint tensor)
     * @param scaleInv  {@code [ceil(rows / blockRows), ceil(cols / blockCols)]}, F32, BF16 or F16, on the host
     * @param blockRows rows a scale covers (128 in DeepSeek-V3)
     * @param blockCols columns a scale covers (128 in DeepSeek-V3)
     * @param out       F32, BF16 or F16
     * @throws IllegalArgumentException for other dtypes, ranks or shapes, or a tensor on a device
     */
    public static Tensor dequantizeBlocks(Tensor weight, Tensor scaleInv, int blockRows, int blockCols, DType out) {
        if (!weight.dtype().isFp8()) throw new IllegalArgumentException("dequantizeBlocks: the weight must be F8_E4M3 or F8_E5M2, got " + weight.dtype());
        if (scaleInv.dtype() != DType.F32 && scaleInv.dtype() != DType.BF16 && scaleInv.dtype() != DType.F16) {
            throw new IllegalArgumentException("dequantizeBlocks: the scales must be F32, BF16 or F16, got " + scaleInv.dtype());
        }
        if (out != DType.F32 && out != DType.BF16 && out != DType.F16) throw new IllegalArgumentException("dequantizeBlocks: out must be F32, BF16 or F16, got " + out);
        if (blockRows <= 0 || blockCols <= 0) throw new IllegalArgumentException("dequantizeBlocks: block size " + blockRows + " x " + blockCols + " must be positive");
        if (weight.device().isDevice() || scaleInv.device().isDevice()) {
            throw new IllegalArgumentException("dequantizeBlocks runs on the host: dequantise before moving the weight to " + weight.device());
        }
        if (weight.rank() != 2) throw new IllegalArgumentException("dequantizeBlocks: the weight must be 2-D, got " + weight.shape());
        long rows = weight.dim(0), cols = weight.dim(1);
        long sr = Math.ceilDiv(rows, blockRows), sc = Math.ceilDiv(cols, blockCols);
        if (scaleInv.rank() != 2 || scaleInv.dim(0) != sr || scaleInv.dim(1) != sc) {
            throw new IllegalArgumentException("dequantizeBlocks: a " + weight.shape() + " weight in blocks of " + blockRows + " x " + blockCols
                    + " needs [" + sr + ", " + sc + "] scales, got " + scaleInv.shape());
        }
        float[] scales = scaleInv.to(DType.F32).contiguous().toFloatArray();
        Tensor q = weight.contiguous();
        Tensor y = Tensor.zeros(out, rows, cols);
        MemorySegment src = q.host(), dst = y.host();
        long qo = q.offset;
        DType fp8 = weight.dtype();
        Kernels k = Kernels.active();
        Parallel.forRange(rows, Math.max(1, (1L << 16) / Math.max(1, cols)), (r0, r1) -> {
            for (long i = r0; i < r1; i++) {
                int s = (int) (i / blockRows * sc);
                for (long j = 0; j < cols; j += blockCols) {   // one scale a block of the row
                    long at = i * cols + j;
                    k.dequantizeFp8(fp8, src, qo + at, scales[s++], out, dst, at, Math.min(blockCols, cols - j));
                }
            }
        });
        return y;
    }
}
