package crd4j.backend.nd4j;

import crd4j.backend.Tensor;
import crd4j.tensor.HostTensor;
import crd4j.testing.Parity;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scoring route of the 2×2 stride-2 transposed convolution (one GEMM per sample on the input's own rows, then a
 * scatter to the output pixels) against the float64 transposed convolution of the same values: relative L2 ≤ 1e-6 and
 * at most 4× the training route's own float32 error, on square and non-square inputs and several samples; float64
 * keeps the training route (same bits).
 */
class DeconvInferenceTest {
    private final Nd4jBackend be = new Nd4jBackend();

    private static float[] uniform(SplittableRandom r, int len) {
        float[] v = new float[len];
        for (int i = 0; i < len; i++) v[i] = (float) (2 * r.nextDouble() - 1);
        return v;
    }

    private static double[] doubles(Tensor t) { return ((Nd4jBackend.Nd4jTensor) t).array().data().asDouble(); }

    @Test
    void agreesWithTheFloat64TransposedConvolution() {
        SplittableRandom r = new SplittableRandom(13);
        int[][] cases = {{1, 64, 32, 8, 8}, {3, 17, 5, 3, 7}, {2, 256, 128, 16, 16}, {1, 2048, 1024, 2, 2}};   // n, c, o, h, w
        for (int[] s : cases) {
            int n = s[0], c = s[1], o = s[2], h = s[3], w = s[4];
            float[] x = uniform(r, n * c * h * w), g = uniform(r, c * o * 4);
            HostTensor xh = HostTensor.of(x, n, c, h, w), gh = HostTensor.of(g, c, o, 2, 2);
            Tensor x32 = be.fromHost(xh), w32 = be.fromHost(gh);
            HostTensor ref = be.deconv2x2(be.fromHost(xh.toFloat64()), be.fromHost(gh.toFloat64())).toHost();
            double eFast = Parity.relL2(be.deconv2x2Inference(x32, w32).toHost(), ref);
            double eTrain = Parity.relL2(be.deconv2x2(x32, w32).toHost(), ref);
            String what = Arrays.toString(s) + ": scoring route " + eFast + ", training route " + eTrain;
            assertTrue(eFast <= 1e-6 && eFast <= 4 * eTrain, what);
        }
    }

    @Test
    void float64KeepsTheTrainingRoute() {
        SplittableRandom r = new SplittableRandom(2);
        Tensor x = be.fromHost(HostTensor.of(uniform(r, 2 * 8 * 5 * 5), 2, 8, 5, 5).toFloat64());
        Tensor w = be.fromHost(HostTensor.of(uniform(r, 8 * 4 * 4), 8, 4, 2, 2).toFloat64());
        assertArrayEquals(doubles(be.deconv2x2(x, w)), doubles(be.deconv2x2Inference(x, w)), 0.0);
    }
}
