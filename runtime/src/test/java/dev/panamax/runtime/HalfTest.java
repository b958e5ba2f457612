package dev.panamax.runtime;

import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** BF16/F16 conversions: round-to-nearest-even checked against exact decimal arithmetic; NaN/Inf preserved. */
class HalfTest {
    /** The nearest bf16 to f by exact arithmetic, ties to the even bit pattern (outside oracle). */
    private static short nearestBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        short lo = (short) (bits >>> 16);
        short hi = (short) (lo + 1);
        BigDecimal x = new BigDecimal(f);
        BigDecimal dl = new BigDecimal(Half.bf16ToFloat(lo)).subtract(x).abs();
        float hf = Half.bf16ToFloat(hi);
        if (Float.isInfinite(hf) || Float.isNaN(hf)) {
            // rounding past the largest finite value: compare with the midpoint 2^128 - 2^119 style
            BigDecimal up = new BigDecimal(Float.MAX_VALUE).add(new BigDecimal(Math.ulp(Float.MAX_VALUE)));
            BigDecimal dh = up.multiply(BigDecimal.valueOf(Math.signum(f))).subtract(x).abs();
            int c = dl.compareTo(dh);
            return c < 0 || (c == 0 && (lo & 1) == 0) ? lo : hi;
        }
        BigDecimal dh = new BigDecimal(hf).subtract(x).abs();
        int c = dl.compareTo(dh);
        if (c < 0) return lo;
        if (c > 0) return hi;
        return (lo & 1) == 0 ? lo : hi;
    }

    @Test
    void bf16RoundsToNearestEven() {
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            float f = Float.intBitsToFloat(r.nextInt());
            if (Float.isNaN(f) || Float.isInfinite(f)) continue;
            assertThat(Half.floatToBf16(f)).as("%s", f).isEqualTo(nearestBf16(f));
        }
        // exact ties
        assertThat(Half.floatToBf16(Float.intBitsToFloat(0x3f808000))).isEqualTo((short) 0x3f80);
        assertThat(Half.floatToBf16(Float.intBitsToFloat(0x3f818000))).isEqualTo((short) 0x3f82);
    }

    @Test
    void specialValuesArePreserved() {
        assertThat(Half.bf16ToFloat(Half.floatToBf16(Float.NaN))).isNaN();
        assertThat(Half.bf16ToFloat(Half.floatToBf16(Float.intBitsToFloat(0xff800001)))).isNaN();
        assertThat(Half.bf16ToFloat(Half.floatToBf16(Float.POSITIVE_INFINITY))).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(Half.bf16ToFloat(Half.floatToBf16(Float.NEGATIVE_INFINITY))).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(Half.bf16ToFloat(Half.floatToBf16(-0f))).isEqualTo(-0f);
        assertThat(Half.f16ToFloat(Half.floatToF16(Float.NaN))).isNaN();
        assertThat(Half.f16ToFloat(Half.floatToF16(1e6f))).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(Half.f16ToFloat(Half.floatToF16(-1e6f))).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(Half.f16ToFloat(Half.floatToF16(5.9604645e-8f))).isEqualTo(5.9604645e-8f); // smallest subnormal
    }

    @Test
    void f16RoundsToNearestEvenAgainstExactArithmetic() {
        SplittableRandom r = new SplittableRandom(9);
        for (int i = 0; i < 100_000; i++) {
            float f = (float) (r.nextDouble(-70000, 70000) * Math.pow(2, -r.nextInt(30)));
            short h = Half.floatToF16(f);
            float got = Half.f16ToFloat(h);
            if (Float.isInfinite(got)) {
                assertThat(Math.abs(f)).isGreaterThanOrEqualTo(65520f);
                continue;
            }
            BigDecimal x = new BigDecimal(f);
            BigDecimal d = new BigDecimal(got).subtract(x).abs();
            float down = Half.f16ToFloat((short) (h - 1)), up = Half.f16ToFloat((short) (h + 1));
            for (float nb : new float[]{down, up}) {
                if (Float.isNaN(nb) || Float.isInfinite(nb) || Math.signum(nb) * Math.signum(got) < 0) continue;
                int c = d.compareTo(new BigDecimal(nb).subtract(x).abs());
                assertThat(c <= 0).as("%s -> %s (neighbour %s closer)", f, got, nb).isTrue();
                if (c == 0) assertThat(h & 1).isZero();
            }
        }
    }

    @Test
    void vectorBf16ConversionAgreesWithScalarOnEveryBitPattern() {
        int lanes = VectorKernels.L;
        short[] buf = new short[lanes];
        for (int base = 0; base < 65536; base += lanes) {
            for (int i = 0; i < lanes; i++) buf[i] = (short) (base + i);
            jdk.incubator.vector.ShortVector sv = jdk.incubator.vector.ShortVector.fromArray(VectorKernels.S, buf, 0);
            float[] bf16 = VectorKernels.bf16(sv).toArray();
            for (int i = 0; i < lanes; i++) {
                assertThat(Float.floatToRawIntBits(bf16[i])).as("bf16 %04x", buf[i]).isEqualTo(Float.floatToRawIntBits(Half.bf16ToFloat(buf[i])));
            }
        }
    }
}
