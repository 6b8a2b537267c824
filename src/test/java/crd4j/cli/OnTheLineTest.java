package crd4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.data.ImageInputs;
import crd4j.data.MvtecDataset;
import crd4j.data.TinyMvtec;
import crd4j.detect.Decision;
import crd4j.detect.Detector;
import crd4j.detect.ModelMetadata;
import crd4j.detect.Thresholds;
import crd4j.io.ModelFile;
import crd4j.io.Npy;
import crd4j.tensor.HostTensor;
import crd4j.testing.PyReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A model put on the line (issue 12): raw sensor files scored at the model's own size and as its own second modality,
 * the accept/reject decision with thresholds stored by training and re-picked by {@code crd calibrate}, the mask,
 * regions and heatmap of {@code crd detect}, and honest output folders. One tiny model (1 epoch) trained once on the
 * 80×80 tiny category (3 validation parts, 3 good and 4 cracked test parts).
 */
class OnTheLineTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path root;
    static Path model;

    @BeforeAll
    static void trainOnce() throws Exception {
        TinyMvtec.write(root, "cat");
        model = root.resolve("cat.crd4j");
        assertEquals(0, CrdCli.run("train", "--device", "cpu", "--data", root.toString(), "--category", "cat", "--preset", "tiny",
                "--teacher", "random", "--epochs", "1", "--batch", "2", "--seed", "3", "--progress", "lines", "--out", model.toString()));
    }

    static List<Path> files(String split, String defect, String kind) throws Exception {
        try (var s = Files.list(root.resolve("cat").resolve(split).resolve(defect).resolve(kind))) {
            return s.sorted().toList();
        }
    }

    /** Runs the CLI; exit code, stdout and stderr. */
    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            return new Run(CrdCli.run(args), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void trainingStoresTheValidationThresholdRule() throws Exception {
        ModelMetadata meta = ModelMetadata.read(ModelFile.read(model).meta(), model);
        // recomputed here from the raw validation files through Detector.score(Path, Path), not training's data path
        List<Path> rgb = files("validation", "good", "rgb"), xyz = files("validation", "good", "xyz");
        double max = Double.NEGATIVE_INFINITY;
        try (Detector d = Detector.load(model, new Nd4jBackend())) {
            for (int i = 0; i < rgb.size(); i++) max = Math.max(max, d.score(rgb.get(i), xyz.get(i)).score());
        }
        Thresholds t = meta.thresholds();
        assertEquals(max * 1.1, t.image(), 0.0);
        assertEquals(max * 1.1, t.pixel(), 0.0);
        assertEquals(3, t.parts());
        assertEquals("validation-max x1.1", t.rule());
    }

    @Test
    void rawFilesScoreBitForBitAsEvalScoresTheSamePart(@TempDir Path tmp) throws Exception {
        Path ev = tmp.resolve("eval");
        assertEquals(0, run("eval", "--device", "cpu", "--data", root.toString(), "--category", "cat", "--model", model.toString(),
                "--out", ev.toString(), "--save-maps", "--no-report").code());
        List<Path> rgb = files("test", "crack", "rgb"), xyz = files("test", "crack", "xyz");
        try (Detector d = Detector.load(model, new Nd4jBackend())) {
            for (int i = 0; i < rgb.size(); i++) {
                String stem = rgb.get(i).getFileName().toString().replace(".png", "");
                double[] evalMap = Npy.read(ev.resolve("maps/crack/" + stem + ".npy")).doubles();
                Detector.Result r = d.score(rgb.get(i), xyz.get(i));
                assertArrayEquals(evalMap, r.map(), 0.0, stem);
                assertEquals(Arrays.stream(evalMap).max().orElseThrow(), r.score(), 0.0, stem);
            }
        }
        // and crd detect gives that score too
        Path out = tmp.resolve("detect");
        assertEquals(0, run("detect", "--device", "cpu", "--model", model.toString(), "--rgb-image", rgb.get(0).toString(),
                "--xyz", xyz.get(0).toString(), "--out", out.toString()).code());
        double[] evalMap = Npy.read(ev.resolve("maps/crack/" + rgb.get(0).getFileName().toString().replace(".png", ".npy"))).doubles();
        assertEquals(Arrays.stream(evalMap).max().orElseThrow(), JSON.readTree(out.resolve("score.json").toFile()).path("score").asDouble(), 0.0);
    }

    @Test
    void detectWritesTheDecisionMaskRegionsAndAHeatmapAtTheInputsSize(@TempDir Path tmp) throws Exception {
        Path rgb = files("test", "crack", "rgb").get(0), xyz = files("test", "crack", "xyz").get(0);
        Path out = tmp.resolve("o");
        Run r = run("detect", "--device", "cpu", "--model", model.toString(), "--rgb-image", rgb.toString(), "--xyz", xyz.toString(),
                "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode s = JSON.readTree(out.resolve("score.json").toFile());
        Thresholds t = ModelMetadata.read(ModelFile.read(model).meta(), model).thresholds();
        double score = s.path("score").asDouble();
        assertEquals(score / t.image(), s.path("normalized_score").asDouble(), 0.0);
        assertEquals(score >= t.image(), s.path("anomalous").asBoolean());
        assertEquals(t.pixel(), s.path("thresholds").path("pixel").asDouble(), 0.0);
        assertEquals(64, s.path("map_size").asInt());
        assertEquals("[80,80]", s.path("input_size").toString());
        assertTrue(r.out().contains(s.path("anomalous").asBoolean() ? "REJECT" : "ACCEPT"), r.out());
        // the mask is map >= pixel threshold; the regions are its components, and their areas add up to it
        double[] map = Npy.read(out.resolve("map.npy")).doubles();
        BufferedImage mask = ImageIO.read(out.resolve("mask.png").toFile());
        assertEquals(64, mask.getWidth());
        assertEquals(64, mask.getHeight());
        int area = 0;
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                boolean on = (mask.getRaster().getSample(x, y, 0)) == 255;
                assertEquals(map[y * 64 + x] >= t.pixel(), on, "mask pixel " + x + "," + y);
                if (on) area++;
            }
        }
        int regionArea = 0;
        for (JsonNode g : s.path("regions")) {
            regionArea += g.path("area").asInt();
            assertTrue(g.path("peak").asDouble() >= t.pixel() && g.path("mean").asDouble() <= g.path("peak").asDouble(), g.toString());
        }
        assertEquals(area, regionArea);
        assertEquals(area > 0, s.path("anomalous").asBoolean(), "pixel threshold = image threshold: a mask exactly when rejected");
        BufferedImage heat = ImageIO.read(out.resolve("heatmap.png").toFile());
        assertEquals(80, heat.getWidth(), "the input image's width, not the model's 64");
        assertEquals(80, heat.getHeight());
        assertFalse(Files.readString(out.resolve("score.json")).contains("NaN"));
    }

    @Test
    void inputsOfTheWrongKindOrSizeAreOneLine(@TempDir Path tmp) throws Exception {
        Path rgb = files("test", "good", "rgb").get(0), xyz = files("test", "good", "xyz").get(0);
        // a preprocessed tensor whose three channels differ (here: an RGB input) given as the depth input
        Path notDepth = tmp.resolve("normals.npy");
        Npy.write(notDepth, ImageInputs.rgbInput(rgb, 64));
        Path big = tmp.resolve("big.npy");
        Npy.write(big, ImageInputs.rgbInput(rgb, 128));
        String[][] cases = {
                {"--rgb-image", rgb.toString(), "--depth", notDepth.toString()},
                {"--rgb", big.toString(), "--xyz", xyz.toString()},
                {"--rgb-image", xyz.toString(), "--xyz", xyz.toString()},
                {"--rgb-image", rgb.toString(), "--normals", rgb.toString()},
        };
        String[] expect = {"not a depth input", "expected a preprocessed RGB input [1,3,64,64]", "an xyz TIFF given as the RGB input",
                "second input is depth"};
        for (int k = 0; k < cases.length; k++) {
            Path out = tmp.resolve("o" + k);
            List<String> args = new ArrayList<>(List.of("detect", "--device", "cpu", "--model", model.toString(), "--out", out.toString()));
            args.addAll(List.of(cases[k]));
            Run r = run(args.toArray(String[]::new));
            String line = r.err().strip();
            assertEquals(2, r.code(), line);
            assertEquals(1, line.lines().count(), line);
            assertTrue(line.contains(expect[k]), "'" + expect[k] + "' in: " + line);
            assertFalse(Files.exists(out));
        }
        try (Detector d = Detector.load(model, new Nd4jBackend())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.score(rgb, notDepth));
            assertTrue(e.getMessage().contains("not a depth input"), e.getMessage());
        }
    }

    @Test
    void calibrateF1PicksScikitLearnsThresholdsAndKeepsTheWeights(@TempDir Path tmp) throws Exception {
        Path m = tmp.resolve("m.crd4j");
        Files.copy(model, m);
        Path ev = tmp.resolve("eval");
        assertEquals(0, run("eval", "--device", "cpu", "--data", root.toString(), "--category", "cat", "--model", m.toString(),
                "--out", ev.toString(), "--save-maps", "--no-report").code());
        Run r = run("calibrate", "--device", "cpu", "--data", root.toString(), "--category", "cat", "--model", m.toString(), "--f1");
        assertEquals(0, r.code(), r.err());
        ModelFile.Contents before = ModelFile.read(model), after = ModelFile.read(m);
        assertEquals(before.tensors().keySet(), after.tensors().keySet());
        for (Map.Entry<String, HostTensor> e : before.tensors().entrySet()) {
            assertArrayEquals(e.getValue().toFloat64().doubles(), after.tensors().get(e.getKey()).toFloat64().doubles(), 0.0, e.getKey());
            assertArrayEquals(e.getValue().shape(), after.tensors().get(e.getKey()).shape());
            assertEquals(e.getValue().dtype(), after.tensors().get(e.getKey()).dtype());
        }
        Thresholds t = ModelMetadata.read(after.meta(), m).thresholds();
        assertEquals("f1-max", t.rule());
        assertEquals(7, t.parts());
        // the same scores (eval's maps) through scikit-learn
        List<double[]> maps = new ArrayList<>();
        List<double[]> gts = new ArrayList<>();
        List<Double> scores = new ArrayList<>(), labels = new ArrayList<>();
        for (String defect : new String[]{"crack", "good"}) {
            try (var s = Files.list(ev.resolve("maps").resolve(defect))) {
                for (Path f : s.sorted().toList()) {
                    double[] map = Npy.read(f).doubles();
                    maps.add(map);
                    gts.add(Npy.read(ev.resolve("gt").resolve(defect).resolve(f.getFileName())).toFloat64().doubles());
                    scores.add(Arrays.stream(map).max().orElseThrow());
                    labels.add(defect.equals("good") ? 0.0 : 1.0);
                }
            }
        }
        Path sf = npy(tmp, "scores", scores.stream().mapToDouble(Double::doubleValue).toArray());
        Path lf = npy(tmp, "labels", labels.stream().mapToDouble(Double::doubleValue).toArray());
        Path pf = npy(tmp, "pixels", maps.stream().flatMapToDouble(Arrays::stream).toArray());
        Path gf = npy(tmp, "gt", gts.stream().flatMapToDouble(Arrays::stream).toArray());
        assertEquals(refThreshold("f1", sf.toString(), lf.toString()), t.image(), 0.0);
        assertEquals(refThreshold("f1", pf.toString(), gf.toString()), t.pixel(), 0.0);

        // --target-fpr: the good parts' scores and the normal pixels, through the brute-force reference
        assertEquals(0, run("calibrate", "--device", "cpu", "--data", root.toString(), "--category", "cat", "--model", m.toString(),
                "--target-fpr", "0.34").code());
        Thresholds f = ModelMetadata.read(ModelFile.read(m).meta(), m).thresholds();
        double[] good = new double[3];
        List<Double> normal = new ArrayList<>();
        for (int i = 0, j = 0; i < scores.size(); i++) {
            if (labels.get(i) == 0) good[j++] = scores.get(i);
            for (int p = 0; p < maps.get(i).length; p++) if (gts.get(i)[p] == 0) normal.add(maps.get(i)[p]);
        }
        assertEquals(refThreshold("fpr", npy(tmp, "good", good).toString(), "0.34"), f.image(), 0.0);
        assertEquals(refThreshold("fpr", npy(tmp, "normal", normal.stream().mapToDouble(Double::doubleValue).toArray()).toString(), "0.34"),
                f.pixel(), 0.0);
        assertEquals("target-fpr 0.34", f.rule());
    }

    static Path npy(Path dir, String name, double[] v) throws Exception {
        Path f = dir.resolve(name + ".npy");
        Npy.write(f, HostTensor.of(v, v.length));
        return f;
    }

    static double refThreshold(String... args) throws Exception {
        PyReference.assumeModules("python3-scipy python3-sklearn", "numpy", "sklearn.metrics");
        List<String> cmd = new ArrayList<>(List.of(PyReference.python(), Path.of("src/test/python/decision_reference.py").toAbsolutePath().toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        return Double.parseDouble(JSON.readTree(out).path("threshold").asText());
    }

    @Test
    void aModelWithoutThresholdsScoresAndSaysToCalibrate(@TempDir Path tmp) throws Exception {
        Path old = tmp.resolve("old.crd4j");
        ModelFile.Contents c = ModelFile.read(model);
        ObjectNode meta = c.meta().deepCopy();
        meta.remove("thresholds");
        ModelFile.write(old, c.tensors(), meta);
        Path rgb = files("test", "good", "rgb").get(0), xyz = files("test", "good", "xyz").get(0);
        Path out = tmp.resolve("o");
        // an earlier run with thresholds leaves a mask.png that this run must not leave behind
        assertEquals(0, run("detect", "--device", "cpu", "--model", model.toString(), "--rgb-image", rgb.toString(), "--xyz", xyz.toString(),
                "--out", out.toString()).code());
        assertTrue(Files.exists(out.resolve("mask.png")));
        Run r = run("detect", "--device", "cpu", "--model", old.toString(), "--rgb-image", rgb.toString(), "--xyz", xyz.toString(),
                "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("no threshold stored: run crd calibrate"), r.out());
        JsonNode s = JSON.readTree(out.resolve("score.json").toFile());
        assertTrue(s.path("anomalous").isNull() && s.path("normalized_score").isNull(), s.toString());
        assertEquals("no threshold stored: run crd calibrate", s.path("decision_note").asText());
        assertFalse(Files.exists(out.resolve("mask.png")), "no stale mask.png from the earlier run");
        assertEquals(80, ImageIO.read(out.resolve("heatmap.png").toFile()).getWidth());
        try (Detector d = Detector.load(old, new Nd4jBackend())) {
            Detector.Result res = d.score(rgb, xyz);
            IllegalStateException e = assertThrows(IllegalStateException.class, res::anomalous);
            assertEquals("no threshold stored: run crd calibrate", e.getMessage());
        }
    }

    @Test
    void outputFoldersGetTheUmasksPermissionsAndARerunLeavesNothingStale(@TempDir Path tmp) throws Exception {
        Path ev = tmp.resolve("eval");
        assertEquals(0, run("eval", "--device", "cpu", "--data", root.toString(), "--category", "cat", "--model", model.toString(),
                "--out", ev.toString(), "--save-maps", "--report-samples", "1").code());
        assertTrue(Files.exists(ev.resolve("report.html")) && Files.isDirectory(ev.resolve("maps")));
        // the report states the model's own decision, and names no spec section
        String html = Files.readString(ev.resolve("report.html"));
        Thresholds t = ModelMetadata.read(ModelFile.read(model).meta(), model).thresholds();
        assertTrue(html.contains("<h2>Decision</h2>") && html.contains(String.format(java.util.Locale.ROOT,
                "(rule validation-max x1.1, chosen on 3 parts): image %.6g, pixel %.6g", t.image(), t.pixel())), "decision paragraph");
        assertTrue(html.matches("(?s).*reject \\d of 4 defective parts and \\d of 3 good parts.*"), "decision counts");
        assertFalse(html.contains("§"), "no spec section in the report");
        Path mine = ev.resolve("notes.txt");
        Files.writeString(mine, "the user's own file");
        // a folder made the ordinary way shows what the umask allows
        Path plain = Files.createDirectory(tmp.resolve("plain"));
        assertEquals(PosixFilePermissions.toString(Files.getPosixFilePermissions(plain)),
                PosixFilePermissions.toString(Files.getPosixFilePermissions(ev)), "not the temp dir's rwx------");
        Path plainFile = Files.writeString(plain.resolve("f"), "x");
        assertEquals(PosixFilePermissions.toString(Files.getPosixFilePermissions(plainFile)),
                PosixFilePermissions.toString(Files.getPosixFilePermissions(ev.resolve("metrics.json"))));
        assertEquals(0, run("eval", "--device", "cpu", "--data", root.toString(), "--category", "cat", "--model", model.toString(),
                "--out", ev.toString(), "--no-report").code());
        assertFalse(Files.exists(ev.resolve("report.html")), "old report.html removed");
        assertFalse(Files.exists(ev.resolve("maps")), "old maps/ removed");
        assertFalse(Files.exists(ev.resolve("gt")), "old gt/ removed");
        assertTrue(Files.exists(ev.resolve("metrics.json")));
        assertEquals("the user's own file", Files.readString(mine), "files crd does not write stay");
        try (var s = Files.list(tmp)) {
            assertEquals(List.of("eval", "plain"), s.map(p -> p.getFileName().toString()).sorted().toList(), "no staging folder left");
        }
    }

    @Test
    void inspectRerunWithoutWeightsLeavesNoNetworkOutputsBehind(@TempDir Path tmp) throws Exception {
        Path rgb = files("test", "good", "rgb").get(0), xyz = files("test", "good", "xyz").get(0);
        Path out = tmp.resolve("inspect");
        assertEquals(0, run("inspect", "--device", "cpu", "--checkpoint", model.toString(), "--rgb-image", rgb.toString(), "--xyz", xyz.toString(),
                "--out", out.toString()).code());
        assertTrue(Files.exists(out.resolve("teacher_rgb_1.npy")) && Files.isDirectory(out.resolve("depth")));
        assertEquals(0, run("inspect", "--rgb-image", rgb.toString(), "--xyz", xyz.toString(), "--out", out.toString()).code());
        try (var s = Files.list(out)) {
            assertEquals(List.of("input_depth.npy", "input_rgb.npy"), s.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void noHelpTextCitesSpecSections() {
        List<String> found = new ArrayList<>();
        check(new CommandLine(new CrdCli()), found);
        assertTrue(found.isEmpty(), String.join("\n", found));
    }

    private static void check(CommandLine cl, List<String> found) {
        CommandLine.Model.CommandSpec spec = cl.getCommandSpec();
        for (String d : spec.usageMessage().description()) if (d.contains("§")) found.add(spec.qualifiedName() + ": " + d);
        for (CommandLine.Model.OptionSpec o : spec.options()) {
            for (String d : o.description()) if (d.contains("§")) found.add(spec.qualifiedName() + " " + o.longestName() + ": " + d);
        }
        for (CommandLine sub : cl.getSubcommands().values()) check(sub, found);
    }

    @Test
    void benchReportsTheThreadCountInUse() throws Exception {
        for (String[] c : new String[][]{{"--threads", "1"}, {"--threads", "2"}, {}}) {
            List<String> args = new ArrayList<>(List.of("bench", "--device", "cpu", "--preset", "tiny", "--runs", "1", "--warmup", "0"));
            args.addAll(List.of(c));
            Run r = run(args.toArray(String[]::new));
            assertEquals(0, r.code(), r.err());
            // the tiny preset's rule: at most 2 threads (both halves of each pass at once)
            int want = c.length == 0 ? Math.min(2, Runtime.getRuntime().availableProcessors()) : Integer.parseInt(c[1]);
            assertEquals(want, JSON.readTree(r.out().strip()).path("threads").asInt(), r.out());
        }
    }
}
