package dev.panamax.runtime;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Ops against plain double-precision loops written here, independent of the kernels. Runs with
 * the active kernels (vector by default; scalar in the build's "vector-off" execution).
 */
@org.junit.jupiter.api.extension.ExtendWith(dev.panamax.runtime.ScopePerTest.class)
class TensorOpsTest {
    private static double[] seq(int n, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = r.nextDouble(-2, 2);
        return d;
    }

    private static float[] f(double[] d) {
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) out[i] = (float) d[i];
        return out;
    }

    @Test
    void viewsShareStorageAndContiguousCopiesOnlyWhenNeeded() {
        Tensor a = Tensor.arange(DType.F32, 24).view(2, 3, 4);
        Tensor t = a.transpose(0, 2);
        assertThat(t.dims()).containsExactly(4, 3, 2);
        assertThat(t.isContiguous()).isFalse();
        assertThat(t.getDouble(3, 2, 1)).isEqualTo(a.getDouble(1, 2, 3));
        t.setDouble(-5, 3, 2, 1);
        assertThat(a.getDouble(1, 2, 3)).isEqualTo(-5);
        assertThat(a.contiguous()).isSameAs(a);
        Tensor c = t.contiguous();
        assertThat(c).isNotSameAs(t);
        assertThat(c.isContiguous()).isTrue();
        assertThat(c.toFloatArray()).containsExactly(t.toFloatArray());
        Tensor p = a.permute(2, 0, 1);
        assertThat(p.getDouble(3, 1, 2)).isEqualTo(a.getDouble(1, 2, 3));
        Tensor s = a.narrow(2, 1, 2);
        assertThat(s.dims()).containsExactly(2, 3, 2);
        assertThat(s.getDouble(1, 0, 0)).isEqualTo(a.getDouble(1, 0, 1));
        Tensor sel = a.select(1, 2);
        assertThat(sel.dims()).containsExactly(2, 4);
        assertThat(sel.getDouble(1, 3)).isEqualTo(a.getDouble(1, 2, 3));
        Tensor e = Tensor.of(new float[]{1, 2, 3}).expand(4, 3);
        assertThat(e.shape().stride(0)).isZero();
        assertThat(e.toFloatArray()).containsExactly(1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3);
        assertThat(a.reshape(6, -1).dims()).containsExactly(6, 4);
        assertThat(t.reshape(-1).toFloatArray()).containsExactly(t.contiguous().view(-1).toFloatArray());
        assertThatThrownBy(() -> t.view(24)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> a.reshape(5, -1)).hasMessageContaining("cannot reshape");
        assertThat(a.unsqueeze(1).dims()).containsExactly(2, 1, 3, 4);
        assertThat(a.unsqueeze(-1).squeeze(-1).dims()).containsExactly(2, 3, 4);
    }

    @Test
    void broadcastingBinaryOpsMatchLoops() {
        double[] x = seq(2 * 3 * 4, 1), y = seq(3 * 1, 2);
        Tensor a = Tensor.of(f(x), 2, 3, 4), b = Tensor.of(f(y), 3, 1);
        Tensor sum = a.add(b), prod = a.mul(b), quot = a.div(b), diff = a.sub(b), mx = a.maximum(b);
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 3; j++) {
                for (int k = 0; k < 4; k++) {
                    double xv = (float) x[(i * 3 + j) * 4 + k], yv = (float) y[j];
                    assertThat(sum.getDouble(i, j, k)).isCloseTo(xv + yv, within(1e-6));
                    assertThat(prod.getDouble(i, j, k)).isCloseTo(xv * yv, within(1e-6));
                    assertThat(quot.getDouble(i, j, k)).isCloseTo(xv / yv, within(1e-4 * Math.abs(xv / yv) + 1e-6));
                    assertThat(diff.getDouble(i, j, k)).isCloseTo(xv - yv, within(1e-6));
                    assertThat(mx.getDouble(i, j, k)).isEqualTo(Math.max(xv, yv));
                }
            }
        }
        assertThatThrownBy(() -> a.add(Tensor.zeros(DType.F32, 5))).hasMessageContaining("cannot be broadcast");
    }

    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void unaryOpsMatchMath(UnaryOp op) {
        double[] x = seq(37, 3);
        if (op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT) for (int i = 0; i < x.length; i++) x[i] = Math.abs(x[i]) + 0.05;
        float[] got = Tensor.of(f(x)).apply(op).toFloatArray();
        for (int i = 0; i < x.length; i++) {
            double v = (float) x[i];
            double want = switch (op) {
                case NEG -> -v;
                case EXP -> Math.exp(v);
                case LOG -> Math.log(v);
                case SQRT -> Math.sqrt(v);
                case RSQRT -> 1 / Math.sqrt(v);
                case SIGMOID -> 1 / (1 + Math.exp(-v));
                case SILU -> v / (1 + Math.exp(-v));
                case TANH -> Math.tanh(v);
                case ABS -> Math.abs(v);
                case RELU -> Math.max(v, 0);
                case SQUARE -> v * v;
                case RECIPROCAL -> 1 / v;
            };
            assertThat((double) got[i]).as("%s(%s)", op, v).isCloseTo(want, within(2e-6 + 2e-6 * Math.abs(want)));
        }
    }

    @Test
    void reductionsOverEveryDim() {
        double[] x = seq(3 * 4 * 5, 4);
        Tensor a = Tensor.of(f(x), 3, 4, 5);
        for (int d = 0; d < 3; d++) {
            Tensor s = a.sum(d, true), m = a.mean(d, false), mx = a.max(d, false), am = a.argmax(d, false);
            assertThat(s.rank()).isEqualTo(3);
            assertThat(m.rank()).isEqualTo(2);
            long[] dims = {3, 4, 5};
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 4; j++) {
                    for (int k = 0; k < 5; k++) {
                        int[] idx = {i, j, k};
                        if (idx[d] != 0) continue;
                        double sum = 0, best = Double.NEGATIVE_INFINITY;
                        long arg = -1;
                        for (int r = 0; r < dims[d]; r++) {
                            idx[d] = r;
                            double v = (float) x[(idx[0] * 4 + idx[1]) * 5 + idx[2]];
                            sum += v;
                            if (v > best) {
                                best = v;
                                arg = r;
                            }
                        }
                        idx[d] = 0;
                        long[] keep = {idx[0], idx[1], idx[2]};
                        long[] drop = new long[2];
                        for (int q = 0, w = 0; q < 3; q++) if (q != d) drop[w++] = idx[q];
                        assertThat(s.getDouble(keep)).isCloseTo(sum, within(1e-5));
                        assertThat(m.getDouble(drop)).isCloseTo(sum / dims[d], within(1e-5));
                        assertThat(mx.getDouble(drop)).isEqualTo(best);
                        assertThat(am.getLong(drop)).isEqualTo(arg);
                    }
                }
            }
        }
        assertThat(a.sum().item()).isCloseTo(java.util.Arrays.stream(x).map(v -> (float) v).sum(), within(1e-4));
    }

    @Test
    void matmulMatchesLoopsIncludingTransposedAndBatched() {
        int b = 3, m = 5, k = 7, n = 4;
        double[] x = seq(b * m * k, 5), y = seq(k * n, 6);
        Tensor a = Tensor.of(f(x), b, m, k), w = Tensor.of(f(y), k, n);
        Tensor c = a.matmul(w);
        Tensor ct = a.matmul(w.t().contiguous().t());
        Tensor out = Tensor.zeros(DType.F32, b, m, n);
        a.matmulInto(w, out);
        for (int bi = 0; bi < b; bi++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += (float) x[(bi * m + i) * k + p] * (float) y[p * n + j];
                    assertThat(c.getDouble(bi, i, j)).isCloseTo(s, within(1e-5));
                    assertThat(ct.getDouble(bi, i, j)).isCloseTo(s, within(1e-5));
                    assertThat(out.getDouble(bi, i, j)).isCloseTo(s, within(1e-5));
                }
            }
        }
        Tensor v = Tensor.of(f(seq(k, 7)));
        assertThat(w.t().matmul(v).dims()).containsExactly(n);
        assertThat(v.matmul(w).dims()).containsExactly(n);
        assertThatThrownBy(() -> a.matmul(a)).hasMessageContaining("do not match");
    }

    @Test
    void softmaxIsStableAndHonoursMinusInfinityMasks() {
        Tensor x = Tensor.of(new float[]{1000, 1001, Float.NEGATIVE_INFINITY, 999}, 1, 4);
        float[] p = x.softmax(-1).toFloatArray();
        double z = Math.exp(0) + Math.exp(1) + Math.exp(-1);
        assertThat((double) p[0]).isCloseTo(1 / z, within(1e-6));
        assertThat((double) p[1]).isCloseTo(Math.E / z, within(1e-6));
        assertThat(p[2]).isZero();
        float[] lp = x.logSoftmax(-1).toFloatArray();
        assertThat((double) lp[1]).isCloseTo(1 - Math.log(z), within(1e-5));
        assertThat(lp[2]).isEqualTo(Float.NEGATIVE_INFINITY);
        Tensor scores = Tensor.zeros(DType.F32, 3, 3).add(Tensor.causalMask(3, 3, 0));
        float[] sm = scores.softmax(-1).toFloatArray();
        assertThat(sm).containsExactly(1f, 0f, 0f, 0.5f, 0.5f, 0f, 1f / 3, 1f / 3, 1f / 3);
    }

    @Test
    void rmsNormMatchesFormula() {
        double[] x = seq(2 * 6, 8), w = seq(6, 9);
        float[] got = Tensor.of(f(x), 2, 6).rmsNorm(Tensor.of(f(w)), 1e-6).toFloatArray();
        for (int r = 0; r < 2; r++) {
            double ss = 0;
            for (int i = 0; i < 6; i++) ss += (float) x[r * 6 + i] * (float) x[r * 6 + i];
            double inv = 1 / Math.sqrt(ss / 6 + 1e-6);
            for (int i = 0; i < 6; i++) assertThat((double) got[r * 6 + i]).isCloseTo((float) x[r * 6 + i] * inv * (float) w[i], within(1e-5));
        }
    }

    @Test
    void ropeRotatesAdjacentPairsAsComplexNumbers() {
        // x = (1, 0, 0, 2): pair 0 rotated by theta0, pair 1 by theta1
        double t0 = 0.3, t1 = -1.1;
        Tensor x = Tensor.of(new float[]{1, 0, 0, 2}, 1, 4);
        Tensor cos = Tensor.of(new float[]{(float) Math.cos(t0), (float) Math.cos(t1)}, 1, 2);
        Tensor sin = Tensor.of(new float[]{(float) Math.sin(t0), (float) Math.sin(t1)}, 1, 2);
        float[] y = x.rope(cos, sin).toFloatArray();
        // (1 + 0i) e^{i t0} = cos t0 + i sin t0 ; (0 + 2i) e^{i t1} = -2 sin t1 + 2i cos t1
        assertThat((double) y[0]).isCloseTo(Math.cos(t0), within(1e-6));
        assertThat((double) y[1]).isCloseTo(Math.sin(t0), within(1e-6));
        assertThat((double) y[2]).isCloseTo(-2 * Math.sin(t1), within(1e-6));
        assertThat((double) y[3]).isCloseTo(2 * Math.cos(t1), within(1e-6));
    }

    @Test
    void embeddingIndexSelectGatherScatterAdd() {
        Tensor w = Tensor.arange(DType.F32, 12).view(4, 3);
        Tensor ids = Tensor.ofLongs(new long[]{3, 0, 3}, 1, 3);
        Tensor e = Tensor.embedding(w, ids);
        assertThat(e.dims()).containsExactly(1, 3, 3);
        assertThat(e.toFloatArray()).containsExactly(9, 10, 11, 0, 1, 2, 9, 10, 11);
        assertThatThrownBy(() -> Tensor.embedding(w, Tensor.ofLongs(new long[]{4}))).hasMessageContaining("token id 4");
        assertThat(w.indexSelect(1, Tensor.ofLongs(new long[]{2, 0})).toFloatArray()).containsExactly(2, 0, 5, 3, 8, 6, 11, 9);
        Tensor g = w.gather(1, Tensor.ofLongs(new long[]{0, 2, 1, 1, 2, 0, 0, 0}, 4, 2));
        assertThat(g.toFloatArray()).containsExactly(0, 2, 4, 4, 8, 6, 9, 9);
        Tensor acc = Tensor.zeros(DType.F32, 3).scatterAdd(0, Tensor.ofLongs(new long[]{0, 2, 0, 1}), Tensor.of(new float[]{1, 2, 3, 4}));
        assertThat(acc.toFloatArray()).containsExactly(4, 4, 2);
        Tensor acc2 = Tensor.zeros(DType.F32, 2, 3).scatterAdd(1, Tensor.ofLongs(new long[]{2, 2, 0, 1}, 2, 2), Tensor.of(new float[]{1, 2, 3, 4}, 2, 2));
        assertThat(acc2.toFloatArray()).containsExactly(0, 0, 3, 3, 4, 0);
    }

    @Test
    void topkSortedWithIndicesOverAnyDim() {
        Tensor x = Tensor.of(new float[]{0.1f, 0.9f, 0.5f, 0.9f, -1f, 0.7f}, 2, 3);
        Tensor.TopK t = x.topk(2, 1, true);
        assertThat(t.values().toFloatArray()).containsExactly(0.9f, 0.5f, 0.9f, 0.7f);
        assertThat(t.indices().toLongArray()).containsExactly(1, 2, 0, 2);
        Tensor.TopK small = x.topk(1, 0, false);
        assertThat(small.values().toFloatArray()).containsExactly(0.1f, -1f, 0.5f);
        assertThat(small.indices().toLongArray()).containsExactly(0, 1, 0);
        double[] big = seq(500, 11);
        Tensor.TopK b = Tensor.of(f(big)).topk(10, 0, true);
        double[] sorted = java.util.Arrays.stream(big).map(v -> (float) v).sorted().toArray();
        for (int i = 0; i < 10; i++) assertThat(b.values().getDouble(i)).isEqualTo(sorted[499 - i]);
    }

    @Test
    void concatSplitWhereMaskedFill() {
        Tensor a = Tensor.arange(DType.F32, 6).view(2, 3), b = Tensor.full(DType.F32, 7, 2, 1);
        Tensor c = Tensor.concat(List.of(a, b), 1);
        assertThat(c.toFloatArray()).containsExactly(0, 1, 2, 7, 3, 4, 5, 7);
        List<Tensor> parts = c.split(1, 3, 1);
        assertThat(parts.get(0).toFloatArray()).containsExactly(a.toFloatArray());
        assertThat(parts.get(1).toFloatArray()).containsExactly(7, 7);
        Tensor mask = Tensor.ofInts(new int[]{1, 0, 1}).to(DType.U8);
        assertThat(a.maskedFill(mask, -1).toFloatArray()).containsExactly(-1, 1, -1, -1, 4, -1);
        assertThat(Tensor.where(mask, a, Tensor.scalar(9)).toFloatArray()).containsExactly(0, 9, 2, 3, 9, 5);
        assertThat(Tensor.causalMask(2, 4, 2).toFloatArray()).containsExactly(0, 0, 0, Float.NEGATIVE_INFINITY, 0, 0, 0, 0);
    }

    @Test
    void f64TensorsComputeInDouble() {
        Tensor a = Tensor.of(new double[]{1e-9, 1, 2}, 1, 3);
        Tensor s = a.add(1.0).sub(1.0);
        assertThat(s.dtype()).isEqualTo(DType.F64);
        assertThat(s.getDouble(0, 0)).isCloseTo(1e-9, within(1e-15)); // float would give 0
        Tensor m = a.matmul(a.t());
        assertThat(m.item()).isCloseTo(1e-18 + 1 + 4, within(1e-15));
        assertThat(a.softmax(-1).sum().item()).isCloseTo(1.0, within(1e-15));
    }

    @Test
    void creationIsSeededAndConversionsRoundTrip() {
        assertThat(Tensor.randn(DType.F32, 42, 1.0, 100).toFloatArray()).containsExactly(Tensor.randn(DType.F32, 42, 1.0, 100).toFloatArray());
        assertThat(Tensor.randn(DType.F32, 42, 1.0, 100).toFloatArray()).isNotEqualTo(Tensor.randn(DType.F32, 43, 1.0, 100).toFloatArray());
        float[] u = Tensor.uniform(DType.F32, 1, -1, 1, 1000).toFloatArray();
        for (float v : u) assertThat(v).isBetween(-1f, 1f);
        assertThat(Tensor.full(DType.BF16, 3.0, 2).toFloatArray()).containsExactly(3, 3);
        assertThat(Tensor.arange(DType.I64, 1, 10, 3).toLongArray()).containsExactly(1, 4, 7);
        Tensor x = Tensor.of(new float[]{1.5f, -2.25f, 65504f});
        assertThat(x.to(DType.F16).to(DType.F32).toFloatArray()).containsExactly(1.5f, -2.25f, 65504f);
        assertThat(x.to(DType.BF16).to(DType.F32).toFloatArray()).containsExactly(1.5f, -2.25f, 65536f);
        assertThat(x.to(DType.I32).toLongArray()).containsExactly(1, -2, 65504);
    }
}
