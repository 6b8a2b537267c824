package crd4j.data;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** crd4j.data properties that need no Python. */
class DataUnitTest {
    @Test
    void pillowCoefficientsSumToOneInFixedPoint() {
        for (int[] io : new int[][]{{403, 256}, {800, 256}, {100, 256}, {256, 256}, {3, 256}, {600, 97}}) {
            PillowResize.Coeffs c = PillowResize.coeffs(io[0], io[1]);
            for (int i = 0; i < io[1]; i++) {
                long s = 0;
                for (int k = 0; k < c.count[i]; k++) s += c.k[i * c.ksize + k];
                assertTrue(Math.abs(s - (1 << 22)) <= c.count[i], io[0] + "->" + io[1] + " output " + i + ": " + s);
                assertTrue(c.start[i] >= 0 && c.start[i] + c.count[i] <= io[0]);
            }
        }
        // a constant image stays constant, an identity-size resize is a copy
        byte[] flat = new byte[403 * 398 * 3];
        java.util.Arrays.fill(flat, (byte) 200);
        for (byte b : PillowResize.resize(flat, 403, 398, 3, 256, 256)) assertEquals(200, b & 0xff);
        byte[] same = PillowResize.resize(flat, 403, 398, 3, 403, 398);
        assertArrayEquals(flat, same);
    }

    @Test
    void openCvNearestIsNotFloorOfWOver256() {
        // OpenCV's resizeNN uses 1/(256/W), which for W = 422 differs from the exact W/256 at some output index.
        int[] idx = DepthPreprocessing.nearestIndex(422, 256);
        boolean differs = false;
        for (int d = 0; d < 256; d++) differs |= idx[d] != Math.min(d * 422 / 256, 421);
        assertTrue(differs);
        int[] id800 = DepthPreprocessing.nearestIndex(800, 256);
        for (int d = 0; d < 256; d++) assertEquals(Math.min(d * 800 / 256, 799), id800[d]);
    }

    @Test
    void holeFillAndClosingOnSmallCases() {
        double[] img = {0, 0, 0, 0, 0.5, 0, 0, 0, 0.9};   // 3x3
        double[] f = DepthPreprocessing.fillHoles(img, 3, 3);
        assertEquals(0.5 / (1 + 1e-12), f[0]);
        assertEquals((0.5 + 0.9) / (2 + 1e-12), f[5]);
        assertEquals(0.9, f[8]);
        double[] fg = new double[15 * 15];
        fg[7 * 15 + 4] = 1;
        fg[7 * 15 + 10] = 1;   // two points 6 apart: closing (7x7 max then min) joins them
        double[] c = DepthPreprocessing.close(fg, 15, 15, 3);
        for (int x = 4; x <= 10; x++) assertEquals(1.0, c[7 * 15 + x], "x=" + x);
        assertEquals(0.0, c[6 * 15 + 7]);
        assertThrows(IllegalArgumentException.class, () -> new XyzTiff(2, 2, new float[11]));
        assertThrows(java.io.IOException.class, () -> XyzTiff.read(Path.of("target/does-not-exist.tiff")));
    }
}
