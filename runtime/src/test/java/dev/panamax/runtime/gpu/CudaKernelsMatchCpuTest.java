package dev.panamax.runtime.gpu;

import dev.panamax.cuda.Cuda;
import dev.panamax.cuda.Nvrtc;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The CUDA kernels against the CPU runtime (whose kernels are checked against the scalar
 * specification): softmax and log-softmax, RMSNorm, SwiGLU, rotary embedding and the absorbed-MLA
 * decode attention. Runs only where a GPU and NVRTC are present.
 */
@Tag("gpu")
class CudaKernelsMatchCpuTest {
    static GpuDevice gpu;
    static Scope scope;

    @BeforeAll
    static void open() {
        assumeTrue(Cuda.available(), Cuda.unavailableReason());
        assumeTrue(Nvrtc.available(), Nvrtc.unavailableReason());
        gpu = GpuDevice.open(0);
        scope = Scope.longLived("gpu-test");
    }

    @AfterAll
    static void close() {
        if (gpu != null) gpu.close();
        if (scope != null) scope.close();
    }

    private static long upload(Tensor t) {
        Tensor c = t.contiguous();
        long bytes = c.segment().byteSize();
        long p = gpu.allocator().allocate(bytes);
        Cuda.copyToDevice(p, c.segment(), bytes, gpu.stream());
        return p;
    }

    private static float[] download(long p, int n) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(ValueLayout.JAVA_FLOAT, n);
            Cuda.copyToHost(h, p, 4L * n, gpu.stream());
            gpu.synchronize();
            return h.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    private static void assertClose(float[] got, float[] want, double tol) {
        assertThat(got).hasSameSizeAs(want);
        for (int i = 0; i < want.length; i++) {
            assertThat((double) got[i]).as("element " + i).isCloseTo(want[i], org.assertj.core.data.Offset.offset(tol * (1 + Math.abs(want[i]))));
        }
    }

    /**
     * Uploads through the staging ring, three times round its slots with no wait in between, each
     * followed by a kernel that reads the data, land where they should; so do uploads too large for
     * a slot, which wait instead.
     */
    @Test
    void stagedUploadsKeepStreamOrder() {
        int n = 64, copies = 12;
        try (StagingRing ring = new StagingRing(4, 4L * n); Arena host = Arena.ofConfined()) {
            long[] dst = new long[copies], sums = new long[copies];
            MemorySegment src = host.allocate(ValueLayout.JAVA_FLOAT, n);
            for (int c = 0; c < copies; c++) {
                for (int i = 0; i < n; i++) src.setAtIndex(ValueLayout.JAVA_FLOAT, i, c * 1000 + i);
                dst[c] = gpu.allocator().allocate(4L * n);
                sums[c] = gpu.allocator().allocate(4);
                assertThat(ring.upload(src, dst[c], 4L * n, gpu.stream())).isTrue();
                gpu.modules().function("reduce.cu", "sum_rows_f32").launch(new int[]{1, 1, 1}, new int[]{64, 1, 1}, 0, gpu.stream(), dst[c], sums[c], n);
            }
            assertThat(ring.upload(src, dst[0], 4L * n + 4, gpu.stream())).as("larger than a slot").isFalse();
            for (int c = 0; c < copies; c++) {
                float[] got = download(dst[c], n);
                for (int i = 0; i < n; i++) assertThat(got[i]).isEqualTo(c * 1000 + i);
                assertThat(download(sums[c], 1)[0]).isEqualTo(c * 1000f * n + n * (n - 1) / 2f);
                gpu.allocator().release(dst[c]);
                gpu.allocator().release(sums[c]);
            }
            int big = 40_000;   // 160 KB: past the device's 64 KiB slots, so the upload waits
            MemorySegment large = host.allocate(ValueLayout.JAVA_FLOAT, big);
            for (int i = 0; i < big; i++) large.setAtIndex(ValueLayout.JAVA_FLOAT, i, i);
            long p = gpu.allocator().allocate(4L * big);
            gpu.upload(large, p, 4L * big);
            float[] got = download(p, big);
            for (int i = 0; i < big; i += 997) assertThat(got[i]).isEqualTo(i);
            gpu.allocator().release(p);
        }
    }

    @Test
    void softmaxAndLogSoftmaxRows() {
        try (var e = scope.enter()) {
            int rows = 7, cols = 1000;
            Tensor x = Tensor.randn(DType.F32, 1, 3.0, rows, cols);
            long dx = upload(x), dy = gpu.allocator().allocate(4L * rows * cols);
            for (int log = 0; log < 2; log++) {
                gpu.modules().function("reduce.cu", "softmax_rows_f32").launch(new int[]{rows, 1, 1}, new int[]{256, 1, 1}, 0, gpu.stream(), dx, dy, cols, log);
                assertClose(download(dy, rows * cols), (log == 0 ? x.softmax(-1) : x.logSoftmax(-1)).toFloatArray(), 1e-5);
            }
        }
    }

