package crd4j.data;

import crd4j.io.Npy;
import crd4j.io.WeightsFormatException;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** crd4j.data against Pillow / numpy / tifffile / OpenCV outputs of {@code data_reference.py}. */
class DataPipelineTest {
    static final List<String> IMAGES = List.of("rgb_403x398", "rgba_800x600", "pal_317x251", "gray_221x173",
            "up_100x77", "onex_256x300", "la_150x130", "bw_130x120", "pal16_201x199", "same_256x256", "gt_403x398", "gtrgb_800x600");
    static final List<String> CLOUDS = List.of("xyz_403x398", "xyz_800x600", "xyz_442x422");

    private static Path ref(String name) {
        return DataReference.dir().resolve(name);
    }

    private static HostTensor npy(String name) throws IOException {
        return Npy.read(ref(name));
    }

    @Test
    void decodeAndConvertRgbMatchPil() throws IOException {
        for (String name : IMAGES) {
            Image8 rgb = ImageInputs.read(ref(name + ".png")).toRgb();
            HostTensor want = npy(name + "_rgb.npy");
            assertEquals(List.of(want.dim(0), want.dim(1)), List.of((long) rgb.height(), (long) rgb.width()), name);
            assertArrayEquals(want.bytes(), rgb.data(), name + ": convert('RGB')");
        }
    }

    @Test
    void convertLMatchesPil() throws IOException {
        for (String name : IMAGES) {
            Image8 l = ImageInputs.read(ref(name + ".png")).toL();
            assertArrayEquals(npy(name + "_L.npy").bytes(), l.data(), name + ": convert('L')");
        }
    }

    @Test
    void pillowResizeRgbIsBitExact() throws IOException {
        for (String name : IMAGES) {
            Image8 rgb = ImageInputs.read(ref(name + ".png")).toRgb();
            assertArrayEquals(npy(name + "_rgb256.npy").bytes(), rgb.resize(256, 256).data(), name + ": resize 256x256");
            assertArrayEquals(npy(name + "_rgb_97x131.npy").bytes(), rgb.resize(97, 131).data(), name + ": resize 97x131");
        }
    }

    @Test
    void pillowResizeLIsBitExact() throws IOException {
        for (String name : IMAGES) {
            Image8 l = ImageInputs.read(ref(name + ".png")).toL();
            assertArrayEquals(npy(name + "_L256.npy").bytes(), l.resize(256, 256).data(), name + ": L resize");
        }
    }

    @Test
    void rgbInputMatchesTransform() throws IOException {
        double worst = 0;
        for (String name : IMAGES) {
            HostTensor got = ImageInputs.rgbInput(ref(name + ".png"));
            HostTensor want = npy(name + "_input.npy");
            assertArrayEquals(want.shape(), got.shape(), name);
            assertArrayEquals(new long[]{1, 3, 256, 256}, got.shape());
            double err = maxAbs(want.floats(), got.floats());
            worst = Math.max(worst, err);
            assertTrue(err <= 1e-6, name + ": max abs error " + err);
        }
        System.out.println("[data] RGB input max abs error over " + IMAGES.size() + " images: " + worst);
    }

    @Test
    void normalsUseTheRgbTransform() throws IOException {
        HostTensor got = ImageInputs.normalsInput(ref("rgb_403x398.png"));
        assertArrayEquals(npy("rgb_403x398_input.npy").floats(), got.floats());
    }

    @Test
    void groundTruthIsExact() throws IOException {
        for (String name : IMAGES) {
            HostTensor got = ImageInputs.groundTruth(ref(name + ".png"));
            assertArrayEquals(new long[]{256, 256}, got.shape());
            assertArrayEquals(npy(name + "_gt.npy").floats(), got.floats(), name + ": GT");
        }
        HostTensor gt = ImageInputs.groundTruth(ref("gt_403x398.png"));
        double ones = 0;
        for (float v : gt.floats()) ones += v;
        assertTrue(ones > 100, "the GT fixture has defects");
    }

