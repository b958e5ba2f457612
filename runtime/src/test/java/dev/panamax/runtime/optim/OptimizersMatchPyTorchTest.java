package dev.panamax.runtime.optim;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.io.Json;
import dev.panamax.runtime.nn.Parameter;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * AdamW, SGD and gradient clipping against PyTorch 1.13 on a fixture we generated
 * ({@code src/test/resources/optim/make_optim_fixture.py}): six steps with fixed gradients.
 */
@org.junit.jupiter.api.extension.ExtendWith(dev.panamax.runtime.ScopePerTest.class)
class OptimizersMatchPyTorchTest {
    @SuppressWarnings("unchecked")
    static Map<String, Object> fixture() throws IOException {
        try (InputStream in = OptimizersMatchPyTorchTest.class.getResourceAsStream("/optim/optim_fixture.json")) {
            return Json.parseObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    static float[] floats(Object list) {
        List<?> l = (List<?>) list;
        float[] f = new float[l.size()];
        for (int i = 0; i < f.length; i++) f[i] = ((Number) l.get(i)).floatValue();
        return f;
    }

    static long[] dims(Object shape) {
        return ((List<?>) shape).stream().mapToLong(o -> ((Number) o).longValue()).toArray();
    }

    @SuppressWarnings("unchecked")
    private void runCase(String name, Function<List<Parameter>, Optimizer> make, double tol) throws IOException {
        Map<String, Object> fx = fixture();
        List<Object> shapes = (List<Object>) fx.get("shapes");
        List<Object> init = (List<Object>) fx.get("init");
        List<Object> grads = (List<Object>) fx.get("grads");
        List<Object> expected = (List<Object>) ((Map<String, Object>) fx.get("cases")).get(name);
        List<Parameter> ps = new ArrayList<>();
        for (int i = 0; i < shapes.size(); i++) ps.add(new Parameter("p" + i, Tensor.of(floats(init.get(i)), dims(shapes.get(i))).requiresGrad(true)));
        Optimizer opt = make.apply(ps);
        for (int k = 0; k < expected.size(); k++) {
            for (int i = 0; i < ps.size(); i++) {
                Tensor p = ps.get(i).value();
                // hand the optimiser PyTorch's gradient for this step through backward: d(sum(p * g))/dp = g
                Tensor g = Tensor.of(floats(((List<Object>) grads.get(k)).get(i)), p.dims());
                p.zeroGrad();
                p.mul(g).sum().backward();
            }
            opt.step();
            for (int i = 0; i < ps.size(); i++) {
                float[] want = floats(((List<Object>) expected.get(k)).get(i));
                float[] got = ps.get(i).value().toFloatArray();
                for (int j = 0; j < want.length; j++) {
                    assertThat((double) got[j]).as("%s step %d param %d [%d]", name, k + 1, i, j).isCloseTo(want[j], within(tol + tol * Math.abs(want[j])));
                }
            }
        }
    }

    @Test
    void adamWWithDefaultsMatchesPyTorch() throws IOException {
        runCase("adamw_defaults_lr1e-2", ps -> new AdamW(ps, 1e-2), 2e-7);
    }

    @Test
    void adamWWithCustomHyperParametersMatchesPyTorch() throws IOException {
        runCase("adamw_wd0.1_b0.8_0.99_eps1e-6", ps -> new AdamW(ps, 3e-2, 0.8, 0.99, 1e-6, 0.1), 2e-7);
    }

    @Test
    void sgdNesterovMatchesPyTorch() throws IOException {
        runCase("sgd_momentum0.9_nesterov_wd0.01", ps -> new Sgd(ps, 0.05, 0.9, 0, 0.01, true), 2e-7);
    }

    @Test
    void sgdDampenedMatchesPyTorch() throws IOException {
        runCase("sgd_momentum0.5_dampening0.2", ps -> new Sgd(ps, 0.1, 0.5, 0.2, 0, false), 2e-7);
    }

    @Test
    void adamWFirstStepByHand() {
        // step 1, no decay: m = 0.1 g, v = 0.001 g^2, mhat = g, vhat = g^2 -> p -= lr * g / (|g| + eps)
        Tensor p = Tensor.of(new float[]{1f, -2f}).requiresGrad(true);
        List<Parameter> ps = List.of(new Parameter("p", p));
        p.mul(Tensor.of(new float[]{0.5f, -4f})).sum().backward();
        new AdamW(ps, 0.1, 0.9, 0.999, 1e-8, 0).step();
        assertThat(p.toFloatArray()[0]).isCloseTo(1f - 0.1f * 0.5f / (0.5f + 1e-8f), within(1e-6f));
        assertThat(p.toFloatArray()[1]).isCloseTo(-2f + 0.1f, within(1e-6f));
    }

    @Test
    @SuppressWarnings("unchecked")
    void clipGradNormMatchesPyTorch() throws IOException {
        Map<String, Object> clip = (Map<String, Object>) fixture().get("clip");
        List<Object> shapes = (List<Object>) fixture().get("shapes");
        List<Object> grads = (List<Object>) clip.get("grads");
        List<Object> clipped = (List<Object>) clip.get("clipped");
        List<Parameter> ps = new ArrayList<>();
        for (int i = 0; i < shapes.size(); i++) {
            Tensor p = Tensor.zeros(DType.F32, dims(shapes.get(i))).requiresGrad(true);
            p.mul(Tensor.of(floats(grads.get(i)), dims(shapes.get(i)))).sum().backward();
            ps.add(new Parameter("p" + i, p));
        }
        double norm = GradClip.clipGradNorm(ps, ((Number) clip.get("max_norm")).doubleValue());
        assertThat(norm).isCloseTo(((Number) clip.get("total_norm")).doubleValue(), within(1e-5));
        for (int i = 0; i < ps.size(); i++) {
            float[] want = floats(clipped.get(i)), got = ps.get(i).value().grad().toFloatArray();
            for (int j = 0; j < want.length; j++) assertThat(got[j]).isCloseTo(want[j], within(1e-6f));
        }
    }

    @Test
    void warmupCosineSchedule() {
        LrSchedule s = LrSchedule.warmupCosine(1.0, 10, 110, 0.1);
        assertThat(s.lr(0)).isCloseTo(0.1, within(1e-12));
        assertThat(s.lr(9)).isCloseTo(1.0, within(1e-12));
        assertThat(s.lr(10)).isCloseTo(1.0, within(1e-12));
        assertThat(s.lr(60)).isCloseTo(0.55, within(1e-12));
        assertThat(s.lr(110)).isCloseTo(0.1, within(1e-12));
        assertThat(s.lr(500)).isCloseTo(0.1, within(1e-12));
        assertThat(LrSchedule.constant(3e-4).lr(12345)).isEqualTo(3e-4);
    }
}
