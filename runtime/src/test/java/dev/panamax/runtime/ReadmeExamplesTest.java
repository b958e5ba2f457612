package dev.panamax.runtime;

import dev.panamax.cuda.Cublas;
import dev.panamax.cuda.CublasLt;
import dev.panamax.cuda.Cuda;
import dev.panamax.runtime.gpu.GpuDevice;
import dev.panamax.runtime.io.Safetensors;
import dev.panamax.runtime.io.SafetensorsFile;
import dev.panamax.runtime.nn.Parameter;
import dev.panamax.runtime.optim.AdamW;
import dev.panamax.runtime.optim.GradClip;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's Java examples are code between {@code // README-BEGIN NAME} and
 * {@code // README-END NAME} markers in test sources (here, and in other modules' tests), copied
 * verbatim: this test runs the ones below and checks that every {@code <!-- example: NAME -->}
 * block of README.md still matches its marked code, so the README cannot drift from code that
 * compiles.
 */
class ReadmeExamplesTest {
    @TempDir
    Path dir;

    void runtimeExample(Path dir) {
        // README-BEGIN runtimeExample
        try (Scope step = Scope.open()) {                          // frees everything below at the end
            Tensor x = Tensor.randn(DType.F32, 42, 1.0, 4, 64);     // (T, C), seeded
            Tensor w = Tensor.randn(DType.F32, 7, 0.02, 256, 64).to(DType.BF16); // (V, C) weight
            Tensor logits = x.rmsNorm(Tensor.ones(DType.F32, 64), 1e-6)
                             .matmul(w.t());                        // BF16 weights read directly
            Tensor probs = logits.softmax(-1);                      // (T, V)
            Tensor.TopK top = probs.topk(5, -1, true);
            System.out.println(top.indices().dims()[1] + " best tokens per position");
            Safetensors.write(dir.resolve("out.safetensors"), Map.of("probs", probs), Map.of());
            try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("out.safetensors"))) {
                Tensor back = f.tensor("probs");                   // zero-copy view of the mapped file
                System.out.println(back.shape() + " " + back.sum(-1, false).toFloatArray()[0]);
            }
        }
        // README-END runtimeExample
    }

    void trainingExample() {
        // README-BEGIN trainingExample
        Scope weights = Scope.longLived("weights");                    // parameters, gradients, optimiser state
        Tensor w;
        try (var e = weights.enter()) {
            w = Tensor.randn(DType.F32, 1, 0.1, 3, 8).requiresGrad(true); // (V, C) trainable leaf
        }
        AdamW opt = new AdamW(List.of(new Parameter("lm_head.weight", w)), 1e-2);
        Tensor targets = Tensor.ofLongs(new long[]{0, 1, 2, 0});
        for (int step = 0; step < 100; step++) {
            try (Scope s = Scope.open()) {                              // the step's activations, freed at its end
                Tensor x = Tensor.randn(DType.F32, step, 1, 4, 8);      // (B, C)
                Tensor loss = Functional.crossEntropy(Functional.linear(x, w), targets, -100, Functional.Reduction.MEAN);
                opt.zeroGrad();
                loss.backward();                                        // gradients accumulate (+=) into w.grad()
                GradClip.clipGradNorm(List.of(new Parameter("lm_head.weight", w)), 1.0);
                opt.step();
            }
        }
        weights.close();
        // README-END trainingExample
    }

    void cudaExample() {
        // README-BEGIN cudaExample
        if (!Cuda.available()) {
            System.out.println("CPU only: " + Cuda.unavailableReason()); // never throws
            return;
        }
        try (GpuDevice gpu = GpuDevice.open(0)) {          // context, stream, cuBLAS, caching allocator
            System.out.println(gpu.device().name() + ", sm_" + gpu.device().computeCapability());
            int n = 1024;
            long a = gpu.allocator().allocate(4L * n * n), c = gpu.allocator().allocate(4L * n * n);
            Cuda.memset(a, (byte) 0, 4L * n * n, gpu.stream());
            gpu.cublas().sgemm(false, false, n, n, n, 1f, a, n, a, n, 0f, c, n);   // column-major, F32
            try (CublasLt.Matmul mm = gpu.cublasLt().matmul(false, false, n, n, n, Cublas.R_32F, n, 0, Cublas.R_32F, n, 0,
                    Cublas.R_32F, n, 0, 1, Cublas.COMPUTE_32F)) {  // the same product through cuBLASLt
                CublasLt.Algorithm first = mm.algorithms(1, gpu.cublasWorkspaceBytes(), 256, 256, 256).get(0);   // its heuristic's best
                mm.run(first, 1f, a, a, 0f, c, gpu.cublasWorkspace(), gpu.cublasWorkspaceBytes(), gpu.stream());
            }
            gpu.modules().function("reduce.cu", "softmax_rows_f32")              // NVRTC-compiled, cached
                    .launch(new int[]{n, 1, 1}, new int[]{256, 1, 1}, 0, gpu.stream(), c, c, n, 0);
            gpu.synchronize();
            gpu.allocator().release(a);                         // back to the pool, not cuMemFree
            gpu.allocator().release(c);
        }
        // README-END cudaExample
    }

    void deviceExample() {
        // README-BEGIN deviceExample
        Device d = Device.cuda().isAvailable() ? Device.cuda() : Device.CPU;   // or Device.parse("cuda:1")
        try (Scope step = Scope.open()) {                       // device memory goes back to the pool at close
            Tensor w = Tensor.randn(DType.F32, 1, 0.1, 64, 32).to(d).requiresGrad(true);
            Tensor x = Tensor.randn(DType.F32, 2, 1.0, 8, 32).to(d);
            Tensor loss = x.matmul(w.t()).silu().rmsNorm(Tensor.ones(DType.F32, 64), 1e-6).square().mean();
            loss.backward();                                    // the gradient stays on d
            System.out.println(d + ": loss " + loss.item() + ", |dW| " + w.grad().square().sum().item());
        }
        // README-END deviceExample
    }

    @Test
    void examplesRun() {
        long before = Scope.offHeapBytes();
        try (Scope s = Scope.open()) {
            runtimeExample(dir);
            trainingExample();
            cudaExample();
            deviceExample();
        }
        assertThat(Scope.offHeapBytes()).isEqualTo(before);
    }

    static Path repoRoot() {
        Path p = Path.of(System.getProperty("panamax.root", "..")).toAbsolutePath().normalize();
        if (Files.isRegularFile(p.resolve("README.md"))) return p;
        return Path.of("..").toAbsolutePath().normalize();
    }

    @Test
    void readmeBlocksMatchThisFile() throws IOException {
        String readme = Files.readString(repoRoot().resolve("README.md"));
        StringBuilder sources = new StringBuilder();
        try (var files = Files.walk(repoRoot())) {
            for (Path p : files.filter(f -> f.toString().contains("/src/test/java/") && f.toString().endsWith(".java")).toList()) {
                sources.append(Files.readString(p)).append('\n');
            }
        }
        String self = sources.toString();
        Matcher m = Pattern.compile("<!-- example: (\\w+) -->\\s*```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        int found = 0;
        while (m.find()) {
            found++;
            String name = m.group(1);
            Matcher src = Pattern.compile("// README-BEGIN " + name + "\\n(.*?)\\n\\s*// README-END " + name, Pattern.DOTALL).matcher(self);
            assertThat(src.find()).as("example %s exists in a test source", name).isTrue();
            assertThat(normalise(m.group(2))).as("README example %s", name).isEqualTo(normalise(src.group(1)));
        }
        assertThat(found).isGreaterThanOrEqualTo(5);
    }

    /** Strips the common indentation and trailing blanks. */
    private static String normalise(String s) {
        String[] lines = s.stripTrailing().split("\n");
        int indent = Integer.MAX_VALUE;
        for (String l : lines) if (!l.isBlank()) indent = Math.min(indent, l.length() - l.stripLeading().length());
        StringBuilder b = new StringBuilder();
        for (String l : lines) b.append(l.length() >= indent ? l.substring(indent) : l.strip()).append('\n');
        return b.toString().strip();
    }
}