    @Test
    void xyzTiffReadsTifffileOutput() throws IOException {
        for (String name : CLOUDS) {
            XyzTiff xyz = XyzTiff.read(ref(name + ".tiff"));
            String[] wh = name.substring(4).split("x");
            assertEquals(Integer.parseInt(wh[0]), xyz.width(), name);
            assertEquals(Integer.parseInt(wh[1]), xyz.height(), name);
            float[] r = DepthPreprocessing.resizeNearest(xyz.data(), xyz.width(), xyz.height(), 256, 256);
            assertArrayEquals(npy(name + "_resized.npy").floats(), r, name + ": INTER_NEAREST resize of the cloud");
        }
        XyzTiff strips = XyzTiff.read(ref("xyz_403x398.tiff"));
        XyzTiff tiles = XyzTiff.read(ref("xyz_403x398_be_tiled.tiff"));
        assertEquals(strips.width(), tiles.width());
        assertArrayEquals(strips.data(), tiles.data(), "big-endian tiled TIFF");
        assertArrayEquals(strips.data(), XyzTiff.read(ref("xyz_403x398_deflate.tiff")).data(), "deflate TIFF");
    }

    @Test
    void foregroundAndClosingMatchOpenCv() throws IOException {
        for (String name : CLOUDS) {
            float[] r = npy(name + "_resized.npy").floats();
            double[] fg = DepthPreprocessing.foreground(r, 256, 256);
            assertArrayEquals(npy(name + "_fg.npy").doubles(), fg, name + ": foreground");
            double[] closed = DepthPreprocessing.close(fg, 256, 256, 3);
            assertArrayEquals(npy(name + "_closed.npy").doubles(), closed, name + ": MORPH_CLOSE x3");
        }
    }

    @Test
    void depthMatchesReference() throws IOException {
        double worstMap = 0, worstRel = 0, worstAbs = 0;
        for (String name : CLOUDS) {
            Path file = ref(name + ".tiff");
            double[] map = DepthPreprocessing.depthMap(XyzTiff.read(file), file);
            double[] wantMap = npy(name + "_depth.npy").doubles();
            worstMap = Math.max(worstMap, maxAbs(wantMap, map));
            HostTensor got = DepthPreprocessing.depthInput(file);
            HostTensor want = npy(name + "_input.npy");
            assertArrayEquals(want.shape(), got.shape());
            double rel = relL2(want.floats(), got.floats());
            worstRel = Math.max(worstRel, rel);
            worstAbs = Math.max(worstAbs, maxAbs(want.floats(), got.floats()));
            assertTrue(rel <= 1e-5, name + ": relative L2 " + rel);
        }
        System.out.println("[data] depth map (float64) max abs error: " + worstMap + "; depth input rel L2: " + worstRel
                + ", max abs: " + worstAbs);
        assertTrue(worstMap <= 1e-12, "float64 depth map max abs error " + worstMap);
    }

    @Test
    void badInputsNameTheFile() throws IOException {
        for (String bad : List.of("bad_zero.tiff", "bad_nan.tiff", "bad_2ch.tiff", "rgb_403x398.png")) {
            Path file = ref(bad);
            WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> DepthPreprocessing.depthInput(file), bad);
            assertEquals(file, e.file());
            assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
            System.out.println("[data] " + bad + " -> " + e.getMessage());
        }
        Path notImage = ref("xyz_403x398_fg.npy");
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> ImageInputs.rgbInput(notImage));
        assertEquals(notImage, e.file());
        Path sixteen = ref("bad_16bit.png");
        WeightsFormatException e16 = assertThrows(WeightsFormatException.class, () -> ImageInputs.rgbInput(sixteen));
        assertEquals(sixteen, e16.file());
        System.out.println("[data] bad_16bit.png -> " + e16.getMessage());
        Path missing = ref("no-such.png");
        assertEquals(missing, assertThrows(WeightsFormatException.class, () -> ImageInputs.groundTruth(missing)).file());
    }

    static double maxAbs(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m;
    }

    static double maxAbs(double[] a, double[] b) {
        assertEquals(a.length, b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    static double relL2(float[] want, float[] got) {
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            double d = (double) want[i] - got[i];
            num += d * d;
            den += (double) want[i] * want[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }
}