    @Test
    void rmsNormRows() {
        try (var e = scope.enter()) {
            int rows = 5, cols = 333;
            Tensor x = Tensor.randn(DType.F32, 2, 1.0, rows, cols), w = Tensor.randn(DType.F32, 3, 1.0, cols);
            long dx = upload(x), dw = upload(w), dy = gpu.allocator().allocate(4L * rows * cols), dr = gpu.allocator().allocate(4L * rows);
            gpu.modules().function("reduce.cu", "rmsnorm_f32").launch(new int[]{rows, 1, 1}, new int[]{128, 1, 1}, 0, gpu.stream(), dx, dw, dy, dr, cols, 1e-6f);
            assertClose(download(dy, rows * cols), x.rmsNorm(w, 1e-6).toFloatArray(), 1e-5);
        }
    }

    @Test
    void swiglu() {
        try (var e = scope.enter()) {
            int n = 4097;
            Tensor g = Tensor.randn(DType.F32, 4, 2.0, n), u = Tensor.randn(DType.F32, 5, 1.0, n);
            long dg = upload(g), du = upload(u), dy = gpu.allocator().allocate(4L * n);
            gpu.modules().function("elementwise.cu", "swiglu_f32").launch(new int[]{(n + 255) / 256, 1, 1}, new int[]{256, 1, 1}, 0, gpu.stream(), dg, du, dy, (long) n);
            assertClose(download(dy, n), g.silu().mul(u).toFloatArray(), 1e-5);
        }
    }

    @Test
    void rotaryEmbedding() {
        try (var e = scope.enter()) {
            int tokens = 6, heads = 3, dim = 64, half = dim / 2;
            Tensor x = Tensor.randn(DType.F32, 6, 1.0, tokens, heads, dim);
            float[] cos = new float[tokens * half], sin = new float[tokens * half];
            int[] pos = new int[tokens];
            for (int t = 0; t < tokens; t++) {
                pos[t] = t;
                for (int i = 0; i < half; i++) {
                    double ang = t * Math.pow(10000, -2.0 * i / dim);
                    cos[t * half + i] = (float) Math.cos(ang);
                    sin[t * half + i] = (float) Math.sin(ang);
                }
            }
            Tensor c = Tensor.of(cos, tokens, 1, half), s = Tensor.of(sin, tokens, 1, half);
            long dx = upload(x), dc = upload(c), ds = upload(s), dp = upload(Tensor.ofInts(pos, tokens)), dy = gpu.allocator().allocate(4L * x.numel());
            gpu.modules().function("rope.cu", "rope_f32").launch(new int[]{4, 1, 1}, new int[]{256, 1, 1}, 0, gpu.stream(), dx, dy, dc, ds, dp, tokens, heads, dim, 0);
            assertClose(download(dy, (int) x.numel()), x.rope(c, s).toFloatArray(), 1e-5);
        }
    }

    @Test
    void absorbedMlaDecodeMatchesAttentionOverTheLatentCache() {
        try (var e = scope.enter()) {
            int batch = 2, heads = 16, r = 512, p = 64, maxLen = 300, splits = 4;
            int[] lens = {300, 123};
            float scale = (float) (1 / Math.sqrt(192));
            Tensor q = Tensor.randn(DType.F32, 7, 1.0, batch, heads, r + p);
            Tensor cache = Tensor.randn(DType.F32, 8, 1.0, batch, maxLen, r), pe = Tensor.randn(DType.F32, 9, 1.0, batch, maxLen, p);
            long dq = upload(q), dc = upload(cache), dpe = upload(pe), dl = upload(Tensor.ofInts(lens, batch));
            long o = gpu.allocator().allocate(4L * batch * splits * heads * r), m = gpu.allocator().allocate(4L * batch * splits * heads),
                    l = gpu.allocator().allocate(4L * batch * splits * heads), out = gpu.allocator().allocate(4L * batch * heads * r);
            gpu.modules().function("mla_decode.cu", "mla_decode_f32").launch(new int[]{splits, (heads + 7) / 8, batch}, new int[]{256, 1, 1}, 0,
                    gpu.stream(), dq, (long) (r + p), dq + 4L * r, (long) (r + p), dc, dpe, dl, 0, o, m, l, heads, maxLen, r, p, scale);   // the joined query's two parts
            gpu.modules().function("mla_decode.cu", "mla_decode_combine").launch(new int[]{heads, batch, 1}, new int[]{256, 1, 1}, 0,
                    gpu.stream(), o, m, l, out, splits, heads, r, dl, 0);   // lengths from device memory: each merges the splits that worked
            float[] got = download(out, batch * heads * r);
            for (int b = 0; b < batch; b++) {
                Tensor keys = Tensor.concat(java.util.List.of(cache.select(0, b), pe.select(0, b)), -1).narrow(0, 0, lens[b]);   // (len, r + p)
                Tensor att = q.select(0, b).matmul(keys.transpose(0, 1)).mul(scale).softmax(-1);      // (heads, len)
                Tensor want = att.matmul(cache.select(0, b).narrow(0, 0, lens[b]));                           // (heads, r)
                float[] w = want.toFloatArray();
                float[] g = java.util.Arrays.copyOfRange(got, b * heads * r, (b + 1) * heads * r);
                assertClose(g, w, 1e-4);
            }
        }
    }
}
