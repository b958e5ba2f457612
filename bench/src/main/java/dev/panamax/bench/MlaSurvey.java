package dev.panamax.bench;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.Functional;
import dev.panamax.runtime.Scope;

/**
 * A survey of the MLA decode kernels on a GPU, outside JMH: at each of {@link GpuBench.Decode}'s shapes
 * (batch 64 and 128, cache lengths 1024, 4096 and 8192; the caches and head counts asked for), the
 * cache filled as GpuBench fills it, one decode under {@code -Dpanamax.cuda.mlaKernel=KERNEL} (by default
 * {@code tune}, whose INFO line on stderr gives every kernel's time from CUDA events, best of 3 launches)
 * and then, as a diagnostic, the wall-clock time of 20 decodes queued back to back, best of 5, with
 * {@code -Dpanamax.cuda.mlaSplits} at each of SPLITS. GpuBench's {@code mlaDecode} under JMH is the
 * benchmark; this gives every kernel's time at every shape in one short run (bench/RESULTS.md, session 27).
 * Usage: {@code java -cp benchmarks.jar dev.panamax.bench.MlaSurvey [CACHES [HEADS [SPLITS [KERNEL]]]]}, each list
 * comma-separated: by default {@code BF16,F32 16,128 auto tune}.
 */
public final class MlaSurvey {
    private MlaSurvey() {
    }

    public static void main(String[] args) {
        String[] caches = (args.length > 0 ? args[0] : "BF16,F32").split(",");
        String[] heads = (args.length > 1 ? args[1] : "16,128").split(",");
        String[] splits = (args.length > 2 ? args[2] : "auto").split(",");
        String kernel = args.length > 3 ? args[3] : "tune";
        int decodes = 20;
        for (String cache : caches) for (String h : heads) for (int batch : new int[]{64, 128}) for (int len : new int[]{1024, 4096, 8192}) {
            for (String split : splits) {
                System.setProperty("panamax.cuda.mlaSplits", split);
                GpuBench.Decode s = new GpuBench.Decode();
                s.batch = batch;
                s.len = len;
                s.heads = Integer.parseInt(h);
                s.cache = cache;
                s.mla = kernel;
                s.setup();
                try (Autograd.NoGrad ng = Autograd.noGrad()) {
                    long best = Long.MAX_VALUE;
                    for (int round = -1; round < 5; round++) {   // round -1: the first decode (tune times the kernels there)
                        long t0 = System.nanoTime();
                        try (Scope step = Scope.open()) {
                            for (int i = 0; i < (round < 0 ? 1 : decodes); i++) Functional.latentAttentionDecode(s.q, s.latent, s.kRope, len, 1 / Math.sqrt(192));
                            GpuBench.GPU.synchronize();
                        }
                        if (round >= 0) best = Math.min(best, System.nanoTime() - t0);
                    }
                    double us = best / 1e3 / decodes;
                    System.out.printf("mla %s cache, batch %d, %s heads, len %d, splits %s, kernel %s: %.1f us a decode, %.0f GB/s of cache%n",
                            cache, batch, h, len, split, kernel, us, s.cacheBytes() / us / 1e3);
                } finally {
                    s.tearDown();
                    System.clearProperty("panamax.cuda.mlaSplits");
                }
            }
        }
    }
}
