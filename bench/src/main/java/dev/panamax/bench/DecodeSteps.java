package dev.panamax.bench;

import dev.panamax.moe.DeepSeekConfig;
import dev.panamax.moe.DecodeGraph;
import dev.panamax.moe.DeepSeekModel;
import dev.panamax.moe.KvCache;
import dev.panamax.moe.Mla;
import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;

/**
 * Decodes a few tokens of {@link DeepSeekBench#v2LiteShapes()} (a seeded random model, 2 MoE
 * layers) on a device, one scope per step, for counting the work of a decode step on the CUDA
 * simulator: run it twice with {@code PANAMAX_CUDASIM_STATS} set and different token counts, and
 * divide the difference by the difference in tokens. Not a benchmark (it times nothing).
 * The prompt (4 tokens unless PROMPT says otherwise) is one prefill step; a longer one counts the
 * work of a prefill, whose MoE layers route many tokens.
 * With {@code graph} last, the decode steps run as a {@link DecodeGraph} (one CUDA graph launch a
 * step after the first).
 * Usage: {@code java -cp benchmarks.jar dev.panamax.bench.DecodeSteps TOKENS F32|BF16 [DEVICE [PROMPT [eager|graph]]]}.
 */
public final class DecodeSteps {
    private DecodeSteps() {
    }

    public static void main(String[] args) {
        int tokens = Integer.parseInt(args[0]);
        DType dtype = DType.valueOf(args[1]);
        Device d = Device.parse(args.length > 2 ? args[2] : "cuda");
        int prompt = args.length > 3 ? Integer.parseInt(args[3]) : 4;
        boolean graph = args.length > 4 && args[4].equals("graph");
        long[] promptIds = new long[prompt];
        for (int i = 0; i < prompt; i++) promptIds[i] = 1 + i;   // 1, 2, 3, 4 by default, as before
        DeepSeekConfig cfg = DeepSeekBench.v2LiteShapes();
        try (DeepSeekModel model = DeepSeekModel.random(cfg, 7, dtype, d); KvCache cache = new KvCache(cfg, 1, prompt + tokens, d);
             DecodeGraph decode = graph ? new DecodeGraph(model, cache) : null) {
            model.requiresGrad(false);
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                try (Scope s = Scope.open()) {
                    model.forward(Tensor.ofLongs(promptIds, 1, prompt), 0, cache, Mla.ABSORBED, true, null);
                }
                for (int i = 0; i < tokens; i++) {
                    try (Scope s = Scope.open()) {
                        Tensor logits = decode != null ? decode.step(new long[]{42 + i})
                                : model.forward(Tensor.ofLongs(new long[]{42 + i}, 1, 1), prompt + i, cache, Mla.ABSORBED, true, null);
                        if (i == tokens - 1) System.out.println("last logits[0] " + logits.to(Device.CPU).toFloatArray()[0]);
                    }
                }
            }
        }
    }
}
