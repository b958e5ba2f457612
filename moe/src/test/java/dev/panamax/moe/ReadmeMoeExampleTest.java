package dev.panamax.moe;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.HostRead;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The README's moe example, verbatim between the markers (checked by ReadmeExamplesTest in runtime). */
class ReadmeMoeExampleTest {
    static void moeExample(Path checkpointDir) {
        // README-BEGIN moeExample
        try (Scope scope = Scope.open();
             DeepSeekModel model = DeepSeekModel.load(checkpointDir, false)) {   // weights stay memory-mapped
            Generator.Result r = Generator.generate(model, List.of(new long[]{1, 2, 3}), 16, Set.of(1L),
                    Sampler.of(0.7, 50, 0.95, 42), Mla.ABSORBED);                // compressed KV cache
            System.out.println(Arrays.toString(r.completions().get(0)) + " at " + r.tokensPerSecond() + " tokens/s");
        }
        // README-END moeExample
    }

    static Speculation.Result speculativeExample(Path checkpointDir) {
        // README-BEGIN speculativeExample
        try (Scope scope = Scope.open();
             DeepSeekModel model = DeepSeekModel.load(checkpointDir, false);
             MultiTokenPredictor mtp = MultiTokenPredictor.load(checkpointDir, model)) {  // layer num_hidden_layers
            Speculation.Result r = Speculation.mtp(mtp).generate(model, List.of(new long[]{1, 2, 3}), 16,
                    Set.of(1L), Sampler.greedy(), Mla.ABSORBED, DType.F32, null);    // the plain loop's tokens
            System.out.println(r.accepted() + " of " + r.drafted() + " drafts kept in " + r.steps() + " passes");
            return r;
        }
        // README-END speculativeExample
    }

    static double scoringExample(Path checkpointDir) {
        // README-BEGIN scoringExample
        try (Scope scope = Scope.open(); DeepSeekModel model = DeepSeekModel.load(checkpointDir, false)) {
            long[] ids = {1, 2, 3, 4, 5};                            // a prompt (1, 2, 3), a continuation (4, 5)
            List<Scoring.Token> scored = Scoring.score(model, ids, 3, 5, Mla.ABSORBED);   // ids[3..], 5 alternatives each
            double logLikelihood = scored.stream().mapToDouble(Scoring.Token::logprob).sum();
            System.out.println("log p(4, 5 | 1, 2, 3) = " + logLikelihood + "; top-1 at 4: " + scored.get(0).topIds()[0]);
            return logLikelihood;
        }
        // README-END scoringExample
    }

    static List<long[]> batcherExample(Path checkpointDir) throws InterruptedException {
        // README-BEGIN batcherExample
        try (Scope scope = Scope.open(); DeepSeekModel model = DeepSeekModel.load(checkpointDir, false);
             Batcher batcher = new Batcher(model, 8, DType.BF16)) {         // up to 8 sequences a decode step
            Batcher.Sequence a = batcher.submit(new long[]{1, 2, 3}, 16, Set.of(1L), Sampler.greedy(), null);
            Batcher.Sequence b = batcher.submit(new long[]{4, 5}, 8, Set.of(), Sampler.of(0.7, 0, 0.9, 42),
                    token -> System.out.println("b: " + token));            // from any thread, at any time
            List<long[]> out = List.of(a.await(), b.await());               // each its prompt's own tokens
            System.out.println(batcher.steps() + " steps, " + batcher.stepRows() + " sequence-steps");
            return out;
        }
        // README-END batcherExample
    }

    static void moeDeviceExample(Path checkpointDir, Device fallback) {
        // README-BEGIN moeDeviceExample
        Device d = Device.cuda().isAvailable() ? Device.cuda() : fallback;       // e.g. Device.CPU
        try (Scope scope = Scope.open();
             DeepSeekModel model = DeepSeekModel.load(checkpointDir, false, d)) { // weights copied to d once
            Generator.Result r = Generator.generate(model, List.of(new long[]{1, 2, 3}), 16, Set.of(1L),
                    Sampler.greedy(), Mla.ABSORBED);  // KV cache on d; fused latent attention when decoding on a GPU
            System.out.println(d + ": " + Arrays.toString(r.completions().get(0)));
        }
        // README-END moeDeviceExample
    }

