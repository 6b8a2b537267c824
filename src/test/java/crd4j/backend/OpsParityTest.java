package crd4j.backend;

import crd4j.io.Npy;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import crd4j.testing.Parity;
import crd4j.testing.ParityFixtures;
import crd4j.testing.TestBackends;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.stream.Stream;

import static crd4j.testing.Parity.LAYER;
import static crd4j.testing.Parity.NETWORK;

/**
 * Every backend operation against PyTorch (src/test/python/crd_reference.py {@code ops}, float32 on odd shapes), on
 * every backend ({@link TestBackends}: the CPU always, CUDA where it opens, else skipped saying why).
 * Forward outputs: relative L2 ≤ 1e-5; gradients: ≤ 1e-4 (the brief's layer and network tolerances), the same for
 * every backend.
 */
class OpsParityTest {
    static Path dir;
    Backend be;

    @BeforeAll
    static void generate() {
        dir = ParityFixtures.ops();
    }

    HostTensor npy(String c, String name) throws IOException { return Npy.read(dir.resolve(c).resolve(name + ".npy")); }

    Tensor t(String c, String name) throws IOException { return be.fromHost(npy(c, name)); }

    static Stream<Arguments> convolutions() {
        return TestBackends.all().flatMap(b -> Stream.of(new int[][]{{3, 1, 1}, {3, 2, 1}, {7, 2, 3}, {1, 1, 0}, {1, 2, 0}, {2, 2, 0}})
                .map(c -> Arguments.of(b, c[0], c[1], c[2])));
    }

