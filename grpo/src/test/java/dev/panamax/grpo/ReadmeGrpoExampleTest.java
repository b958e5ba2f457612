package dev.panamax.grpo;

import dev.panamax.moe.DeepSeekModel;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Scope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The README's grpo example, verbatim between the markers (checked by ReadmeExamplesTest in runtime). */
class ReadmeGrpoExampleTest {
    static void grpoExample(DeepSeekModel policy, CharTokenizer tokenizer, Path dir) {
        // README-BEGIN grpoExample
        Reward reward = Reward.weighted(List.of(Reward.accuracy(ArithmeticTask::answerFor), Reward.format()), List.of(1.0, 0.1));
        GrpoConfig cfg = new GrpoConfig(8, 0.01, 0.2, 0.28, GrpoConfig.LossType.DAPO, GrpoConfig.ScaleRewards.GROUP, 1.0, 16, 1);
        try (GrpoTrainer trainer = new GrpoTrainer(policy, tokenizer, reward, Reward.accuracy(ArithmeticTask::answerFor), cfg,
                new GrpoTrainer.Options(3e-4, 5, 100, 1.0, 0.0, 1e-3, 42))) {
            for (int step = 0; step < 3; step++) {
                GrpoTrainer.StepStats stats = trainer.step(List.of("12+34=", "56+78="));  // your prompts
                System.out.println(stats.metrics().get("reward") + " " + stats.metrics().get("kl"));
            }
            trainer.save(dir.resolve("checkpoint.safetensors"));                         // atomic; load() resumes exactly
        }
        // README-END grpoExample
    }

    @Test
    void exampleRuns(@TempDir Path dir) {
        CharTokenizer tok = new CharTokenizer(ArithmeticTask.ALPHABET);
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.random(R1ZeroDemo.modelConfig(tok.vocabSize()), 1, DType.F32)) {
            grpoExample(m, tok, dir);
        }
        assertThat(dir.resolve("checkpoint.safetensors")).exists();
    }
}
