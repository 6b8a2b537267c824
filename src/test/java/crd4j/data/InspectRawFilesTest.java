package crd4j.data;

import crd4j.cli.CrdCli;
import crd4j.io.Npy;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * {@code crd inspect} on raw files (PNG + xyz TIFF + GT PNG, no weights): writes exactly the network inputs the
 * Python reference pipeline (PIL + OpenCV + numpy, data_reference.py) computes from the same files.
 */
class InspectRawFilesTest {
    @Test
    void rawFilesGiveTheReferenceNetworkInputs(@TempDir Path tmp) throws Exception {
        Path ref = DataReference.dir();
        Path out = tmp.resolve("inputs");
        int code = CrdCli.run("inspect", "--device", "cpu", "--rgb-image", ref.resolve("rgb_403x398.png").toString(),
                "--xyz", ref.resolve("xyz_403x398.tiff").toString(), "--gt", ref.resolve("gt_403x398.png").toString(),
                "--out", out.toString());
        assertEquals(0, code);
        assertArrayEquals(Npy.read(ref.resolve("rgb_403x398_input.npy")).floats(), Npy.read(out.resolve("input_rgb.npy")).floats());
        assertArrayEquals(Npy.read(ref.resolve("xyz_403x398_input.npy")).floats(), Npy.read(out.resolve("input_depth.npy")).floats());
        HostTensor gt = Npy.read(out.resolve("gt.npy"));
        assertArrayEquals(Npy.read(ref.resolve("gt_403x398_gt.npy")).toFloat32().floats(), gt.floats());
        try (var s = Files.list(out)) {
            assertEquals(3, s.count());
        }
    }

    @Test
    void normalsImageBecomesTheSecondInput(@TempDir Path tmp) throws Exception {
        Path ref = DataReference.dir();
        Path out = tmp.resolve("inputs");
        assertEquals(0, CrdCli.run("inspect", "--device", "cpu", "--rgb-image", ref.resolve("rgb_403x398.png").toString(),
                "--normals", ref.resolve("rgba_800x600.png").toString(), "--out", out.toString()));
        assertArrayEquals(Npy.read(ref.resolve("rgba_800x600_input.npy")).floats(), Npy.read(out.resolve("input_normals.npy")).floats());
    }

    @Test
    void nanPointCloudIsRefusedAndNothingIsWritten(@TempDir Path tmp) {
        Path ref = DataReference.dir();
        Path out = tmp.resolve("inputs");
        int code = CrdCli.run("inspect", "--device", "cpu", "--rgb-image", ref.resolve("rgb_403x398.png").toString(),
                "--xyz", ref.resolve("bad_nan.tiff").toString(), "--out", out.toString());
        assertEquals(2, code);
        assertFalse(Files.exists(out));
    }
}
