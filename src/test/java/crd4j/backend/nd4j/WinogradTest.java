package crd4j.backend.nd4j;

import crd4j.backend.Tensor;
import crd4j.tensor.HostTensor;
import crd4j.testing.Parity;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The float32 Winograd F(2×2, 3×3) convolution against the float64 im2col + GEMM convolution of the same float32
 * values (the reference): relative L2 error ≤ 1e-6 (the per-layer budget is 1e-5) and at most 4× the float32
 * im2col + GEMM path's own error, on odd and even sizes, padding 0 and 1, several samples, and channel counts at the
 * thresholds; shapes below them, strided and float64 convolutions keep im2col + GEMM (same bits); the
 * filter transform is recomputed after an in-place weight update.
 */
class WinogradTest {
    private final Nd4jBackend be = new Nd4jBackend();

    private static float[] gaussian(SplittableRandom r, int len, double scale) {
        float[] v = new float[len];
        for (int i = 0; i < len; i++) {
            // Box–Muller from two uniforms: a Gaussian-looking spread of signs and magnitudes
            double u1 = 1.0 - r.nextDouble(), u2 = r.nextDouble();
            v[i] = (float) (scale * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
        }
        return v;
    }

    private static float[] floats(Tensor t) { return ((Nd4jBackend.Nd4jTensor) t).array().data().asFloat(); }

    @Test
    void agreesWithTheFloat64ConvolutionOnManyShapes() {
        int min = Nd4jBackend.WINOGRAD_MIN_CHANNELS;
        int[][] cases = { // n, c, o, h, w, pad
                {2, min, min, 8, 8, 1}, {2, min, min + 3, 7, 9, 1}, {8, min + 5, min, 5, 6, 0}, {3, min, 2 * min, 16, 16, 1},
                {8, 8 * min, 8 * min, 4, 4, 1}, {16, min, min, 4, 5, 0}, {1, min, min, 33, 17, 1}, {1, 64, 128, 32, 32, 1}};
        SplittableRandom r = new SplittableRandom(7);
        for (int[] s : cases) {
            int n = s[0], c = s[1], o = s[2], h = s[3], w = s[4], pad = s[5];
            float[] x = gaussian(r, n * c * h * w, 1.0), g = gaussian(r, o * c * 9, Math.sqrt(2.0 / (9 * c)));
            HostTensor xh = HostTensor.of(x, n, c, h, w), gh = HostTensor.of(g, o, c, 3, 3);
            Tensor x32 = be.fromHost(xh), w32 = be.fromHost(gh);
            HostTensor ref = be.conv2d(be.fromHost(xh.toFloat64()), be.fromHost(gh.toFloat64()), 1, pad).toHost();
            Tensor wino = be.conv2dInference(x32, w32, 1, pad), direct = be.conv2d(x32, w32, 1, pad);
            float[] gemm = floats(direct);
            assertEquals(ref.numel(), gemm.length);
            long[] shape = wino.shape();
            assertEquals(h + 2 * pad - 2, shape[2]);
            assertEquals(w + 2 * pad - 2, shape[3]);
            double eWino = Parity.relL2(wino.toHost(), ref), eGemm = Parity.relL2(direct.toHost(), ref);
            String what = java.util.Arrays.toString(s) + ": winograd " + eWino + ", im2col+GEMM " + eGemm;
            assertTrue(eWino <= 1e-6, what);
            assertTrue(eWino <= 4 * eGemm, what);
            assertTrue(!java.util.Arrays.equals(floats(wino), gemm), "the Winograd path was not taken: " + what);
        }
    }

    @Test
    void otherConvolutionsKeepIm2colAndGemm() {
        int min = Nd4jBackend.WINOGRAD_MIN_CHANNELS;
        SplittableRandom r = new SplittableRandom(3);
        int[][] cases = { // c, o, k, stride, n, size
                {min - 1, min, 3, 1, 2, 9}, {min, min - 1, 3, 1, 2, 9}, {min, min, 3, 2, 2, 9}, {min, min, 1, 1, 2, 9},
                {4 * min, 4 * min, 3, 1, 1, 4}, {4 * min, 4 * min, 3, 1, 1, 8}};   // 2×2 and 4×4 tiles in one sample: too few
        for (int[] s : cases) {
            int n = s[4], hw = s[5];
            float[] x = gaussian(r, n * s[0] * hw * hw, 1.0), g = gaussian(r, s[1] * s[0] * s[2] * s[2], 0.1);
            Tensor xt = be.fromHost(HostTensor.of(x, n, s[0], hw, hw)), wt = be.fromHost(HostTensor.of(g, s[1], s[0], s[2], s[2]));
            int pad = s[2] / 2;
            assertEquals(java.util.Arrays.toString(floats(be.conv2d(xt, wt, s[3], pad))),
                    java.util.Arrays.toString(floats(be.conv2dInference(xt, wt, s[3], pad))), java.util.Arrays.toString(s));
        }
    }

    @Test
    void theFilterTransformFollowsInPlaceWeightUpdates() {
        int c = Nd4jBackend.WINOGRAD_MIN_CHANNELS, o = c;
        SplittableRandom r = new SplittableRandom(5);
        float[] x = gaussian(r, c * 6 * 6, 1.0), g = gaussian(r, o * c * 9, 0.05), dg = gaussian(r, o * c * 9, 0.05);
        Tensor xt = be.fromHost(HostTensor.of(x, 1, c, 6, 6)), wt = be.fromHost(HostTensor.of(g, o, c, 3, 3));
        float[] before = floats(be.conv2dInference(xt, wt, 1, 1));
        be.addInPlace(wt, be.fromHost(HostTensor.of(dg, o, c, 3, 3)));
        float[] after = floats(be.conv2dInference(xt, wt, 1, 1));
        float[] g2 = floats(wt);
        Tensor fresh = be.fromHost(HostTensor.of(g2, o, c, 3, 3));
        assertEquals(java.util.Arrays.toString(floats(be.conv2dInference(xt, fresh, 1, 1))), java.util.Arrays.toString(after));
        assertTrue(!java.util.Arrays.equals(before, after));
    }
}
