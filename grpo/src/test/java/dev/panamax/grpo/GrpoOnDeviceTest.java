package dev.panamax.grpo;

import dev.panamax.moe.DeepSeekModel;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.nn.Parameter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The demo's training on a device follows the same training on the host: a short supervised
 * warm-up (cross-entropy, backward, clipping, AdamW, the routing-bias update), then GRPO steps
 * (rollouts with the cache on the device, the reference copy, two iterations with old
 * log-probs, the loss and its backward), then a checkpoint saved from the device and loaded into
 * a fresh trainer. Rewards are discrete, so the sampled completions and their rewards must agree
 * exactly; losses and weights to float rounding. Runs on {@link Device#EMULATED} here; a
 * GPU-tagged subclass runs it on CUDA.
 */
class GrpoOnDeviceTest {
    /** The device under test. */
    Device device() {
        return Device.EMULATED;
    }

    private static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    /** Per run: the GRPO metrics of each step and the final parameters. */
    record Run(List<Map<String, Double>> metrics, Map<String, float[]> weights) {
    }

    private static Run train(Device d, Path save) {
        CharTokenizer tok = new CharTokenizer(ArithmeticTask.ALPHABET);
        R1ZeroDemo.Settings s = new R1ZeroDemo.Settings(6, 2, 2, 4, 0.02, 0.2, 0.28, GrpoConfig.LossType.DAPO, 3e-3, 3, 0, 0, false, d);
        try (Scope scope = Scope.open(); DeepSeekModel m = DeepSeekModel.random(R1ZeroDemo.modelConfig(tok.vocabSize()), 3, DType.F32, d)) {
            R1ZeroDemo.warmup(m, tok, new ArithmeticTask(), s, QUIET);
            GrpoConfig gc = new GrpoConfig(4, 0.02, 0.2, 0.28, GrpoConfig.LossType.DAPO, GrpoConfig.ScaleRewards.GROUP, 1.0, 8, 2);
            GrpoTrainer.Options o = new GrpoTrainer.Options(3e-3, 1, 2, 1.0, 0.0, 1e-3, 3);
            List<Map<String, Double>> metrics = new ArrayList<>();
            try (GrpoTrainer t = new GrpoTrainer(m, tok, ArithmeticTask.reward(), Reward.accuracy(ArithmeticTask::answerFor), gc, o)) {
                for (int step = 0; step < 2; step++) metrics.add(t.step(GrpoTrainerTest.prompts(3, step, 2)).metrics());
                if (save != null) t.save(save);
            }
            Map<String, float[]> w = new java.util.LinkedHashMap<>();
            for (Parameter p : m.parameters()) {
                assertThat(p.value().device()).as(p.name() + " device").isEqualTo(d);
                w.put(p.name(), p.value().toFloatArray());
            }
            return new Run(metrics, w);
        }
    }

    @Test
    void warmUpAndGrpoStepsOnTheDeviceFollowTheHost(@TempDir Path dir) {
        Run host = train(Device.CPU, null);
        Path ck = dir.resolve("ck.safetensors");
        Run dev = train(device(), ck);
        for (int step = 0; step < 2; step++) {
            Map<String, Double> h = host.metrics().get(step), g = dev.metrics().get(step);
            for (String k : List.of("reward", "accuracy", "completion_length")) {
                assertThat(g.get(k)).as("step %d %s", step, k).isEqualTo(h.get(k));
            }
            for (String k : List.of("loss", "kl", "grad_norm", "entropy")) {
                assertThat(g.get(k)).as("step %d %s", step, k).isCloseTo(h.get(k), org.assertj.core.data.Offset.offset(1e-4 + 1e-3 * Math.abs(h.get(k))));
            }
        }
        host.weights().forEach((name, want) -> {
            float[] got = dev.weights().get(name);
            for (int i = 0; i < want.length; i++) {
                assertThat((double) got[i]).as(name + "[" + i + "]").isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-4 + 1e-3 * Math.abs(want[i])));
            }
        });
        // the checkpoint written from the device loads back into a trainer on the device
        CharTokenizer tok = new CharTokenizer(ArithmeticTask.ALPHABET);
        GrpoConfig gc = new GrpoConfig(4, 0.02, 0.2, 0.28, GrpoConfig.LossType.DAPO, GrpoConfig.ScaleRewards.GROUP, 1.0, 8, 2);
        try (Scope scope = Scope.open(); DeepSeekModel m = DeepSeekModel.random(R1ZeroDemo.modelConfig(tok.vocabSize()), 99, DType.F32, device());
             GrpoTrainer t = new GrpoTrainer(m, tok, ArithmeticTask.reward(), Reward.accuracy(ArithmeticTask::answerFor), gc,
                     new GrpoTrainer.Options(3e-3, 1, 2, 1.0, 0.0, 1e-3, 3))) {
            t.load(ck);
            assertThat(t.step()).isEqualTo(2);
            Tensor head = m.stateDict().get("lm_head.weight");
            assertThat(head.device()).isEqualTo(device());
            assertThat(head.toFloatArray()).containsExactly(dev.weights().get("lm_head.weight"));
        }
    }
}
