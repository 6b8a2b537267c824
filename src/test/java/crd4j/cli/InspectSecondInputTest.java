package crd4j.cli;

import crd4j.data.SecondInput;
import crd4j.data.TinyMvtec;
import crd4j.io.Npy;
import crd4j.tensor.HostTensor;
import crd4j.testing.Parity;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The parity contract of normals computed from depth on the command line: {@code crd inspect --rgb-image P --xyz T
 * --second normals-from-depth [--sobel-k K]} writes {@code input_normals.npy} ([1,3,256,256], the preprocessing that
 * NormalsFromDepthTest checks against OpenCV/numpy, bit for bit), and without {@code --second} the depth input.
 */
class InspectSecondInputTest {
    @TempDir
    static Path root;
    static Path png, tiff;

    @BeforeAll
    static void data() throws Exception {
        TinyMvtec.write(root, "cat");
        png = root.resolve("cat/test/good/rgb/000.png");
        tiff = root.resolve("cat/test/good/xyz/000.tiff");
        assertTrue(Files.isRegularFile(png) && Files.isRegularFile(tiff));
    }

    @Test
    void normalsFromDepthIsWrittenAsTheNormalsInput(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("o");
        assertEquals(0, CrdCli.run("inspect", "--rgb-image", png.toString(), "--xyz", tiff.toString(), "--second", "normals-from-depth",
                "--sobel-k", "3", "--out", out.toString()));
        assertFalse(Files.exists(out.resolve("input_depth.npy")));
        HostTensor mine = Npy.read(out.resolve("input_normals.npy"));
        assertArrayEquals(new long[]{1, 3, 256, 256}, mine.shape());
        HostTensor expected = SecondInput.preprocess(tiff, SecondInput.Kind.NORMALS_FROM_DEPTH, 3, 256);
        assertEquals(0.0, Parity.relL2(mine, expected));
        assertTrue(Files.isRegularFile(out.resolve("input_rgb.npy")));
    }

    @Test
    void withoutSecondTheXyzGivesTheDepthInput(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("o");
        assertEquals(0, CrdCli.run("inspect", "--rgb-image", png.toString(), "--xyz", tiff.toString(), "--out", out.toString()));
        assertEquals(0.0, Parity.relL2(Npy.read(out.resolve("input_depth.npy")), SecondInput.preprocess(tiff, SecondInput.Kind.DEPTH, 0, 256)));
    }

    @Test
    void aMismatchedSecondOptionIsOneErrorAndNothingIsWritten(@TempDir Path tmp) {
        Path out = tmp.resolve("o");
        assertEquals(2, CrdCli.run("inspect", "--rgb-image", png.toString(), "--xyz", tiff.toString(), "--second", "normals",
                "--out", out.toString()));
        assertEquals(2, CrdCli.run("inspect", "--rgb-image", png.toString(), "--xyz", tiff.toString(), "--second", "normals-from-depth",
                "--sobel-k", "4", "--out", out.toString()));
        assertFalse(Files.exists(out));
    }
}
