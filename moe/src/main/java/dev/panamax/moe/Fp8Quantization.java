package dev.panamax.moe;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.io.ConfigJson;

import java.util.List;
import java.util.Locale;

/**
 * The {@code quantization_config} of an FP8 checkpoint, as DeepSeek-V3 and R1 are released:
 * {@code {"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [128, 128],
 * "activation_scheme": "dynamic"}}. Each quantised linear weight {@code NAME.weight} is stored in
 * {@link #dtype()} beside {@code NAME.weight_scale_inv}, one F32 scale per block of
 * {@code blockRows x blockCols}; {@link DeepSeekModel#load} dequantises them with
 * {@link dev.panamax.runtime.Fp8#dequantizeBlocks}. Activations are not quantised: the products
 * run in BF16 (or F32 when training), as the official inference code's {@code gemm_impl = "bf16"}.
 *
 * @param dtype     the weights' storage type ({@code fmt}: e4m3, or e5m2)
 * @param blockRows rows of a weight block ({@code weight_block_size[0]})
 * @param blockCols columns of a weight block ({@code weight_block_size[1]})
 */
public record Fp8Quantization(DType dtype, int blockRows, int blockCols) {
    /** Suffix of a quantised weight's scales: {@code NAME.weight} has {@code NAME.weight_scale_inv}. */
    public static final String SCALE_SUFFIX = "_scale_inv";

    /** Validates. */
    public Fp8Quantization {
        if (!dtype.isFp8()) throw new IllegalArgumentException("quantization_config: weights must be an FP8 type, got " + dtype);
        if (blockRows <= 0 || blockCols <= 0) {
            throw new IllegalArgumentException("quantization_config.weight_block_size must be two positive integers, got [" + blockRows + ", " + blockCols + "]");
        }
    }

    /**
     * The {@code quantization_config} of a parsed {@code config.json}, or null when it has none.
     *
     * @throws ConfigJson.ConfigException naming the file and the field, for a method other than
     *         fp8, a format other than e4m3 or e5m2, a missing or malformed block size, or static
     *         activation scales
     */
    public static Fp8Quantization from(ConfigJson config) {
        ConfigJson q = config.object("quantization_config");
        if (q == null) return null;
        String where = config.source() + ": quantization_config.";
        String method = string(q, "quant_method", where);
        if (method == null) throw new ConfigJson.ConfigException(where + "quant_method is missing");
        if (!method.equals("fp8")) {
            throw new ConfigJson.ConfigException(where + "quant_method must be fp8 (block-scaled FP8 weights, as DeepSeek-V3's), got " + method);
        }
        String fmt = string(q, "fmt", where);
        DType dtype = switch (fmt == null ? "e4m3" : fmt.toLowerCase(Locale.ROOT)) {
            case "e4m3" -> DType.F8_E4M3;
            case "e5m2" -> DType.F8_E5M2;
            default -> throw new ConfigJson.ConfigException(where + "fmt must be e4m3 or e5m2, got " + fmt);
        };
        String acts = string(q, "activation_scheme", where);
        if (acts != null && !acts.equals("dynamic")) {
            throw new ConfigJson.ConfigException(where + "activation_scheme must be dynamic (static activation scales are not supported), got " + acts);
        }
        if (!(q.raw("weight_block_size") instanceof List<?> bs) || bs.size() != 2 || !(bs.get(0) instanceof Long r) || !(bs.get(1) instanceof Long c)
                || r <= 0 || c <= 0 || r > Integer.MAX_VALUE || c > Integer.MAX_VALUE) {
            throw new ConfigJson.ConfigException(where + "weight_block_size must be two positive integers [rows, columns], got " + q.raw("weight_block_size"));
        }
        return new Fp8Quantization(dtype, (int) (long) r, (int) (long) c);
    }

    private static String string(ConfigJson q, String field, String where) {
        Object v = q.raw(field);
        if (v == null || v instanceof String) return (String) v;
        throw new ConfigJson.ConfigException(where + field + " must be a string, got " + v);
    }

    /** The scales' shape for a {@code [rows, cols]} weight: {@code [ceil(rows / blockRows), ceil(cols / blockCols)]}. */
    public long[] scaleShape(long rows, long cols) {
        return new long[]{Math.ceilDiv(rows, blockRows), Math.ceilDiv(cols, blockCols)};
    }
}
