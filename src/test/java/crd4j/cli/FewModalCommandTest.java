package crd4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.data.TinyMvtec;
import crd4j.detect.NormalizationStats;
import crd4j.io.ModelFile;
import crd4j.io.Npy;
import crd4j.model.CrdModel;
import crd4j.model.Modality;
import crd4j.model.ModelFiles;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import crd4j.testing.Parity;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Few-modal inference from the command line (§17): a tiny model trained on both modalities (1 epoch, with the mapping
 * network) scores parts given with one modality only ({@code crd detect}), is evaluated with modalities withheld
 * ({@code crd eval --missing / --missing-rate}), and an older model file without per-mode statistics gets them from
 * {@code crd stats}. Raw files are preprocessed at the model's side (64 for tiny).
 */
class FewModalCommandTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path root;
    static Path model, oldModel;

    @BeforeAll
    static void trainOnce() throws Exception {
        TinyMvtec.write(root, "cat");
        model = root.resolve("cat.crd4j");
        assertEquals(0, CrdCli.run("train", "--data", root.toString(), "--category", "cat", "--preset", "tiny", "--teacher", "random",
                "--epochs", "1", "--batch", "2", "--seed", "3", "--mapping", "--mapping-epochs", "1", "--progress", "lines",
                "--threads", "1", "--out", model.toString()));
        // a model file as crd4j wrote them before few-modal scoring: both-modalities statistics only, no mapping network
        ModelFile.Contents c = ModelFile.read(model);
        CrdModel m = ModelFiles.fromContents(c.tensors(), c.meta(), model, new NnContext(new Nd4jBackend(), DType.FLOAT32, 0)).model();
        m.setMapping(null);
        oldModel = root.resolve("old.crd4j");
        NormalizationStats real = NormalizationStats.fromJson(c.meta().get("stats"), "depth", model).realOnly();
        ModelFiles.save(m, oldModel, c.meta().path("teacher").asText(), real.toJson());
    }

    static Path file(String split, String defect, String kind, String stem) throws Exception {
        Path dir = root.resolve("cat").resolve(split).resolve(defect).resolve(kind);
        try (var s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith(stem)).sorted().findFirst().orElseThrow();
        }
    }

    static JsonNode detect(Path out, String... inputs) throws Exception {
        String[] base = {"detect", "--device", "cpu", "--model", model.toString(), "--out", out.toString()};
        String[] args = java.util.Arrays.copyOf(base, base.length + inputs.length);
        System.arraycopy(inputs, 0, args, base.length, inputs.length);
        assertEquals(0, CrdCli.run(args));
        return JSON.readTree(out.resolve("score.json").toFile());
    }

    @Test
    void modelFileHoldsStatisticsPerModeAndTheMappingNetwork() throws Exception {
        ModelFile.Contents c = ModelFile.read(model);
        NormalizationStats s = NormalizationStats.fromJson(c.meta().get("stats"), "depth", model);
        for (String b : new String[]{"rgb", "depth"}) {
            // real + assist-{filter, amplifier, mapping, zero, dropped} + estimated-{filter, amplifier, mapping}
            assertEquals(9, s.modes(b).size(), b + ": " + s.modes(b));
        }
        assertTrue(c.meta().path("mapping").asBoolean());
        assertTrue(c.tensors().keySet().stream().anyMatch(k -> k.startsWith("mapping.to_depth.level_3.")));
    }

    @Test
    void rgbImageAloneIsScoredAtTheModelsSizeWithTheDepthEstimated(@TempDir Path tmp) throws Exception {
        Path png = file("test", "good", "rgb", "000");
        JsonNode score = detect(tmp.resolve("o"), "--rgb-image", png.toString());
        assertEquals("depth", score.path("missing").asText());
        assertEquals("filter", score.path("strategy").asText());
        assertEquals("assist-filter", score.path("modes").path("rgb").asText());
        assertEquals("estimated-filter", score.path("modes").path("depth").asText());
        HostTensor map = Npy.read(tmp.resolve("o/map.npy"));
        assertArrayEquals(new long[]{64, 64}, map.shape());
        double max = Double.NEGATIVE_INFINITY;
        for (double v : map.doubles()) max = Math.max(max, v);
        assertEquals(max, score.path("score").asDouble(), 1e-12, "the score is the fused map's max");
    }

    @Test
    void depthAloneAndEachStrategyNameWhatContributed(@TempDir Path tmp) throws Exception {
        Path tiff = file("test", "good", "xyz", "000"), png = file("test", "good", "rgb", "000");
        JsonNode d = detect(tmp.resolve("d"), "--xyz", tiff.toString());
        assertEquals("rgb", d.path("missing").asText());
        assertEquals("assist-filter", d.path("modes").path("depth").asText());
        assertEquals("estimated-filter", d.path("modes").path("rgb").asText());
        JsonNode mapping = detect(tmp.resolve("m"), "--rgb-image", png.toString(), "--missing-strategy", "mapping");
        assertEquals("estimated-mapping", mapping.path("modes").path("depth").asText());
        JsonNode drop = detect(tmp.resolve("x"), "--rgb-image", png.toString(), "--missing-strategy", "drop");
        assertEquals("assist-dropped", drop.path("modes").path("rgb").asText());
        assertFalse(drop.path("modes").has("depth"), "drop: the missing branch does not contribute");
        JsonNode both = detect(tmp.resolve("b"), "--rgb-image", png.toString(), "--xyz", tiff.toString());
        assertTrue(both.path("missing").isNull());
        assertEquals("real", both.path("modes").path("rgb").asText());
        assertNotEquals(both.path("score").asDouble(), drop.path("score").asDouble());
    }

    @Test
    void badFewModalInputIsOneLineAndNothingIsWritten(@TempDir Path tmp) throws Exception {
        Path png = file("test", "good", "rgb", "000");
        String[][] cases = {
                {"detect", "--device", "cpu", "--model", model.toString()},                                          // no input at all
                {"detect", "--device", "cpu", "--model", model.toString(), "--normals", png.toString()},              // normals for a depth model
                {"detect", "--device", "cpu", "--model", oldModel.toString(), "--rgb-image", png.toString()},         // statistics missing
                {"detect", "--device", "cpu", "--model", oldModel.toString(), "--rgb-image", png.toString(), "--missing-strategy", "mapping"},
                {"detect", "--device", "cpu", "--model", model.toString(), "--rgb-image", png.toString(), "--missing-strategy", "guess"},
        };
        String[] expect = {"no input", "second input is depth", "crd stats", "mapping network", "--missing-strategy"};
        for (int k = 0; k < cases.length; k++) {
            Path out = tmp.resolve("o" + k);
            String[] args = java.util.Arrays.copyOf(cases[k], cases[k].length + 2);
            args[args.length - 2] = "--out";
            args[args.length - 1] = out.toString();
            PrintStream old = System.err;
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code;
            try {
                code = CrdCli.run(args);
            } finally {
                System.setErr(old);
            }
            String text = err.toString(StandardCharsets.UTF_8).strip();
            assertEquals(2, code, String.join(" ", args) + ": " + text);
            assertEquals(1, text.lines().count(), "one line: " + text);
            assertTrue(text.contains(expect[k]), "'" + expect[k] + "' in: " + text);
            assertFalse(Files.exists(out), "nothing written for case " + k);
        }
    }

    @Test
    void statsAddsThePerModeStatisticsToAnOlderModelFileAndKeepsItsWeights(@TempDir Path tmp) throws Exception {
        Path copy = tmp.resolve("old.crd4j");
        Files.copy(oldModel, copy);
        assertEquals(0, CrdCli.run("stats", "--device", "cpu", "--data", root.toString(), "--category", "cat", "--model", copy.toString()));
        ModelFile.Contents before = ModelFile.read(oldModel), after = ModelFile.read(copy);
        assertEquals(before.tensors().keySet(), after.tensors().keySet());
        for (Map.Entry<String, HostTensor> e : before.tensors().entrySet()) {
            assertEquals(0.0, Parity.relL2(after.tensors().get(e.getKey()), e.getValue()) , e.getKey());
        }
        NormalizationStats s = NormalizationStats.fromJson(after.meta().get("stats"), "depth", copy);
        NormalizationStats trained = NormalizationStats.fromJson(ModelFile.read(model).meta().get("stats"), "depth", model);
        assertEquals(7, s.modes("rgb").size(), "no mapping network: 1 real + 4 assist + 2 estimated modes");
        for (String b : s.branches()) {
            for (var m : s.modes(b)) {
                // the same validation maps as at the end of training, up to the fusion logits, which training holds in
                // float64 and the model file in float32 (measured: ~1e-8 relative)
                assertEquals(trained.find(b, m).mean(), s.find(b, m).mean(), 1e-6 * trained.find(b, m).mean(), b + " " + m.key());
                assertEquals(trained.find(b, m).std(), s.find(b, m).std(), 1e-5 * trained.find(b, m).std(), b + " " + m.key());
            }
        }
    }

    @Test
    void evalWithModalitiesMissingGivesOneEntryPerSettingThatSklearnReproduces(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("eval");
        PrintStream old = System.out;
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        System.setOut(new PrintStream(text, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, CrdCli.run("eval", "--device", "cpu", "--data", root.toString(), "--category", "cat", "--model", model.toString(),
                    "--out", out.toString(), "--missing", "rgb,3d", "--missing-rate", "0.5", "--missing-type", "both", "--seeds", "0,1",
                    "--save-maps", "--report-samples", "1"));
        } finally {
            System.setOut(old);
        }
        String printed = text.toString(StandardCharsets.UTF_8);
        assertTrue(printed.contains("rgb missing, filter") && printed.contains("missing 50%, filter"), printed);
        JsonNode metrics = JSON.readTree(out.resolve("metrics.json").toFile());
        JsonNode settings = metrics.path("settings");
        assertEquals(3, settings.size(), settings.toString());
        assertEquals("rgb", settings.get(0).path("missing").asText());
        assertEquals("depth", settings.get(1).path("missing").asText());
        JsonNode random = settings.get(2);
        assertEquals(0.5, random.path("rate").asDouble());
        assertEquals(2, random.path("per_seed").size());
        // each seed's fused metrics from its saved maps, by scikit-learn
        double sum = 0;
        for (int k = 0; k < 2; k++) {
            Path dir = out.resolve("settings/missing-both-50-filter/seed-" + k);
            Process p = new ProcessBuilder(crd4j.testing.PyReference.python(), Path.of("src/test/python/eval_check.py").toAbsolutePath().toString(),
                    dir.toString()).redirectErrorStream(true).start();
            String py = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), py);
            JsonNode ref = JSON.readTree(py.strip().lines().reduce((x, y) -> y).orElse(""));
            JsonNode mine = random.path("per_seed").get(k).path("fused");
            assertEquals(k, random.path("per_seed").get(k).path("seed").asInt());
            for (String key : new String[]{"i_auroc", "i_ap", "p_auroc", "p_ap"}) {
                assertEquals(ref.path(key).asDouble(), mine.path(key).asDouble(), 1e-9, "seed " + k + " " + key);
            }
            sum += mine.path("i_auroc").asDouble();
        }
        assertEquals(sum / 2, random.path("mean").path("fused").path("i_auroc").asDouble(), 1e-12, "mean over seeds");
        String html = Files.readString(out.resolve("report.html"), StandardCharsets.UTF_8);
        assertTrue(html.contains("Scoring with a modality missing"), "the report's settings table");
    }

    @Test
    void evalWithAStrategyTheModelCannotServeFailsBeforeScoring(@TempDir Path tmp) {
        Path out = tmp.resolve("eval");
        assertEquals(2, CrdCli.run("eval", "--device", "cpu", "--data", root.toString(), "--category", "cat", "--model", oldModel.toString(),
                "--out", out.toString(), "--missing", "rgb"));
        assertFalse(Files.exists(out));
    }

    @Test
    void singleModalityReverseDistillationBaselineTrainsAndIsEvaluatedLikeACrdModel(@TempDir Path tmp) throws Exception {
        for (String m : new String[]{"rgb", "depth"}) {
            Path rd = tmp.resolve("rd-" + m + ".crd4j");
            assertEquals(0, CrdCli.run("train", "--data", root.toString(), "--category", "cat", "--preset", "tiny", "--teacher", "random",
                    "--epochs", "1", "--batch", "2", "--seed", "3", "--modalities", m, "--progress", "lines", "--threads", "1",
                    "--out", rd.toString()));
            ModelFile.Contents c = ModelFile.read(rd);
            assertEquals(ModelFiles.RD_FORMAT, c.meta().path("format").asText());
            assertTrue(c.meta().path("stats").path(m).path("std").asDouble() > 0);
            assertTrue(c.tensors().keySet().stream().anyMatch(k -> k.startsWith("student.decoder.layer3.")));
            Path out = tmp.resolve("eval-" + m);
            assertEquals(0, CrdCli.run("eval", "--device", "cpu", "--data", root.toString(), "--category", "cat", "--model", rd.toString(),
                    "--out", out.toString(), "--no-report"));
            JsonNode metrics = JSON.readTree(out.resolve("metrics.json").toFile());
            assertEquals(java.util.List.of("fused", m), iterable(metrics.fieldNames()));
            // one branch: the fused map is that branch's normalised smoothed map
            assertEquals(metrics.path("fused").path("i_auroc").asDouble(), metrics.path(m).path("i_auroc").asDouble(), 0);
            assertEquals(2, CrdCli.run("eval", "--device", "cpu", "--data", root.toString(), "--category", "cat", "--model", rd.toString(),
                    "--out", tmp.resolve("x-" + m).toString(), "--missing", "rgb"));
        }
    }

    private static java.util.List<String> iterable(java.util.Iterator<String> it) {
        java.util.List<String> out = new java.util.ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }
}
