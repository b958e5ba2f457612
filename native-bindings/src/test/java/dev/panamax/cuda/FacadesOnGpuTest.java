package dev.panamax.cuda;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The facades on a real GPU: memory round trips, an NVRTC-compiled kernel, cuBLAS against plain loops. */
@Tag("gpu")
class FacadesOnGpuTest {
    static Cuda.Context context;

    @BeforeAll
    static void gpu() {
        assumeTrue(Cuda.available(), Cuda.unavailableReason());
        context = Cuda.device(0).retainPrimaryContext();
        context.makeCurrent();
    }

    @Test
    void deviceDescribesItself() {
        Cuda.Device d = context.device();
        assertThat(d.name()).isNotBlank();
        assertThat(d.computeCapability()).isGreaterThanOrEqualTo(50);
        assertThat(d.totalMemory()).isPositive();
        assertThat(Cuda.driverVersion()).isGreaterThanOrEqualTo(12000);
    }

    @Test
    void memoryRoundTripAndErrorsCarryTheDriversText() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(ValueLayout.JAVA_FLOAT, 1000), back = a.allocate(ValueLayout.JAVA_FLOAT, 1000);
            for (int i = 0; i < 1000; i++) host.setAtIndex(ValueLayout.JAVA_FLOAT, i, i * 0.5f);
            long d = Cuda.malloc(4000);
            try (Cuda.Stream s = Cuda.Stream.create()) {
                Cuda.copyToDevice(d, host, 4000, s);
                Cuda.copyToHost(back, d, 4000, s);
                s.synchronize();
            } finally {
                Cuda.free(d);
            }
            assertThat(back.toArray(ValueLayout.JAVA_FLOAT)).containsExactly(host.toArray(ValueLayout.JAVA_FLOAT));
        }
        assertThatThrownBy(() -> Cuda.malloc(1L << 50)).isInstanceOf(CudaException.class).hasMessageContaining("CUDA_ERROR_OUT_OF_MEMORY");
    }

    @Test
    void nvrtcKernelRunsAndEventsTimeIt() {
        assumeTrue(Nvrtc.available(), Nvrtc.unavailableReason());
        String src = "extern \"C\" __global__ void axpy(float a, const float* x, float* y, int n) {"
                + " int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) y[i] += a * x[i]; }";
        int cc = context.device().computeCapability();
        Nvrtc.Compiled c = Nvrtc.compile(src, "axpy.cu", List.of("--gpu-architecture=sm_" + cc));
        assertThat(c.ptx()).contains(".entry axpy");
        int n = 5000;
        try (Arena a = Arena.ofConfined(); Cuda.Module m = Cuda.Module.load(c.image(), "axpy.cu");
             Cuda.Event start = Cuda.Event.create(); Cuda.Event end = Cuda.Event.create()) {
            MemorySegment x = a.allocate(ValueLayout.JAVA_FLOAT, n), y = a.allocate(ValueLayout.JAVA_FLOAT, n);
            for (int i = 0; i < n; i++) {
                x.setAtIndex(ValueLayout.JAVA_FLOAT, i, i);
                y.setAtIndex(ValueLayout.JAVA_FLOAT, i, 1);
            }
            long dx = Cuda.malloc(4L * n), dy = Cuda.malloc(4L * n);
            try {
                Cuda.copyToDevice(dx, x, 4L * n, null);
                Cuda.copyToDevice(dy, y, 4L * n, null);
                start.record(null);
                assertThat(m.function("axpy")).as("one handle per kernel").isSameAs(m.function("axpy"));
                assertThatThrownBy(() -> m.function("no_such_kernel")).isInstanceOf(CudaException.class).hasMessageContaining("no_such_kernel");
                m.function("axpy").launch(new int[]{(n + 255) / 256, 1, 1}, new int[]{256, 1, 1}, 0, null, 2f, dx, dy, n);
                end.record(null);
                end.synchronize();
                assertThat(end.millisSince(start)).isGreaterThanOrEqualTo(0f);
                Cuda.copyToHost(y, dy, 4L * n, null);
            } finally {
                Cuda.free(dx);
                Cuda.free(dy);
            }
            for (int i = 0; i < n; i++) assertThat(y.getAtIndex(ValueLayout.JAVA_FLOAT, i)).isEqualTo(1 + 2f * i);
        }
        assertThatThrownBy(() -> Nvrtc.compile("this is not CUDA", "bad.cu", List.of())).isInstanceOf(CudaException.class)
                .hasMessageContaining("bad.cu").hasMessageContaining("error");
    }

    @Test
    void cublasSgemmAgreesWithLoops() {
        int m = 37, n = 29, k = 53;
        Random r = new Random(3);
        float[] a = new float[m * k], b = new float[k * n];
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
        for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian();
        try (Arena ar = Arena.ofConfined(); Cublas blas = Cublas.create()) {
            blas.setMathMode(Cublas.PEDANTIC_MATH);
            long da = Cuda.malloc(4L * a.length), db = Cuda.malloc(4L * b.length), dc = Cuda.malloc(4L * m * n);
            try {
                Cuda.copyToDevice(da, ar.allocateFrom(ValueLayout.JAVA_FLOAT, a), 4L * a.length, null);
                Cuda.copyToDevice(db, ar.allocateFrom(ValueLayout.JAVA_FLOAT, b), 4L * b.length, null);
                // row-major C = A B is column-major C^T = B^T A^T
                blas.sgemm(false, false, n, m, k, 1f, db, n, da, k, 0f, dc, n);
                MemorySegment c = ar.allocate(ValueLayout.JAVA_FLOAT, (long) m * n);
                Cuda.copyToHost(c, dc, 4L * m * n, null);
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double s = 0;
                        for (int p = 0; p < k; p++) s += (double) a[i * k + p] * b[p * n + j];
                        assertThat((double) c.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * n + j)).isCloseTo(s, org.assertj.core.data.Offset.offset(1e-3));
                    }
                }
            } finally {
                Cuda.free(da);
                Cuda.free(db);
                Cuda.free(dc);
            }
        }
    }

    /**
     * cuBLASLt: every algorithm its heuristic offers for a strided batch of column-major products
     * with A transposed and C accumulated (beta 1) gives the loops' result.
     */
    @Test
    void cublasLtAlgorithmsAgreeWithLoops() {
        int m = 19, n = 11, k = 23, batch = 3;
        long strideA = (long) k * m + 5, strideB = (long) k * n, strideC = (long) m * n + 2;   // uneven item strides
        Random r = new Random(4);
        float[] a = new float[(int) (strideA * batch)], b = new float[(int) (strideB * batch)], c0 = new float[(int) (strideC * batch)];
        for (float[] v : new float[][]{a, b, c0}) for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        long workspaceBytes = 4L << 20;
        try (Arena ar = Arena.ofConfined(); CublasLt lt = CublasLt.create();
             CublasLt.Matmul mm = lt.matmul(true, false, m, n, k, Cublas.R_32F, k, strideA, Cublas.R_32F, k, strideB, Cublas.R_32F, m, strideC, batch,
                     Cublas.COMPUTE_32F)) {
            assertThat(CublasLt.version()).isPositive();
            long da = Cuda.malloc(4L * a.length), db = Cuda.malloc(4L * b.length), dc = Cuda.malloc(4L * c0.length), ws = Cuda.malloc(workspaceBytes);
            try {
                Cuda.copyToDevice(da, ar.allocateFrom(ValueLayout.JAVA_FLOAT, a), 4L * a.length, null);
                Cuda.copyToDevice(db, ar.allocateFrom(ValueLayout.JAVA_FLOAT, b), 4L * b.length, null);
                List<CublasLt.Algorithm> algorithms = mm.algorithms(8, workspaceBytes, 256, 256, 256);
                assertThat(algorithms).as("the heuristic's algorithms").isNotEmpty();
                for (CublasLt.Algorithm algo : algorithms) {
                    Cuda.copyToDevice(dc, ar.allocateFrom(ValueLayout.JAVA_FLOAT, c0), 4L * c0.length, null);
                    mm.run(algo, 1f, da, db, 1f, dc, ws, workspaceBytes, null);
                    MemorySegment c = ar.allocate(ValueLayout.JAVA_FLOAT, c0.length);
                    Cuda.copyToHost(c, dc, 4L * c0.length, null);
                    for (int t = 0; t < batch; t++) {
                        for (int j = 0; j < n; j++) {
                            for (int i = 0; i < m; i++) {
                                double s = c0[(int) (t * strideC) + j * m + i];
                                for (int p = 0; p < k; p++) s += (double) a[(int) (t * strideA) + i * k + p] * b[(int) (t * strideB) + j * k + p];
                                assertThat((double) c.getAtIndex(ValueLayout.JAVA_FLOAT, t * strideC + (long) j * m + i))
                                        .as("algorithm " + algo.rank() + ", item " + t + " [" + i + ", " + j + "]").isCloseTo(s, org.assertj.core.data.Offset.offset(1e-3));
                            }
                        }
                    }
                }
                CublasLt.Algorithm needy = algorithms.stream().filter(x -> x.workspaceBytes() > 0).findFirst().orElse(null);
                if (needy != null) {
                    assertThatThrownBy(() -> mm.run(needy, 1f, da, db, 0f, dc, ws, needy.workspaceBytes() - 1, null))
                            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("workspace");
                }
            } finally {
                Cuda.free(da);
                Cuda.free(db);
                Cuda.free(dc);
                Cuda.free(ws);
            }
            mm.close();
            assertThatThrownBy(() -> mm.algorithms(1, 0, 256, 256, 256)).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        }
        assertThat(CublasLt.describe(7)).contains("CUBLAS_STATUS_INVALID_VALUE");
    }
}
