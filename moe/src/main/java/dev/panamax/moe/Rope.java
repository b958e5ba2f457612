package dev.panamax.moe;

import dev.panamax.runtime.Tensor;

/**
 * Rotary embedding tables for DeepSeek-V3: interleaved pairs {@code (x[2i], x[2i+1])} rotated
 * by {@code pos * f_i}, with {@code f_i = theta^(-2i/R)} and, when YaRN is active, the
 * frequencies of the slow dims divided by {@code factor} along a linear ramp between the
 * correction dims of {@code beta_fast} and {@code beta_slow}. Frequencies and angles are
 * computed in float32, as the official code does.
 */
public final class Rope {
    private final float[] invFreq;

    /** Tables for a config. */
    public Rope(DeepSeekConfig cfg) {
        int d = cfg.qkRopeHeadDim();
        float[] f = new float[d / 2];
        for (int i = 0; i < d / 2; i++) f[i] = (float) (1.0 / Math.pow((float) cfg.ropeTheta(), (float) (2 * i) / d));
        if (cfg.yarnActive()) {
            DeepSeekConfig.Yarn y = cfg.yarn();
            double base = cfg.ropeTheta();
            int orig = y.originalMaxPositionEmbeddings();
            double low = Math.max(Math.floor(corrDim(y.betaFast(), d, base, orig)), 0);
            double high = Math.min(Math.ceil(corrDim(y.betaSlow(), d, base, orig)), d - 1);
            if (low == high) high += 0.001;
            for (int i = 0; i < d / 2; i++) {
                float ramp = (float) Math.min(1, Math.max(0, ((float) i - low) / (high - low)));
                float smooth = 1 - ramp;
                f[i] = f[i] / (float) y.factor() * (1 - smooth) + f[i] * smooth;
            }
        }
        invFreq = f;
    }

    private static double corrDim(double rotations, int dim, double base, int maxLen) {
        return dim * Math.log(maxLen / (rotations * 2 * Math.PI)) / (2 * Math.log(base));
    }

    /** The frequencies f_i (R/2 values). */
    public float[] invFreq() {
        return invFreq.clone();
    }

    /** cos and sin (T, R/2) of positions {@code start .. start+t-1}, F32. */
    public Tensor[] cosSin(long start, long t) {
        int h = invFreq.length;
        float[] c = new float[(int) (t * h)], s = new float[(int) (t * h)];
        for (int p = 0; p < t; p++) {
            for (int i = 0; i < h; i++) {
                float angle = (float) (start + p) * invFreq[i];
                c[p * h + i] = (float) Math.cos(angle);
                s[p * h + i] = (float) Math.sin(angle);
            }
        }
        return new Tensor[]{Tensor.of(c, t, h), Tensor.of(s, t, h)};
    }
}
