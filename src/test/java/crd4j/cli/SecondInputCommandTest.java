package crd4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import crd4j.data.TinyMvtec;
import crd4j.io.ModelFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --second}, {@code --sobel-k} and {@code --recipe} on {@code crd train} / {@code crd eval}: the model file
 * records the second input, the recipe and the values used; eval preprocesses as the model says and refuses a
 * different kind; bad choices are one line, exit code 2, nothing written.
 */
class SecondInputCommandTest {
    @TempDir
    static Path root;
    static Path trd;
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void make() throws Exception {
        TinyMvtec.write(root, "cat");
        trd = root.resolve("trd.crd4j");
        assertEquals(0, CrdCli.run(train(trd, "--recipe", "trd-2025")));
    }

    private static String[] train(Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("train", "--data", root.toString(), "--category", "cat", "--preset", "tiny",
                "--teacher", "random", "--epochs", "1", "--batch", "2", "--device", "cpu", "--out", out.toString()));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    private static JsonNode meta(Path model) throws Exception {
        return ModelFile.read(model).meta();
    }

    @Test
    void trd2025RecipeTrainsOnNormalsFromDepthAndRecordsIt() throws Exception {
        JsonNode m = meta(trd);
        assertEquals("trd-2025", m.path("recipe").asText());
        assertEquals(111, m.path("seed").asInt(), "the 2025 recipe's seed");
        assertEquals("joint", m.path("fusion_semantics").asText(), "the 2025 recipe's fusion gradients");
        assertEquals("normals-from-depth", m.path("second_input").asText());
        assertEquals(5, m.path("sobel_k").asInt(), "the default k of a class the reference does not list");
        assertEquals("normals", m.path("modalities").path(1).asText(), "normals from depth feed a normals branch");
        assertTrue(m.path("stats").path("normals").path("std").asDouble() > 0, m.path("stats").toString());
        assertEquals(m.path("second_input"), ModelFile.read(root.resolve("trd.crd4j" + TrainCommand.STATE_SUFFIX))
                .meta().path("model").path("second_input"), "the training state records it too (for --resume)");
    }

    @Test
    void evalUsesTheModelsInputAndChecksTheOptions(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("eval");
        assertEquals(0, CrdCli.run("eval", "--data", root.toString(), "--category", "cat", "--model", trd.toString(),
                "--out", out.toString(), "--no-report", "--device", "cpu"));
        JsonNode metrics = JSON.readTree(out.resolve("metrics.json").toFile());
        assertEquals(List.of("fused", "rgb", "normals"), names(metrics));

        for (String[] bad : List.of(new String[]{"--second", "depth"}, new String[]{"--sobel-k", "3"},
                new String[]{"--second", "normals"})) {
            Path o = tmp.resolve("bad-" + bad[1]);
            List<String> a = new ArrayList<>(List.of("eval", "--data", root.toString(), "--category", "cat", "--model",
                    trd.toString(), "--out", o.toString(), "--device", "cpu"));
            a.addAll(List.of(bad));
            List<String> err = runFailing(a.toArray(String[]::new));
            assertEquals(1, err.size(), err.toString());
            assertTrue(err.get(0).contains(trd.toString()) && err.get(0).contains("normals-from-depth (Sobel k=5)"), err.get(0));
            assertFalse(Files.exists(o), "nothing written");
        }
    }

    @Test
    void explicitOptionsOverrideTheRecipe(@TempDir Path tmp) throws Exception {
        Path m = tmp.resolve("over.crd4j");
        assertEquals(0, CrdCli.run(train(m, "--recipe", "trd-2025", "--seed", "5", "--semantics", "detached", "--second", "depth")));
        JsonNode meta = meta(m);
        assertEquals("trd-2025", meta.path("recipe").asText());
        assertEquals(5, meta.path("seed").asInt());
        assertEquals("detached", meta.path("fusion_semantics").asText());
        assertEquals("depth", meta.path("second_input").asText());
        assertTrue(meta.path("sobel_k").isNull());
        assertEquals("depth", meta.path("modalities").path(1).asText());
        assertEquals("random(seed=5)", meta.path("teacher").asText());
    }

    @Test
    void defaultRecipeIsThePapersAndSobelKCanBeChosen(@TempDir Path tmp) throws Exception {
        Path m = tmp.resolve("k7.crd4j");
        assertEquals(0, CrdCli.run(train(m, "--second", "normals-from-depth", "--sobel-k", "7")));
        JsonNode meta = meta(m);
        assertEquals("paper-2024", meta.path("recipe").asText());
        assertEquals(42, meta.path("seed").asInt());
        assertEquals("detached", meta.path("fusion_semantics").asText());
        assertEquals(7, meta.path("sobel_k").asInt());
    }

    @Test
    void badChoicesAreOneLineAndWriteNothing(@TempDir Path tmp) throws Exception {
        Object[][] cases = {
                {new String[]{"--second", "normals"}, "normals folder"},           // an xyz-only category
                {new String[]{"--second", "normals-from-depth", "--sobel-k", "4"}, "--sobel-k"},
                {new String[]{"--second", "depth", "--sobel-k", "5"}, "--sobel-k applies only"},
                {new String[]{"--second", "curvature"}, "--second"},
                {new String[]{"--recipe", "trd-2026"}, "--recipe"}};
        for (Object[] c : cases) {
            String[] opts = (String[]) c[0];
            Path out = tmp.resolve("m-" + String.join("", opts).replace("-", "") + ".crd4j");
            List<String> err = runFailing(train(out, opts));
            assertEquals(1, err.size(), err.toString());
            assertTrue(err.get(0).contains((String) c[1]), String.join(" ", opts) + " -> " + err.get(0));
            assertFalse(Files.exists(out), "no model file");
            assertFalse(Files.exists(tmp.resolve(out.getFileName() + TrainCommand.STATE_SUFFIX)), "no training state");
            System.out.println("[second] " + String.join(" ", opts) + " -> " + err.get(0));
        }
    }

    private static List<String> names(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }

    /** Runs the CLI expecting exit code 2 and returns its stderr lines. */
    private static List<String> runFailing(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int rc;
        try {
            rc = CrdCli.run(args);
        } finally {
            System.setErr(old);
        }
        List<String> lines = err.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(2, rc, "exit code; stderr: " + lines);
        return lines;
    }
}
