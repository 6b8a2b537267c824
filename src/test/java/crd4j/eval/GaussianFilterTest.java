package crd4j.eval;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link GaussianFilter} against scipy.ndimage.gaussian_filter (SciPy 1.10, mode='reflect'). */
class GaussianFilterTest {
    static final double REL_TOL = 1e-12;

    /** Checks cases {@code idx} of the reference; returns the max relative error (|Δ| / max(1, |ref|)). */
    private static double check(EvalReference ref, int... idx) {
        double worst = 0;
        for (int i : idx) {
            int h = ref.integer("gauss" + i + "_h"), w = ref.integer("gauss" + i + "_w");
            double sigma = ref.scalar("gauss" + i + "_sigma"), truncate = ref.scalar("gauss" + i + "_truncate");
            double[] in = ref.f64("gauss" + i + "_in");
            double[] expected = ref.f64("gauss" + i + "_out");
            double[] copy = in.clone();
            double[] got = GaussianFilter.apply(in, h, w, sigma, truncate);
            assertArrayEquals(copy, in, "input must not be modified");
            double err = 0;
            for (int k = 0; k < got.length; k++) {
                err = Math.max(err, Math.abs(got[k] - expected[k]) / Math.max(1.0, Math.abs(expected[k])));
            }
            System.out.printf("gaussian %dx%d sigma=%s truncate=%s: max rel err %.3g%n", h, w, sigma, truncate, err);
            assertTrue(err <= REL_TOL, "case " + i + " (" + h + "x" + w + "): max rel err " + err);
            worst = Math.max(worst, err);
        }
        return worst;
    }

    @Test
    void matchesScipyOn256x256() {
        check(EvalReference.generate("seed1", "--seed", "1"), 0);
    }

    @Test
    void matchesScipyOnMapsSmallerThanTheRadius() {
        // 7x5, 1x1, 3x40 and 2x2: the reflection repeats (period 2n) because the radius 16 exceeds the size
        check(EvalReference.generate("seed1", "--seed", "1"), 1, 2, 3, 6);
    }

    @Test
    void matchesScipyWithOtherSigmaAndTruncate() {
        check(EvalReference.generate("seed1", "--seed", "1"), 4, 5);
    }

    @Test
    void kernelAndReflectIndexing() {
        double[] k = GaussianFilter.kernel(4.0, 4.0);
        assertEquals(33, k.length);
        double sum = 0;
        for (int i = 0; i < k.length; i++) {
            assertEquals(k[i], k[k.length - 1 - i], 0.0);
            sum += k[i];
        }
        assertEquals(1.0, sum, 1e-15);
        assertEquals(Math.exp(-0.5 / 16 * 256) / Math.exp(0), k[0] / k[16], 1e-15);
        // ...c b a | a b c d | d c b a | a b c d...
        int[] expected = {1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1};   // i = -10 .. 6, n = 4
        for (int i = -10; i <= 6; i++) assertEquals(expected[i + 10], GaussianFilter.reflect(i, 4), "i=" + i);
        // a constant map stays constant (up to rounding), also smaller than the radius
        double[] c = new double[7 * 5];
        java.util.Arrays.fill(c, 2.5);
        for (double v : GaussianFilter.apply(c, 7, 5)) assertEquals(2.5, v, 1e-14);
    }
}
