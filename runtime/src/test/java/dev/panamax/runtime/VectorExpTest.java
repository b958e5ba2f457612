package dev.panamax.runtime;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The vector exp used by softmax, sigmoid and SiLU: within 2 ulp of Math.exp, with its specials. */
class VectorExpTest {
    private static float vexp(float x) {
        return VectorKernels.exp(FloatVector.broadcast(VectorKernels.F, x)).lane(0);
    }

    @Test
    void withinTwoUlpOverTheWholeRange() {
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < 200_000; i++) {
            float x = (float) r.nextDouble(-103, 88.7);
            float want = (float) Math.exp(x), got = vexp(x);
            if (want < Float.MIN_NORMAL) {
                assertThat(Math.abs(got - want)).as("exp(%s)", x).isLessThanOrEqualTo(2 * Float.MIN_VALUE);
            } else {
                assertThat(Math.abs(got - want)).as("exp(%s) = %s, Math.exp %s", x, got, want).isLessThanOrEqualTo(2 * Math.ulp(want));
            }
        }
    }

    @Test
    void specialValues() {
        assertThat(vexp(Float.NEGATIVE_INFINITY)).isEqualTo(0f);
        assertThat(vexp(-200f)).isEqualTo(0f);
        assertThat(vexp(Float.POSITIVE_INFINITY)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(vexp(89f)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(vexp(Float.NaN)).isNaN();
        assertThat(vexp(0f)).isEqualTo(1f);
        assertThat(VectorKernels.sum(FloatVector.broadcast(VectorKernels.F, 0.5f))).isEqualTo(0.5f * VectorKernels.L);
    }
}