    static void decodeGraphExample(Path checkpointDir, Device d) {
        // README-BEGIN decodeGraphExample
        try (Scope scope = Scope.open();
             DeepSeekModel model = DeepSeekModel.load(checkpointDir, false, d);
             KvCache cache = new KvCache(model.config(), 1, 64, d, DType.BF16);
             DecodeGraph decode = new DecodeGraph(model, cache)) {       // on a GPU: one CUDA graph launch a step
            Tensor logits = model.forward(Tensor.ofLongs(new long[]{1, 2, 3}, 1, 3), 0, cache, Mla.ABSORBED, true, null);
            long[] next = Sampler.greedy().sample(logits, null);          // drawn on d: only the token comes back
            for (int i = 0; i < 8; i++) next = Sampler.greedy().sample(decode.step(next), null);
            System.out.println(d + ": " + cache.length() + " tokens cached, graph recorded: " + decode.isRecorded());
        }
        // README-END decodeGraphExample
    }

    static List<Long> pipelinedDecodeExample(Path checkpointDir, Device d) {
        // README-BEGIN pipelinedDecodeExample
        List<Long> out = new ArrayList<>();                              // the tokens, read a step late
        try (Scope scope = Scope.open();
             DeepSeekModel model = DeepSeekModel.load(checkpointDir, false, d);
             KvCache cache = new KvCache(model.config(), 1, 64, d, DType.BF16);
             DecodeGraph decode = new DecodeGraph(model, cache)) {
            Sampler sampler = Sampler.of(0.7, 0, 1.0, 42);               // temperature alone: drawn without ranking
            Tensor next = sampler.sampleTensor(model.forward(Tensor.ofLongs(new long[]{1, 2, 3}, 1, 3), 0, cache, Mla.ABSORBED, true, null));
            for (int i = 0; i < 8; i++) {
                try (HostRead drawn = next.readLater()) {                // queued behind the draw: no wait here
                    next = sampler.sampleTensor(decode.step(next));      // the next step, fed on d, queued too
                    out.add(drawn.toLongArray()[0]);                     // waits for the copy only, while d runs the step
                }
            }
        }
        // README-END pipelinedDecodeExample
        return out;
    }

    @Test
    void exampleRuns(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path withMtp = SpeculationTest.withMtp(GenerationTest.firstCase(), tmp.resolve("mtp"), 3, true, false);
        long before = Scope.offHeapBytes();
        Speculation.Result r = speculativeExample(withMtp);
        try (Scope scope = Scope.open(); DeepSeekModel model = DeepSeekModel.load(withMtp, false)) {
            assertThat(r.completions().getFirst()).containsExactly(Generator.generate(model, List.of(new long[]{1, 2, 3}), 16, Set.of(1L),
                    Sampler.greedy(), Mla.ABSORBED).completions().getFirst());
        }
        assertThat(scoringExample(GenerationTest.firstCase())).isNegative();
        List<long[]> batched = batcherExample(GenerationTest.firstCase());
        try (Scope scope = Scope.open(); DeepSeekModel model = DeepSeekModel.load(GenerationTest.firstCase(), false)) {
            assertThat(batched.get(0)).containsExactly(Generator.generate(model, List.of(new long[]{1, 2, 3}), 16, Set.of(1L), Sampler.greedy(),
                    Mla.ABSORBED, DType.BF16).completions().getFirst());
            assertThat(batched.get(1)).containsExactly(Generator.generate(model, List.of(new long[]{4, 5}), 8, Set.of(), Sampler.of(0.7, 0, 0.9, 42),
                    Mla.ABSORBED, DType.BF16).completions().getFirst());
        }
        moeExample(GenerationTest.firstCase());
        moeDeviceExample(GenerationTest.firstCase(), Device.EMULATED);
        decodeGraphExample(GenerationTest.firstCase(), Device.EMULATED);
        // the pipelined loop draws what Generator draws with the same sampler
        List<Long> piped = pipelinedDecodeExample(GenerationTest.firstCase(), Device.EMULATED);
        try (Scope scope = Scope.open(); DeepSeekModel model = DeepSeekModel.load(GenerationTest.firstCase(), false, Device.EMULATED)) {
            long[] want = Generator.generate(model, List.of(new long[]{1, 2, 3}), 8, Set.of(), Sampler.of(0.7, 0, 1.0, 42), Mla.ABSORBED, DType.BF16)
                    .completions().getFirst();
            assertThat(piped).containsExactly(Arrays.stream(want).boxed().toArray(Long[]::new));
        }
        assertThat(Scope.offHeapBytes()).isEqualTo(before);
    }
}
