package dev.panamax.runtime.nn;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import dev.panamax.runtime.io.Safetensors;
import dev.panamax.runtime.io.SafetensorsFile;
import dev.panamax.runtime.optim.AdamW;
import dev.panamax.runtime.optim.GradClip;
import dev.panamax.runtime.optim.LrSchedule;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** End-to-end training of a tiny character-level transformer: learning, memory, resume, state dicts. */
class TrainingTest {
    static final String TEXT = "the quick brown fox jumps over the lazy dog. "
            + "pack my box with five dozen liquor jugs. "
            + "how vexingly quick daft zebras jump! ";
    static final String CHARS = TEXT.chars().distinct().sorted().collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
    static final int T = 24, B = 8;

    /** A seeded batch of (ids, next-char targets) windows of the text. */
    static Tensor[] batch(SplittableRandom r) {
        long[] ids = new long[B * T], tg = new long[B * T];
        for (int b = 0; b < B; b++) {
            int start = r.nextInt(TEXT.length() - T - 1);
            for (int t = 0; t < T; t++) {
                ids[b * T + t] = CHARS.indexOf(TEXT.charAt(start + t));
                tg[b * T + t] = CHARS.indexOf(TEXT.charAt(start + t + 1));
            }
        }
        return new Tensor[]{Tensor.ofLongs(ids, B, T), Tensor.ofLongs(tg, B, T)};
    }

    record Run(TinyCharModel model, AdamW opt, Scope weights) implements AutoCloseable {
        static Run create(long seed) {
            Scope w = Scope.longLived("weights");
            try (var e = w.enter()) {
                TinyCharModel m = new TinyCharModel(CHARS.length(), 32, 2, 2, seed);
                return new Run(m, new AdamW(m.parameters(), 3e-3), w);
            }
        }

        double step(SplittableRandom data, LrSchedule schedule, long step) {
            try (Scope s = Scope.open()) {
                Tensor[] xy = batch(data);
                opt.zeroGrad();
                Tensor loss = model.loss(xy[0], xy[1]);
                loss.backward();
                GradClip.clipGradNorm(model.parameters(), 1.0);
                schedule.apply(opt, step);
                opt.step();
                return loss.item();
            }
        }

        @Override
        public void close() {
            weights.close();
        }
    }

    /** The character model learns the text: loss from ~ln(V) to below 0.6 nats in 300 seeded steps. */
    @Test
    void tinyCharModelLearnsTheText() {
        try (Run run = Run.create(1)) {
            SplittableRandom data = new SplittableRandom(7);
            LrSchedule lr = LrSchedule.warmupCosine(1e-2, 20, 300, 1e-3);
            double first = run.step(data, lr, 0), last = first;
            for (int step = 1; step < 300; step++) last = run.step(data, lr, step);
            assertThat(first).isGreaterThan(Math.log(CHARS.length()) - 0.7);
            assertThat(last).as("final training loss").isLessThan(0.6);
        }
    }

    /** A training step's activations and gradients are freed when the step ends: memory is flat from step 10 on. */
    @Test
    void memoryDoesNotGrowOverAFewHundredSteps() {
        long before = Scope.offHeapBytes();
        try (Run run = Run.create(2)) {
            SplittableRandom data = new SplittableRandom(3);
            long afterTenth = -1;
            for (int step = 0; step < 250; step++) {
                run.step(data, LrSchedule.constant(1e-3), step);
                if (step == 9) afterTenth = Scope.offHeapBytes();
            }
            assertThat(Scope.offHeapBytes()).isEqualTo(afterTenth);
        }
        assertThat(Scope.offHeapBytes()).isEqualTo(before);
    }

    /** Saving parameters and optimiser state and loading them into a fresh run continues bit for bit. */
    @Test
    void resumeFromSavedStateIsExact(@TempDir Path dir) {
        LrSchedule lr = LrSchedule.warmupCosine(5e-3, 5, 40, 1e-4);
        float[] expected;
        try (Run a = Run.create(5)) {
            SplittableRandom data = new SplittableRandom(11);
            for (int s = 0; s < 10; s++) a.step(data, lr, s);
            a.model().save(dir.resolve("model.safetensors"));
            Safetensors.write(dir.resolve("optim.safetensors"), a.opt().stateDict(), Map.of());
            for (int s = 10; s < 15; s++) a.step(data, lr, s);
            expected = a.model().stateDict().get("layers.1.mlp.up_proj.weight").toFloatArray();
        }
        try (Run b = Run.create(99)) {
            b.model().load(dir.resolve("model.safetensors"));
            try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("optim.safetensors")); var e = b.weights().enter()) {
                Map<String, Tensor> st = new LinkedHashMap<>();
                for (String n : f.names()) st.put(n, f.tensor(n));
                b.opt().loadStateDict(st);
            }
            SplittableRandom data = new SplittableRandom(11);
            for (int s = 0; s < 10; s++) batch(data); // the data stream position after 10 steps
            for (int s = 10; s < 15; s++) b.step(data, lr, s);
            assertThat(b.opt().steps()).isEqualTo(15);
            assertThat(b.model().stateDict().get("layers.1.mlp.up_proj.weight").toFloatArray()).containsExactly(expected);
        }
    }

    @Test
    void stateDictNamesAndErrors(@TempDir Path dir) {
        try (Run run = Run.create(3)) {
            Map<String, Tensor> sd = run.model().stateDict();
            assertThat(sd).containsKeys("embed_tokens.weight", "layers.0.self_attn.q_proj.weight", "layers.1.mlp.down_proj.weight", "norm.weight", "lm_head.weight");
            Map<String, Tensor> bad = new LinkedHashMap<>(sd);
            bad.remove("norm.weight");
            bad.put("extra.weight", Tensor.zeros(DType.F32, 2));
            bad.put("lm_head.weight", Tensor.zeros(DType.F32, 3, 3));
            assertThatThrownBy(() -> run.model().loadStateDict(bad))
                    .hasMessageContaining("missing: [norm.weight]")
                    .hasMessageContaining("unexpected: [extra.weight]")
                    .hasMessageContaining("mis-shaped: [lm_head.weight (expected [")
                    .hasMessageContaining("got [3, 3])");
        }
    }
}