    @ParameterizedTest(name = "{0}: conv k{1} s{2} p{3}")
    @MethodSource("convolutions")
    void conv2dForwardAndBackward(TestBackends.Case backend, int k, int s, int p) throws IOException {
        be = backend.get();
        String c = "conv_k" + k + "s" + s + "p" + p;
        Tensor x = t(c, "x"), w = t(c, "w"), gout = t(c, "gout");
        Parity.assertClose(c + " forward", be.conv2d(x, w, s, p), npy(c, "out"), LAYER);
        Parity.assertClose(c + " grad x", be.conv2dBackwardData(gout, w, x.shape(), s, p), npy(c, "grad_x"), NETWORK);
        Parity.assertClose(c + " grad w", be.conv2dBackwardFilter(x, gout, w.shape(), s, p), npy(c, "grad_w"), NETWORK);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("crd4j.testing.TestBackends#all")
    void transposedConvK2S2(TestBackends.Case backend) throws IOException {
        be = backend.get();
        String c = "deconv_k2s2";
        Tensor x = t(c, "x"), w = t(c, "w"), gout = t(c, "gout");
        Parity.assertClose(c + " forward", be.deconv2x2(x, w), npy(c, "out"), LAYER);
        Parity.assertClose(c + " grad x", be.deconv2x2BackwardData(gout, w), npy(c, "grad_x"), NETWORK);
        Parity.assertClose(c + " grad w", be.deconv2x2BackwardFilter(x, gout), npy(c, "grad_w"), NETWORK);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("crd4j.testing.TestBackends#all")
    void batchNormTrainingModeUpdatesRunningStatsAndBackprops(TestBackends.Case backend) throws IOException {
        be = backend.get();
        String c = "bn_train";
        Tensor x = t(c, "x"), g = t(c, "weight"), b = t(c, "bias"), rm = t(c, "running_mean"), rv = t(c, "running_var");
        Backend.BatchNormForward f = be.batchNormTrain(x, g, b, rm, rv, 0.1, 1e-5);
        Parity.assertClose(c + " forward", f.out(), npy(c, "out"), LAYER);
        Parity.assertClose(c + " running_mean", rm, npy(c, "running_mean_after"), LAYER);
        Parity.assertClose(c + " running_var", rv, npy(c, "running_var_after"), LAYER);
        Backend.BatchNormGrads gr = be.batchNormBackward(x, t(c, "gout"), g, f);
        Parity.assertClose(c + " grad x", gr.dx(), npy(c, "grad_x"), NETWORK);
        Parity.assertClose(c + " grad weight", gr.dgamma(), npy(c, "grad_weight"), NETWORK);
        Parity.assertClose(c + " grad bias", gr.dbeta(), npy(c, "grad_bias"), NETWORK);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("crd4j.testing.TestBackends#all")
    void batchNormEvalModeUsesRunningStats(TestBackends.Case backend) throws IOException {
        be = backend.get();
        String c = "bn_eval";
        Parity.assertClose(c, be.batchNormEval(t(c, "x"), t(c, "weight"), t(c, "bias"), t(c, "running_mean"),
                t(c, "running_var"), 1e-5), npy(c, "out"), LAYER);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("crd4j.testing.TestBackends#all")
    void reluAndItsGradientAtExactZeros(TestBackends.Case backend) throws IOException {
        be = backend.get();
        String c = "relu";
        Tensor y = be.relu(t(c, "x"));
        Parity.assertClose(c + " forward", y, npy(c, "out"), LAYER);
        Parity.assertClose(c + " grad x", be.reluBackward(y, t(c, "gout")), npy(c, "grad_x"), LAYER);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("crd4j.testing.TestBackends#all")
    void maxPoolStem(TestBackends.Case backend) throws IOException {
        be = backend.get();
        Parity.assertClose("maxpool_k3s2p1", be.maxPool3x3s2p1(t("maxpool_k3s2p1", "x")), npy("maxpool_k3s2p1", "out"), LAYER);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("crd4j.testing.TestBackends#all")
    void softmaxFusionForwardAndBackward(TestBackends.Case backend) throws IOException {
        be = backend.get();
        String c = "fusion_softmax";
        HostTensor w = npy(c, "w");
        crd4j.autograd.FusionWeights fw = new crd4j.autograd.FusionWeights(w.getDouble(0), w.getDouble(1));
        crd4j.autograd.Graph g = crd4j.autograd.Graph.training(be);
        crd4j.autograd.Var r = new crd4j.autograd.Var(t(c, "r"), true), q = new crd4j.autograd.Var(t(c, "q"), true);
        crd4j.autograd.Var out = g.fuse(r, q, fw, true);
        Parity.assertClose(c + " forward", out.value(), npy(c, "out"), LAYER);
        g.backward(out, t(c, "gout"));
        Parity.assertClose(c + " grad r", r.grad(), npy(c, "grad_r"), NETWORK);
        Parity.assertClose(c + " grad q", q.grad(), npy(c, "grad_q"), NETWORK);
        double[] gw = fw.grad();
        Parity.assertClose(c + " grad w", HostTensor.of(new float[]{(float) gw[0], (float) gw[1]}, 2), npy(c, "grad_w"), NETWORK);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("crd4j.testing.TestBackends#all")
    void flattenedCosineLossAndGradient(TestBackends.Case backend) throws IOException {
        be = backend.get();
        String c = "cos_loss";
        Backend.CosineLoss l = be.cosineLoss(t(c, "s"), t(c, "t"), true);
        Parity.assertClose(c + " value", HostTensor.of(new double[]{l.loss()}), npy(c, "loss").toFloat64(), LAYER);
        Parity.assertClose(c + " grad s", l.gradS(), npy(c, "grad_s"), NETWORK);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("crd4j.testing.TestBackends#all")
    void perPixelCosineDistanceMap(TestBackends.Case backend) throws IOException {
        be = backend.get();
        Parity.assertClose("cos_map", be.cosineDistanceMap(t("cos_map", "s"), t("cos_map", "t")), npy("cos_map", "out"), LAYER);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("crd4j.testing.TestBackends#all")
    void bilinearUpsamplingAlignCorners(TestBackends.Case backend) throws IOException {
        be = backend.get();
        HostTensor expected = npy("upsample_ac", "out");
        Tensor out = be.upsampleBilinearAlignCorners(t("upsample_ac", "x"), (int) expected.dim(2), (int) expected.dim(3));
        Parity.assertClose("upsample_ac", out, expected, LAYER);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("crd4j.testing.TestBackends#all")
    void adamWithExponentialLrOverThreeSteps(TestBackends.Case backend) throws IOException {
        be = backend.get();
        String c = "adam";
        Tensor p = t(c, "p0");
        Tensor m = be.zeros(DType.FLOAT32, p.shape()), v = be.zeros(DType.FLOAT32, p.shape());
        double lr = 0.005;
        for (int k = 1; k <= 3; k++) {
            be.adamStep(p, t(c, "g" + k), m, v, lr, 0.5, 0.999, 1e-8, k);
            lr *= 0.95;
            Parity.assertClose(c + " step " + k, p, npy(c, "p" + k), LAYER);
        }
    }
}
