package crd4j.cli;

import crd4j.io.Npy;
import crd4j.tensor.HostTensor;
import crd4j.testing.Parity;
import crd4j.testing.PyReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The {@code paper} preset (the reference architecture exactly: WRN50-2 teacher, 193.4 M parameters per branch,
 * 1×3×256×256 inputs) through {@code crd inspect}, with randomly initialised weights that PyTorch saved as .pth
 * files (teacher in both container formats, reference CRD checkpoint). The reference forward ran in float64 on the
 * float32 weights ({@code ref/}) and in float32 ({@code ref_f32/}).
 */
class PaperInspectParityTest {
    static Path ref;

    @BeforeAll
    static void generate() {
        ref = PyReference.generate("network-paper", "network", "--base", "64", "--size", "256", "--batch", "1",
                "--ref-dtype", "float64", "--legacy-teacher");
    }

    static List<Path> outputs(Path dir) throws Exception {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> p.toString().endsWith(".npy")).map(dir::relativize).sorted().toList();
        }
    }

    /** float64 compute: the same maths as PyTorch float64 (bound: float32 rounding of the stored reference). */
    @Test
    void float64InspectEqualsPyTorchFloat64WithLegacyTeacherFile(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("inspect");
        int code = CrdCli.run("inspect", "--device", "cpu", "--dtype", "float64",
                "--teacher", ref.resolve("teacher_legacy.pth").toString(),
                "--checkpoint", ref.resolve("checkpoint.pth").toString(),
                "--rgb", ref.resolve("rgb.npy").toString(), "--depth", ref.resolve("depth.npy").toString(),
                "--out", out.toString());
        assertEquals(0, code);
        List<Path> files = outputs(out);
        assertEquals(outputs(ref.resolve("ref")), files);
        assertEquals(36, files.size());
        for (Path f : files) {
            Parity.assertClose("paper f64 " + f, Npy.read(out.resolve(f)), Npy.read(ref.resolve("ref").resolve(f)), 1e-7);
        }
    }

    /**
     * float32 compute: teacher features and maps within the brief's tolerances of the exact result (1e-5 for T1/T2,
     * 1e-4 for the maps); deep decoder outputs within twice PyTorch's own float32 error where that exceeds 5e-5.
     */
    @Test
    void float32InspectIsAsCloseToExactAsPyTorchFloat32(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("inspect");
        assertEquals(0, CrdCli.run("inspect", "--device", "cpu",
                "--teacher", ref.resolve("teacher.pth").toString(), "--checkpoint", ref.resolve("checkpoint.pth").toString(),
                "--rgb", ref.resolve("rgb.npy").toString(), "--depth", ref.resolve("depth.npy").toString(),
                "--out", out.toString()));
        for (Path f : outputs(out)) {
            HostTensor mine = Npy.read(out.resolve(f)), exact = Npy.read(ref.resolve("ref").resolve(f));
            HostTensor torch32 = Npy.read(ref.resolve("ref_f32").resolve(f));
            double torchErr = Parity.relL2(torch32, exact);
            Parity.record("paper pytorch-f32-vs-exact " + f, torchErr, Double.NaN);
            Parity.record("paper crd4j-f32-vs-pytorch-f32 " + f, Parity.relL2(mine, torch32), Double.NaN);
            String name = f.toString();
            double tol = name.matches("teacher_.*_[12]\\.npy") ? Parity.LAYER
                    : torchErr > 5e-5 ? 2 * torchErr : Parity.NETWORK;
            Parity.assertClose("paper crd4j-f32-vs-exact " + f, mine, exact, tol);
        }
    }

    /**
     * {@code crd detect} on the paper preset with the reference checkpoint and given statistics reproduces the
     * reference's fused map (§8.3: the PyTorch float64 raw maps normalised, summed, smoothed by scipy's σ=4 Gaussian):
     * relative L2 ≤ 1e-4, or twice PyTorch float32's own error on the same fused map where that is larger.
     * The statistics are the exact maps' own mean and std, so the normalised maps are O(1).
     */
    @Test
    void float32DetectReproducesTheReferenceFusedMap(@TempDir Path tmp) throws Exception {
        detect(tmp, "float32");
    }

    /** The same in float64 compute: the reference's fused map to 1e-6 (float32 storage of the weights is shared). */
    @Test
    void float64DetectReproducesTheReferenceFusedMap(@TempDir Path tmp) throws Exception {
        detect(tmp, "float64");
    }

    private void detect(Path tmp, String dtype) throws Exception {
        double[] r = crd4j.detect.ValidationStatistics.meanStd(Npy.read(ref.resolve("ref/rgb/map.npy")).toFloat64().doubles());
        double[] d = crd4j.detect.ValidationStatistics.meanStd(Npy.read(ref.resolve("ref/depth/map.npy")).toFloat64().doubles());
        Path stats = tmp.resolve("stats.json");
        Files.writeString(stats, String.format(java.util.Locale.ROOT,
                "{\"rgb\": {\"mean\": %.17g, \"std\": %.17g}, \"depth\": {\"mean\": %.17g, \"std\": %.17g}}", r[0], r[1], d[0], d[1]));
        Path exact = PyReference.generate("fuse-maps-paper", "fuse-maps", "--rgb-map", ref.resolve("ref/rgb/map.npy").toString(),
                "--depth-map", ref.resolve("ref/depth/map.npy").toString(), "--stats", stats.toString());
        Path torch32 = PyReference.generate("fuse-maps-paper-f32", "fuse-maps", "--rgb-map", ref.resolve("ref_f32/rgb/map.npy").toString(),
                "--depth-map", ref.resolve("ref_f32/depth/map.npy").toString(), "--stats", stats.toString());
        Path out = tmp.resolve("detect");
        assertEquals(0, CrdCli.run("detect", "--device", "cpu", "--dtype", dtype, "--teacher", ref.resolve("teacher.pth").toString(),
                "--checkpoint", ref.resolve("checkpoint.pth").toString(), "--stats", stats.toString(),
                "--rgb", ref.resolve("rgb.npy").toString(), "--depth", ref.resolve("depth.npy").toString(), "--out", out.toString()));
        HostTensor want = Npy.read(exact.resolve("map.npy"));
        double torchErr = Parity.relL2(Npy.read(torch32.resolve("map.npy")), want);
        Parity.record("paper detect pytorch-f32-vs-exact fused smoothed map", torchErr, Double.NaN);
        if (dtype.equals("float64")) {
            Parity.assertClose("paper detect crd4j-f64-vs-exact fused smoothed map", Npy.read(out.resolve("map.npy")), want, 1e-6);
        } else {
            Parity.assertClose("paper detect crd4j-f32-vs-exact fused smoothed map", Npy.read(out.resolve("map.npy")), want,
                    Math.max(Parity.NETWORK, 2 * torchErr));
        }
    }
}
