package crd4j.data;

import crd4j.io.Npy;
import crd4j.io.WeightsFormatException;
import crd4j.tensor.HostTensor;
import crd4j.testing.PyReference;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Normals computed from the xyz TIFF (spec §16.1) against {@code normals_reference.py}, a transcription of §16.1 on
 * numpy and OpenCV 4.6 ({@code cv2.morphologyEx}, {@code cv2.Sobel}, {@code cv2.resize}). Clouds of odd sizes with
 * holes, a broken scan line, missing rims and missing corner points; every kernel size k ∈ {1,3,5,7}; input sides 256
 * (upscaling and downscaling) and 64 (including an exact 2× shrink, where OpenCV switches to INTER_AREA).
 * Tolerances: float64 stages equal to rounding (≤ 1e-12 absolute on values of order 1); the float32 network input
 * ≤ 1e-6 relative L2 (the contract).
 */
class NormalsFromDepthTest {
    static final List<String> CLOUDS = List.of("xyz_203x197", "xyz_151x233", "xyz_128x128", "xyz_61x67");
    static final int[] KS = {1, 3, 5, 7};
    static final int[] SIZES = {256, 64};

    private static Path ref(String name) {
        PyReference.assumeModules("python3-numpy python3-opencv python3-tifffile", "numpy", "cv2", "tifffile");
        return PyReference.generate(Paths.get("src/test/python/normals_reference.py"), Paths.get("target/pyref/normals")).resolve(name);
    }

    private static double[] npy64(String name) throws IOException {
        return Npy.read(ref(name)).doubles();
    }

    @Test
    void sobelKernelsAreOpenCvs() throws IOException {
        for (int k : KS) {
            assertArrayEquals(npy64("kernels_k" + k + "_x.npy"), NormalsFromDepth.sobelKernel(k, 1), "derivative kernel k=" + k);
            assertArrayEquals(npy64("kernels_k" + k + "_y.npy"), NormalsFromDepth.sobelKernel(k, 0), "smoothing kernel k=" + k);
        }
    }

    @Test
    void foregroundAndFilledDepthMatch() throws IOException {
        for (String name : CLOUDS) {
            Path file = ref(name + ".tiff");
            NormalsFromDepth.Depth d = NormalsFromDepth.depth(XyzTiff.read(file), file, 5);
            assertArrayEquals(npy64(name + "_fg.npy"), d.foreground(), name + ": closed foreground");
            double err = DataPipelineTest.maxAbs(npy64(name + "_z.npy"), d.z());
            assertTrue(err <= 1e-12, name + ": [0,1] filled depth max abs error " + err);
        }
    }

    @Test
    void sobelNormalsAndResizeMatchOpenCv() throws IOException {
        double worstSobel = 0, worstImg = 0, worstResized = 0;
        for (String name : CLOUDS) {
            Path file = ref(name + ".tiff");
            XyzTiff xyz = XyzTiff.read(file);
            double[] z = npy64(name + "_z.npy");
            for (int k : KS) {
                String nk = name + "_k" + k;
                double ex = DataPipelineTest.maxAbs(npy64(nk + "_dzdx.npy"), NormalsFromDepth.sobel(z, xyz.width(), xyz.height(), k, true));
                double ey = DataPipelineTest.maxAbs(npy64(nk + "_dzdy.npy"), NormalsFromDepth.sobel(z, xyz.width(), xyz.height(), k, false));
                worstSobel = Math.max(worstSobel, Math.max(ex, ey));
                assertTrue(ex <= 1e-12 && ey <= 1e-12, nk + ": Sobel max abs error " + ex + ", " + ey);
                double[] img = NormalsFromDepth.normalsImage(xyz, file, k);
                double ei = DataPipelineTest.maxAbs(npy64(nk + "_img.npy"), img);
                worstImg = Math.max(worstImg, ei);
                assertTrue(ei <= 1e-12, nk + ": normals image max abs error " + ei);
                for (int s : SIZES) {
                    double[] want = npy64(nk + "_s" + s + "_resized.npy");
                    double er = DataPipelineTest.maxAbs(want, NormalsFromDepth.resizeLinear(img, xyz.width(), xyz.height(), 3, s, s));
                    worstResized = Math.max(worstResized, er);
                    assertTrue(er <= 1e-12, nk + " S=" + s + ": INTER_LINEAR resize max abs error " + er);
                }
            }
        }
        System.out.println("[normals] float64 max abs error: Sobel " + worstSobel + ", normals image " + worstImg
                + ", resized " + worstResized);
    }

