package dev.panamax.moe;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Scope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** Speculative decoding with the model and its MTP module on a device ({@link Device#EMULATED} here): the host's tokens. */
class SpeculationOnDeviceTest {
    Device device() {
        return Device.EMULATED;
    }

    /** The device's own plain loop's tokens (the host's on the emulated device, within rounding of them on a GPU). */
    @Test
    void onTheDeviceSpeculationGivesThePlainLoopsTokens(@TempDir Path tmp) throws Exception {
        Path dir = SpeculationTest.withMtp(GenerationTest.firstCase(), tmp.resolve("mtp"), 5, true, false);
        List<long[]> prompts = SpeculationTest.PROMPTS;
        int n = 8;
        try (Scope s = Scope.open(); DeepSeekModel m = DeepSeekModel.load(dir, false, device());
             MultiTokenPredictor mtp = MultiTokenPredictor.load(dir, m)) {
            List<long[]> want = SpeculationTest.plainGreedy(m, prompts, n, Set.of(), Mla.ABSORBED);
            SpeculationTest.assertSameTokens(Speculation.mtp(mtp).generate(m, prompts, n, Set.of(), Sampler.greedy(), Mla.ABSORBED, DType.F32, null)
                    .completions(), want, "mtp on " + device());
            List<long[]> bf16 = Generator.generate(m, prompts, n, Set.of(), Sampler.greedy(), Mla.ABSORBED, DType.BF16).completions();
            Speculation oracle = Speculation.drafting(SpeculationTest.oracle(prompts, bf16, -1, 3), 3);
            SpeculationTest.assertSameTokens(oracle.generate(m, prompts, n, Set.of(), Sampler.greedy(), Mla.ABSORBED, DType.BF16, null).completions(),
                    bf16, "oracle on " + device() + ", BF16 cache");
            // sampled: the host's verification over logits read back from the device
            Speculation.Result r = Speculation.promptLookup(1, 2).generate(m, prompts, n, Set.of(), Sampler.of(0.7, 0, 1, 3), Mla.ABSORBED, DType.F32, null);
            assertThat(r.tokens()).isEqualTo((long) n * prompts.size());
        }
        if (device() == Device.EMULATED) {   // the emulation runs the host's kernels: the host's tokens exactly
            try (Scope s = Scope.open(); DeepSeekModel host = DeepSeekModel.load(dir, false); DeepSeekModel m = DeepSeekModel.load(dir, false, device());
                 MultiTokenPredictor mtp = MultiTokenPredictor.load(dir, m)) {
                SpeculationTest.assertSameTokens(Speculation.mtp(mtp).generate(m, prompts, n, Set.of(), Sampler.greedy(), Mla.ABSORBED, DType.F32, null)
                        .completions(), SpeculationTest.plainGreedy(host, prompts, n, Set.of(), Mla.ABSORBED), "mtp on " + device() + " against the host");
            }
        }
    }
}
