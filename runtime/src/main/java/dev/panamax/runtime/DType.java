package dev.panamax.runtime;

import java.util.Locale;

/**
 * Storage element types of a {@link Tensor}. Compute happens in F32 (F64 for test oracles);
 * BF16 and F16 are storage formats that the matmul kernels read directly. F8_E4M3 and F8_E5M2
 * are host storage formats, as DeepSeek-V3's FP8 checkpoints hold them: read and written in
 * safetensors, converted with {@link Tensor#to(DType)}, dequantised with their block scales by
 * {@link Fp8#dequantizeBlocks}, and read as F32 by the host ops; devices refuse them by name.
 * The safetensors name of each type is {@link #safetensorsName()}.
 */
public enum DType {
    /** IEEE binary32. */
    F32(4, true, "F32"),
    /** IEEE binary64, used by scalar oracles and gradient checks. */
    F64(8, true, "F64"),
    /** bfloat16: the top 16 bits of a binary32. */
    BF16(2, true, "BF16"),
    /** IEEE binary16. */
    F16(2, true, "F16"),
    /** 32-bit signed integer. */
    I32(4, false, "I32"),
    /** 64-bit signed integer (token ids, indices). */
    I64(8, false, "I64"),
    /** 8-bit signed integer. */
    I8(1, false, "I8"),
    /** 8-bit unsigned integer (also used for booleans). */
    U8(1, false, "U8"),
    /**
     * OCP FP8 E4M3 ("E4M3FN"): sign, 4 exponent bits (bias 7), 3 mantissa bits; no infinities,
     * NaN is S.1111.111, largest finite value 448. Storage only ({@link Fp8}).
     */
    F8_E4M3(1, true, "F8_E4M3"),
    /**
     * OCP FP8 E5M2: sign, 5 exponent bits (bias 15), 2 mantissa bits, with infinities and NaNs as
     * in IEEE binary16, of which it is the top byte; largest finite value 57344. Storage only
     * ({@link Fp8}).
     */
    F8_E5M2(1, true, "F8_E5M2");

    private final int byteSize;
    private final boolean floating;
    private final String safetensorsName;

    DType(int byteSize, boolean floating, String safetensorsName) {
        this.byteSize = byteSize;
        this.floating = floating;
        this.safetensorsName = safetensorsName;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** Whether the type is an 8-bit float storage format ({@link #F8_E4M3}, {@link #F8_E5M2}). */
    public boolean isFp8() {
        return this == F8_E4M3 || this == F8_E5M2;
    }

    /** Whether the type holds floating-point values. */
    public boolean isFloating() {
        return floating;
    }

    /** The dtype string used in safetensors headers, e.g. {@code "BF16"}. */
    public String safetensorsName() {
        return safetensorsName;
    }

    /**
     * The dtype for a safetensors dtype string.
     *
     * @throws IllegalArgumentException for a name Panamax does not support (the message names it)
     */
    public static DType fromSafetensors(String name) {
        for (DType t : values()) {
            if (t.safetensorsName.equals(name)) return t;
        }
        if (name != null && name.equals("BOOL")) return U8;
        throw new IllegalArgumentException("unknown dtype \"" + name + "\" (supported: F32, F64, BF16, F16, F8_E4M3, F8_E5M2, I32, I64, I8, U8, BOOL)");
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