    @Test
    void networkInputMatchesForEveryKernelAndSize() throws IOException {
        double worstRel = 0, worstAbs = 0;
        for (String name : CLOUDS) {
            Path file = ref(name + ".tiff");
            for (int k : KS) {
                for (int s : SIZES) {
                    HostTensor got = NormalsFromDepth.normalsInput(file, k, s);
                    HostTensor want = Npy.read(ref(name + "_k" + k + "_s" + s + "_input.npy"));
                    assertArrayEquals(new long[]{1, 3, s, s}, got.shape());
                    assertArrayEquals(want.shape(), got.shape());
                    double rel = DataPipelineTest.relL2(want.floats(), got.floats());
                    worstRel = Math.max(worstRel, rel);
                    worstAbs = Math.max(worstAbs, DataPipelineTest.maxAbs(want.floats(), got.floats()));
                    assertTrue(rel <= 1e-6, name + " k=" + k + " S=" + s + ": relative L2 " + rel);
                }
            }
        }
        System.out.println("[normals] network input (float32): relative L2 " + worstRel + ", max abs " + worstAbs);
    }

    @Test
    void perClassKernelSizesAreTheReferences() {
        assertEquals(3, NormalsFromDepth.defaultSobelK("cookie"));
        for (String c : List.of("dowel", "foam", "tire")) assertEquals(7, NormalsFromDepth.defaultSobelK(c), c);
        for (String c : List.of("bagel", "cable_gland", "carrot", "peach", "potato", "rope", "puck", "CandyCane")) {
            assertEquals(5, NormalsFromDepth.defaultSobelK(c), c);
        }
    }

    @Test
    void badInputsGiveOneLineNamingTheFileOrOption() throws IOException {
        Path tiny = ref("bad_tiny.tiff");     // 6 wide, 5 high
        assertEquals(tiny, assertThrows(WeightsFormatException.class, () -> NormalsFromDepth.normalsInput(tiny, 7, 64)).file());
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> NormalsFromDepth.normalsInput(tiny, 7, 64));
        assertTrue(e.getMessage().startsWith(tiny + ": ") && e.getMessage().contains("too small for the Sobel kernel"), e.getMessage());
        System.out.println("[normals] " + e.getMessage());
        WeightsFormatException fits = assertThrows(WeightsFormatException.class, () -> NormalsFromDepth.normalsInput(tiny, 5, 64));
        assertTrue(fits.getMessage().contains("no foreground"), "k=5 fits a 6x5 cloud (it is refused only as all background): " + fits.getMessage());
        for (String bad : List.of("bad_background.tiff", "bad_zero.tiff")) {
            Path f = ref(bad);
            WeightsFormatException b = assertThrows(WeightsFormatException.class, () -> NormalsFromDepth.normalsInput(f, 5, 64), bad);
            assertEquals(f, b.file());
            assertTrue(b.getMessage().startsWith(f + ": ") && !b.getMessage().contains("\n"), b.getMessage());
            System.out.println("[normals] " + b.getMessage());
        }
        assertTrue(assertThrows(WeightsFormatException.class, () -> NormalsFromDepth.normalsInput(ref("bad_background.tiff"), 5, 64))
                .getMessage().contains("no foreground"));
        Path good = ref("xyz_61x67.tiff");
        for (int k : new int[]{0, 2, 4, 9, -1}) {
            IllegalArgumentException a = assertThrows(IllegalArgumentException.class, () -> NormalsFromDepth.normalsInput(good, k, 64));
            assertTrue(a.getMessage().startsWith("--sobel-k: expected 1, 3, 5 or 7"), a.getMessage());
        }
    }
}
