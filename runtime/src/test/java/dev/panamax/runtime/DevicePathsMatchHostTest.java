package dev.panamax.runtime;

import dev.panamax.runtime.nn.Parameter;
import dev.panamax.runtime.optim.AdamW;
import dev.panamax.runtime.optim.GradClip;
import dev.panamax.runtime.optim.Optimizer;
import dev.panamax.runtime.optim.Sgd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every op run on a device gives what it gives on the host, forward and backward. The device
 * is {@link EmulatedDevice} (host memory, scalar kernels), so this checks the device plumbing
 * of the op classes: scope-owned device memory, moves in both directions, the offsets and
 * strides each primitive receives, host operands moved to the device, the host fallbacks and
 * autograd across devices. The CUDA kernels themselves are checked against the CPU by the
 * GPU-tagged tests.
 */
class DevicePathsMatchHostTest {
    Device DEV = Device.cuda(7);
    EmulatedDevice emu;
    Scope scope;

    /** Device blocks held outside any scope of the test (the emulation's live blocks). */
    long liveBlocks() {
        return emu.liveBlocks();
    }

    @BeforeEach
    void install() {
        emu = EmulatedDevice.install(DEV);
        scope = Scope.open();
    }

    @AfterEach
    void uninstall() {
        if (scope == null) return; // skipped before the device was set up
        scope.close();
        assertThat(liveBlocks()).as("device blocks left after the scope closed").isZero();
        if (emu != null) emu.uninstall();
    }

