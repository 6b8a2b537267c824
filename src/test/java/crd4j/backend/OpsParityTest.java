package crd4j.backend;

import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.io.Npy;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import crd4j.testing.Parity;
import crd4j.testing.ParityFixtures;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Path;

import static crd4j.testing.Parity.LAYER;
import static crd4j.testing.Parity.NETWORK;

/**
 * Every backend operation against PyTorch (src/test/python/crd_reference.py {@code ops}, float32 on odd shapes).
 * Forward outputs: relative L2 ≤ 1e-5; gradients: ≤ 1e-4 (the brief's layer and network tolerances).
 */
class OpsParityTest {
    static Path dir;
    final Backend be = new Nd4jBackend();

    @BeforeAll
    static void generate() {
        dir = ParityFixtures.ops();
    }

    HostTensor npy(String c, String name) throws IOException { return Npy.read(dir.resolve(c).resolve(name + ".npy")); }

    Tensor t(String c, String name) throws IOException { return be.fromHost(npy(c, name)); }

    @ParameterizedTest(name = "conv k{0} s{1} p{2}")
    @CsvSource({"3,1,1", "3,2,1", "7,2,3", "1,1,0", "1,2,0", "2,2,0"})
    void conv2dForwardAndBackward(int k, int s, int p) throws IOException {
        String c = "conv_k" + k + "s" + s + "p" + p;
        Tensor x = t(c, "x"), w = t(c, "w"), gout = t(c, "gout");
        Parity.assertClose(c + " forward", be.conv2d(x, w, s, p), npy(c, "out"), LAYER);
        Parity.assertClose(c + " grad x", be.conv2dBackwardData(gout, w, x.shape(), s, p), npy(c, "grad_x"), NETWORK);
        Parity.assertClose(c + " grad w", be.conv2dBackwardFilter(x, gout, w.shape(), s, p), npy(c, "grad_w"), NETWORK);
    }

    @Test
    void transposedConvK2S2() throws IOException {
        String c = "deconv_k2s2";
        Tensor x = t(c, "x"), w = t(c, "w"), gout = t(c, "gout");
        Parity.assertClose(c + " forward", be.deconv2x2(x, w), npy(c, "out"), LAYER);
        Parity.assertClose(c + " grad x", be.deconv2x2BackwardData(gout, w), npy(c, "grad_x"), NETWORK);
        Parity.assertClose(c + " grad w", be.deconv2x2BackwardFilter(x, gout), npy(c, "grad_w"), NETWORK);
    }

    @Test
    void batchNormTrainingModeUpdatesRunningStatsAndBackprops() throws IOException {
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

    @Test
    void batchNormEvalModeUsesRunningStats() throws IOException {
        String c = "bn_eval";
        Parity.assertClose(c, be.batchNormEval(t(c, "x"), t(c, "weight"), t(c, "bias"), t(c, "running_mean"),
                t(c, "running_var"), 1e-5), npy(c, "out"), LAYER);
    }

    @Test
    void reluAndItsGradientAtExactZeros() throws IOException {
        String c = "relu";
        Tensor y = be.relu(t(c, "x"));
        Parity.assertClose(c + " forward", y, npy(c, "out"), LAYER);
        Parity.assertClose(c + " grad x", be.reluBackward(y, t(c, "gout")), npy(c, "grad_x"), LAYER);
    }

    @Test
    void maxPoolStem() throws IOException {
        Parity.assertClose("maxpool_k3s2p1", be.maxPool3x3s2p1(t("maxpool_k3s2p1", "x")), npy("maxpool_k3s2p1", "out"), LAYER);
    }

    @Test
    void softmaxFusionForwardAndBackward() throws IOException {
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

    @Test
    void flattenedCosineLossAndGradient() throws IOException {
        String c = "cos_loss";
        Backend.CosineLoss l = be.cosineLoss(t(c, "s"), t(c, "t"), true);
        Parity.assertClose(c + " value", HostTensor.of(new double[]{l.loss()}), npy(c, "loss").toFloat64(), LAYER);
        Parity.assertClose(c + " grad s", l.gradS(), npy(c, "grad_s"), NETWORK);
    }

    @Test
    void perPixelCosineDistanceMap() throws IOException {
        Parity.assertClose("cos_map", be.cosineDistanceMap(t("cos_map", "s"), t("cos_map", "t")), npy("cos_map", "out"), LAYER);
    }

    @Test
    void bilinearUpsamplingAlignCorners() throws IOException {
        HostTensor expected = npy("upsample_ac", "out");
        Tensor out = be.upsampleBilinearAlignCorners(t("upsample_ac", "x"), (int) expected.dim(2), (int) expected.dim(3));
        Parity.assertClose("upsample_ac", out, expected, LAYER);
    }

    @Test
    void adamWithExponentialLrOverThreeSteps() throws IOException {
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
