package dev.panamax.runtime.gpu;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every kernel file compiles with {@code nvcc -ptx} (as NVRTC will see it: the shared header
 * inlined) for the H100/H200 architecture ({@code sm_90a}, as {@code CudaModules} compiles for them:
 * the warpgroup instructions included), and every {@code extern "C" __global__} kernel appears
 * in the PTX under its own name; compiled to sm_90a machine code, no kernel spills registers or
 * keeps more than {@link #MAX_STACK_BYTES} of local memory per thread (the driver reserves local
 * memory for every resident thread of the GPU: 3 KB a thread would be close to 1 GB on an H100),
 * ptxas serialises no wgmma, and a kernel that moves registers between its warpgroups
 * ({@code setmaxnreg}) fits its moves in the registers ptxas gave it. Every kernel declares
 * {@code __launch_bounds__}, the most threads its launches give a block: ptxas then fits its
 * registers to that many threads (a kernel of 76
 * registers launched with 1,024 threads fails on a GPU, not on the simulator), and with no spill
 * allowed, it fits them without local memory; the simulator refuses a launch above the bound.
 * Skipped when nvcc is not installed, but for the bounds.
 */
class CudaSourcesCompileTest {
    /** Local memory per thread that a kernel may use. */
    static final int MAX_STACK_BYTES = 256;

    @TempDir
    Path tmp;

    static Optional<Path> nvcc() {
        List<Path> candidates = new ArrayList<>();
        String path = System.getenv("PATH");
        if (path != null) for (String d : path.split(File.pathSeparator)) candidates.add(Path.of(d, "nvcc"));
        String home = System.getenv("CUDA_HOME");
        if (home != null) candidates.add(Path.of(home, "bin", "nvcc"));
        candidates.add(Path.of("/usr/local/cuda/bin/nvcc"));
        return candidates.stream().filter(Files::isExecutable).findFirst();
    }

