package dev.panamax.runtime;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What {@code panamax.cuda.mlaKernel=tune} accepts as the same MLA decode as the CUDA-core
 * kernel's ({@link CudaBackend#mlaDisagreement}) before it times a tensor-core kernel: the roundings
 * of a correct kernel pass, the results of a wrong one do not. No GPU needed.
 */
class MlaTuneAgreementTest {

    private static float[] outputs() {
        SplittableRandom rnd = new SplittableRandom(7);
        float[] v = new float[4 * 16 * 512];
        for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * 0.3);
        return v;
    }

    @Test
    void aCorrectKernelsRoundingsAgree() {
        float[] want = outputs();
        assertThat(CudaBackend.mlaDisagreement(want, want.clone())).isNull();
        float[] bf16 = want.clone();
        for (int i = 0; i < bf16.length; i++) bf16[i] = Half.bf16ToFloat(Half.floatToBf16(bf16[i]));
        assertThat(CudaBackend.mlaDisagreement(want, bf16)).as("every output rounded to BF16").isNull();
        float[] shifted = want.clone();
        for (int i = 0; i < shifted.length; i++) shifted[i] *= 1.03f;   // weights a few percent off, as query rounding can make them at sharp peaks
        assertThat(CudaBackend.mlaDisagreement(want, shifted)).isNull();
    }

    @Test
    void aWrongKernelsResultsDisagree() {
        float[] want = outputs();
        float[] nan = want.clone();
        nan[100] = Float.NaN;
        assertThat(CudaBackend.mlaDisagreement(want, nan)).contains("output 100 is NaN");
        assertThat(CudaBackend.mlaDisagreement(want, new float[want.length])).as("nothing written").contains("an error of");
        float[] swapped = want.clone();   // two heads' rows exchanged: a layout fault
        System.arraycopy(want, 0, swapped, 512, 512);
        System.arraycopy(want, 512, swapped, 0, 512);
        assertThat(CudaBackend.mlaDisagreement(want, swapped)).isNotNull();
        float[] scaled = want.clone();   // every output 15% off: under a quarter of the largest, far over the rms bound
        for (int i = 0; i < scaled.length; i++) scaled[i] *= 1.15f;
        assertThat(CudaBackend.mlaDisagreement(want, scaled)).contains("an rms error of");
        float[] oneRow = want.clone();   // one head's row of another sequence's values
        float largest = 0;
        for (float v : want) largest = Math.max(largest, Math.abs(v));
        Arrays.fill(oneRow, 2048, 2560, largest);
        assertThat(CudaBackend.mlaDisagreement(want, oneRow)).contains("an error of");
        assertThat(CudaBackend.mlaDisagreement(want, Arrays.copyOf(want, 10))).contains("10 outputs for " + want.length);
    }
}
