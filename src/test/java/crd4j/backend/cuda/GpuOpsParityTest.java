package crd4j.backend.cuda;

import crd4j.autograd.FusionWeights;
import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.backend.Backend;
import crd4j.backend.Tensor;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.eval.GaussianFilter;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import crd4j.testing.Parity;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every CUDA op against the CPU reference (Nd4jBackend) on awkward sizes (odd widths, batch 1 and 16), float32 with
 * TF32 off and float64, with cuBLAS and with the cuDNN-only path. Bound: relative L2 ≤ 1e-5 (float32; the brief's
 * per-op bound), ≤ 1e-12 for float64. Skipped, with the reason, where no GPU works (CI).
 */
class GpuOpsParityTest {
    static CudaBackend gpu;
    static final Nd4jBackend cpu = new Nd4jBackend();

    @BeforeAll
    static void open() {
        if (GpuAvailable.reason() == null) gpu = CudaBackend.open(false);
    }

    /** Per test, so that every skipped test carries the reason (a class-level skip shows none in the reports). */
    @BeforeEach
    void requireGpu() {
        GpuAvailable.assume();
    }

    @AfterAll
    static void close() {
        if (gpu != null) gpu.close();
    }

    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        for (int n : new int[]{1, 16}) {
            for (DType dt : new DType[]{DType.FLOAT32, DType.FLOAT64}) {
                for (boolean cublas : new boolean[]{true, false}) a.add(Arguments.of(n, dt, cublas));
            }
        }
        return a.stream();
    }

    static double tol(DType dt) { return dt == DType.FLOAT64 ? 1e-12 : 1e-5; }

    static HostTensor random(SplittableRandom r, DType dt, double scale, long... shape) {
        double[] a = new double[Math.toIntExact(HostTensor.numel(shape))];
        for (int i = 0; i < a.length; i++) a[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        HostTensor h = HostTensor.of(a, shape);
        return dt == DType.FLOAT64 ? h : h.toFloat32();
    }

    void same(String what, Tensor g, Tensor c, double tol) {
        Parity.assertClose(what, g.toHost().toFloat64(), c.toHost().toFloat64(), tol);
    }

    @ParameterizedTest(name = "N={0} {1} cuBLAS={2}")
    @MethodSource("cases")
    void convolutionsForwardAndBackward(int n, DType dt, boolean cublas) {
        gpu.setUseCublas(cublas);
        SplittableRandom r = new SplittableRandom(n);
        HostTensor x = random(r, dt, 1, n, 13, 11, 17);
        for (int[] c : new int[][]{{3, 1, 1}, {3, 2, 1}, {7, 2, 3}, {1, 1, 0}, {1, 2, 0}, {2, 2, 0}}) {
            HostTensor w = random(r, dt, 0.3, 9, 13, c[0], c[0]);
            String tag = "conv k" + c[0] + "s" + c[1] + "p" + c[2] + " N=" + n + " " + dt + " cuBLAS=" + cublas;
            Tensor yg = gpu.conv2d(gpu.fromHost(x), gpu.fromHost(w), c[1], c[2]), yc = cpu.conv2d(cpu.fromHost(x), cpu.fromHost(w), c[1], c[2]);
            same(tag + " forward", yg, yc, tol(dt));
            HostTensor gy = random(r, dt, 1, yc.shape());
            same(tag + " grad x", gpu.conv2dBackwardData(gpu.fromHost(gy), gpu.fromHost(w), x.shape(), c[1], c[2]),
                    cpu.conv2dBackwardData(cpu.fromHost(gy), cpu.fromHost(w), x.shape(), c[1], c[2]), tol(dt));
            same(tag + " grad w", gpu.conv2dBackwardFilter(gpu.fromHost(x), gpu.fromHost(gy), w.shape(), c[1], c[2]),
                    cpu.conv2dBackwardFilter(cpu.fromHost(x), cpu.fromHost(gy), w.shape(), c[1], c[2]), tol(dt));
        }
        HostTensor wd = random(r, dt, 0.3, 13, 7, 2, 2);
        String tag = "deconv k2s2 N=" + n + " " + dt + " cuBLAS=" + cublas;
        same(tag + " forward", gpu.deconv2x2(gpu.fromHost(x), gpu.fromHost(wd)), cpu.deconv2x2(cpu.fromHost(x), cpu.fromHost(wd)), tol(dt));
        HostTensor gy = random(r, dt, 1, n, 7, 22, 34);
        same(tag + " grad x", gpu.deconv2x2BackwardData(gpu.fromHost(gy), gpu.fromHost(wd)), cpu.deconv2x2BackwardData(cpu.fromHost(gy), cpu.fromHost(wd)), tol(dt));
        same(tag + " grad w", gpu.deconv2x2BackwardFilter(gpu.fromHost(x), gpu.fromHost(gy)), cpu.deconv2x2BackwardFilter(cpu.fromHost(x), cpu.fromHost(gy)), tol(dt));
    }

    @ParameterizedTest(name = "N={0} {1}")
    @MethodSource("cases")
    void batchNormTrainEvalBackward(int n, DType dt, boolean cublas) {
        SplittableRandom r = new SplittableRandom(7 + n);
        HostTensor x = random(r, dt, 2, n, 5, 7, 9), g = random(r, dt, 1, 5), b = random(r, dt, 0.5, 5);
        HostTensor rm = random(r, dt, 0.3, 5), rv = HostTensor.of(new double[]{0.7, 1.1, 0.9, 1.3, 0.6}, 5);
        if (dt == DType.FLOAT32) rv = rv.toFloat32();
        Tensor grm = gpu.fromHost(rm), grv = gpu.fromHost(rv), crm = cpu.fromHost(rm), crv = cpu.fromHost(rv);
        String tag = "bn N=" + n + " " + dt;
        if (n * 7 * 9 > 1) {
            Backend.BatchNormForward fg = gpu.batchNormTrain(gpu.fromHost(x), gpu.fromHost(g), gpu.fromHost(b), grm, grv, 0.1, 1e-5);
            Backend.BatchNormForward fc = cpu.batchNormTrain(cpu.fromHost(x), cpu.fromHost(g), cpu.fromHost(b), crm, crv, 0.1, 1e-5);
            same(tag + " train forward", fg.out(), fc.out(), tol(dt));
            same(tag + " running mean", grm, crm, tol(dt));
            same(tag + " running var (unbiased)", grv, crv, tol(dt));
            HostTensor gy = random(r, dt, 1, x.shape());
            Backend.BatchNormGrads gg = gpu.batchNormBackward(gpu.fromHost(x), gpu.fromHost(gy), gpu.fromHost(g), fg);
            Backend.BatchNormGrads gc = cpu.batchNormBackward(cpu.fromHost(x), cpu.fromHost(gy), cpu.fromHost(g), fc);
            same(tag + " dx", gg.dx(), gc.dx(), tol(dt));
            same(tag + " dgamma", gg.dgamma(), gc.dgamma(), tol(dt));
            same(tag + " dbeta", gg.dbeta(), gc.dbeta(), tol(dt));
        }
        same(tag + " eval", gpu.batchNormEval(gpu.fromHost(x), gpu.fromHost(g), gpu.fromHost(b), grm, grv, 1e-5),
                cpu.batchNormEval(cpu.fromHost(x), cpu.fromHost(g), cpu.fromHost(b), crm, crv, 1e-5), tol(dt));
    }

    @ParameterizedTest(name = "N={0} {1}")
    @MethodSource("cases")
    void elementwisePoolingResamplingAndCrdOps(int n, DType dt, boolean cublas) {
        SplittableRandom r = new SplittableRandom(11 + n);
        HostTensor a = random(r, dt, 1, n, 6, 13, 9), b = random(r, dt, 1, n, 6, 13, 9), c = random(r, dt, 1, n, 3, 13, 9);
        String tag = " N=" + n + " " + dt;
        same("add" + tag, gpu.add(gpu.fromHost(a), gpu.fromHost(b)), cpu.add(cpu.fromHost(a), cpu.fromHost(b)), tol(dt));
        Tensor ga = gpu.fromHost(a), ca = cpu.fromHost(a);
        gpu.addInPlace(ga, gpu.fromHost(b));
        cpu.addInPlace(ca, cpu.fromHost(b));
        same("addInPlace" + tag, ga, ca, tol(dt));
        same("axpby" + tag, gpu.axpby(0.3, gpu.fromHost(a), -1.7, gpu.fromHost(b)), cpu.axpby(0.3, cpu.fromHost(a), -1.7, cpu.fromHost(b)), tol(dt));
        assertEquals(cpu.dot(cpu.fromHost(a), cpu.fromHost(b)), gpu.dot(gpu.fromHost(a), gpu.fromHost(b)),
                1e-12 * Math.abs(cpu.dot(cpu.fromHost(a), cpu.fromHost(a))), "dot" + tag);
        Tensor yg = gpu.relu(gpu.fromHost(a)), yc = cpu.relu(cpu.fromHost(a));
        same("relu" + tag, yg, yc, 0);
        same("relu backward" + tag, gpu.reluBackward(yg, gpu.fromHost(b)), cpu.reluBackward(yc, cpu.fromHost(b)), 0);
        Tensor cg = gpu.concatChannels(List.of(gpu.fromHost(a), gpu.fromHost(c))), cc = cpu.concatChannels(List.of(cpu.fromHost(a), cpu.fromHost(c)));
        same("concat" + tag, cg, cc, 0);
        List<Tensor> sg = gpu.splitChannels(cg, 2, 7), sc = cpu.splitChannels(cc, 2, 7);
        same("split 0" + tag, sg.get(0), sc.get(0), 0);
        same("split 1" + tag, sg.get(1), sc.get(1), 0);
        same("maxpool" + tag, gpu.maxPool3x3s2p1(gpu.fromHost(a)), cpu.maxPool3x3s2p1(cpu.fromHost(a)), 0);
        same("upsample align_corners" + tag, gpu.upsampleBilinearAlignCorners(gpu.fromHost(a), 64, 37),
                cpu.upsampleBilinearAlignCorners(cpu.fromHost(a), 64, 37), dt == DType.FLOAT32 ? 0 : 1e-15);
        same("cosine distance map" + tag, gpu.cosineDistanceMap(gpu.fromHost(a), gpu.fromHost(b)), cpu.cosineDistanceMap(cpu.fromHost(a), cpu.fromHost(b)), tol(dt));
        Backend.CosineLoss lg = gpu.cosineLoss(gpu.fromHost(a), gpu.fromHost(b), true), lc = cpu.cosineLoss(cpu.fromHost(a), cpu.fromHost(b), true);
        assertEquals(lc.loss(), lg.loss(), 1e-12, "cosine loss" + tag);
        same("cosine loss grad" + tag, lg.gradS(), lc.gradS(), tol(dt));
        Tensor pg = gpu.fromHost(a), pc = cpu.fromHost(a), zg = gpu.zeros(dt, a.shape()), zc = cpu.zeros(dt, a.shape());
        Tensor vg = gpu.zeros(dt, a.shape()), vc = cpu.zeros(dt, a.shape());
        for (int k = 1; k <= 3; k++) {
            HostTensor g = random(r, dt, 1, a.shape());
            gpu.adamStep(pg, gpu.fromHost(g), zg, vg, 0.005, 0.5, 0.999, 1e-8, k);
            cpu.adamStep(pc, cpu.fromHost(g), zc, vc, 0.005, 0.5, 0.999, 1e-8, k);
        }
        same("adam 3 steps" + tag, pg, pc, tol(dt));
        // softmax fusion through the autograd (the fused backward kernel on the GPU)
        FusionWeights fwg = new FusionWeights(0.2, -0.4), fwc = new FusionWeights(0.2, -0.4);
        Graph gg = Graph.training(gpu), gc = Graph.training(cpu);
        Var rg = new Var(gpu.fromHost(a), true), qg = new Var(gpu.fromHost(b), true), rc = new Var(cpu.fromHost(a), true), qc = new Var(cpu.fromHost(b), true);
        Var og = gg.fuse(rg, qg, fwg, true), oc = gc.fuse(rc, qc, fwc, true);
        same("fusion forward" + tag, og.value(), oc.value(), tol(dt));
        HostTensor gy = random(r, dt, 1, a.shape());
        gg.backward(og, gpu.fromHost(gy));
        gc.backward(oc, cpu.fromHost(gy));
        same("fusion grad r" + tag, rg.grad(), rc.grad(), tol(dt));
        same("fusion grad q" + tag, qg.grad(), qc.grad(), tol(dt));
        Parity.assertClose("fusion grad w" + tag, HostTensor.of(fwg.grad(), 2), HostTensor.of(fwc.grad(), 2), 1e-10);
    }

    @ParameterizedTest(name = "N={0} {1}")
    @MethodSource("cases")
    void anomalyMapTailAndGaussian(int n, DType dt, boolean cublas) {
        SplittableRandom r = new SplittableRandom(23 + n);
        List<Tensor> fg = new ArrayList<>(), tg = new ArrayList<>();
        double[] acc = new double[n * 64 * 64];
        for (int k = 0; k < 3; k++) {
            int s = 16 >> k;
            HostTensor f = random(r, dt, 1, n, 4 << k, s, s), t = random(r, dt, 1, n, 4 << k, s, s);
            fg.add(gpu.fromHost(f));
            tg.add(gpu.fromHost(t));
            HostTensor u = cpu.upsampleBilinearAlignCorners(cpu.cosineDistanceMap(cpu.fromHost(f), cpu.fromHost(t)), 64, 64).toHost();
            for (int i = 0; i < acc.length; i++) acc[i] += u.getDouble(i);
        }
        Parity.assertClose("raw anomaly map N=" + n + " " + dt, gpu.rawAnomalyMap(fg, tg, 64).toHost(), HostTensor.of(acc, n, 64, 64), tol(dt));
        double[] map = new double[64 * 64];
        for (int i = 0; i < map.length; i++) map[i] = r.nextDouble() * 4 - 1;
        double[] kernel = GaussianFilter.kernel(GaussianFilter.CRD_SIGMA, GaussianFilter.DEFAULT_TRUNCATE);
        Parity.assertClose("gaussian σ=4 (bit-exact expected)", gpu.gaussianFilter(gpu.fromHost(HostTensor.of(map, 1, 64, 64)), kernel).toHost(),
                HostTensor.of(GaussianFilter.apply(map, 64, 64), 1, 64, 64), 0);
    }
}
