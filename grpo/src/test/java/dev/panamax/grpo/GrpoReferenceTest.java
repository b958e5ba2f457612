package dev.panamax.grpo;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.io.ConfigJson;
import dev.panamax.runtime.io.SafetensorsFile;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every GRPO reference case (../shared/reference/grpo, or {@code -Dpanamax.reference.grpo=DIR})
 * against TRL's semantics: loss, advantages, per-token log-probs, ratio, KL, per-token loss,
 * clip flags, metrics and the gradient with respect to the logits through our autograd; once
 * computing in float64 (float64 tolerances) and once in float32 (float32 tolerances).
 */
class GrpoReferenceTest {
    static Path casesRoot() {
        String p = System.getProperty("panamax.reference.grpo");
        if (p != null && !p.isBlank()) return Path.of(p);
        Path root = Path.of(System.getProperty("panamax.root", "..")).toAbsolutePath().normalize();
        Path shared = root.resolve("../shared/reference/grpo").normalize();
        return Files.isDirectory(shared) ? shared : Path.of("../../shared/reference/grpo").toAbsolutePath().normalize();
    }

    @TestFactory
    Stream<DynamicContainer> everyCase() throws IOException {
        Path root = casesRoot();
        assertThat(root).as("GRPO reference cases folder").isDirectory();
        List<Path> cases;
        try (Stream<Path> s = Files.list(root)) {
            cases = s.filter(d -> Files.isRegularFile(d.resolve("case.json"))).sorted().toList();
        }
        assertThat(cases).as("cases under " + root).isNotEmpty();
        return cases.stream().map(c -> DynamicContainer.dynamicContainer(c.getFileName().toString(), Stream.of(
                DynamicTest.dynamicTest("float64", () -> check(c, DType.F64)),
                DynamicTest.dynamicTest("float32", () -> check(c, DType.F32)))));
    }

    static GrpoConfig config(ConfigJson c) {
        return new GrpoConfig(c.requireInt("num_generations"), c.requireDouble("beta"), c.requireDouble("epsilon_low"),
                c.requireDouble("epsilon_high"), GrpoConfig.LossType.parse(c.requireString("loss_type")),
                GrpoConfig.ScaleRewards.parse(c.requireString("scale_rewards")), c.requireDouble("temperature"),
                c.requireInt("max_completion_length"), 1);
    }

    static void close(String what, double[] got, double[] want, double[] mask, double abs, double rel) {
        assertThat(got).as(what + " length").hasSameSizeAs(want);
        for (int i = 0; i < got.length; i++) {
            if (mask != null && mask[i] == 0) continue;
            if (!(Math.abs(got[i] - want[i]) <= abs + rel * Math.abs(want[i]))) {
                throw new AssertionError(what + "[" + i + "] is " + got[i] + ", expected " + want[i] + " (tolerance " + abs + " + " + rel + "*|expected|)");
            }
        }
    }

    static void check(Path dir, DType dt) {
        boolean f64 = dt == DType.F64;
        ConfigJson c = ConfigJson.read(dir.resolve("case.json"));
        GrpoConfig cfg = config(c);
        try (Scope scope = Scope.open();
             SafetensorsFile in = SafetensorsFile.open(dir.resolve("inputs.safetensors"));
             SafetensorsFile exp = SafetensorsFile.open(dir.resolve("expected.safetensors"))) {
            Tensor logits = in.tensor("logits").to(dt).detach().copy().requiresGrad(true);
            float[] rf = in.tensor("rewards").toFloatArray();
            double[] rewards = new double[rf.length];
            for (int i = 0; i < rf.length; i++) rewards[i] = rf[i];
            Tensor mask = in.tensor("completion_mask");
            GrpoLoss.Result r = GrpoLoss.compute(cfg, logits, in.tensor("completion_ids"), mask, rewards,
                    in.contains("old_per_token_logps") ? in.tensor("old_per_token_logps") : null,
                    in.contains("ref_per_token_logps") ? in.tensor("ref_per_token_logps") : null,
                    c.requireLong("num_items_in_batch"));
            r.loss().backward();
            double[] m = mask.to(DType.F64).toDoubleArray();
            double la = f64 ? 1e-12 : 1e-6, lr = f64 ? 1e-10 : 1e-5;   // loss, advantages
            double ta = f64 ? 1e-12 : 1e-5, tr = f64 ? 1e-10 : 0;       // log-probs, ratio, kl, entropies
            close("loss", new double[]{r.loss().item()}, exp.tensor("loss").toDoubleArray(), null, la, lr);
            close("advantages", r.advantages(), exp.tensor("advantages").toDoubleArray(), null, la, lr);
            close("std_rewards", r.stdRewards(), exp.tensor("std_rewards").toDoubleArray(), null, la, lr);
            close("per_token_logps", r.perTokenLogps().detach().toDoubleArray(), exp.tensor("per_token_logps").toDoubleArray(), null, ta, tr);
            close("ratio", r.ratio().detach().toDoubleArray(), exp.tensor("ratio").toDoubleArray(), null, ta, tr);
            close("entropies", r.entropies().toDoubleArray(), exp.tensor("entropies").toDoubleArray(), null, ta, tr);
            close("per_token_loss", r.perTokenLoss().detach().toDoubleArray(), exp.tensor("per_token_loss").toDoubleArray(), m, ta, tr);
            if (exp.contains("per_token_kl")) {
                assertThat(r.perTokenKl()).as("kl").isNotNull();
                close("per_token_kl", r.perTokenKl().detach().toDoubleArray(), exp.tensor("per_token_kl").toDoubleArray(), null, ta, tr);
            } else {
                assertThat(r.perTokenKl()).as("no kl when beta is 0").isNull();
                assertThat(r.metrics()).doesNotContainKey("kl");
            }
            assertThat(r.lowClipped()).as("is_low_clipped").containsExactly(exp.tensor("is_low_clipped").toLongArray());
            assertThat(r.highClipped()).as("is_high_clipped").containsExactly(exp.tensor("is_high_clipped").toLongArray());
            double[] want = exp.tensor("grad_logits").toDoubleArray();
            double maxGrad = 0;
            for (double w : want) maxGrad = Math.max(maxGrad, Math.abs(w));
            close("grad_logits", logits.grad().toDoubleArray(), want, null, f64 ? 1e-13 : Math.max(1e-7, 1e-5 * maxGrad), f64 ? 1e-10 : 0);
            double[] g = logits.grad().toDoubleArray();
            for (int i = 0; i < g.length; i++) {
                if (m[(int) (i / logits.dim(2))] == 0) assertThat(g[i]).as("gradient at padding").isEqualTo(0.0);
            }
            ConfigJson expected = c.object("expected");
            for (Map.Entry<String, Double> e : r.metrics().entrySet()) {
                double w = expected.requireDouble(e.getKey());
                boolean clip = e.getKey().startsWith("clip_ratio");
                double tol = clip ? 1e-6 : (f64 ? 1e-9 : 1e-5) * Math.abs(w) + (f64 ? 1e-12 : 1e-6);
                assertThat(e.getValue()).as("metric " + e.getKey()).isCloseTo(w, org.assertj.core.data.Offset.offset(tol));
            }
            for (String k : List.of("reward", "reward_std", "frac_reward_zero_std", "entropy", "clip_ratio/low_mean", "clip_ratio/high_mean",
                    "clip_ratio/region_mean", "clip_ratio/low_min", "clip_ratio/high_max")) {
                assertThat(r.metrics()).as("metrics").containsKey(k);
            }
        }
    }
}