    /** Runs {@code op} on host leaves and on device copies of them; compares outputs and gradients. */
    private void same(String name, Function<List<Tensor>, Tensor> op, Tensor... inputs) {
        Tensor[] host = new Tensor[inputs.length], dev = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            host[i] = inputs[i].detach().copy();
            dev[i] = inputs[i].detach().to(DEV);
            if (inputs[i].dtype().isFloating()) {
                host[i].requiresGrad(true);
                dev[i].requiresGrad(true);
            }
        }
        Tensor h = op.apply(List.of(host)), d = op.apply(List.of(dev));
        assertThat(d.device()).as(name + " output device").isEqualTo(DEV);
        assertThat(d.dims()).as(name + " dims").containsExactly(h.dims());
        close(name, d.to(Device.CPU).toFloatArray(), h.toFloatArray());
        if (!h.requiresGrad()) return;
        Tensor g = Tensor.randn(DType.F32, 99, 1.0, h.dims());
        h.backward(g);
        d.backward(g.to(DEV));
        for (int i = 0; i < inputs.length; i++) {
            if (host[i].grad() == null) continue;
            assertThat(dev[i].grad()).as(name + " gradient of input " + i).isNotNull();
            assertThat(dev[i].grad().device()).isEqualTo(DEV);
            close(name + " d input " + i, dev[i].grad().toFloatArray(), host[i].grad().toFloatArray());
        }
    }

    private static void close(String what, float[] got, float[] want) {
        assertThat(got).as(what).hasSameSizeAs(want);
        for (int i = 0; i < got.length; i++) {
            if (Float.isNaN(want[i])) {
                assertThat(got[i]).as(what + " [" + i + "]").isNaN();
                continue;
            }
            assertThat((double) got[i]).as(what + " [" + i + "]").isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-4 + 1e-4 * Math.abs(want[i])));
        }
    }

    private static Tensor r(long seed, long... dims) {
        return Tensor.randn(DType.F32, seed, 1.0, dims);
    }

    @Test
    void movesRoundTripAndReportTheirDevice() {
        Tensor x = r(1, 3, 5).transpose(0, 1);
        Tensor d = x.to(DEV);
        assertThat(d.device()).isEqualTo(DEV);
        assertThat(x.device()).isEqualTo(Device.CPU);
        assertThat(d.to(DEV)).isSameAs(d);
        assertThat(d.toFloatArray()).containsExactly(x.toFloatArray());
        assertThat(d.getDouble(2, 1)).isEqualTo(x.getDouble(2, 1));
        d.setDouble(42.0, 2, 1);
        assertThat(d.getDouble(2, 1)).isEqualTo(42.0);
        assertThat(Tensor.ofLongs(new long[]{3, -4, 5}).to(DEV).toLongArray()).containsExactly(3, -4, 5);
        assertThat(r(2, 4).to(DType.BF16).to(DEV).to(DType.F32).toFloatArray()).containsExactly(r(2, 4).to(DType.BF16).to(DType.F32).toFloatArray());
        assertThat(scope.deviceBytes()).isPositive();
    }

    @Test
    void hostOnlyAccessToADeviceTensorIsAClearError() {
        Tensor d = r(1, 4).to(DEV);
        assertThatThrownBy(d::segment).isInstanceOf(UnsupportedOperationException.class).hasMessageContaining(DEV.toString()).hasMessageContaining("to(Device.CPU)");
    }

    @Test
    void elementwiseWithBroadcastingAndHostOperands() {
        same("add", t -> t.get(0).add(t.get(1)), r(1, 2, 3, 4), r(2, 3, 1));
        same("sub/mul/div", t -> t.get(0).sub(t.get(1)).mul(t.get(0)).div(t.get(1).abs().add(1.0)), r(3, 5, 4), r(4, 4));
        same("max/min/pow", t -> t.get(0).maximum(t.get(1)).add(t.get(0).minimum(t.get(1))).add(t.get(0).abs().add(0.5).pow(t.get(1))), r(5, 6), r(6, 6));
        same("unary chain", t -> t.get(0).exp().add(t.get(0).sigmoid()).add(t.get(0).silu()).add(t.get(0).tanh()).add(t.get(0).neg().abs())
                .add(t.get(0).square().add(1.0).sqrt()).add(t.get(0).square().add(1.0).rsqrt()).add(t.get(0).square().add(1.0).log())
                .add(t.get(0).apply(UnaryOp.RELU)).add(t.get(0).square().add(1.0).apply(UnaryOp.RECIPROCAL)), r(7, 3, 7));
        same("strided input", t -> t.get(0).transpose(0, 1).mul(2.0).silu(), r(8, 4, 6));
        same("host mask on device", t -> t.get(0).add(Tensor.causalMask(3, 5, 2)), r(9, 2, 3, 5));
        same("host target, device operand", t -> {
            Tensor c = Tensor.zeros(DType.F32, 3, 4);
            c.addInPlace(t.get(0).detach());
            return c.to(t.get(0).device());
        }, r(11, 3, 4));
        same("in place on a view", t -> {
            Tensor c = t.get(0).detach().copy();
            c.narrow(1, 1, 2).addInPlace(Tensor.ones(DType.F32, 3, 2));
            return c;
        }, r(10, 3, 4));
    }

    @Test
    void reductionsOverEveryDim() {
        for (int d = 0; d < 3; d++) {
            int dim = d;
            same("sum " + d, t -> t.get(0).sum(dim, false), r(11, 3, 4, 5));
            same("mean " + d, t -> t.get(0).mean(dim, true), r(12, 3, 4, 5));
            same("max " + d, t -> t.get(0).max(dim, false), r(13, 3, 4, 5));
        }
        same("argmax", t -> t.get(0).argmax(1, false).to(DType.F32), r(14, 4, 6));
    }

    @Test
    void argmaxFindsTheFirstNanOrMaximumOnTheDevice() {
        float nan = Float.NaN, inf = Float.POSITIVE_INFINITY;
        float[] x = new float[3 * 5 * 1100];
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(8);
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.rint(rnd.nextGaussian() * 2);   // many ties
        x[7] = nan;
        x[40] = inf;
        x[1100 + 3] = -inf;
        x[2 * 1100 + 9] = nan;
        x[2 * 1100 + 600] = nan;
        Tensor host = Tensor.of(x, 3, 5, 1100);
        for (Tensor h : new Tensor[]{host, host.to(DType.BF16)}) {
            Tensor dev = h.to(DEV);
            for (int d = 0; d < 3; d++) {
                for (boolean keep : new boolean[]{false, true}) {
                    long before = downloads();
                    Tensor got = dev.argmax(d, keep);
                    assertThat(downloads() - before).as("copies to the host").isZero();
                    assertThat(got.device()).isEqualTo(DEV);
                    assertThat(got.dtype()).isEqualTo(DType.I64);
                    assertThat(got.dims()).containsExactly(h.argmax(d, keep).dims());
                    assertThat(got.toLongArray()).as("%s dim %d", h.dtype(), d).containsExactly(h.argmax(d, keep).toLongArray());
                }
            }
        }
        Tensor ints = Tensor.ofLongs(new long[]{(1L << 40) + 1, (1L << 40) + 2, 5}, 3).to(DEV);   // F32 would tie the first two
        assertThat(ints.argmax(0, false).toLongArray()).containsExactly(1);
    }

    @Test
    void matmulShapesTransposesAndSixteenBitWeights() {
        same("2-D", t -> t.get(0).matmul(t.get(1)), r(20, 5, 7), r(21, 7, 3));
        same("A^T", t -> t.get(0).t().matmul(t.get(1)), r(22, 7, 5), r(23, 7, 3));
        same("B^T (linear)", t -> t.get(0).matmul(t.get(1).t()), r(24, 5, 7), r(25, 3, 7));
        same("batched broadcast", t -> t.get(0).matmul(t.get(1)), r(26, 2, 3, 4, 5), r(27, 3, 5, 6));
        same("vector", t -> t.get(0).matmul(t.get(1)), r(28, 5), r(29, 5, 4));
        // batched (one strided-batched product on CUDA where every operand's items are evenly spaced)
        same("batched 4-D, keys transposed in place", t -> t.get(0).matmul(t.get(1).transpose(-1, -2)), r(90, 2, 3, 4, 5), r(91, 2, 3, 6, 5));
        same("batched against one broadcast matrix", t -> t.get(0).matmul(t.get(1)), r(92, 2, 3, 4, 5), r(93, 5, 6));
        same("one matrix against a batch", t -> t.get(0).matmul(t.get(1)), r(94, 4, 5), r(95, 3, 5, 6));
        same("broadcast over a middle batch dim (uneven)", t -> t.get(0).matmul(t.get(1)), r(96, 2, 1, 4, 5), r(97, 2, 3, 5, 6));
        same("narrowed batch (uneven)", t -> t.get(0).narrow(1, 1, 2).matmul(t.get(1)), r(98, 2, 4, 3, 5), r(99, 2, 2, 5, 3));
        same("BF16 times BF16, batched 4-D", t -> t.get(0).to(DType.BF16).matmul(t.get(1).to(DType.BF16).transpose(-1, -2)),
                r(100, 2, 2, 3, 8), r(101, 2, 2, 5, 8));
        same("row times BF16 weight^T", t -> t.get(0).matmul(t.get(1).to(DType.BF16).t()), r(30, 1, 9), r(31, 6, 9));
        same("rows times F16 weight^T", t -> t.get(0).matmul(t.get(1).to(DType.F16).t()), r(32, 4, 9), r(33, 6, 9));
        // decode shapes (gemv.cu on CUDA): 16-byte rows, a ragged tail, an unaligned narrowed weight, and one row past the kernel's limit
        same("8 rows times BF16 weight^T, k 264", t -> t.get(0).matmul(t.get(1).to(DType.BF16).t()), r(84, 8, 264), r(85, 37, 264));
        same("1 row times F16 weight^T, k 203", t -> t.get(0).matmul(t.get(1).to(DType.F16).t()), r(86, 1, 203), r(87, 5, 203));
        same("2 rows times narrowed BF16 weight^T", t -> t.get(0).matmul(t.get(1).to(DType.BF16).narrow(1, 3, 200).t()), r(88, 2, 200), r(89, 6, 264));
        same("9 rows times BF16 weight^T", t -> t.get(0).matmul(t.get(1).to(DType.BF16).t()), r(81, 9, 64), r(82, 11, 64));
        // per-head products against 16-bit weights (the absorbed MLA query and output): at most 8 rows
        // per item are one batched gemv.cu launch on CUDA, (k, n) weights (gemvn) or (n, k) ones;
        // more rows widen every item's weight in one copy for one batched cuBLAS product
        same("per-head row times BF16 (k, n) weights, n past a block", t -> t.get(0).matmul(t.get(1).to(DType.BF16)), r(120, 1, 3, 1, 40), r(121, 3, 40, 70));
        same("per-head rows times F16 (k, n) weights", t -> t.get(0).matmul(t.get(1).to(DType.F16)), r(122, 3, 3, 21), r(123, 3, 21, 9));
        same("per-head row times narrowed BF16 heads (W_UK of kv_b_proj)", t -> t.get(0).matmul(t.get(1).to(DType.BF16).narrow(1, 0, 8)),
                r(124, 1, 3, 1, 8), r(125, 3, 12, 40));
        same("per-head row times narrowed BF16 heads^T (W_UV^T)", t -> t.get(0).matmul(t.get(1).to(DType.BF16).narrow(1, 8, 4).transpose(-1, -2)),
                r(126, 1, 3, 1, 40), r(127, 3, 12, 40));
        same("heads broadcast over sequences (uneven outer batch)", t -> t.get(0).matmul(t.get(1).to(DType.BF16)), r(128, 2, 3, 2, 40), r(129, 3, 40, 20));
        same("9 rows per head times BF16 heads (widened)", t -> t.get(0).matmul(t.get(1).to(DType.BF16)), r(130, 3, 9, 16), r(131, 3, 16, 5));
        same("a row times a BF16 weight with no outputs", t -> t.get(0).matmul(t.get(1).to(DType.BF16).t()), r(134, 1, 9), r(135, 0, 9));
        same("per-head rows times BF16 heads with no outputs", t -> t.get(0).matmul(t.get(1).to(DType.BF16)), r(136, 3, 2, 9), r(137, 3, 9, 0));
        same("9 rows per item times one BF16 weight^T (widened once)", t -> t.get(0).matmul(t.get(1).to(DType.BF16).t()), r(132, 3, 9, 16), r(133, 5, 16));
        same("host weight", t -> t.get(0).matmul(r(34, 7, 2)), r(35, 3, 7));
        same("BF16 times BF16^T", t -> t.get(0).to(DType.BF16).matmul(t.get(1).to(DType.BF16).t()), r(38, 5, 9), r(39, 6, 9));
        same("F16 times F16, batched", t -> t.get(0).to(DType.F16).matmul(t.get(1).to(DType.F16)), r(18, 2, 3, 9), r(19, 2, 9, 4));
        Tensor out = Tensor.zeros(DType.F32, 5, 3).to(DEV);
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            r(36, 5, 7).to(DEV).matmulInto(r(37, 7, 3).to(DEV), out);
        }
        close("matmulInto", out.toFloatArray(), r(36, 5, 7).matmul(r(37, 7, 3)).toFloatArray());
        // 16-bit outputs: straight from cuBLAS for two operands of their type, else the F32 product rounded once
        for (DType half : new DType[]{DType.BF16, DType.F16}) {
            Tensor a16 = r(112, 2, 6, 40).to(half), b16 = r(113, 2, 40, 5).to(half), wide = r(114, 6, 40);
            float[] want = a16.matmul(b16).to(half).toFloatArray(), wantWide = wide.matmul(b16.narrow(0, 0, 1).view(40, 5)).to(half).toFloatArray();
            Tensor got = Tensor.zeros(DEV, half, 2, 6, 5), gotWide = Tensor.zeros(DEV, half, 6, 5);
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                a16.to(DEV).matmulInto(b16.to(DEV), got);
                wide.to(DEV).matmulInto(b16.narrow(0, 0, 1).view(40, 5).to(DEV), gotWide);
            }
            assertThat(got.dtype()).isEqualTo(half);
            float[] g = got.toFloatArray(), gw = gotWide.toFloatArray();
            for (int i = 0; i < want.length; i++) assertThat(g[i]).as(half + " out [" + i + "]").isCloseTo(want[i], within(1e-2f * (1 + Math.abs(want[i]))));
            for (int i = 0; i < wantWide.length; i++) assertThat(gw[i]).as(half + " out of F32 x " + half + " [" + i + "]").isCloseTo(wantWide[i], within(1e-2f * (1 + Math.abs(wantWide[i]))));
        }
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            assertThatThrownBy(() -> r(36, 5, 7).matmulInto(r(37, 7, 3), Tensor.zeros(DType.I32, 5, 3))).hasMessageContaining("F32, F64, BF16 or F16");
        }
        assertThatThrownBy(() -> r(36, 5, 7).matmulInto(r(37, 7, 3).to(DEV), Tensor.zeros(DType.F32, 5, 3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("one device");
    }

    @Test
    void groupedExpertProductsAgreeWithTheHost() {
        // groups of 2, 0, 3 and 1 rows (an expert that got no token), as MoE.forward lays them out
        int[] offsets = {0, 2, 2, 5, 6};
        Function<DType, Function<List<Tensor>, Tensor>> grouped = dt -> t -> Functional.groupedLinear(t.get(0), offsets,
                t.get(1).to(dt), t.get(2).to(dt), t.get(3).to(dt), t.get(4).to(dt));
        // F32 weights: one cublasGemmGroupedBatchedEx each way on CUDA
        same("grouped F32", grouped.apply(DType.F32), r(120, 6, 40), r(121, 24, 40), r(122, 24, 40), r(123, 24, 40), r(124, 24, 40));
        // 16-bit weights at decode sizes: one grouped gemv.cu launch forward, one product per group backward
        same("grouped BF16 weights", grouped.apply(DType.BF16), r(125, 6, 40), r(126, 24, 40), r(127, 24, 40), r(128, 24, 40), r(129, 24, 40));
        same("grouped F16 weights, k 203", grouped.apply(DType.F16), r(130, 6, 203), r(131, 5, 203), r(132, 5, 203), r(133, 5, 203), r(134, 5, 203));
        // groups past gemv.cu's 8 rows: 9 rows as two blocks of the grouped gemv (8 and 1), 32 as four,
        // 40 (past GEMV_GROUPED_MAX_ROWS) as a product of its own, beside the grouped launch
        same("grouped BF16, groups of 9, 3, 32 and 40 rows", t -> Functional.groupedLinear(t.get(0), new int[]{0, 9, 12, 44, 84},
                        t.get(1).to(DType.BF16), t.get(2).to(DType.BF16), t.get(3).to(DType.BF16), t.get(4).to(DType.BF16)),
                r(135, 84, 32), r(136, 7, 32), r(137, 7, 32), r(191, 7, 32), r(192, 7, 32));
        // 40 groups of one row each: two grouped gemv.cu launches (32 groups at most per launch)
        int[] ones = new int[41];
        for (int g = 0; g <= 40; g++) ones[g] = g;
        Tensor[] many = new Tensor[41];
        many[0] = r(138, 40, 16);
        for (int g = 1; g <= 40; g++) many[g] = r(138 + g, 3, 16);
        same("40 groups of BF16 weights", t -> Functional.groupedLinear(t.get(0), ones,
                t.subList(1, 41).stream().map(w -> w.to(DType.BF16)).toArray(Tensor[]::new)), many);
        same("siluMul", t -> Functional.siluMul(t.get(0), t.get(1)), r(180, 3, 7), r(181, 3, 7));
        // gate and up projections of every group in one grouped call, F32 (cuBLAS) and BF16 (gemv.cu)
        for (DType dt : new DType[]{DType.F32, DType.BF16}) {
            same("groupedSwiglu " + dt, t -> Functional.groupedSwiglu(t.get(0), offsets,
                            new Tensor[]{t.get(1).to(dt), t.get(2).to(dt), t.get(3).to(dt), t.get(4).to(dt)},
                            new Tensor[]{t.get(5).to(dt), t.get(6).to(dt), t.get(7).to(dt), t.get(8).to(dt)}),
                    r(182, 6, 40), r(183, 16, 40), r(184, 16, 40), r(185, 16, 40), r(186, 16, 40),
                    r(187, 16, 40), r(188, 16, 40), r(189, 16, 40), r(190, 16, 40));
        }
    }

    /** The routed experts composed of plain host ops, token by token and slot by slot: the reference for {@link RoutedExperts}. */
    private static Tensor routedByOps(Tensor x, long[] chosen, Tensor w, Tensor base, Tensor[] g, Tensor[] u, Tensor[] d) {
        long n = x.dim(0), k = w.dim(1);
        Tensor[] rows = new Tensor[(int) n];
        for (int t = 0; t < n; t++) {
            Tensor xt = x.narrow(0, t, 1), acc = Tensor.zeros(DType.F32, 1, x.dim(1));
            for (int j = 0; j < k; j++) {
                long e = chosen[(int) (t * k + j)];
                if (e < 0 || e >= g.length) continue;
                Tensor h = xt.matmul(g[(int) e].t()).silu().mul(xt.matmul(u[(int) e].t()));
                acc = acc.add(h.matmul(d[(int) e].t()).mul(w.narrow(0, t, 1).narrow(1, j, 1)));
            }
            rows[t] = base == null ? acc : acc.add(base.narrow(0, t, 1));
        }
        return Tensor.concat(List.of(rows), 0);
    }

    /** n tokens each choosing k of e experts (seeded; a few ids outside the experts when {@code invalid}). */
    private static long[] choices(long seed, int n, int k, int e, boolean invalid) {
        java.util.Random rnd = new java.util.Random(seed);
        long[] c = new long[n * k];
        for (int i = 0; i < c.length; i++) c[i] = rnd.nextInt(e);
        if (invalid) {
            c[1] = e;
            c[c.length - 1] = -1;
        }
        return c;
    }

    @Test
    void routedExpertsAtInferenceMatchTheirCompositionOfOps() {
        // (tokens, top-k, experts, inner, C): one decode token; 12 tokens whose 36 pairs give some of 5
        // experts more than 8 rows (the kernels' chunks), with ids outside the experts; 40 experts
        // (the plan's scan over runs of 2 experts a lane) and 70 pairs (3 ballots an expert); 256 experts
        int[][] shapes = {{1, 6, 16, 24, 40}, {12, 3, 5, 20, 33}, {10, 7, 40, 8, 16}, {3, 8, 256, 4, 16}};
        for (DType dt : new DType[]{DType.F32, DType.BF16, DType.F16}) {
            for (int[] sh : shapes) {
                int n = sh[0], k = sh[1], e = sh[2], inner = sh[3], c = sh[4];
                if (dt != DType.BF16 && e == 256) continue;
                Tensor[] g = new Tensor[e], u = new Tensor[e], d = new Tensor[e];
                for (int j = 0; j < e; j++) {
                    g[j] = r(300 + 3L * j, inner, c).to(dt);
                    u[j] = r(301 + 3L * j, inner, c).to(dt);
                    d[j] = r(302 + 3L * j, c, inner).to(dt);
                }
                long[] chosen = choices(n * 31L + e, n, k, e, n == 12);
                Tensor x = r(290, n, c), w = r(291, n, k), base = r(292, n, c);
                String what = "routed experts " + dt + " " + java.util.Arrays.toString(sh);
                Tensor want = routedByOps(x, chosen, w, base, g, u, d);
                Tensor ids = Tensor.ofLongs(chosen, n, k);
                close(what + " on the host", new RoutedExperts(g, u, d).forward(x, ids, w, base).toFloatArray(), want.toFloatArray());
                Tensor[] gd = new Tensor[e], ud = new Tensor[e], dd = new Tensor[e];
                for (int j = 0; j < e; j++) {
                    gd[j] = g[j].to(DEV);
                    ud[j] = u[j].to(DEV);
                    dd[j] = d[j].to(DEV);
                }
                RoutedExperts onDevice = new RoutedExperts(gd, ud, dd);
                Tensor xd = x.to(DEV);
                assertThat(onDevice.preferred(xd, w, base)).as(what + " preferred").isTrue();
                // the choice as the gate leaves it on a device (I32 there), and as host I64
                Tensor got = onDevice.forward(xd, ids.to(DType.I32).to(DEV), w.to(DEV), base.to(DEV));
                assertThat(got.device()).isEqualTo(DEV);
                close(what + " on " + DEV, got.toFloatArray(), want.toFloatArray());
                close(what + " on " + DEV + ", host I64 choice, no base", onDevice.forward(xd, ids, w, null).toFloatArray(),
                        routedByOps(x, chosen, w, null, g, u, d).toFloatArray());
            }
        }
        Tensor[] g = {r(320, 4, 6).to(DEV)}, u = {r(321, 4, 6).to(DEV)}, d = {r(322, 6, 4).to(DEV)};
        RoutedExperts one = new RoutedExperts(g, u, d);
        Tensor x = r(323, 2, 6).to(DEV), ids = Tensor.ofLongs(new long[]{0, 0}, 2, 1), w = r(324, 2, 1);
        Tensor none = one.forward(x, Tensor.ofLongs(new long[0], 2, 0), Tensor.zeros(DType.F32, 2, 0), r(330, 2, 6).to(DEV));
        close("no expert chosen: base alone", none.toFloatArray(), r(330, 2, 6).toFloatArray());
        assertThat(one.preferred(r(325, 33, 6).to(DEV), w, null)).as("past the decode tokens").isFalse();
        assertThat(one.preferred(r(325, 2, 6), w, null)).as("x on the host").isFalse();
        Tensor wg = w.detach().copy().requiresGrad(true);
        assertThat(one.preferred(x, wg, null)).as("a gradient needed").isFalse();
        assertThatThrownBy(() -> one.forward(x, ids, wg, null)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no gradient");
        assertThatThrownBy(() -> one.forward(x, ids, r(326, 2, 2), null)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("weights (2, 1)");
        assertThatThrownBy(() -> one.forward(r(327, 2, 5).to(DEV), ids, w, null)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x (N, 6)");
        assertThatThrownBy(() -> new RoutedExperts(g, u, new Tensor[]{r(328, 4, 6).to(DEV)})).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expert 0 down must be (6, 4)");
        assertThatThrownBy(() -> new RoutedExperts(g, new Tensor[]{r(329, 4, 6)}, d)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expert 0 up is f32 on cpu");
    }

    @Test
    void swigluAtDecodeWithoutGradientsMatchesItsComposition() {
        // up to 8 rows on a device, no gradient: one gemv_swiglu launch (both products and the gate);
        // k 40 takes the 16-byte loads, k 203 the scalar tail only; 9 rows take the composed path
        for (DType dt : new DType[]{DType.F32, DType.BF16, DType.F16}) {
            for (long[] shape : new long[][]{{1, 1, 40}, {2, 4, 40}, {1, 3, 203}, {9, 203}}) {
                long k = shape[shape.length - 1];
                Tensor x = r(340, shape), w1 = r(341, 24, k).to(dt), w3 = r(342, 24, k).to(dt);
                Tensor want = x.matmul(w1.t()).silu().mul(x.matmul(w3.t()));
                Tensor got;
                try (Autograd.NoGrad ng = Autograd.noGrad()) {
                    got = Functional.swiglu(x.to(DEV), w1.to(DEV), w3.to(DEV));
                }
                assertThat(got.device()).isEqualTo(DEV);
                assertThat(got.dims()).containsExactly(want.dims());
                close("swiglu " + dt + " " + java.util.Arrays.toString(shape), got.toFloatArray(), want.toFloatArray());
            }
        }
    }

    @Test
    void residualAddAndNormMatchTheirComposition() {
        // without gradients on a device one add_rmsnorm_f32 launch (rows wider than a block of threads too);
        // with them the recorded add and norm, whose gradients match the host's
        for (long[] shape : new long[][]{{1, 1, 48}, {2, 3, 1500}}) {
            Tensor x = r(350, shape), d = r(351, shape), w = r(352, shape[shape.length - 1]);
            Tensor h = x.add(d), want = h.rmsNorm(w, 1e-6);
            Tensor[] got;
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                got = Functional.addRmsNorm(x.to(DEV), d.to(DEV), w.to(DType.BF16).to(DType.F32).to(DEV), 1e-6);
            }
            Tensor wantBf16Weight = h.rmsNorm(w.to(DType.BF16).to(DType.F32), 1e-6);
            assertThat(got[0].device()).isEqualTo(DEV);
            close("addRmsNorm sum " + java.util.Arrays.toString(shape), got[0].toFloatArray(), h.toFloatArray());
            close("addRmsNorm norm " + java.util.Arrays.toString(shape), got[1].toFloatArray(), wantBf16Weight.toFloatArray());
            assertThat(want.dims()).containsExactly(got[1].dims());
        }
        same("addRmsNorm with gradients", t -> Functional.addRmsNorm(t.get(0), t.get(1), t.get(2), 1e-6)[1], r(353, 2, 5), r(354, 2, 5), r(355, 5));
        same("addRmsNorm without a residual", t -> Functional.addRmsNorm(t.get(0), null, t.get(1), 1e-6)[1], r(356, 2, 5), r(357, 5));
    }

    /**
     * MLA's new cache entries (Functional.latentKvInto): on a device, from a contiguous F32 kv, one
     * latent_kv_rows launch; from a narrowed kv, the norm, the rotation and two copies. Both land
     * in the same bits, at their positions only, in an F32 and a BF16 cache, for one token and for
     * several, with latent rows wider than a block of threads; both match the host's ops.
     */
    @Test
    void latentCacheEntriesAreTheNormAndRotationOfTheirOps() {
        long b = 2, n = 1500, r = 64, cap = 6, start = 2;
        double eps = 1e-6;
        for (DType cacheType : new DType[]{DType.F32, DType.BF16}) {
            for (long t : new long[]{1, 3}) {
                Tensor wide = r(360 + t, b, t, n + r + 8), kv = wide.narrow(2, 0, n + r);
                Tensor w = r(362, n), cos = r(363, t, r / 2), sin = r(364, t, r / 2);
                Tensor wantLat = kv.narrow(2, 0, n).rmsNorm(w, eps), wantRope = kv.narrow(2, n, r).rope(cos.view(1, t, r / 2), sin.view(1, t, r / 2));
                Tensor fusedLat = Tensor.zeros(DEV, cacheType, b, cap, n), fusedRope = Tensor.zeros(DEV, cacheType, b, cap, r);
                Tensor composedLat = Tensor.zeros(DEV, cacheType, b, cap, n), composedRope = Tensor.zeros(DEV, cacheType, b, cap, r);
                Tensor devKv = kv.contiguous().to(DEV), devW = w.to(DEV), devCos = cos.to(DEV), devSin = sin.to(DEV);
                long before = emu == null ? 0 : emu.allocations();
                Functional.latentKvInto(devKv, devW, eps, devCos, devSin, fusedLat.narrow(1, start, t), fusedRope.narrow(1, start, t));
                if (emu != null) assertThat(emu.allocations() - before).as("the fused path allocates nothing").isZero();
                Functional.latentKvInto(wide.to(DEV).narrow(2, 0, n + r), devW, eps, devCos, devSin, composedLat.narrow(1, start, t), composedRope.narrow(1, start, t));
                String what = cacheType + " cache, " + t + " tokens";
                assertThat(fusedLat.toFloatArray()).as(what + ": latent, one launch against the ops").containsExactly(composedLat.toFloatArray());
                assertThat(fusedRope.toFloatArray()).as(what + ": RoPE key, one launch against the ops").containsExactly(composedRope.toFloatArray());
                float[] lat = fusedLat.narrow(1, start, t).toFloatArray(), rope = fusedRope.narrow(1, start, t).toFloatArray();
                float[] hostLat = wantLat.toFloatArray(), hostRope = wantRope.toFloatArray();
                double tol = cacheType == DType.BF16 ? 0x1p-7 : 1e-5;   // a BF16 rounding may fall either side
                for (int i = 0; i < lat.length; i++) assertThat((double) lat[i]).as(what + " latent [" + i + "]").isCloseTo(hostLat[i], org.assertj.core.data.Offset.offset(1e-5 + tol * Math.abs(hostLat[i])));
                for (int i = 0; i < rope.length; i++) assertThat((double) rope[i]).as(what + " key [" + i + "]").isCloseTo(hostRope[i], org.assertj.core.data.Offset.offset(1e-5 + tol * Math.abs(hostRope[i])));
                // nothing outside the new positions
                double outside = 0;
                for (long p : new long[]{0, 1, start + t, cap - 1}) {
                    if (p >= start && p < start + t) continue;
                    for (float v : fusedLat.narrow(1, p, 1).toFloatArray()) outside += Math.abs(v);
                    for (float v : fusedRope.narrow(1, p, 1).toFloatArray()) outside += Math.abs(v);
                }
                assertThat(outside).as(what + ": positions outside the new ones").isZero();
            }
        }
        // at positions held in device memory (each sequence its own), into the whole cache: the same bits where they say
        for (DType cacheType : new DType[]{DType.F32, DType.BF16}) {
            long t = 1;
            int[] at = {4, 1};
            Tensor kv = r(370, b, t, n + r), w = r(371, n), cos = r(372, t, r / 2), sin = r(373, t, r / 2);
            Tensor lat = Tensor.zeros(DEV, cacheType, b, cap, n), rope = Tensor.zeros(DEV, cacheType, b, cap, r);
            Tensor devKv = kv.to(DEV), devW = w.to(DEV), devCos = cos.to(DEV), devSin = sin.to(DEV);
            Functional.latentKvInto(devKv, devW, eps, devCos, devSin, lat, rope, Tensor.ofInts(at, b).to(DEV));
            for (int i = 0; i < b; i++) {
                Tensor oneLat = Tensor.zeros(DEV, cacheType, 1, 1, n), oneRope = Tensor.zeros(DEV, cacheType, 1, 1, r);
                Functional.latentKvInto(devKv.narrow(0, i, 1), devW, eps, devCos, devSin, oneLat, oneRope);
                assertThat(lat.narrow(0, i, 1).narrow(1, at[i], 1).toFloatArray()).as(cacheType + " latent of sequence " + i + " at " + at[i]).containsExactly(oneLat.toFloatArray());
                assertThat(rope.narrow(0, i, 1).narrow(1, at[i], 1).toFloatArray()).as(cacheType + " key of sequence " + i + " at " + at[i]).containsExactly(oneRope.toFloatArray());
                double elsewhere = 0;
                for (float v : lat.narrow(0, i, 1).toFloatArray()) elsewhere += Math.abs(v);
                for (float v : oneLat.toFloatArray()) elsewhere -= Math.abs(v);
                assertThat(elsewhere).as(cacheType + " nothing written elsewhere in sequence " + i).isCloseTo(0, org.assertj.core.data.Offset.offset(1e-3));
            }
            // on the host the positions are read there, and one past the end is refused
            Tensor hostLat = Tensor.zeros(cacheType, b, cap, n), hostRope = Tensor.zeros(cacheType, b, cap, r);
            Functional.latentKvInto(kv, w, eps, cos, sin, hostLat, hostRope, Tensor.ofInts(at, b));
            float[] hostRow = hostLat.narrow(0, 1, 1).narrow(1, 1, 1).toFloatArray(), devRow = lat.narrow(0, 1, 1).narrow(1, 1, 1).toFloatArray();
            double tol = cacheType == DType.BF16 ? 0x1p-7 : 1e-5;
            for (int j = 0; j < n; j++) assertThat((double) devRow[j]).as(cacheType + " host at positions [" + j + "]").isCloseTo(hostRow[j], org.assertj.core.data.Offset.offset(1e-5 + tol * Math.abs(hostRow[j])));
            assertThatThrownBy(() -> Functional.latentKvInto(kv, w, eps, cos, sin, hostLat, hostRope, Tensor.ofInts(new int[]{(int) cap, 0}, b)))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("position " + cap);
        }
        // each sequence at its own position with its own RoPE rows (a continuous batch's step): each
        // sequence's entries are those of a one-sequence call with its rows, on the device and on the host
        for (DType cacheType : new DType[]{DType.F32, DType.BF16}) {
            long seqs = 3;
            int[] at = {4, 0, 2};
            Tensor kv = r(380, seqs, 1, n + r), w = r(381, n), cos = r(382, seqs, r / 2), sin = r(383, seqs, r / 2);
            Tensor lat = Tensor.zeros(DEV, cacheType, seqs, cap, n), rope = Tensor.zeros(DEV, cacheType, seqs, cap, r);
            Tensor hostLat = Tensor.zeros(cacheType, seqs, cap, n), hostRope = Tensor.zeros(cacheType, seqs, cap, r);
            Tensor devKv = kv.to(DEV), devW = w.to(DEV), devCos = cos.to(DEV), devSin = sin.to(DEV);
            Functional.latentKvInto(devKv, devW, eps, devCos, devSin, lat, rope, Tensor.ofInts(at, seqs).to(DEV));
            Functional.latentKvInto(kv, w, eps, cos, sin, hostLat, hostRope, Tensor.ofInts(at, seqs));
            double tol = cacheType == DType.BF16 ? 0x1p-7 : 1e-5;
            for (int i = 0; i < seqs; i++) {
                Tensor oneLat = Tensor.zeros(DEV, cacheType, 1, 1, n), oneRope = Tensor.zeros(DEV, cacheType, 1, 1, r);
                Functional.latentKvInto(devKv.narrow(0, i, 1), devW, eps, devCos.narrow(0, i, 1), devSin.narrow(0, i, 1), oneLat, oneRope);
                String what = cacheType + " sequence " + i + " at " + at[i] + " with its own RoPE rows";
                assertThat(lat.narrow(0, i, 1).narrow(1, at[i], 1).toFloatArray()).as(what + ": latent").containsExactly(oneLat.toFloatArray());
                assertThat(rope.narrow(0, i, 1).narrow(1, at[i], 1).toFloatArray()).as(what + ": key").containsExactly(oneRope.toFloatArray());
                float[] hostKey = hostRope.narrow(0, i, 1).narrow(1, at[i], 1).toFloatArray(), devKey = oneRope.toFloatArray();
                for (int j = 0; j < r; j++) assertThat((double) devKey[j]).as(what + ": host key [" + j + "]").isCloseTo(hostKey[j], org.assertj.core.data.Offset.offset(1e-5 + tol * Math.abs(hostKey[j])));
            }
        }
        assertThatThrownBy(() -> Functional.latentKvInto(r(1, 1, 1, 10), r(2, 5), 1e-6, r(3, 1, 2), r(4, 1, 2), Tensor.zeros(DType.F32, 1, 1, 6), Tensor.zeros(DType.F32, 1, 1, 4)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("normWeight");
        assertThatThrownBy(() -> Functional.latentKvInto(r(1, 1, 1, 10), r(2, 7), 1e-6, r(3, 1, 1), r(4, 1, 1), Tensor.zeros(DType.F32, 1, 1, 7), Tensor.zeros(DType.F32, 1, 1, 3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("kRopeDst");
        assertThatThrownBy(() -> Functional.latentKvInto(r(1, 1, 1, 10), r(2, 6), 1e-6, r(3, 1, 3), r(4, 1, 2), Tensor.zeros(DType.F32, 1, 1, 6), Tensor.zeros(DType.F32, 1, 1, 4)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cos and sin");
    }

    /**
     * A DeviceGraph replays its step on whatever its input tensors hold at the time: on CUDA a
     * recorded graph (one launch a replay), on the emulated device the body run again; both give
     * what the ops give on the host. A host copy in the body cannot be recorded, fails the capture
     * with a message saying why, and leaves the device working.
     */
    @Test
    void aDeviceGraphReplaysItsStepOnNewInputs() {
        Tensor in = Tensor.zeros(DEV, DType.F32, 3, 8), w = r(501, 8, 5), dw = w.to(DEV), out = Tensor.zeros(DEV, DType.F32, 3, 5);
        try (DeviceGraph g = DeviceGraph.capture(DEV, () -> out.copyFrom(in.matmul(dw).silu().softmax(-1).mul(3)))) {
            assertThat(g.isRecorded()).as("recorded on a real GPU only").isEqualTo(emu == null);
            if (g.isRecorded()) assertThat(g.nodes()).as("recorded nodes").isGreaterThanOrEqualTo(4);
            assertThat(out.toFloatArray()).as("nothing ran at the capture").containsOnly(0f);
            for (long seed = 0; seed < 3; seed++) {
                Tensor x = r(510 + seed, 3, 8);
                in.copyFrom(x);
                g.replay();
                close("replay " + seed, out.toFloatArray(), x.matmul(w).silu().softmax(-1).mul(3).toFloatArray());
            }
        }
        if (emu != null) return;
        assertThatThrownBy(() -> DeviceGraph.capture(DEV, () -> out.copyFrom(r(520, 3, 5))))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("CUDA graph");
        assertThatThrownBy(() -> DeviceGraph.capture(DEV, () -> out.add(1).toFloatArray()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("CUDA graph");
        Tensor x = r(530, 3, 8);
        in.copyFrom(x);
        close("eager after a failed capture", in.matmul(dw).toFloatArray(), x.matmul(w).toFloatArray());
    }

    /**
     * {@link Device#record}: {@code end.millisSince(start)} waits for the work between two events
     * and returns the device's time over it. On the emulated device and the CPU, whose ops finish
     * as they are called, that is the host's clock, so a sleep between the events counts; on CUDA
     * the events are the stream's, never less than 0 apart. Recording one inside a capture fails as
     * a host wait does; events of two devices, and a closed one, are refused, naming why.
     */
    @Test
    void eventsTimeTheDevicesWorkBetweenThem() throws InterruptedException {
        Tensor a = r(540, 64, 64), x = a.to(DEV), y;
        try (Device.Event start = DEV.record()) {
            y = x.matmul(x).silu();
            if (emu != null) Thread.sleep(20);
            Device.Event end = DEV.record();
            assertThat(end.device()).isEqualTo(DEV);
            assertThat(end.millisSince(start)).as("ms between the events").isGreaterThanOrEqualTo(emu != null ? 20 : 0).isLessThan(600_000);
            try (Device.Event host = Device.CPU.record()) {
                assertThatThrownBy(() -> host.millisSince(start)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("two devices").hasMessageContaining(DEV.toString());
            }
            end.close();
            end.close();   // again: nothing
            assertThatThrownBy(() -> end.millisSince(start)).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        }
        close("the product timed", y.toFloatArray(), a.matmul(a).silu().toFloatArray());
        try (Device.Event start = Device.CPU.record()) {
            Thread.sleep(20);
            try (Device.Event end = Device.CPU.record()) {
                assertThat(end.millisSince(start)).as("the host's clock on the CPU").isGreaterThanOrEqualTo(20);
            }
        }
        if (emu != null) return;
        Tensor out = Tensor.zeros(DEV, DType.F32, 64, 64);
        assertThatThrownBy(() -> DeviceGraph.capture(DEV, () -> {
            out.copyFrom(x.exp());
            DEV.record().close();
        })).isInstanceOf(IllegalStateException.class).hasMessageContaining("timing event").hasMessageContaining("CUDA graph");
        close("eager after a failed capture", x.exp().toFloatArray(), a.exp().toFloatArray());
    }

    /**
     * {@code panamax.cuda.pdl=on} launches every kernel with programmatic stream serialization,
     * where each waits for the kernel before it as its first statement: the results are the bits
     * of plain launches. The work chains kernels that read what the one before wrote: a norm, a
     * product, a softmax, and an MLA decode whose splits a second kernel merges. On CUDA the
     * launches must have been programmatic (the simulator is compute capability 9.0, and fails any
     * such launch in which a thread ends without the wait); elsewhere the property changes nothing.
     * A value it does not know is refused, naming it.
     */
    @Test
    void programmaticLaunchesGiveTheBitsOfPlainOnes() {
        Tensor x = r(562, 6, 64), w = r(563, 64), m = r(564, 64, 48), q = r(565, 2, 16, 576), latent = r(566, 2, 300, 512), rope = r(567, 2, 300, 64);
        java.util.function.Supplier<List<float[]>> work = () -> List.of(
                x.to(DEV).rmsNorm(w.to(DEV), 1e-6).matmul(m.to(DEV)).softmax(-1).toFloatArray(),
                Functional.latentAttentionDecode(q.to(DEV), latent.to(DEV).to(DType.BF16), rope.to(DEV).to(DType.BF16), 300, 0.3).toFloatArray());
        List<float[]> plain = work.get();
        long before = emu == null ? CudaBackend.get(0).programmaticLaunchCount() : 0;
        System.setProperty(CudaBackend.PDL_PROPERTY, "on");
        try {
            List<float[]> programmatic = work.get();
            for (int i = 0; i < plain.size(); i++) assertThat(programmatic.get(i)).as("result " + i + " under pdl=on").isEqualTo(plain.get(i));
            if (emu == null)
                assertThat(CudaBackend.get(0).programmaticLaunchCount() - before).as("programmatic launches: norm, softmax, decode, merge at least").isGreaterThanOrEqualTo(4);
            System.setProperty(CudaBackend.PDL_PROPERTY, "yes");
            if (emu == null)
                assertThatThrownBy(() -> x.to(DEV).exp().toFloatArray()).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("panamax.cuda.pdl=yes");
        } finally {
            System.clearProperty(CudaBackend.PDL_PROPERTY);
        }
    }

    @Test
    void normsSoftmaxRopeAndLosses() {
        same("softmax", t -> t.get(0).softmax(-1), r(40, 3, 6));
        same("softmax dim 0", t -> t.get(0).softmax(0), r(41, 3, 6));
        same("logSoftmax", t -> t.get(0).logSoftmax(-1), r(42, 4, 5));
        same("softmax with -inf", t -> t.get(0).add(Tensor.causalMask(4, 4, 0)).softmax(-1), r(43, 4, 4));
        same("rmsNorm", t -> t.get(0).rmsNorm(t.get(1), 1e-6), r(44, 2, 3, 8), r(45, 8));
        // rows wider than a warp: one row's block of threads reduces over shared memory, twice in a row
        same("rmsNorm, wide rows", t -> t.get(0).rmsNorm(t.get(1), 1e-6), r(105, 3, 700), r(106, 700));
        same("logSoftmax, wide rows", t -> t.get(0).logSoftmax(-1), r(107, 2, 1000));
        same("rope", t -> t.get(0).rope(t.get(1).view(1, 3, 1, 2), t.get(2).view(1, 3, 1, 2)), r(46, 2, 3, 4, 4), r(47, 3, 2), r(48, 3, 2));
        // rows read in place from a narrowed view (MLA's rope part of each head), each position's
        // cos/sin row serving every head (one launch on CUDA); a table whose dims are not adjacent is expanded
        same("rope of a narrowed view", t -> t.get(0).narrow(3, 2, 4).rope(t.get(1).view(1, 3, 1, 2), t.get(2).view(1, 3, 1, 2)),
                r(140, 2, 3, 4, 6), r(141, 3, 2), r(142, 3, 2));
        same("rope of narrowed rows (the shared key)", t -> t.get(0).narrow(2, 6, 4).rope(t.get(1), t.get(2)), r(143, 2, 5, 10), r(144, 5, 2), r(145, 5, 2));
        same("rope with a table over dims 0 and 2", t -> t.get(0).rope(t.get(1).view(2, 1, 4, 2), t.get(2).view(2, 1, 4, 2)),
                r(146, 2, 3, 4, 4), r(147, 8, 2), r(148, 8, 2));
        same("crossEntropy", t -> Functional.crossEntropy(t.get(0), Tensor.ofLongs(new long[]{1, -100, 4}), -100, Functional.Reduction.MEAN), r(49, 3, 6));
        // fused on a device (reduce.cu cross_entropy_f32 and its backward, the loss left on the device)
        same("crossEntropy sum, transposed logits, wide rows", t -> Functional.crossEntropy(t.get(0).t(),
                Tensor.ofLongs(new long[]{0, 1299, 7, -1, 640}), -1, Functional.Reduction.SUM), r(102, 1300, 5));
        same("crossEntropy, every target ignored", t -> Functional.crossEntropy(t.get(0), Tensor.ofLongs(new long[]{-100, -100}), -100,
                Functional.Reduction.MEAN), r(103, 2, 4));
        assertThatThrownBy(() -> Functional.crossEntropy(r(104, 2, 4).to(DEV), Tensor.ofLongs(new long[]{0, 4}), -100, Functional.Reduction.MEAN))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("target 4 at position 1");
        same("attention", t -> Functional.scaledDotProductAttention(t.get(0), t.get(1), t.get(2), 0.5), r(50, 2, 3, 4), r(51, 2, 5, 4), r(52, 2, 5, 3));
        same("swiglu", t -> Functional.swiglu(t.get(0), t.get(1), t.get(2)), r(53, 3, 4), r(54, 5, 4), r(55, 5, 4));
        same("moeUnpermute", t -> Functional.moeUnpermute(t.get(0), new long[]{3, 0, 5, 1, 4, 2}, t.get(1)), r(105, 6, 7), r(106, 3, 2));
        // the gate: gate_topk_f32 and its backward on a device; the same choice and weights as the host
        Functional.GateSpec grouped = new Functional.GateSpec(true, 3, 4, 2, true, 2.5), plain = new Functional.GateSpec(false, 2, 1, 1, false, 1.0);
        same("moeGate sigmoid, bias, groups", t -> Functional.moeGate(t.get(0), t.get(1), grouped).weights(), r(107, 5, 16), r(108, 16));
        same("moeGate softmax", t -> Functional.moeGate(t.get(0), null, plain).weights(), r(109, 5, 6));
        for (Functional.GateSpec spec : new Functional.GateSpec[]{grouped, plain}) {
            Tensor logits = r(110, 7, 16), bias = spec.sigmoid() ? r(111, 16) : null;
            assertThat(Functional.moeGate(logits.to(DEV), bias, spec).indices()).as("chosen experts, " + spec)
                    .containsExactly(Functional.moeGate(logits, bias, spec).indices());
        }
    }

    @Test
    void maxAndMinShareTheGradientAtATie() {
        // exact ties with the bounds, broadcast over the rows, and a NaN (no gradient to either side)
        Tensor x = Tensor.of(new float[]{0.5f, 1.0f, 1.5f, Float.NaN, 0.75f, 2.0f}, 2, 3), lo = Tensor.of(new float[]{0.5f, 0.75f, 1.0f}, 3);
        same("clamp with ties", t -> t.get(0).maximum(t.get(1)).minimum(t.get(1).add(0.5)), x, lo);
        same("min/max of one tensor with itself", t -> t.get(0).maximum(t.get(0)).add(t.get(0).minimum(t.get(0))), r(83, 3, 2));
    }

    /** GRPO's clipped surrogate (GrpoLoss) over the log-probs of chosen tokens out of (B, T, V) logits. */
    private static Tensor clippedSurrogate(Tensor logits) {
        Tensor ids = Tensor.ofLongs(new long[]{0, 6, 3, 3, 1, 5}, 2, 3, 1);
        Tensor lp = logits.logSoftmax(-1).gather(2, ids).squeeze(-1);
        Tensor old = lp.detach().sub(Tensor.of(new float[]{0.5f, -0.5f, 0.1f, 0f, 0.3f, -0.3f}, 2, 3));
        Tensor ratio = lp.sub(old).exp(), adv = Tensor.of(new float[]{0.5f, -1f}, 2, 1);
        Tensor clipped = ratio.maximum(Tensor.scalar(0.8f)).minimum(Tensor.scalar(1.2f));
        return ratio.mul(adv).minimum(clipped.mul(adv)).neg().mean();
    }

    /** Copies to the host so far on the device under test. */
    long downloads() {
        return emu.downloads();
    }

    /** Whether the device under test queues read-backs ({@link Tensor#readLater()}) rather than copying at once. */
    boolean queuesReadBacks() {
        return false;
    }

    /** Read-backs queued on the device under test and not yet closed. */
    int openReadBacks() {
        return 0;
    }

    @Test
    void readLaterGivesTheElementsAsTheyWereWhenItWasQueued() {
        for (DType t : new DType[]{DType.F32, DType.BF16, DType.F16, DType.I64, DType.I32, DType.U8}) {
            Tensor x = Tensor.randn(DType.F32, 3, 8.0, 6, 5).to(t);
            for (Function<Tensor, Tensor> view : List.<Function<Tensor, Tensor>>of(v -> v, v -> v.transpose(0, 1), v -> v.narrow(1, 1, 3))) {
                Tensor want = view.apply(x);
                long before = downloads();
                try (HostRead r = view.apply(x.to(DEV)).readLater()) {
                    assertThat(downloads() - before).as(t + " copies to the host").isEqualTo(1);
                    assertThat(r.wasQueued()).as(t + " queued").isEqualTo(queuesReadBacks());
                    assertThat(r.dtype()).isEqualTo(t);
                    assertThat(r.dims()).containsExactly(want.dims());
                    assertThat(r.toLongArray()).as(t + " longs").containsExactly(want.toLongArray());
                    assertThat(r.toFloatArray()).as(t + " floats").containsExactly(want.toFloatArray());
                    assertThat(r.toDoubleArray()).as(t + " doubles, read again").containsExactly(want.toDoubleArray());
                }
                try (HostRead r = want.readLater()) {   // a host tensor: copied at once
                    assertThat(r.wasQueued()).isFalse();
                    assertThat(r.toLongArray()).containsExactly(want.toLongArray());
                }
            }
        }
        // the copy is of the elements as the work queued before it left them, not after
        Tensor d = Tensor.zeros(DEV, DType.F32, 1000).fillInPlace(1);
        HostRead first = d.readLater();
        d.fillInPlace(2);
        Tensor big = Tensor.zeros(DEV, DType.F32, 20_000).fillInPlace(3);   // 80,000 bytes: more than a slot, copied at once
        HostRead large = big.readLater();
        big.fillInPlace(4);
        List<HostRead> many = new java.util.ArrayList<>();   // more open at once than there are slots: the rest copied at once
        for (int i = 0; i < 20; i++) many.add(d.add(i).readLater());
        d.fillInPlace(5);
        assertThat(first.toFloatArray()).as("queued before the second fill").containsOnly(1f);
        assertThat(large.toFloatArray()).hasSize(20_000).containsOnly(3f);
        assertThat(large.wasQueued()).isFalse();
        for (int i = 0; i < many.size(); i++) assertThat(many.get(i).toFloatArray()).as("read-back %d", i).containsOnly(2f + i);
        assertThat(many.stream().filter(HostRead::wasQueued).count()).isEqualTo(queuesReadBacks() ? 15 : 0);   // 16 slots, one still held by first
        first.close();
        first.close();   // idempotent
        assertThatThrownBy(first::toLongArray).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        large.close();
        many.forEach(HostRead::close);
        assertThat(openReadBacks()).as("slots held after every read-back was closed").isZero();
        // one closed unread frees its slot too
        Tensor.zeros(DEV, DType.I64, 4).readLater().close();
        assertThat(openReadBacks()).isZero();
        try (HostRead empty = Tensor.zeros(DEV, DType.F32, 0).readLater()) {
            assertThat(empty.toFloatArray()).isEmpty();
        }
    }

    @Test
    void aClippedSurrogateOverGatheredLogProbsStaysOnTheDevice() {
        same("clipped surrogate", t -> clippedSurrogate(t.get(0)), r(82, 2, 3, 7));
        Tensor logits = r(82, 2, 3, 7).to(DEV);
        logits.requiresGrad(true);
        long before = downloads();
        clippedSurrogate(logits).backward();
        assertThat(downloads() - before).as("copies to the host in the forward and backward").isZero();
        assertThat(logits.grad().device()).isEqualTo(DEV);
    }

    @Test
    void topkSelectsOnTheDeviceAsTheHostDoes() {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(21);
        float nan = Float.NaN, inf = Float.POSITIVE_INFINITY;
        for (int n : new int[]{1, 7, 33, 1000, 4099, 32000}) {
            int rows = n >= 4099 ? 2 : 5;
            float[] x = new float[rows * n];
            for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextInt(4) == 0 ? Math.rint(rnd.nextGaussian() * 3) : rnd.nextGaussian() * 3);
            float[] odd = {nan, inf, -inf, 0f, -0f, nan, 0f, -0f};
            for (int i = 0; i < Math.min(x.length, 40); i++) x[rnd.nextInt(x.length)] = odd[i % odd.length];
            Tensor host = Tensor.of(x, rows, n), dev = host.to(DEV);
            for (int k : new int[]{1, 5, 50, 1024, n}) {
                if (k > n) continue;
                for (boolean largest : new boolean[]{true, false}) {
                    Tensor.TopK want = host.topk(k, 1, largest);
                    long before = downloads();
                    Tensor.TopK got = dev.topk(k, 1, largest);
                    if (k <= Indexing.TOPK_DEVICE_MAX) assertThat(downloads() - before).as("copies to the host").isZero();
                    assertThat(got.values().device()).isEqualTo(DEV);
                    String as = String.format("n %d, k %d, largest %s", n, k, largest);
                    assertThat(got.indices().toLongArray()).as(as).containsExactly(want.indices().toLongArray());
                    assertThat(got.values().toFloatArray()).as(as).containsExactly(want.values().toFloatArray());
                }
            }
        }
        // another dim, BF16, and the gradient (a scatter into the selected places)
        same("topk dim 0", t -> t.get(0).topk(3, 0, true).values(), r(71, 6, 4, 5));
        same("topk dim 1 smallest", t -> t.get(0).topk(2, 1, false).values(), r(72, 3, 6, 5));
        same("topk bf16", t -> t.get(0).to(DType.BF16).topk(4, -1, true).values(), r(73, 3, 40));
    }

    @Test
    void sampledTokensMatchTheHostAndOnlyTheyComeBack() {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(5);
        float nan = Float.NaN, inf = Float.POSITIVE_INFINITY;
        for (int v : new int[]{1, 2, 31, 33, 1000, 1025, 4099, 32000}) {
            int rows = v >= 4099 ? 4 : 9;
            float[] x = new float[rows * v];
            for (int i = 0; i < x.length; i++) {
                double g = rnd.nextGaussian() * 3;
                x[i] = (float) (i % 5 == 0 ? Math.rint(g) : g);   // ties on a grid
            }
            for (int j = 0; j < v; j++) {
                if (j % 7 == 3) x[j] = nan;                         // row 0: NaN and -inf sprinkled
                if (j % 11 == 5) x[j] = -inf;
                x[v + j] = nan;                                    // row 1: nothing to draw
                if (j % 13 == 4) x[2 * v + j] = inf;              // row 2: an infinite maximum, where it fits
            }
            Tensor host = Tensor.of(x, rows, v), dev = host.to(DEV);
            for (double t : new double[]{0, 0.25, 1, 3}) {
                for (long key : new long[]{1, -7, 123_456_789}) {
                    long[] want = Functional.sampleRows(host, t, key).toLongArray();
                    long before = downloads();
                    Tensor got = Functional.sampleRows(dev, t, key);
                    assertThat(got.device()).isEqualTo(DEV);
                    assertThat(got.toLongArray()).as("V %d, temperature %s, key %d", v, t, key).containsExactly(want);
                    assertThat(downloads() - before).as("copies to the host: the tokens only").isEqualTo(1);
                }
            }
        }
    }

    @Test
    void softmaxDenominatorsAreTheHostsWithinRoundingAndOnlyTheyComeBack() {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(8);
        for (int v : new int[]{1, 31, 1000, 4099, 102_400}) {
            int rows = v > 5000 ? 2 : 7;
            float[] x = new float[rows * v];
            for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * 4);
            if (rows > 2) {
                x[v / 2] = Float.NaN;                                         // row 0: a NaN, weighing nothing
                for (int j = 0; j < v; j++) x[v + j] = Float.NaN;             // row 1: nothing but NaN
                x[2 * v + v / 3] = Float.POSITIVE_INFINITY;                   // row 2: an infinite maximum
            }
            Tensor host = Tensor.of(x, rows, v), dev = host.to(DEV);
            for (double t : new double[]{0.25, 1, 3}) {
                double[] want = Functional.softmaxDenominators(host, t);
                long before = downloads();
                double[] got = Functional.softmaxDenominators(dev, t);
                assertThat(downloads() - before).as("copies to the host: the sums only").isEqualTo(1);
                for (int r = 0; r < rows; r++) {
                    assertThat(got[r]).as("V %d, temperature %s, row %d", v, t, r).isCloseTo(want[r], within(1e-12 * want[r]));
                }
            }
        }
    }

    @Test
    void indexingOps() {
        Tensor idx = Tensor.ofLongs(new long[]{2, 0, 2, -1});
        same("indexSelect dim 0", t -> t.get(0).indexSelect(0, idx), r(60, 4, 3));
        same("indexSelect dim 1", t -> t.get(0).indexSelect(1, idx), r(61, 2, 4, 3));
        same("indexSelect device index", t -> t.get(0).indexSelect(0, idx.to(DEV)), r(62, 4, 3));
        same("embedding", t -> Tensor.embedding(t.get(0), Tensor.ofLongs(new long[]{1, 3, 1, 0, 2, 2}, 2, 3)), r(63, 4, 5));
        same("embedding BF16", t -> Tensor.embedding(t.get(0).to(DType.BF16), Tensor.ofLongs(new long[]{1, 3}, 2)), r(64, 4, 5));
        same("gather last", t -> t.get(0).gather(1, Tensor.ofLongs(new long[]{0, 2, 1, 1, 3, 0}, 3, 2)), r(65, 3, 4));
        same("gather dim 0", t -> t.get(0).gather(0, Tensor.ofLongs(new long[]{0, 2, 1, 1}, 1, 4)), r(66, 3, 4));
        // over the last dim of a rank-3 tensor on the device: a negative index, and repeats (the backward sums them in order)
        Tensor picks = Tensor.ofLongs(new long[]{0, -1, 4, 4, 2, 1, 3, 3, -5, 0, 1, 2}, 2, 3, 2);
        same("gather last of rank 3", t -> t.get(0).gather(2, picks), r(79, 2, 3, 5));
        same("gather last of rank 3, device index", t -> t.get(0).gather(-1, picks.to(DEV)), r(79, 2, 3, 5));
        // src wider than the index: only its first columns are added (it takes no gradient, as in PyTorch)
        same("scatterAdd over the last dim", t -> t.get(0).scatterAdd(2, Tensor.ofLongs(new long[]{1, 1, 0, -1, 2, 2}, 1, 3, 2), t.get(1).detach()),
                r(80, 1, 3, 4), r(81, 1, 3, 3));
        same("indexAdd", t -> t.get(0).indexAdd(0, Tensor.ofLongs(new long[]{1, 1, 0}), t.get(1)), r(67, 3, 4), r(68, 3, 4));
        same("indexAdd dim 1", t -> t.get(0).indexAdd(1, Tensor.ofLongs(new long[]{2, 0}), t.get(1)), r(69, 3, 4), r(70, 3, 2));
        same("scatterAdd", t -> t.get(0).scatterAdd(1, Tensor.ofLongs(new long[]{0, 0, 1, 2}, 2, 2), t.get(1)), r(71, 2, 3), r(72, 2, 2));
        same("concat", t -> Tensor.concat(List.of(t.get(0), t.get(1), t.get(0)), 1), r(73, 2, 3), r(74, 2, 1));
        Tensor cond = Tensor.of(new float[]{1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0}, 3, 4);
        same("where", t -> Tensor.where(cond, t.get(0), t.get(1)), r(75, 3, 4), r(76, 3, 4));
        same("topk values", t -> t.get(0).topk(2, -1, true).values(), r(77, 3, 5));
        same("narrow/select/permute then contiguous", t -> t.get(0).permute(2, 0, 1).narrow(0, 1, 2).select(1, 1).contiguous().mul(3.0), r(78, 2, 3, 4));
    }

    /** The device's result is the host's exactly (floats bit for bit, integers by value), and computing it copied nothing to the host. */
    private void sameExactly(String what, Tensor want, java.util.function.Supplier<Tensor> onDevice) {
        sameOnDevice(what, want, onDevice, true);
    }

    /** As {@link #sameExactly}, or within rounding where {@code exact} is false (sums a GPU adds with atomics, in its own order). */
    private void sameOnDevice(String what, Tensor want, java.util.function.Supplier<Tensor> onDevice, boolean exact) {
        long before = downloads();
        Tensor got = onDevice.get();
        assertThat(downloads() - before).as(what + ": copies to the host").isZero();
        assertThat(got.device()).as(what).isEqualTo(DEV);
        assertThat(got.dtype()).as(what).isEqualTo(want.dtype());
        assertThat(got.dims()).as(what).containsExactly(want.dims());
        if (!exact) close(what, got.toFloatArray(), want.toFloatArray());
        else if (want.dtype().isFloating()) assertThat(got.toFloatArray()).as(what).containsExactly(want.toFloatArray());
        else assertThat(got.toLongArray()).as(what).containsExactly(want.toLongArray());
    }

    /** n indices for a dim of {@code size}, from -size to size - 1 (negative ones count from the end), repeats likely. */
    private static long[] someIndices(java.util.SplittableRandom rnd, int n, long size) {
        long[] v = new long[n];
        for (int i = 0; i < n; i++) v[i] = rnd.nextLong(-size, size);
        return v;
    }

    @Test
    void gathersScattersAndWhereRunOnTheDeviceAsTheHostRunsThem() {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(11);
        Tensor base = r(200, 4, 5, 6);
        // contiguous, strided (a transposed or narrowed view), BF16 and I64 operands
        List<Function<Tensor, Tensor>> forms = List.of(t -> t, t -> t.transpose(0, 2), t -> t.narrow(1, 1, 3).to(DType.BF16),
                t -> t.mul(10.0).to(DType.I64).permute(1, 2, 0));
        for (int f = 0; f < forms.size(); f++) {
            Function<Tensor, Tensor> form = forms.get(f);
            Tensor h = form.apply(base), dv = form.apply(base.to(DEV));
            for (int d = 0; d < 3; d++) {
                int dim = d;
                long[] id = h.dims();
                for (int i = 0; i < id.length; i++) id[i] = 1 + rnd.nextInt((int) h.dim(i));
                id[d] = 1 + rnd.nextInt(8);
                Tensor index = Tensor.ofLongs(someIndices(rnd, (int) Shape.of(id).numel(), h.dim(d)), id);
                String as = "form " + f + ", dim " + d + ", index " + index.shape();
                Tensor want = h.gather(d, index);
                sameExactly("gather, " + as, want, () -> dv.gather(dim, index));
                Tensor onDev = index.to(DEV), i32 = index.to(DType.I32).to(DEV);
                sameExactly("gather with a device index, " + as, want, () -> dv.gather(dim, onDev));
                sameExactly("gather with a device I32 index, " + as, want, () -> dv.gather(dim, i32));
                Tensor rows = Tensor.ofLongs(someIndices(rnd, 1 + rnd.nextInt(6), h.dim(d)));
                sameExactly("indexSelect, " + as, h.indexSelect(d, rows), () -> dv.indexSelect(dim, rows));
            }
        }
        // the backward passes (scatter-adds in the host's order: repeated indices sum to the same bits), through a strided view
        for (int d = 0; d < 3; d++) {
            int dim = d;
            long[] id = {3, 5, 4};
            id[d] = 9;
            Tensor index = Tensor.ofLongs(someIndices(rnd, (int) Shape.of(id).numel(), base.transpose(0, 2).dim(d)), id);
            Tensor rows = Tensor.ofLongs(someIndices(rnd, 7, base.transpose(0, 2).dim(d)));
            for (boolean select : new boolean[]{false, true}) {
                Tensor hx = base.detach().copy().requiresGrad(true), dx = base.to(DEV).requiresGrad(true);
                Tensor hy = select ? hx.transpose(0, 2).indexSelect(d, rows) : hx.transpose(0, 2).gather(d, index);
                Tensor dy = select ? dx.transpose(0, 2).indexSelect(d, rows) : dx.transpose(0, 2).gather(d, index);
                Tensor g = r(300 + d, hy.dims()), gd = g.to(DEV);
                hy.backward(g);
                // rows of dim 0 of a contiguous gradient are added with atomics (an embedding's backward): in the GPU's order
                sameOnDevice((select ? "indexSelect" : "gather") + " backward, dim " + d, hx.grad(), () -> {
                    dy.backward(gd);
                    return dx.grad();
                }, !(select && d == 0));
            }
            // in place into a strided view, src wider than the index (only its part within the index's dims is added)
            Tensor hs = r(210 + d, 4, 5, 6), ds = hs.to(DEV);
            long[] sd = id.clone();
            for (int i = 0; i < 3; i++) if (i != d) sd[i] = Math.min(sd[i] + 1, hs.transpose(0, 2).dim(i));
            sd[d] = 10;
            Tensor src = r(220 + d, sd), srcD = src.to(DEV);
            hs.transpose(0, 2).scatterAddInPlace(d, index, src);
            sameExactly("scatterAdd into a view, dim " + d, hs, () -> {
                ds.transpose(0, 2).scatterAddInPlace(dim, index, srcD);
                return ds;
            });
            // indexAdd with src broadcast along another dim
            Tensor addRows = Tensor.ofLongs(someIndices(rnd, 5, hs.dim(d)));
            long[] ad = hs.dims();
            ad[d] = addRows.numel();
            ad[(d + 1) % 3] = 1;
            Tensor add = r(230 + d, ad);
            sameOnDevice("indexAdd, dim " + d, hs.indexAdd(d, addRows, add), () -> ds.indexAdd(dim, addRows, add.to(DEV)), d != 0);
        }
        // where: broadcast operands, strided ones, conditions of several dtypes (NaN counts as true, -0 as false), mixed value dtypes
        float nan = Float.NaN;
        Tensor cond = Tensor.of(new float[]{1, 0, nan, -0f, 2, 0, 0, -3, nan, 0, 1, 0}, 3, 4, 1);
        Tensor a = r(240, 3, 1, 5), b = r(241, 5, 4).t();   // b is (4, 5) seen through its transpose
        List<Tensor[]> cases = List.of(new Tensor[]{cond, a, b}, new Tensor[]{cond.to(DType.U8), a, b}, new Tensor[]{cond.to(DType.I64), b, a},
                new Tensor[]{cond, a.to(DType.BF16), b}, new Tensor[]{cond, a.mul(9.0).to(DType.I64), b.mul(9.0).to(DType.I64)},
                new Tensor[]{cond, a.mul(9.0).to(DType.I32), b.mul(9.0).to(DType.I64)}, new Tensor[]{cond, a.to(DType.BF16), b.to(DType.BF16)},
                new Tensor[]{cond, Tensor.ofLongs(new long[]{(1L << 60) + 1, -(1L << 55) - 3, 7, Long.MAX_VALUE, Long.MIN_VALUE}, 1, 5),
                        Tensor.ofLongs(new long[]{(1L << 53) + 1, -1, 0, Long.MAX_VALUE - 1}, 4, 1)});   // integers past a double's 53 bits
        for (int c = 0; c < cases.size(); c++) {
            Tensor[] t = cases.get(c);
            Tensor[] td = {t[0].to(DEV), t[1].to(DEV), c == 0 ? b.t().to(DEV).t() : t[2].to(DEV)};   // case 0: b strided on the device too
            sameExactly("where, case " + c, Tensor.where(t[0], t[1], t[2]), () -> Tensor.where(td[0], td[1], td[2]));
            sameExactly("where with a host condition, case " + c, Tensor.where(t[0], t[1], t[2]), () -> Tensor.where(t[0], td[1], td[2]));
        }
        Tensor mask = Tensor.of(new float[]{0, 1, 1, 0, 0}, 1, 5);
        sameExactly("maskedFill", a.maskedFill(mask, Double.NEGATIVE_INFINITY), () -> a.to(DEV).maskedFill(mask, Double.NEGATIVE_INFINITY));
        same("where's gradients", t -> Tensor.where(cond, t.get(0), t.get(1)), a, r(241, 4, 5));
    }

    @Test
    void aLongLoopOnTheDeviceHoldsNoMemoryBetweenSteps() {
        Tensor w = r(80, 16, 16).to(DEV);
        long before;
        try (Scope s = Scope.open()) {
            w.matmul(w).softmax(-1).sum(0, false);
        }
        before = liveBlocks();
        for (int step = 0; step < 50; step++) {
            try (Scope s = Scope.open()) {
                Tensor x = r(step, 4, 16).to(DEV);
                x.matmul(w).rmsNorm(Tensor.ones(DType.F32, 16), 1e-6).softmax(-1).sum(-1, false).toFloatArray();
            }
        }
        assertThat(liveBlocks()).isEqualTo(before);
    }
    /** Host and device copies of the same parameters, stepped by {@code make}'s optimiser with the same gradients. */
    private void stepsMatch(String name, java.util.function.Function<List<Parameter>, Optimizer> make) {
        List<Parameter> host = List.of(new Parameter("a", r(90, 5, 7).requiresGrad(true)),
                new Parameter("b", r(91, 13).requiresGrad(true)));
        List<Parameter> onDev = host.stream()
                .map(p -> new Parameter(p.name(), p.value().detach().to(DEV).requiresGrad(true))).toList();
        Optimizer oh = make.apply(host), od = make.apply(onDev);
        for (int step = 0; step < 4; step++) {
            for (int i = 0; i < host.size(); i++) {
                Tensor g = r(100 + 10L * step + i, host.get(i).value().dims());
                host.get(i).value().mul(g).sum().backward();
                onDev.get(i).value().mul(g.to(DEV)).sum().backward();
            }
            double nh = GradClip.clipGradNorm(host, 3.0), nd = GradClip.clipGradNorm(onDev, 3.0);
            assertThat(nd).as(name + " gradient norm, step " + step).isCloseTo(nh, org.assertj.core.data.Offset.offset(1e-5 * nh));
            oh.step();
            od.step();
            oh.zeroGrad();
            od.zeroGrad();
            for (int i = 0; i < host.size(); i++) {
                assertThat(onDev.get(i).value().device()).isEqualTo(DEV);
                close(name + " step " + step + " " + host.get(i).name(), onDev.get(i).value().toFloatArray(), host.get(i).value().toFloatArray());
            }
        }
        Map<String, Tensor> sh = oh.stateDict(), sd = od.stateDict();
        assertThat(sd.keySet()).isEqualTo(sh.keySet());
        sh.forEach((k, v) -> {
            assertThat(sd.get(k).device()).as(k + " in the state dict").isEqualTo(Device.CPU);
            close(name + " state " + k, sd.get(k).toFloatArray(), v.toFloatArray());
        });
        Optimizer reloaded = make.apply(onDev);
        reloaded.loadStateDict(sd);
        assertThat(reloaded.stateDict().keySet()).isEqualTo(sd.keySet());
    }

    @Test
    void optimizersStepDeviceParametersWhereTheyAre() {
        stepsMatch("AdamW", ps -> new AdamW(ps, 0.05, 0.9, 0.99, 1e-6, 0.1));
        stepsMatch("SGD nesterov", ps -> new Sgd(ps, 0.1, 0.9, 0, 0.01, true));
        stepsMatch("SGD dampened", ps -> new Sgd(ps, 0.1, 0.8, 0.3, 0, false));
        stepsMatch("SGD plain", ps -> new Sgd(ps, 0.1, 0));
    }

    /**
     * Latent attention with each sequence at its own position (positions in a tensor, as a
     * continuous batch's step has them): on the host, all sequences at once over the longest one's
     * rows, the rows past each one's own weighted 0; each row the one-sequence call over its own
     * length. On the device, the kernel reading the positions: the same.
     */
    @Test
    void latentAttentionAtEachSequencesOwnPositionIsEachSequenceAlone() {
        long b = 3, h = 4, rank = 32, rope = 8, cap = 12;
        int[] at = {5, 0, 9};
        Tensor qLat = r(130, b, h, rank), qRot = r(131, b, h, rope), latent = r(132, b, cap, rank), kRope = r(133, b, cap, rope);
        Tensor got = Functional.latentAttentionDecode(qLat, qRot, latent, kRope, Tensor.ofInts(at, b), 0.3);
        for (int i = 0; i < b; i++) {
            Tensor want = Functional.latentAttentionDecode(qLat.narrow(0, i, 1), qRot.narrow(0, i, 1), latent.narrow(0, i, 1), kRope.narrow(0, i, 1), at[i] + 1, 0.3);
            close("host, sequence " + i + " at " + at[i], got.narrow(0, i, 1).toFloatArray(), want.toFloatArray());
        }
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            Tensor dev = Functional.latentAttentionDecode(qLat.to(DEV), qRot.to(DEV), latent.to(DEV), kRope.to(DEV), Tensor.ofInts(at, b).to(DEV), 0.3);
            close("device, each at its own position", dev.toFloatArray(), got.toFloatArray());
        }
        assertThatThrownBy(() -> Functional.latentAttentionDecode(qLat, qRot, latent, kRope, Tensor.ofInts(new int[]{1, (int) cap, 0}, b), 0.3))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("position " + cap + " of sequence 1");
    }

    @Test
    void latentAttentionDecodeFusedOnTheDeviceMatchesTheComposedProduct() {
        int b = 2, h = 3, rank = 8, rope = 4, cap = 11;
        Tensor q = r(110, b, h, rank + rope), latent = r(111, b, cap, rank), kRope = r(112, b, cap, rope);
        for (long len : new long[]{1, 6, cap}) {
            Tensor want = Functional.latentAttentionDecode(q, latent, kRope, len, 0.3);
            Tensor got;
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                // the cache as a prefix view of a longer buffer, as KvCache hands it over
                got = Functional.latentAttentionDecode(q.to(DEV), latent.to(DEV).narrow(1, 0, len), kRope.to(DEV).narrow(1, 0, len), len, 0.3);
            }
            assertThat(got.device()).isEqualTo(DEV);
            close("latent attention over " + len, got.toFloatArray(), want.toFloatArray());
            // a BF16 cache (KvCache with DType.BF16), which the fused kernel reads as BF16
            Tensor latent16 = latent.to(DType.BF16), kRope16 = kRope.to(DType.BF16), got16;
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                got16 = Functional.latentAttentionDecode(q.to(DEV), latent16.to(DEV).narrow(1, 0, len), kRope16.to(DEV).narrow(1, 0, len), len, 0.3);
            }
            close("latent attention over a BF16 cache of " + len, got16.toFloatArray(),
                    Functional.latentAttentionDecode(q, latent16, kRope16, len, 0.3).toFloatArray());
            // by hand for one head: softmax(scale q.[c;k]) . c
            Tensor keys = Tensor.concat(List.of(latent.select(0, 1), kRope.select(0, 1)), 1).narrow(0, 0, len);
            Tensor p = q.select(0, 1).narrow(0, 2, 1).matmul(keys.t()).mul(0.3).softmax(-1);
            close("latent attention by hand", want.select(0, 1).narrow(0, 2, 1).toFloatArray(), p.matmul(latent.select(0, 1).narrow(0, 0, len)).toFloatArray());
        }
        // the query in two parts (as Mla passes them): two tensors read in place, a RoPE part whose
        // dims are not unit-strided (copied first), and one head of a wider query (its batches a head block apart)
        Tensor qLat = q.narrow(2, 0, rank).contiguous(), qRot = r(116, b, rope, h).transpose(1, 2);
        Tensor wantParts = Functional.latentAttentionDecode(Tensor.concat(List.of(qLat, qRot), 2), latent, kRope, 6, 0.3);
        Tensor wantHead = Functional.latentAttentionDecode(q.narrow(1, 1, 1), latent, kRope, 6, 0.3);
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            Tensor dq = q.to(DEV), dl = latent.to(DEV), dk = kRope.to(DEV);
            close("latent attention, the query in two tensors", Functional.latentAttentionDecode(qLat.to(DEV), qRot.to(DEV), dl, dk, 6, 0.3).toFloatArray(),
                    wantParts.toFloatArray());
            close("latent attention, one head of a wider query", Functional.latentAttentionDecode(dq.narrow(1, 1, 1).narrow(2, 0, rank), dq.narrow(1, 1, 1).narrow(2, rank, rope),
                    dl, dk, 6, 0.3).toFloatArray(), wantHead.toFloatArray());
        }
        same("latent attention with gradients", t -> Functional.latentAttentionDecode(t.get(0), t.get(1), t.get(2), 5, 0.5), r(113, 2, 3, 12), r(114, 2, 7, 8), r(115, 2, 7, 4));
        same("latent attention with gradients, the query in two parts", t -> Functional.latentAttentionDecode(t.get(0), t.get(1), t.get(2), t.get(3), 5, 0.5),
                r(117, 2, 3, 8), r(118, 2, 3, 4), r(114, 2, 7, 8), r(115, 2, 7, 4));
        assertThatThrownBy(() -> Functional.latentAttentionDecode(qLat, r(1, b, h, rope + 1), latent, kRope, 2, 1.0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("qRope");
        assertThatThrownBy(() -> Functional.latentAttentionDecode(q, latent, kRope, cap + 1, 1.0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("length");
        assertThatThrownBy(() -> Functional.latentAttentionDecode(q, latent, r(1, b, cap, rope + 1), 2, 1.0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("kRope");
    }

    /**
     * DeepSeek's MLA shapes (latent 512 + rope 64) over a BF16 cache. On a CUDA GPU (and its
     * simulator) this is a tensor-core kernel: by default auto's (mla_decode_wg64s on sm_90, else
     * mla_decode_tc16 up to 16 heads and mla_decode_tc64 beyond), and then each kernel that {@code panamax.cuda.mlaKernel} can name
     * (tc, tc16r with its ring of tiles, the k-split ks16, ks16r, ks32, ks64, and the warpgroup wg64, wg64r (with a ring), wg64s, wt16, wt32 and wt64 where the GPU is sm_90, as the
     * simulator says it is). Its queries and softmax weights enter the products as BF16, so the
     * reference is the composed product over the same cache with the queries rounded to BF16; what
     * remains is the weights' rounding, which moves an output by at most 2^-9 of the spread of the
     * latent values it averages (bounded by 2^-8 of their largest).
     */
    @Test
    void latentAttentionDecodeAtDeepSeekShapesOverABf16Cache() {
        Tensor[] cache = mlaAtDeepSeekShapes(DType.BF16, q -> q.to(DType.BF16).to(DType.F32),
                // the roundings are independent, so the typical error is far below the bound
                (q, largest) -> new double[]{Math.scalb(largest, -8) + 1e-5, Math.scalb(largest, -11)});
        if (emu == null) {
            System.setProperty(CudaBackend.MLA_KERNEL_PROPERTY, "mla_decode_tc32");
            try {
                assertThatThrownBy(() -> Functional.latentAttentionDecode(r(1, 2, 16, 576).to(DEV), cache[0].narrow(1, 0, 8), cache[1].narrow(1, 0, 8), 8, 0.1))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mla_decode_tc32").hasMessageContaining("mla_decode_ks16")
                        .hasMessageContaining("scalar");
            } finally {
                System.clearProperty(CudaBackend.MLA_KERNEL_PROPERTY);
            }
        }
    }

    /**
     * The same over an F32 cache (KvCache's default). On a CUDA GPU (and its simulator) the
     * tensor-core kernels mla_decode_tc16_f32 (up to 16 heads), tc32_f32 (beyond) and tc16r_f32 split the
     * queries, the cache and the weights into BF16 high and low parts (x = hi + lo to 2^-18 of x)
     * and take three products for each one (the warpgroup kernels wt16_f32 and wt32_f32, on sm_90: four,
     * the low parts' product too), and the CUDA-core kernel ({@code scalar}) computes in
     * F32. So the reference is the composed F32 product with nothing rounded. A product of two split
     * values is off by at most 3 * 2^-18 of it, so a score by delta = 2^-16 * scale * |q| |k| at
     * most (the largest query and key norms), which moves a weight's share by a factor of e^(2 delta)
     * at most; with the weights' and values' own splitting, an output is within
     * (2.1 delta + 2^-15) of the largest latent value, and the typical (rms) error within 2^-17 of
     * it (the simulator shows 2^-21 to 2^-20). A kernel that rounded its operands to BF16 instead fails both
     * (one position: 2^-9 of a value, over the first bound).
     */
    @Test
    void latentAttentionDecodeAtDeepSeekShapesOverAnF32Cache() {
        double scale = 1 / Math.sqrt(192);
        mlaAtDeepSeekShapes(DType.F32, q -> q, (q, largest) -> {
            double delta = Math.scalb(scale * maxRowNorm(q) * mlaKeyNorm, -16);
            return new double[]{(2.1 * delta + Math.scalb(1.0, -15)) * largest + 1e-6, Math.scalb(largest, -17)};
        });
    }

    /** The largest norm of a row (last dimension) of {@code t}. */
    private static double maxRowNorm(Tensor t) {
        float[] v = t.contiguous().toFloatArray();
        int w = Math.toIntExact(t.dim(-1));
        double most = 0;
        for (int i = 0; i < v.length; i += w) {
            double sq = 0;
            for (int j = 0; j < w; j++) sq += (double) v[i + j] * v[i + j];
            most = Math.max(most, Math.sqrt(sq));
        }
        return most;
    }

    /** The largest norm of a key (latent ++ rope) of the cache {@link #mlaAtDeepSeekShapes} is running. */
    private double mlaKeyNorm;

    /** The largest error and the largest rms error an MLA decode may show, for queries q over a cache whose largest latent value is {@code largest}. */
    private interface MlaBounds {
        double[] of(Tensor q, double largest);
    }

    /**
     * Runs the MLA decode at DeepSeek's shapes over a cache of {@code cacheType}, by default and
     * (on CUDA) with each kernel {@code panamax.cuda.mlaKernel} can name for that cache, at 16 heads,
     * at 40 (partial blocks: of 64, and for ks32 a block with an empty m-tile) and, at length 33 only,
     * at 72 (a second block of 64 heads, partial); a single split
     * written in place (lengths 1 and 33, and 300 with the split count fixed at one, so that ten
     * tiles pass through one block's tile buffers), several combined (300, with a partial last
     * tile: by mla_decode_combine, and again by the kernel's own tail, {@code panamax.cuda.mlaMerge=tail}),
     * and lengths read from device memory. The reference is the composed product over the
     * same cache with the queries {@code reference} makes. Returns the cache (latent, rope) on the device.
     */
    private Tensor[] mlaAtDeepSeekShapes(DType cacheType, Function<Tensor, Tensor> reference, MlaBounds bounds) {
        int b = 2, r = 512, p = 64, cap = 300;
        double scale = 1 / Math.sqrt(192);
        Tensor latent = r(130, b, cap, r).to(cacheType), kRope = r(131, b, cap, p).to(cacheType);
        double largest = 0;
        for (float v : latent.toFloatArray()) largest = Math.max(largest, Math.abs(v));
        mlaKeyNorm = maxRowNorm(Tensor.concat(List.of(latent, kRope), 2).to(DType.F32));
        Tensor devLatent = latent.to(DEV), devRope = kRope.to(DEV);
        // -Dpanamax.test.mlaKernels=NAME,... checks only those (auto and scalar included): gpu/verify.sh runs each kernel alone first
        String only = System.getProperty(MLA_ONLY_PROPERTY);
        java.util.function.Predicate<String> wanted = name -> only == null || List.of(only.split(",")).contains(name);
        List<String> kernels = new java.util.ArrayList<>();
        if (wanted.test("auto")) kernels.add("auto");
        if (emu == null) {
            // the emulated device has no kernels to choose; the CUDA-core kernel computes an F32 cache in F32. A
            // kernel that does not apply on this GPU (or is excluded) would run as auto, so it is named as left out instead
            dev.panamax.runtime.gpu.GpuDevice.Limits limits = CudaBackend.get(0).gpu().limits();
            for (CudaBackend.MlaKernel k : CudaBackend.MLA_KERNELS) {
                if (k.f32Cache() != (cacheType == DType.F32) || !wanted.test(k.name())) continue;
                if (CudaBackend.mlaExcluded().contains(k.name())) System.out.println(k.name() + " left out: " + CudaBackend.MLA_EXCLUDE_PROPERTY + " names it");
                else if (k.applies(cacheType, r, p, limits.computeCapability(), limits.sharedPerBlockOptIn())) kernels.add(k.name());
                else System.out.println(k.name() + " left out: it does not apply on this GPU (compute capability " + limits.computeCapability()
                        + ", " + limits.sharedPerBlockOptIn() + " shared bytes a block)");
            }
            if (cacheType == DType.F32 && wanted.test(CudaBackend.MLA_SCALAR)) kernels.add(CudaBackend.MLA_SCALAR);
        }
        try {
            for (String kernel : kernels) {
                System.setProperty(CudaBackend.MLA_KERNEL_PROPERTY, kernel);
                double worst = 0, worstRms = 0;   // the kernel's largest error and largest rms error over every case (printed)
                // 72 heads: a second block of heads for the kernels of 64 heads a block (wg64, wg64s, wt64; one length)
                for (int h : new int[]{16, 40, 72}) {
                    Tensor q = r(132 + h, b, h, r + p), qRef = reference.apply(q);
                    double[] bound = bounds.of(q, largest);
                    // the last case in one split: ten tiles through one block's pipeline of tile buffers
                    // {length, splits (0: auto), 1 where the kernel's tail merges the splits (panamax.cuda.mlaMerge=tail)}
                    // (the tail's counters of several head blocks: at 40 heads, tc16's three and wt32's two; 72 heads stays short, for CI's time)
                    long[][] runs = h > 64 ? new long[][]{{33, 0, 0}} : new long[][]{{1, 0, 0}, {33, 0, 0}, {cap, 0, 0}, {cap, 0, 1}, {cap, 1, 0}};
                    for (long[] run : runs) {
                        long len = run[0];
                        float[] want = Functional.latentAttentionDecode(qRef, latent, kRope, len, scale).toFloatArray();
                        float[] got;
                        if (run[1] > 0) System.setProperty(CudaBackend.MLA_SPLITS_PROPERTY, Long.toString(run[1]));
                        if (run[2] > 0) System.setProperty(CudaBackend.MLA_MERGE_PROPERTY, "tail");
                        long tails = emu == null ? CudaBackend.get(0).mlaTailMerges() : 0;
                        try (Autograd.NoGrad ng = Autograd.noGrad()) {
                            got = Functional.latentAttentionDecode(q.to(DEV), devLatent.narrow(1, 0, len), devRope.narrow(1, 0, len), len, scale).toFloatArray();
                        } finally {
                            System.clearProperty(CudaBackend.MLA_SPLITS_PROPERTY);
                        }
                        // the tail merged (five splits: the simulator's 132 SMs over 64 positions a split), but in the
                        // CUDA-core kernel and the k-split ones (auto's kernels, wg64s and tc32_f32 here, take it)
                        boolean tailKernel = kernel.equals("auto") || !kernel.equals(CudaBackend.MLA_SCALAR) && CudaBackend.mlaKernel(kernel).mergesInItsTail();
                        if (emu == null)
                            assertThat(CudaBackend.get(0).mlaTailMerges() - tails).as(kernel + ", " + h + " heads over " + len + ": decodes merged in the tail")
                                    .isEqualTo(tailKernel ? run[2] : 0);
                        String what = cacheType + " cache, " + kernel + ", " + h + " heads over " + len + " positions" + (run[1] > 0 ? " in " + run[1] + " split" : "")
                                + (run[2] > 0 ? ", mlaMerge=tail" : "");
                        assertThat(got).as(what).hasSameSizeAs(want);
                        double squares = 0;
                        for (int i = 0; i < got.length; i++) {
                            double err = Math.abs(got[i] - want[i]);
                            assertThat(err).as(what + " [" + i + "]: " + got[i] + " vs " + want[i]).isLessThanOrEqualTo(bound[0]);
                            squares += err * err;
                            worst = Math.max(worst, err);
                        }
                        double rms = Math.sqrt(squares / got.length);
                        assertThat(rms).as(what + " rms error").isLessThanOrEqualTo(bound[1]);
                        worstRms = Math.max(worstRms, rms);
                        if (len == 33) {
                            // the query's two parts as two tensors (as Mla passes them), read where they are: the same bits
                            float[] parts;
                            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                                parts = Functional.latentAttentionDecode(q.narrow(2, 0, r).contiguous().to(DEV), q.narrow(2, r, p).contiguous().to(DEV),
                                        devLatent.narrow(1, 0, len), devRope.narrow(1, 0, len), len, scale).toFloatArray();
                            }
                            assertThat(parts).as(what + ", the query in two tensors").containsExactly(got);
                        }
                        if (len == cap && run[1] == 0) {
                            // lengths read from device memory (as a replayed decode graph reads them), a different one a
                            // sequence, the work sized for the whole cache: the splits past a sequence's length do nothing
                            int[] at = {cap - 1, 36};
                            float[] byPosition;
                            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                                byPosition = Functional.latentAttentionDecode(q.narrow(2, 0, r).to(DEV), q.narrow(2, r, p).to(DEV), devLatent, devRope,
                                        Tensor.ofInts(at, b).to(DEV), scale).toFloatArray();
                            }
                            for (int i = 0; i < b; i++) {
                                float[] w = Functional.latentAttentionDecode(qRef.narrow(0, i, 1), latent.narrow(0, i, 1), kRope.narrow(0, i, 1), at[i] + 1, scale).toFloatArray();
                                for (int j = 0; j < w.length; j++) {
                                    float g = byPosition[i * w.length + j];
                                    assertThat((double) Math.abs(g - w[j])).as(what + ", sequence " + i + " at position " + at[i] + " [" + j + "]: " + g + " vs " + w[j])
                                            .isLessThanOrEqualTo(bound[0]);
                                }
                            }
                        }
                        System.clearProperty(CudaBackend.MLA_MERGE_PROPERTY);
                    }
                }
                System.out.printf(java.util.Locale.ROOT, "MLA decode over a %s cache, %s: largest error %.2g, largest rms error %.2g%n", cacheType, kernel, worst, worstRms);
            }
            System.out.println("MLA decode over a " + cacheType + " cache, kernels checked: " + String.join(" ", kernels));
        } finally {
            System.clearProperty(CudaBackend.MLA_KERNEL_PROPERTY);
            System.clearProperty(CudaBackend.MLA_MERGE_PROPERTY);
        }
        return new Tensor[]{devLatent, devRope};
    }

    /** System property (tests only) restricting {@link #mlaAtDeepSeekShapes} to the kernels it names (comma-separated, auto and scalar included). */
    static final String MLA_ONLY_PROPERTY = "panamax.test.mlaKernels";

    /**
     * {@code panamax.cuda.mlaExclude} on CUDA: an excluded kernel never runs. Auto passes over its
     * own (to the CUDA-core kernel), naming it runs auto's choice, a tuned choice that is now
     * excluded runs auto's, and a name that is no kernel is refused.
     */
    @Test
    void excludedMlaKernelsNeverRun() {
        if (emu != null) return;   // the emulated device has one MLA path
        // the exclusions this run was given (gpu/verify.sh tests: the kernels that failed alone) stay in force
        String given = System.getProperty(CudaBackend.MLA_EXCLUDE_PROPERTY);
        String also = given == null || given.isBlank() ? "" : given + ",";
        org.junit.jupiter.api.Assumptions.assumeFalse(CudaBackend.mlaExcluded().contains("mla_decode_tc16"), "tc16 is excluded in this run");
        CudaBackend cuda = CudaBackend.get(0);
        int b = 2, h = 16, r = 512, p = 64, len = 40;
        double scale = 0.07;
        Tensor latent = r(160, b, len, r).to(DType.BF16).to(DEV), kRope = r(161, b, len, p).to(DType.BF16).to(DEV), q = r(162, b, h, r + p).to(DEV);
        java.util.function.Supplier<float[]> decode = () -> {
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                return Functional.latentAttentionDecode(q, latent, kRope, len, scale).toFloatArray();
            }
        };
        try {
            float[] auto = decode.get();
            System.setProperty(CudaBackend.MLA_KERNEL_PROPERTY, CudaBackend.MLA_SCALAR);
            float[] scalar = decode.get();
            assertThat(scalar).as("the CUDA-core kernel differs from auto's tensor-core one (queries and weights not rounded)").isNotEqualTo(auto);
            System.clearProperty(CudaBackend.MLA_KERNEL_PROPERTY);
            // auto's defaults at 16 heads over a BF16 cache: wg64s (on sm_90), then tc16
            System.setProperty(CudaBackend.MLA_EXCLUDE_PROPERTY, also + "mla_decode_wg64s, mla_decode_tc16r, mla_decode_tc16");
            assertThat(decode.get()).as("auto with its defaults excluded").containsExactly(scalar);
            System.setProperty(CudaBackend.MLA_KERNEL_PROPERTY, "mla_decode_tc16r");
            assertThat(decode.get()).as("tc16r named and excluded: auto's choice").containsExactly(scalar);
            System.setProperty(CudaBackend.MLA_KERNEL_PROPERTY, CudaBackend.MLA_TUNE);
            cuda.mlaTuned(CudaBackend.MlaShape.of(DType.BF16, b, h, r, p, len), "mla_decode_tc16");
            assertThat(decode.get()).as("tuned to tc16, then excluded: auto's choice").containsExactly(scalar);
            System.setProperty(CudaBackend.MLA_EXCLUDE_PROPERTY, also + "mla_decode_tc99");
            assertThatThrownBy(decode::get).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(CudaBackend.MLA_EXCLUDE_PROPERTY)
                    .hasMessageContaining("mla_decode_tc99").hasMessageContaining("mla_decode_wg64");
        } finally {
            System.clearProperty(CudaBackend.MLA_KERNEL_PROPERTY);
            if (given == null) System.clearProperty(CudaBackend.MLA_EXCLUDE_PROPERTY);
            else System.setProperty(CudaBackend.MLA_EXCLUDE_PROPERTY, given);
        }
    }

    /**
     * {@code panamax.cuda.mlaKernel=tune} on CUDA: a graph being captured cannot time kernels, so
     * there a shape not yet tuned runs auto's kernel (the same bits as auto run eagerly) and stays
     * untuned; run eagerly it times the candidates once, keeps the choice (a kernel of
     * mla_decode.cu or the CUDA-core one) and runs it again for that shape: the same bits as that
     * kernel named, which the tests above check against the host.
     */
    @Test
    void aTunedMlaDecodeTimesEachShapeOnceAndNeverInsideACapture() {
        if (emu != null) return;   // the emulated device has one MLA path
        CudaBackend cuda = CudaBackend.get(0);
        int b = 3, h = 24, r = 512, p = 64, len = 40;   // a shape no other test tunes
        double scale = 0.07;
        Tensor latent = r(140, b, len, r).to(DType.BF16).to(DEV), kRope = r(141, b, len, p).to(DType.BF16).to(DEV), q = r(142, b, h, r + p).to(DEV);
        CudaBackend.MlaShape shape = CudaBackend.MlaShape.of(DType.BF16, b, h, r, p, len);
        float[] auto;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            auto = Functional.latentAttentionDecode(q, latent, kRope, len, scale).toFloatArray();
            Tensor out = Tensor.zeros(DEV, DType.F32, b, h, r);
            System.setProperty(CudaBackend.MLA_KERNEL_PROPERTY, CudaBackend.MLA_TUNE);
            try (DeviceGraph g = DeviceGraph.capture(DEV, () -> out.copyFrom(Functional.latentAttentionDecode(q, latent, kRope, len, scale)))) {
                assertThat(cuda.mlaTuned(shape)).as("tuned inside a capture").isNull();
                g.replay();
                assertThat(out.toFloatArray()).as("the captured decode, auto's kernel").containsExactly(auto);
            }
            float[] first = Functional.latentAttentionDecode(q, latent, kRope, len, scale).toFloatArray();
            String chosen = cuda.mlaTuned(shape);
            assertThat(chosen).as("the choice for " + shape).isNotNull();
            assertThat(CudaBackend.MlaRun.named(chosen).name()).isEqualTo(chosen);
            assertThat(chosen).as("one split: nothing to merge, so no tail was timed").doesNotEndWith(CudaBackend.MlaRun.TAIL);
            assertThat(cuda.mlaTuneTimes(shape)).as("every candidate timed").containsKey(CudaBackend.MLA_SCALAR).containsKey(chosen)
                    .allSatisfy((name, us) -> assertThat(us).as(name).isPositive());
            System.out.println("tune chose " + chosen + " for " + shape);
            assertThat(Functional.latentAttentionDecode(q, latent, kRope, len, scale).toFloatArray()).as("again, " + chosen).containsExactly(first);
            assertThat(cuda.mlaTuned(shape)).isEqualTo(chosen);
            System.setProperty(CudaBackend.MLA_KERNEL_PROPERTY, chosen);
            assertThat(Functional.latentAttentionDecode(q, latent, kRope, len, scale).toFloatArray()).as(chosen + " named").containsExactly(first);

            // the shape does not fix the alignment: cache rows 8 bytes off a 16-byte boundary take the CUDA-core kernel
            // (cp.async moves aligned chunks) even where a tensor-core kernel was tuned for the shape
            Tensor flat = r(143, (long) b * len * r + 4).to(DType.BF16).to(DEV);
            Tensor odd = flat.narrow(0, 4, (long) b * len * r).view(b, len, r);
            System.setProperty(CudaBackend.MLA_KERNEL_PROPERTY, CudaBackend.MLA_SCALAR);
            float[] scalar = Functional.latentAttentionDecode(q, odd, kRope, len, scale).toFloatArray();
            cuda.mlaTuned(shape, "mla_decode_tc16");
            System.setProperty(CudaBackend.MLA_KERNEL_PROPERTY, CudaBackend.MLA_TUNE);
            assertThat(Functional.latentAttentionDecode(q, odd, kRope, len, scale).toFloatArray()).as("odd rows, tuned to tc16").containsExactly(scalar);
        } finally {
            System.clearProperty(CudaBackend.MLA_KERNEL_PROPERTY);
        }
    }

    /**
     * Where a decode splits its sequence, {@code tune} times each kernel that can merge the splits in
     * its tail both ways (with {@code panamax.cuda.mlaMerge} auto, its default), only the merge
     * kernel's way under {@code kernel}, and only the tail's under {@code tail}; the run it keeps
     * gives the same bits as that kernel named with that merge, and a merge the property fixes holds
     * over a tuned one. tc16 alone is offered (every other kernel excluded), at a shape of three splits.
     */
    @Test
    void aTunedMlaDecodeAlsoTimesTheTailMerge() {
        if (emu != null) return;   // the emulated device has one MLA path
        String given = System.getProperty(CudaBackend.MLA_EXCLUDE_PROPERTY);
        assumeTrue(!CudaBackend.mlaExcluded().contains("mla_decode_tc16"), "mla_decode_tc16 is excluded here");
        CudaBackend cuda = CudaBackend.get(0);
        int b = 3, r = 512, p = 64, len = 130;   // 3 splits of tc16 on 132 SMs; heads a shape no other test tunes
        double scale = 0.07;
        Tensor latent = r(150, b, len, r).to(DType.BF16).to(DEV), kRope = r(151, b, len, p).to(DType.BF16).to(DEV);
        String tc16 = "mla_decode_tc16", tail = tc16 + CudaBackend.MlaRun.TAIL;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            System.setProperty(CudaBackend.MLA_EXCLUDE_PROPERTY, CudaBackend.MLA_KERNELS.stream().map(CudaBackend.MlaKernel::name)
                    .filter(n -> !n.equals(tc16)).collect(java.util.stream.Collectors.joining(",")));
            String[][] offered = {{"auto", CudaBackend.MLA_SCALAR, tc16, tail}, {"kernel", CudaBackend.MLA_SCALAR, tc16}, {"tail", CudaBackend.MLA_SCALAR, tail}};
            for (int i = 0; i < offered.length; i++) {
                int h = 24 + 8 * i;
                Tensor q = r(152 + i, b, h, r + p).to(DEV);
                CudaBackend.MlaShape shape = CudaBackend.MlaShape.of(DType.BF16, b, h, r, p, len);
                System.setProperty(CudaBackend.MLA_MERGE_PROPERTY, offered[i][0]);
                System.setProperty(CudaBackend.MLA_KERNEL_PROPERTY, CudaBackend.MLA_TUNE);
                float[] tuned = Functional.latentAttentionDecode(q, latent, kRope, len, scale).toFloatArray();
                assertThat(cuda.mlaTuneTimes(shape).keySet()).as("timed with mlaMerge=" + offered[i][0])
                        .containsExactly(java.util.Arrays.copyOfRange(offered[i], 1, offered[i].length));
                CudaBackend.MlaRun kept = CudaBackend.MlaRun.named(cuda.mlaTuned(shape));
                System.out.println("tune chose " + kept.name() + " for " + shape + " with mlaMerge=" + offered[i][0] + ": " + cuda.mlaTuneTimes(shape));
                long tails = cuda.mlaTailMerges();
                System.setProperty(CudaBackend.MLA_KERNEL_PROPERTY, kept.kernel() == null ? CudaBackend.MLA_SCALAR : kept.kernel().name());
                System.setProperty(CudaBackend.MLA_MERGE_PROPERTY, kept.tail() ? "tail" : "kernel");
                assertThat(Functional.latentAttentionDecode(q, latent, kRope, len, scale).toFloatArray()).as(kept.name() + " named").containsExactly(tuned);
                assertThat(cuda.mlaTailMerges() - tails).as(kept.name() + ": merged in the tail").isEqualTo(kept.tail() ? 1 : 0);
            }
            // a kept tail run merges in the tail (on the simulator tuning keeps the CUDA-core kernel: set the choice as if made)
            int h = 48;
            Tensor q = r(160, b, h, r + p).to(DEV);
            System.setProperty(CudaBackend.MLA_KERNEL_PROPERTY, tc16);
            float[] named = null;
            for (String merge : List.of("tail", "auto")) {
                System.setProperty(CudaBackend.MLA_MERGE_PROPERTY, merge);
                long tails = cuda.mlaTailMerges();
                float[] got = Functional.latentAttentionDecode(q, latent, kRope, len, scale).toFloatArray();
                assertThat(cuda.mlaTailMerges() - tails).as("tc16 named, mlaMerge=" + merge).isEqualTo(merge.equals("tail") ? 1 : 0);
                if (named == null) named = got;
            }
            cuda.mlaTuned(CudaBackend.MlaShape.of(DType.BF16, b, h, r, p, len), tail);
            System.setProperty(CudaBackend.MLA_KERNEL_PROPERTY, CudaBackend.MLA_TUNE);
            long tails = cuda.mlaTailMerges();
            assertThat(Functional.latentAttentionDecode(q, latent, kRope, len, scale).toFloatArray()).as("tuned to " + tail).containsExactly(named);
            assertThat(cuda.mlaTailMerges() - tails).as("tuned to " + tail + ": merged in the tail").isEqualTo(1);
            System.setProperty(CudaBackend.MLA_MERGE_PROPERTY, "kernel");   // a merge the property fixes holds
            tails = cuda.mlaTailMerges();
            assertThat(Functional.latentAttentionDecode(q, latent, kRope, len, scale).toFloatArray()).as("tuned to " + tail + ", mlaMerge=kernel").containsExactly(named);
            assertThat(cuda.mlaTailMerges() - tails).as("tuned to " + tail + ", mlaMerge=kernel: merged by the kernel").isZero();
        } finally {
            System.clearProperty(CudaBackend.MLA_KERNEL_PROPERTY);
            System.clearProperty(CudaBackend.MLA_MERGE_PROPERTY);
            if (given == null) System.clearProperty(CudaBackend.MLA_EXCLUDE_PROPERTY);
            else System.setProperty(CudaBackend.MLA_EXCLUDE_PROPERTY, given);
        }
    }

    /**
     * Every product of {@link #matmulShapesTransposesAndSixteenBitWeights} again through cuBLASLt
     * ({@code panamax.cuda.gemm=lt}) and through the tuned choice ({@code tune}), plus an operand at
     * an odd element offset (2-byte aligned: an algorithm that needs aligned operands must not be
     * offered for it). Under tune, a shape first met inside a graph capture runs cuBLAS and is not
     * kept; met outside, it is timed and kept.
     */
    @Test
    void matmulThroughCublasLtOrTunedMatchesHost() {
        if (emu != null) return;   // cuBLASLt is CUDA's
        CublasProducts products = CudaBackend.get(0).products();
        try {
            for (String mode : List.of(CublasProducts.LT, CublasProducts.TUNE)) {
                System.setProperty(CublasProducts.PROPERTY, mode);
                int before = products.plans();
                matmulShapesTransposesAndSixteenBitWeights();
                same(mode + ", BF16 at an odd offset", t -> t.get(0).to(DType.BF16).narrow(1, 1, 16).matmul(t.get(1).to(DType.BF16).t()),
                        r(150, 5, 17), r(151, 6, 16));
                assertThat(products.plans()).as(mode + ": shapes chosen for").isGreaterThan(before);
            }
            System.setProperty(CublasProducts.PROPERTY, CublasProducts.TUNE);
            Tensor a = r(152, 7, 13).to(DEV), b = r(153, 13, 9).to(DEV);
            float[] want = r(152, 7, 13).matmul(r(153, 13, 9)).toFloatArray();
            int before = products.plans();
            Tensor out = Tensor.zeros(DEV, DType.F32, 7, 9);
            try (Autograd.NoGrad ng = Autograd.noGrad(); DeviceGraph g = DeviceGraph.capture(DEV, () -> a.matmulInto(b, out))) {
                assertThat(products.plans()).as("tuned inside a capture").isEqualTo(before);
                g.replay();
                close("a captured product of an untuned shape (cuBLAS)", out.toFloatArray(), want);
                close("the same product outside, tuned", a.matmul(b).toFloatArray(), want);
            }
            assertThat(products.plans()).as("kept after tuning outside the capture").isEqualTo(before + 1);
        } finally {
            System.clearProperty(CublasProducts.PROPERTY);
        }
    }

    @Test
    void embeddingOfSixteenBitInferenceWeightsGathersRowsWithoutWideningTheTable() {
        for (DType dt : new DType[]{DType.BF16, DType.F16}) {
            Tensor table = r(120, 6, 5).to(dt);
            Tensor ids = Tensor.ofLongs(new long[]{5, 0, 3, 3}, 2, 2);
            long before = emu == null ? 0 : emu.allocations();
            Tensor got = Tensor.embedding(table.to(DEV), ids);
            assertThat(got.device()).isEqualTo(DEV);
            assertThat(got.dtype()).isEqualTo(DType.F32);
            assertThat(got.toFloatArray()).as(dt + " rows").containsExactly(Tensor.embedding(table, ids).toFloatArray());
            // the upload, the index and the output: no widened copy of the table
            if (emu != null) assertThat(emu.allocations() - before).isLessThanOrEqualTo(4);
        }
    }
}
