package crd4j.data.synth;

import crd4j.cli.CrdCli;
import crd4j.data.DepthPreprocessing;
import crd4j.data.ImageInputs;
import crd4j.data.XyzTiff;
import crd4j.data.XyzTiffWriter;
import crd4j.data.synth.SyntheticRgbd.Defect;
import crd4j.data.synth.SyntheticRgbd.Options;
import crd4j.data.synth.SyntheticRgbd.Sample;
import crd4j.tensor.HostTensor;
import crd4j.testing.PyReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class SyntheticRgbdTest {
    static final int SIZE = 200;
    static final Options SMALL = new Options(List.of("cookie", "tile"), 7, SIZE, 2, 1, 2, 2);

    @TempDir
    static Path tmp;
    static Path a;

    @BeforeAll
    static void generate() throws IOException {
        a = tmp.resolve("a");
        SyntheticRgbd.Summary s = SyntheticRgbd.generate(a, SMALL);
        assertEquals(2 * (2 + 1 + 2 + 5 * 2), s.samples());
    }

    private static TreeMap<String, byte[]> tree(Path root) throws IOException {
        TreeMap<String, byte[]> m = new TreeMap<>();
        try (Stream<Path> w = Files.walk(root)) {
            for (Path p : w.filter(Files::isRegularFile).toList()) m.put(root.relativize(p).toString(), Files.readAllBytes(p));
        }
        return m;
    }

    @Test
    void layoutAndCounts() throws IOException {
        for (String cat : SMALL.categories()) {
            Path c = a.resolve(cat);
            assertEquals(List.of("test", "train", "validation"), list(c));
            assertEquals(List.of("good"), list(c.resolve("train")));
            assertEquals(List.of("good"), list(c.resolve("validation")));
            assertEquals(List.of("bump", "color", "crack", "dent", "good", "hole"), list(c.resolve("test")));
            assertEquals(List.of("rgb", "xyz"), list(c.resolve("train/good")));
            assertEquals(List.of("000.png", "001.png"), list(c.resolve("train/good/rgb")));
            assertEquals(List.of("000.tiff", "001.tiff"), list(c.resolve("train/good/xyz")));
            assertEquals(List.of("000.png"), list(c.resolve("validation/good/rgb")));
            assertEquals(List.of("rgb", "xyz"), list(c.resolve("test/good")));
            for (Defect d : Defect.anomalies()) {
                Path f = c.resolve("test").resolve(d.folder());
                assertEquals(List.of("gt", "rgb", "xyz"), list(f));
                assertEquals(List.of("000.png", "001.png"), list(f.resolve("gt")));
                assertEquals(List.of("000.png", "001.png"), list(f.resolve("rgb")));
                assertEquals(List.of("000.tiff", "001.tiff"), list(f.resolve("xyz")));
            }
        }
        // no leftover temporary files
        assertFalse(tree(a).keySet().stream().anyMatch(k -> k.contains(".tmp")));
    }

    private static List<String> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherBytes() throws IOException {
        Path b = tmp.resolve("b");
        SyntheticRgbd.generate(b, SMALL);
        TreeMap<String, byte[]> ta = tree(a), tb = tree(b);
        assertEquals(ta.keySet(), tb.keySet());
        for (String k : ta.keySet()) assertArrayEquals(ta.get(k), tb.get(k), k);
        Path c = tmp.resolve("c");
        SyntheticRgbd.generate(c, new Options(List.of("cookie"), 8, SIZE, 1, 0, 0, 0));
        assertFalse(Arrays.equals(ta.get("cookie/train/good/xyz/000.tiff"), Files.readAllBytes(c.resolve("cookie/train/good/xyz/000.tiff"))));
    }

    @Test
    void everySampleGoesThroughTheReaders() throws IOException {
        for (String cat : SMALL.categories()) {
            for (String split : List.of("train", "validation", "test")) {
                try (Stream<Path> s = Files.list(a.resolve(cat).resolve(split))) {
                    for (Path folder : s.sorted().toList()) {
                        boolean good = folder.getFileName().toString().equals("good");
                        for (String png : list(folder.resolve("rgb"))) {
                            String stem = png.substring(0, png.length() - 4);
                            HostTensor rgb = ImageInputs.rgbInput(folder.resolve("rgb").resolve(png));
                            assertEquals(List.of(1L, 3L, 256L, 256L), shape(rgb));
                            HostTensor depth = DepthPreprocessing.depthInput(folder.resolve("xyz").resolve(stem + ".tiff"));
                            assertEquals(List.of(1L, 3L, 256L, 256L), shape(depth));
                            double[] map = DepthPreprocessing.depthMap(XyzTiff.read(folder.resolve("xyz").resolve(stem + ".tiff")), folder);
                            // plane removal keeps the object (a good part of the image) and drops the background corners
                            long fg = Arrays.stream(map).filter(v -> v > 0).count();
                            assertTrue(fg > 0.15 * map.length && fg < 0.6 * map.length, folder + "/" + stem + ": foreground " + fg);
                            assertEquals(0.0, map[0], folder + "/" + stem + ": corner must be background");
                            assertEquals(0.0, map[map.length - 1], folder + "/" + stem + ": corner must be background");
                            if (good) {
                                assertFalse(Files.exists(folder.resolve("gt")), folder + ": good samples have no gt");
                            } else {
                                HostTensor gt = ImageInputs.groundTruth(folder.resolve("gt").resolve(png));
                                double sum = 0;
                                for (int i = 0; i < 256 * 256; i++) sum += gt.getDouble(i);
                                assertTrue(sum > 20, folder + "/" + png + ": defect mask vanishes after resizing (" + sum + ")");
                            }
                        }
                    }
                }
            }
        }
    }

    private static List<Long> shape(HostTensor t) {
        List<Long> s = new ArrayList<>();
        for (int i = 0; i < t.rank(); i++) s.add(t.dim(i));
        return s;
    }

    @Test
    void goodSamplesHaveEmptyMasksAndDefectsNonEmpty() {
        long seed = SyntheticRgbd.sampleSeed(3, "puck", "test", "x", 0);
        for (String cat : SyntheticRgbd.CATEGORIES) {
            assertEquals(0, SyntheticRgbd.render(cat, seed, Defect.GOOD, SIZE).defectPixels(), cat);
            for (Defect d : Defect.anomalies()) {
                assertTrue(SyntheticRgbd.render(cat, seed, d, SIZE).defectPixels() > 50, cat + " " + d);
            }
        }
    }

    @Test
    void defectsTouchOnlyTheirModalities() {
        for (String cat : SyntheticRgbd.CATEGORIES) {
            for (int i = 0; i < 3; i++) {
                long seed = SyntheticRgbd.sampleSeed(11, cat, "test", "pair", i);
                Sample good = SyntheticRgbd.render(cat, seed, Defect.GOOD, SIZE);
                Sample color = SyntheticRgbd.render(cat, seed, Defect.COLOR, SIZE);
                assertArrayEquals(good.xyz(), color.xyz(), cat + ": color must not change xyz");
                assertTrue(changedOnlyInMask(good.rgb(), color.rgb(), color.gt(), 3) > 50, cat + ": color must change rgb in the mask");
                for (Defect d : List.of(Defect.DENT, Defect.BUMP)) {
                    Sample geo = SyntheticRgbd.render(cat, seed, d, SIZE);
                    assertArrayEquals(good.rgb(), geo.rgb(), cat + ": " + d + " must not change rgb");
                    int changed = 0;
                    for (int p = 0; p < SIZE * SIZE; p++) {
                        float dz = geo.xyz()[3 * p + 2] - good.xyz()[3 * p + 2];
                        if (dz != 0) {
                            assertTrue(geo.gt()[p] != 0, cat + ": " + d + " changed z outside its mask");
                            if (Math.abs(dz) > 0.001) changed++;
                        }
                    }
                    assertTrue(changed > 50, cat + ": " + d + " must change z by more than noise");
                }
                for (Defect d : List.of(Defect.HOLE, Defect.CRACK)) {
                    Sample both = SyntheticRgbd.render(cat, seed, d, SIZE);
                    assertTrue(changedOnlyInMask(good.rgb(), both.rgb(), both.gt(), 3) > 20, cat + ": " + d + " rgb");
                    assertTrue(changedOnlyInMask(good.xyz(), both.xyz(), both.gt()) > 20, cat + ": " + d + " xyz");
                }
            }
        }
    }

    private static int changedOnlyInMask(byte[] x, byte[] y, byte[] mask, int ch) {
        int n = 0;
        for (int p = 0; p < mask.length; p++) {
            boolean diff = false;
            for (int c = 0; c < ch; c++) diff |= x[ch * p + c] != y[ch * p + c];
            if (diff) {
                assertTrue(mask[p] != 0, "changed outside the mask at pixel " + p);
                n++;
            }
        }
        return n;
    }

    private static int changedOnlyInMask(float[] x, float[] y, byte[] mask) {
        int n = 0;
        for (int p = 0; p < mask.length; p++) {
            if (x[3 * p] != y[3 * p] || x[3 * p + 1] != y[3 * p + 1] || x[3 * p + 2] != y[3 * p + 2]) {
                assertTrue(mask[p] != 0, "changed outside the mask at pixel " + p);
                n++;
            }
        }
        return n;
    }

    @Test
    void geometryMeetsThePlaneRemovalContract() {
        for (String cat : SyntheticRgbd.CATEGORIES) {
            Sample s = SyntheticRgbd.render(cat, 5, Defect.GOOD, SIZE);
            float[] xyz = s.xyz();
            // corners: valid and on the plane (3x3 patches)
            for (int[] c : new int[][]{{0, 0}, {SIZE - 3, 0}, {0, SIZE - 3}, {SIZE - 3, SIZE - 3}}) {
                for (int dy = 0; dy < 3; dy++) for (int dx = 0; dx < 3; dx++) {
                    assertTrue(xyz[3 * ((c[1] + dy) * SIZE + c[0] + dx) + 2] > 0, cat + ": corner point missing");
                }
            }
            // object height above the plane well over 0.005 at the centre; some missing points exist
            int centre = (SIZE / 2) * SIZE + SIZE / 2;
            double planeCentre = (xyz[2] + xyz[3 * (SIZE * SIZE - 1) + 2]) / 2;  // tilted plane: mean of opposite corners
            assertTrue(xyz[3 * centre + 2] - planeCentre > 0.008, cat + ": object too flat");
            int missing = 0;
            for (int p = 0; p < SIZE * SIZE; p++) if (xyz[3 * p] == 0 && xyz[3 * p + 1] == 0 && xyz[3 * p + 2] == 0) missing++;
            assertTrue(missing > 10 && missing < SIZE * SIZE / 20, cat + ": missing " + missing);
        }
    }

    @Test
    void tiffRoundTripsThroughImageIO() throws IOException {
        float[] d = new float[5 * 3 * 3];
        for (int i = 0; i < d.length; i++) d[i] = (i - 7) * 0.123f + (i == 4 ? Float.MIN_VALUE : 0);
        XyzTiff x = new XyzTiff(5, 3, d);
        Path f = tmp.resolve("tiny.tiff");
        XyzTiffWriter.write(f, x);
        XyzTiff back = XyzTiff.read(f);
        assertEquals(5, back.width());
        assertEquals(3, back.height());
        assertArrayEquals(d, back.data());
    }

    @Test
    void tifffileReadsTheSameFloats() throws Exception {
        Path tiff = a.resolve("cookie/test/crack/xyz/001.tiff");
        Path raw = tmp.resolve("py.f32");
        String py = PyReference.python();
        Process probe;
        try {
            probe = new ProcessBuilder(py, "-c", "import tifffile, numpy").redirectErrorStream(true).start();
        } catch (IOException e) {
            assumeTrue(false, py + " not runnable: " + e.getMessage());
            return;
        }
        String probeOut = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assumeTrue(probe.waitFor(60, TimeUnit.SECONDS) && probe.exitValue() == 0,
                "python tifffile/numpy unavailable (" + py + "): " + probeOut.strip());
        String script = "import sys, tifffile, numpy as np\n"
                + "a = tifffile.imread(sys.argv[1])\n"
                + "assert a.dtype == np.float32 and a.shape == (" + SIZE + ", " + SIZE + ", 3), (a.dtype, a.shape)\n"
                + "a.astype('<f4').tofile(sys.argv[2])\n";
        Process p = new ProcessBuilder(py, "-c", script, tiff.toString(), raw.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "python timed out");
        assertEquals(0, p.exitValue(), out);
        byte[] bytes = Files.readAllBytes(raw);
        float[] got = new float[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(got);
        assertArrayEquals(XyzTiff.read(tiff).data(), got);
        Sample s = SyntheticRgbd.render("cookie", SyntheticRgbd.sampleSeed(7, "cookie", "test", "crack", 1), Defect.CRACK, SIZE);
        assertArrayEquals(s.xyz(), got);
    }

    @Test
    void refusesNonEmptyOutputAndBadOptions() throws IOException {
        IOException e = assertThrows(IOException.class, () -> SyntheticRgbd.generate(a, SMALL));
        assertTrue(e.getMessage().contains("not empty"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Options(List.of("nope"), 0, SIZE, 1, 1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new Options(List.of("puck"), 0, 10, 1, 1, 1, 1));
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        SyntheticRgbd.generate(empty, new Options(List.of("puck"), 0, 64, 1, 0, 0, 0));
        assertTrue(Files.isRegularFile(empty.resolve("puck/train/good/xyz/000.tiff")));
    }

    @Test
    void cliWritesAndRefusesToOverwrite() throws IOException {
        Path out = tmp.resolve("cli");
        assertEquals(0, CrdCli.run("synth", "--out", out.toString(), "--categories", "puck", "--size", "64",
                "--train", "1", "--validation", "1", "--test-good", "1", "--test-defect", "1", "--seed", "3"));
        assertTrue(Files.isRegularFile(out.resolve("puck/test/hole/gt/000.png")));
        assertEquals(2, CrdCli.run("synth", "--out", out.toString(), "--categories", "puck", "--size", "64"));
        assertEquals(2, CrdCli.run("synth", "--out", tmp.resolve("cli2").toString(), "--categories", "bagel"));
        assertNotEquals(0, CrdCli.run("synth"));
    }
}
