package crd4j.data;

import crd4j.io.WeightsFormatException;
import crd4j.model.Modality;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class MvtecDatasetTest {
    @TempDir
    static Path root;

    @BeforeAll
    static void make() throws Exception {
        TinyMvtec.write(root, "cat");
    }

    @Test
    void enumeratesSortedWithGtForDefects() throws Exception {
        MvtecDataset d = MvtecDataset.open(root, "cat");
        assertEquals(Modality.DEPTH, d.modality());
        assertEquals(5, d.samples("train").size());
        assertEquals(3, d.samples("validation").size());
        List<MvtecDataset.Sample> test = d.samples("test");
        assertEquals(7, test.size());
        assertEquals("crack", test.get(0).defect());
        assertEquals("000", test.get(0).stem());
        assertNotNull(test.get(0).gt());
        assertEquals("good", test.get(6).defect());
        assertNull(test.get(6).gt());
        assertTrue(test.get(6).second().toString().endsWith("good/xyz/002.tiff"));
        MvtecDataset.Inputs in = d.load(test.get(0), 64);
        assertArrayEquals(new long[]{1, 3, 64, 64}, in.rgb().shape());
        assertArrayEquals(new long[]{1, 3, 64, 64}, in.second().shape());
        assertArrayEquals(new long[]{64, 64}, in.gt().shape());
        double gtSum = 0;
        for (float v : in.gt().floats()) gtSum += v;
        assertTrue(gtSum > 0);
        // at 256 the sized depth path equals the existing §2.3 path
        HostTensor a = DepthPreprocessing.depthInput(test.get(1).second(), 256), b = DepthPreprocessing.depthInput(test.get(1).second());
        assertArrayEquals(b.floats(), a.floats());
    }

    @Test
    void errorsNameTheFile(@TempDir Path tmp) throws Exception {
        TinyMvtec.write(tmp, "c");
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> MvtecDataset.open(tmp, "nope"));
        assertTrue(e.getMessage().contains("nope"), e.getMessage());
        MvtecDataset d = MvtecDataset.open(tmp, "c");
        // unpaired rgb
        Files.delete(tmp.resolve("c/train/good/xyz/003.tiff"));
        e = assertThrows(WeightsFormatException.class, () -> d.samples("train"));
        assertTrue(e.getMessage().contains("003.png") && e.getMessage().contains("xyz"), e.getMessage());
        // defect without GT
        Files.delete(tmp.resolve("c/test/crack/gt/001.png"));
        e = assertThrows(WeightsFormatException.class, () -> d.samples("test"));
        assertTrue(e.getMessage().contains("crack/rgb/001.png") && e.getMessage().contains("ground truth"), e.getMessage());
        // empty split
        for (String s : List.of("000", "001", "002")) Files.delete(tmp.resolve("c/validation/good/rgb/" + s + ".png"));
        e = assertThrows(WeightsFormatException.class, () -> d.samples("validation"));
        assertTrue(e.getMessage().contains("validation") && e.getMessage().contains("no samples"), e.getMessage());
        // missing split
        Files.move(tmp.resolve("c/validation"), tmp.resolve("c/val2"));
        e = assertThrows(WeightsFormatException.class, () -> d.samples("validation"));
        assertTrue(e.getMessage().contains("validation"), e.getMessage());
    }

    @Test
    void detectsEyecandiesNormals(@TempDir Path tmp) throws Exception {
        Path d = tmp.resolve("Candy/train/good");
        Files.createDirectories(d.resolve("rgb"));
        Files.createDirectories(d.resolve("normals"));
        java.awt.image.BufferedImage im = new java.awt.image.BufferedImage(40, 40, java.awt.image.BufferedImage.TYPE_INT_RGB);
        javax.imageio.ImageIO.write(im, "png", d.resolve("rgb/000.png").toFile());
        javax.imageio.ImageIO.write(im, "png", d.resolve("normals/000.png").toFile());
        MvtecDataset ds = MvtecDataset.open(tmp, "Candy");
        assertEquals(Modality.NORMALS, ds.modality());
        MvtecDataset.Sample s = ds.samples("train").get(0);
        assertTrue(s.second().endsWith("normals/000.png"));
        assertArrayEquals(new long[]{1, 3, 64, 64}, ds.load(s, 64).second().shape());
    }
}
