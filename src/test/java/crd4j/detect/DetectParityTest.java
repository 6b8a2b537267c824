package crd4j.detect;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import crd4j.cli.CrdCli;
import crd4j.io.Npy;
import crd4j.testing.Parity;
import crd4j.testing.PyReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code crd detect} with a reference checkpoint and given statistics against the reference's fused map: the
 * PyTorch network's raw branch maps (float64 forward, tiny preset), normalised, summed and smoothed by
 * scipy.ndimage.gaussian_filter(σ=4) ({@code crd_reference.py fuse-maps}). float64 compute: map and scores to 1e-6.
 * float32 compute: map within max(1e-4, 2 × PyTorch float32's own error on the same map), scores within max(1e-4·|score|, 2 × PyTorch float32's own deviation).
 */
class DetectParityTest {
    static final String STATS = "{\"rgb\": {\"mean\": 1.45, \"std\": 0.05}, \"depth\": {\"mean\": 1.40, \"std\": 0.08}}";

    Path reference(Path tmp) throws Exception {
        Path net = PyReference.generate("network-tiny-b1", "network", "--base", "4", "--size", "64", "--batch", "1",
                "--ref-dtype", "float64");
        Path stats = tmp.resolve("stats.json");
        Files.writeString(stats, STATS);
        return PyReference.generate("fuse-maps-tiny", "fuse-maps", "--rgb-map", net.resolve("ref/rgb/map.npy").toString(),
                "--depth-map", net.resolve("ref/depth/map.npy").toString(), "--stats", stats.toString());
    }

    /** The same from PyTorch's float32 forward: how far float32 itself lands from the exact fused map. */
    Path referenceF32(Path tmp) {
        Path net = PyReference.generate("network-tiny-b1", "network", "--base", "4", "--size", "64", "--batch", "1",
                "--ref-dtype", "float64");
        return PyReference.generate("fuse-maps-tiny-f32", "fuse-maps", "--rgb-map", net.resolve("ref_f32/rgb/map.npy").toString(),
                "--depth-map", net.resolve("ref_f32/depth/map.npy").toString(), "--stats", tmp.resolve("stats.json").toString());
    }

    void check(Path tmp, String dtype, double mapTol, double scoreTol) throws Exception {
        Path ref = reference(tmp);
        Path net = PyReference.generate("network-tiny-b1", "network", "--base", "4", "--size", "64", "--batch", "1",
                "--ref-dtype", "float64");
        Path stats = tmp.resolve("stats.json");
        Path out = tmp.resolve("detect-" + dtype);
        int code = CrdCli.run("detect", "--device", "cpu", "--dtype", dtype, "--teacher", net.resolve("teacher.pth").toString(),
                "--checkpoint", net.resolve("checkpoint.pth").toString(), "--stats", stats.toString(),
                "--rgb", net.resolve("rgb.npy").toString(), "--depth", net.resolve("depth.npy").toString(), "--out", out.toString());
        assertEquals(0, code);
        if (dtype.equals("float32")) {
            // normalising by σ magnifies the raw maps' float32 rounding; PyTorch float32 shows the same
            double torchErr = Parity.relL2(Npy.read(referenceF32(tmp).resolve("map.npy")), Npy.read(ref.resolve("map.npy")));
            Parity.record("detect pytorch-f32-vs-exact fused smoothed map", torchErr, Double.NaN);
            mapTol = Math.max(mapTol, 2 * torchErr);
        }
        Parity.assertClose("detect " + dtype + " fused smoothed map", Npy.read(out.resolve("map.npy")), Npy.read(ref.resolve("map.npy")), mapTol);
        ObjectMapper json = new ObjectMapper();
        JsonNode mine = json.readTree(out.resolve("score.json").toFile()), theirs = json.readTree(ref.resolve("score.json").toFile());
        JsonNode torch32 = dtype.equals("float32") ? json.readTree(referenceF32(tmp).resolve("score.json").toFile()) : null;
        for (String k : new String[]{"score", "rgb", "depth"}) {
            double exact = theirs.get(k).asDouble();
            double d = Math.abs(mine.get(k).asDouble() - exact);
            double tol = scoreTol * Math.max(1, Math.abs(exact));
            if (torch32 != null) {
                double td = Math.abs(torch32.get(k).asDouble() - exact);
                Parity.record("detect pytorch-f32-vs-exact " + k + " (abs)", td, Double.NaN);
                tol = Math.max(tol, 2 * td);
            }
            Parity.record("detect " + dtype + " " + k + " (abs)", d, tol);
            assertTrue(d <= tol, k + ": " + mine.get(k) + " vs " + theirs.get(k) + " (tolerance " + tol + ")");
        }
        assertTrue(Files.size(out.resolve("heatmap.png")) > 0);
    }

    @Test
    void float32DetectReproducesTheReferenceFusedMap(@TempDir Path tmp) throws Exception {
        check(tmp, "float32", 1e-4, 1e-4);
    }

    @Test
    void float64DetectReproducesTheReferenceFusedMap(@TempDir Path tmp) throws Exception {
        check(tmp, "float64", 1e-6, 1e-6);
    }

    @Test
    void missingStatisticsFieldIsOneClearErrorAndNothingIsWritten(@TempDir Path tmp) throws Exception {
        Path net = PyReference.generate("network-tiny-b1", "network", "--base", "4", "--size", "64", "--batch", "1",
                "--ref-dtype", "float64");
        Path stats = tmp.resolve("bad.json");
        Files.writeString(stats, "{\"rgb\": {\"mean\": 1.0, \"std\": 0.1}, \"depth\": {\"mean\": 1.0}}");
        Path out = tmp.resolve("o");
        int code = CrdCli.run("detect", "--device", "cpu", "--teacher", net.resolve("teacher.pth").toString(),
                "--checkpoint", net.resolve("checkpoint.pth").toString(), "--stats", stats.toString(),
                "--rgb", net.resolve("rgb.npy").toString(), "--depth", net.resolve("depth.npy").toString(), "--out", out.toString());
        assertEquals(2, code);
        assertFalse(Files.exists(out));
    }
}
