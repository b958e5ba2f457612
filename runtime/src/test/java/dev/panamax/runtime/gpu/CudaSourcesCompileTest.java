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
 * inlined) for the H100/H200 architecture, and every {@code extern "C" __global__} kernel appears
 * in the PTX under its own name. Skipped when nvcc is not installed.
 */
class CudaSourcesCompileTest {
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

    @TestFactory
    Stream<DynamicTest> nvccCompilesEveryFile() {
        Optional<Path> nvcc = nvcc();
        assumeTrue(nvcc.isPresent(), "nvcc is not installed");
        return CudaSources.FILES.stream().map(file -> DynamicTest.dynamicTest(file, () -> {
            Path src = tmp.resolve(file), ptx = tmp.resolve(file.replace(".cu", ".ptx"));
            Files.writeString(src, CudaSources.source(file));
            Process p = new ProcessBuilder(nvcc.get().toString(), "-ptx", "-arch=sm_90", "--std=c++17", "-o", ptx.toString(), src.toString())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("nvcc finished").isTrue();
            assertThat(p.exitValue()).as(file + ":\n" + out).isZero();
            assertThat(out).as("nvcc warnings for " + file).doesNotContainIgnoringCase("warning");
            String text = Files.readString(ptx);
            Matcher m = Pattern.compile("extern \"C\" __global__ void (?:__launch_bounds__\\(\\w+\\) )?(\\w+)\\(").matcher(CudaSources.source(file));
            int kernels = 0;
            while (m.find()) {
                kernels++;
                assertThat(text).as(file + " exports " + m.group(1)).contains(".entry " + m.group(1) + "(");
            }
            assertThat(kernels).as("kernels in " + file).isPositive();
        }));
    }
}
