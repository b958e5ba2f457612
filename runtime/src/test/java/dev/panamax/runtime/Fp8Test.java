package dev.panamax.runtime;

import dev.panamax.runtime.io.Json;
import dev.panamax.runtime.io.Safetensors;
import dev.panamax.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link Fp8} against CUDA's own FP8 conversions ({@code src/test/resources/fp8/make_fp8_fixture.cu},
 * cuda_fp8.h's host code: every code decoded, 6,056 values encoded without saturation), and the
 * block dequantisation against a plain loop over those decodes.
 */
class Fp8Test {
    private static final Map<String, Object> FIXTURE = fixture();

    private static Map<String, Object> fixture() {
        try (InputStream in = Fp8Test.class.getResourceAsStream("/fp8/fp8_fixture.json")) {
            return Json.parseObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int[] ints(String key) {
        List<?> l = (List<?>) FIXTURE.get(key);
        int[] out = new int[l.size()];
        for (int i = 0; i < out.length; i++) out[i] = (int) (long) (Long) l.get(i);
        return out;
    }

    /** CUDA's value of each code; NaN codes compare as NaN (CUDA's NaN payload differs from Java's). */
    private static void assertDecodes(String key, DType t) {
        int[] want = ints(key);
        for (int c = 0; c < 256; c++) {
            float w = Float.intBitsToFloat(want[c]), got = Fp8.toFloat((byte) c, t);
            if (Float.isNaN(w)) assertThat(got).as("%s code 0x%02x", t, c).isNaN();
            else assertThat(Float.floatToRawIntBits(got)).as("%s code 0x%02x: %s, CUDA %s", t, c, got, w).isEqualTo(want[c]);
        }
    }

    @Test
    void everyCodeDecodesAsCudaDecodesIt() {
        assertDecodes("e4m3_decode", DType.F8_E4M3);
        assertDecodes("e5m2_decode", DType.F8_E5M2);
        // the table against the formula it is built from, and the OCP spec's landmarks
        for (int c = 0; c < 256; c++) {
            float f = Fp8.e4m3ToFloatScalar((byte) c), t = Fp8.e4m3ToFloat((byte) c);
            assertThat(Float.floatToIntBits(t)).isEqualTo(Float.floatToIntBits(f));
        }
        assertThat(Fp8.e4m3ToFloat((byte) 0x7e)).isEqualTo(448f);
        assertThat(Fp8.e4m3ToFloat((byte) 0x08)).isEqualTo(0x1p-6f);
        assertThat(Fp8.e4m3ToFloat((byte) 0x01)).isEqualTo(0x1p-9f);
        assertThat(Fp8.e5m2ToFloat((byte) 0x7b)).isEqualTo(57344f);
        assertThat(Fp8.e5m2ToFloat((byte) 0x7c)).isEqualTo(Float.POSITIVE_INFINITY);
    }

    @Test
    void encodingRoundsAsCudaDoesWithoutSaturation() {
        int[] in = ints("inputs"), e4 = ints("e4m3_encode"), e5 = ints("e5m2_encode");
        assertThat(in.length).isGreaterThan(6000);
        for (int i = 0; i < in.length; i++) {
            float x = Float.intBitsToFloat(in[i]);
            assertThat(Fp8.floatToE4m3(x) & 0xff).as("E4M3 of %s (bits 0x%08x)", x, in[i]).isEqualTo(e4[i]);
            assertThat(Fp8.floatToE5m2(x) & 0xff).as("E5M2 of %s (bits 0x%08x)", x, in[i]).isEqualTo(e5[i]);
        }
    }

    @Test
    void tensorsConvertThroughTheCodecAndRoundTripThroughSafetensors(@TempDir Path dir) {
        int[] in = ints("inputs"), e4 = ints("e4m3_encode");
        float[] x = new float[in.length];
        for (int i = 0; i < x.length; i++) x[i] = Float.intBitsToFloat(in[i]);
        try (Scope s = Scope.open()) {
            Tensor q = Tensor.of(x, x.length).to(DType.F8_E4M3);
            assertThat(q.dtype()).isEqualTo(DType.F8_E4M3);
            assertThat(q.byteSize()).isEqualTo(x.length);
            MemorySegment seg = q.segment();
            for (int i = 0; i < x.length; i++) assertThat(seg.get(ValueLayout.JAVA_BYTE, q.storageOffset() + i) & 0xff).isEqualTo(e4[i]);
            float[] back = q.to(DType.F32).toFloatArray();
            for (int i = 0; i < x.length; i++) {
                float want = Fp8.e4m3ToFloat((byte) e4[i]);
                if (Float.isNaN(want)) assertThat(back[i]).isNaN();
                else assertThat(back[i]).isEqualTo(want);
            }
            // host ops read FP8 as F32
            Tensor small = Tensor.of(new float[]{1.5f, -3f, 0.0625f, 448f}, 4).to(DType.F8_E4M3);
            assertThat(small.mul(2.0).toFloatArray()).containsExactly(3f, -6f, 0.125f, 896f);
            assertThat(small.to(DType.F8_E5M2).toFloatArray()).containsExactly(1.5f, -3f, 0.0625f, 448f);

            Path file = dir.resolve("fp8.safetensors");
            Tensor q2 = q.reshape(2, x.length / 2);
            Safetensors.write(file, Map.of("w", q2, "s", Tensor.of(new float[]{2f}, 1)), Map.of());
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                assertThat(f.info("w").dtype()).isEqualTo(DType.F8_E4M3);
                assertThat(f.info("w").byteSize()).isEqualTo(x.length);
                assertThat(f.info("w").toString()).contains("F8_E4M3");
                Tensor w = f.tensor("w");
                for (long i = 0; i < x.length; i++) {
                    assertThat(w.segment().get(ValueLayout.JAVA_BYTE, w.storageOffset() + i)).isEqualTo(seg.get(ValueLayout.JAVA_BYTE, q.storageOffset() + i));
                }
            }
        }
    }

    @Test
    void fp8TensorsStayOnTheHostAndNeverTakeAnFp8Gradient() {
        try (Scope s = Scope.open()) {
            Tensor q = Tensor.of(new float[]{1, 2}, 2).to(DType.F8_E4M3);
            assertThatThrownBy(() -> q.to(Device.EMULATED)).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("F8_E4M3").hasMessageContaining("Fp8.dequantizeBlocks");
            assertThatThrownBy(() -> Tensor.zeros(Device.EMULATED, DType.F8_E5M2, 4)).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("F8_E5M2").hasMessageContaining("emulated");
            Tensor onDevice = Tensor.of(new float[]{1, 2}, 2).to(Device.EMULATED);
            assertThatThrownBy(() -> onDevice.to(DType.F8_E4M3)).isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("F8_E4M3");
            Tensor w = Tensor.of(new float[]{1, 2}, 2).to(DType.F8_E5M2).requiresGrad(true);
            w.mul(3.0).sum().backward();
            assertThat(w.grad().dtype()).isEqualTo(DType.F32);
            assertThat(w.grad().toFloatArray()).containsExactly(3f, 3f);
        }
    }

    @Test
    void conversionsOfContiguousRunsMatchTheElementwisePath() {
        // Elem.convertRun's loops (contiguous runs) against Elem.get/set's (a transposed view's runs
        // have stride > 1), for every pair of float types, over values with every special case
        int[] in = ints("inputs");
        int n = in.length / 2 * 2;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = Float.intBitsToFloat(in[i]);
        DType[] types = {DType.F32, DType.BF16, DType.F16, DType.F8_E4M3, DType.F8_E5M2};
        try (Scope s = Scope.open()) {
            for (DType from : types) {
                Tensor src = Tensor.of(x, 2, n / 2).to(from);
                Tensor srcT = src.t().contiguous().t();   // the same values, column-major
                for (DType to : types) {
                    float[] fast = src.to(to).to(DType.F32).toFloatArray();
                    float[] slow = srcT.to(to).contiguous().to(DType.F32).toFloatArray();
                    for (int i = 0; i < n; i++) {
                        assertThat(Float.floatToIntBits(fast[i])).as("%s -> %s of %s", from, to, x[i]).isEqualTo(Float.floatToIntBits(slow[i]));
                    }
                }
            }
        }
    }

    /** The plain loop: CUDA's decode of each code times its block's scale, in F32. */
    private static float[] reference(byte[] codes, int[] decode, int rows, int cols, float[] scales, int br, int bc) {
        int sc = Math.ceilDiv(cols, bc);
        float[] y = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                y[i * cols + j] = Float.intBitsToFloat(decode[codes[i * cols + j] & 0xff]) * scales[(i / br) * sc + j / bc];
            }
        }
        return y;
    }

    @Test
    void blockDequantisationScalesEachBlockByItsOwnScale() {
        int[] decode = ints("e4m3_decode");
        Random rnd = new Random(7);
        int[][] cases = {{37, 45, 16, 8}, {128, 256, 128, 128}, {130, 300, 128, 128}, {5, 3, 1, 1}, {3, 17, 4, 32}};
        for (int[] cs : cases) {
            int rows = cs[0], cols = cs[1], br = cs[2], bc = cs[3];
            byte[] codes = new byte[rows * cols];
            for (int i = 0; i < codes.length; i++) {
                int c;
                do c = rnd.nextInt(256); while ((c & 0x7f) == 0x7f);   // no NaN codes: weights are finite
                codes[i] = (byte) c;
            }
            int sr = Math.ceilDiv(rows, br), sc = Math.ceilDiv(cols, bc);
            float[] scales = new float[sr * sc];
            for (int i = 0; i < scales.length; i++) scales[i] = (float) Math.scalb(1 + rnd.nextFloat(), rnd.nextInt(12) - 14);
            float[] want = reference(codes, decode, rows, cols, scales, br, bc);
            try (Scope s = Scope.open()) {
                Tensor q = Tensor.zeros(DType.F8_E4M3, rows, cols);
                MemorySegment.copy(codes, 0, q.segment(), ValueLayout.JAVA_BYTE, 0, codes.length);
                Tensor scale = Tensor.of(scales, sr, sc);
                float[] f32 = Fp8.dequantizeBlocks(q, scale, br, bc, DType.F32).toFloatArray();
                assertThat(f32).as("%d x %d in %d x %d blocks", rows, cols, br, bc).containsExactly(want);
                Tensor bf = Fp8.dequantizeBlocks(q, scale.to(DType.BF16), br, bc, DType.BF16);   // BF16 scales too
                assertThat(bf.dtype()).isEqualTo(DType.BF16);
                float[] bfWant = reference(codes, decode, rows, cols, scale.to(DType.BF16).toFloatArray(), br, bc);
                float[] bfGot = bf.toFloatArray();
                for (int i = 0; i < bfWant.length; i++) assertThat(bfGot[i]).isEqualTo(Half.bf16ToFloat(Half.floatToBf16(bfWant[i])));
                // a strided view of the weight gives the same values as its copy
                Tensor wide = Tensor.zeros(DType.F8_E4M3, rows, cols + 3);
                wide.narrow(1, 1, cols).copyFrom(q);
                assertThat(Fp8.dequantizeBlocks(wide.narrow(1, 1, cols), scale, br, bc, DType.F32).toFloatArray()).containsExactly(want);
            }
        }
    }

    @Test
    void badDequantisationArgumentsAreNamed() {
        try (Scope s = Scope.open()) {
            Tensor q = Tensor.zeros(DType.F8_E4M3, 130, 300);
            assertThatThrownBy(() -> Fp8.dequantizeBlocks(q, Tensor.zeros(DType.F32, 1, 3), 128, 128, DType.BF16))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2, 3]").hasMessageContaining("[1, 3]");
            assertThatThrownBy(() -> Fp8.dequantizeBlocks(q.to(DType.F32), Tensor.zeros(DType.F32, 2, 3), 128, 128, DType.BF16))
                    .hasMessageContaining("F8_E4M3 or F8_E5M2");
            assertThatThrownBy(() -> Fp8.dequantizeBlocks(q, Tensor.zeros(DType.I32, 2, 3), 128, 128, DType.BF16)).hasMessageContaining("scales");
            assertThatThrownBy(() -> Fp8.dequantizeBlocks(q, Tensor.zeros(DType.F32, 2, 3), 128, 128, DType.I8)).hasMessageContaining("out");
            assertThatThrownBy(() -> Fp8.dequantizeBlocks(q, Tensor.zeros(DType.F32, 2, 3), 0, 128, DType.F32)).hasMessageContaining("positive");
            assertThatThrownBy(() -> Fp8.dequantizeBlocks(q.reshape(130 * 300), Tensor.zeros(DType.F32, 2, 3), 128, 128, DType.F32)).hasMessageContaining("2-D");
        }
    }
}