    @Test
    void everyKernelFileIsListed() throws IOException {
        Path dir = Path.of("src/main/resources/dev/panamax/runtime/gpu");
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cu")))
                    .containsExactlyInAnyOrderElementsOf(CudaSources.FILES);
        }
        for (String f : CudaSources.FILES) assertThat(CudaSources.source(f)).doesNotContain("#include \"common.cuh\"").contains("warp_sum");
    }

    @Test
    void everyKernelDeclaresItsLaunchBounds() {
        for (String f : CudaSources.FILES) {
            Matcher m = Pattern.compile("extern \"C\" __global__ void (__launch_bounds__\\(\\w+(?:, \\w+)?\\) )?(\\w+)\\(").matcher(CudaSources.source(f));
            int kernels = 0;
            while (m.find()) {
                kernels++;
                assertThat(m.group(1)).as(f + ": " + m.group(2) + " declares __launch_bounds__").isNotNull();
            }
            assertThat(kernels).as("kernels in " + f).isPositive();
        }
    }

    /**
     * Every kernel's first statement is {@code pmx_grid_begin();}, which waits for the kernel before
     * it on the stream ({@code griddepcontrol.wait}): under {@code panamax.cuda.pdl=on} every kernel
     * is launched with programmatic stream serialization and may start before that one ends. Only
     * {@code mla_prefetch_l2}, an L2 prefetch that reads no memory, may come before it. (The
     * simulator also fails a programmatic launch in which a thread ends without the wait, for the
     * kernels a simulated run launches.)
     */
    @Test
    void everyKernelWaitsForTheKernelBeforeItFirst() {
        for (String f : CudaSources.FILES) {
            String src = CudaSources.source(f);
            Matcher m = Pattern.compile("extern \"C\" __global__ void (?:__launch_bounds__\\(\\w+(?:, \\w+)?\\) )?(\\w+)\\(").matcher(src);
            int kernels = 0;
            while (m.find()) {
                kernels++;
                int depth = 0, at = m.end() - 1;
                for (; ; at++) {
                    char c = src.charAt(at);
                    if (c == '(') depth++;
                    else if (c == ')') depth--;
                    else if (c == '{' && depth == 0) break;
                }
                String body = src.substring(at + 1).stripLeading();
                // the one call a kernel may make before it: an L2 prefetch that reads no memory (mla_decode.cu)
                if (body.startsWith("mla_prefetch_l2(")) body = body.substring(body.indexOf('\n', body.indexOf(';')) + 1).stripLeading();   // the call and its line's comment
                assertThat(body).as(f + ": " + m.group(1) + "'s first statement").startsWith("pmx_grid_begin();");
            }
            assertThat(kernels).as("kernels in " + f).isPositive();
        }
    }

    @TestFactory
    Stream<DynamicTest> nvccCompilesEveryFile() {
        Optional<Path> nvcc = nvcc();
        assumeTrue(nvcc.isPresent(), "nvcc is not installed");
        return CudaSources.FILES.stream().map(file -> DynamicTest.dynamicTest(file, () -> {
            Path src = tmp.resolve(file), ptx = tmp.resolve(file.replace(".cu", ".ptx"));
            Files.writeString(src, CudaSources.source(file));
            Process p = new ProcessBuilder(nvcc.get().toString(), "-ptx", "-arch=sm_90a", "--std=c++17", "-o", ptx.toString(), src.toString())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("nvcc finished").isTrue();
            assertThat(p.exitValue()).as(file + ":\n" + out).isZero();
            assertThat(out).as("nvcc warnings for " + file).doesNotContainIgnoringCase("warning");
            String text = Files.readString(ptx);
            Matcher m = Pattern.compile("extern \"C\" __global__ void (?:__launch_bounds__\\(\\w+(?:, \\w+)?\\) )?(\\w+)\\(").matcher(CudaSources.source(file));
            int kernels = 0;
            while (m.find()) {
                kernels++;
                assertThat(text).as(file + " exports " + m.group(1)).contains(".entry " + m.group(1) + "(");
            }
            assertThat(kernels).as("kernels in " + file).isPositive();
            // sm_90a: pmx_grid_begin is PTX's griddepcontrol, once a kernel (inlined, so counted in the text)
            assertThat(Pattern.compile("griddepcontrol\\.wait;").matcher(text).results().count()).as(file + ": griddepcontrol.wait").isEqualTo(kernels);
            assertThat(Pattern.compile("griddepcontrol\\.launch_dependents;").matcher(text).results().count()).as(file + ": launch_dependents").isEqualTo(kernels);
            Process r = new ProcessBuilder(nvcc.get().toString(), "-cubin", "-arch=sm_90a", "--std=c++17", "--resource-usage",
                    "-o", tmp.resolve(file.replace(".cu", ".cubin")).toString(), src.toString()).redirectErrorStream(true).start();
            String usage = new String(r.getInputStream().readAllBytes());
            assertThat(r.waitFor(120, TimeUnit.SECONDS)).as("nvcc -cubin finished").isTrue();
            assertThat(r.exitValue()).as(file + ":\n" + usage).isZero();
            // ptxas reports, as "info", wgmma it must serialise (a loop it cannot unroll, registers
            // touched between a wgmma and its wait): the warpgroup kernels would lose their overlap
            assertThat(usage).as(file + ": ptxas serialises wgmma").doesNotContain("Potential Performance Loss");
            Matcher f = Pattern.compile("Function properties for (\\w+)\\s+(\\d+) bytes stack frame, (\\d+) bytes spill stores, (\\d+) bytes spill loads").matcher(usage);
            int seen = 0;
            while (f.find()) {
                seen++;
                assertThat(Integer.parseInt(f.group(2))).as(f.group(1) + " stack bytes per thread").isLessThanOrEqualTo(MAX_STACK_BYTES);
                assertThat(Integer.parseInt(f.group(3)) + Integer.parseInt(f.group(4))).as(f.group(1) + " spill bytes").isZero();
            }
            assertThat(seen).as("resource lines for " + file + ":\n" + usage).isEqualTo(kernels);
            registerMovesFitThePool(file, CudaSources.source(file), usage);
        }));
    }

    /**
     * A kernel that moves registers between its warpgroups ({@code setmaxnreg}: mla_decode_wt64) must
     * fit its rise in what its drop frees, from the registers ptxas gave it at launch: a rise the
     * block's pool cannot meet waits for ever. Such a kernel is one loading warpgroup, which drops
     * to {@code set_max_regs<D, true>}, and the rest consumers, which rise to
     * {@code set_max_regs<I, false>}; it declares {@code __launch_bounds__(T, 1)}. With N registers at
     * launch: N x T within the SM's 65,536, and (N - D) >= (T / 128 - 1) x (I - N).
     */
    private static void registerMovesFitThePool(String file, String source, String usage) {
        Matcher drop = Pattern.compile("set_max_regs<(\\d+), true>").matcher(source), rise = Pattern.compile("set_max_regs<(\\d+), false>").matcher(source);
        boolean drops = drop.find(), rises = rise.find();
        assertThat(drops).as(file + ": a drop of registers and a rise come together").isEqualTo(rises);
        if (!drops) return;
        int d = Integer.parseInt(drop.group(1)), inc = Integer.parseInt(rise.group(1));
        assertThat(drop.find() || rise.find()).as(file + ": one drop and one rise").isFalse();
        Matcher k = Pattern.compile("extern \"C\" __global__ void __launch_bounds__\\((\\d+), 1\\) (\\w+)\\(").matcher(source);
        int checked = 0;
        while (k.find()) {
            int threads = Integer.parseInt(k.group(1)), consumers = threads / 128 - 1;
            Matcher used = Pattern.compile("Compiling entry function '" + k.group(2) + "'[^\\n]*\\n(?:[^\\n]*\\n)*?ptxas info\\s*: Used (\\d+) registers").matcher(usage);
            assertThat(used.find()).as(k.group(2) + "'s registers in ptxas's report:\n" + usage).isTrue();
            int n = Integer.parseInt(used.group(1));
            assertThat(n * threads).as(k.group(2) + ": " + n + " registers x " + threads + " threads").isLessThanOrEqualTo(65_536);
            assertThat(n - d).as(k.group(2) + ": from " + n + " registers at launch the drop to " + d + " frees enough for " + consumers
                    + " warpgroups' rise to " + inc).isGreaterThanOrEqualTo(consumers * (inc - n));
            checked++;
        }
        assertThat(checked).as(file + ": the kernels that move registers declare __launch_bounds__(T, 1)").isPositive();
    }
}
