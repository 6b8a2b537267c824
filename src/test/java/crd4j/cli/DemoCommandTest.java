package crd4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The demo's plumbing on a minimal run (1 epoch, a handful of samples): synth → train → eval → summary, the files it
 * promises, the summary agreeing with eval's metrics.json, a rerun replacing its own output, and a refusal to touch a
 * directory that is not a demo output. (The demo's accuracy with its defaults is measured by running it; README.)
 */
class DemoCommandTest {
    private static String[] args(Path out) {
        return new String[]{"demo", "--out", out.toString(), "--epochs", "1", "--train", "4", "--validation", "2",
                "--test-good", "2", "--test-defect", "1", "--progress", "lines"};
    }

    @Test
    void runsTheWholeWorkflowAndReplacesItsOwnOutput(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("demo");
        PrintStream old = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        int rc;
        try {
            rc = CrdCli.run(args(out));
        } finally {
            System.setOut(old);
        }
        String stdout = captured.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, stdout);
        for (String f : new String[]{"data/puck/train/good/rgb/000.png", "data/puck/test/dent/xyz/000.tiff", "models/puck.crd4j",
                "eval/puck/metrics.json", "eval/puck/report.html", "summary.json"}) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        ObjectMapper json = new ObjectMapper();
        JsonNode summary = json.readTree(out.resolve("summary.json").toFile());
        JsonNode metrics = json.readTree(out.resolve("eval/puck/metrics.json").toFile());
        for (String det : new String[]{"fused", "rgb", "depth"}) {
            assertEquals(metrics.path(det).path("i_auroc").asDouble(), summary.path("categories").path("puck").path(det).path("i_auroc").asDouble(), 0, det);
        }
        assertTrue(stdout.contains("rgb branch alone") && stdout.contains("depth branch alone") && stdout.contains("fused"), stdout);
        assertTrue(stdout.contains("RGB only (3D estimated)") && stdout.contains("3D only (RGB estimated)"), stdout);
        for (String k : new String[]{"rgb_only_3d_estimated", "3d_only_rgb_estimated"}) {
            JsonNode row = summary.path("categories").path("puck").path("few_modal").path(k);
            assertTrue(row.path("i_auroc").isNumber(), k + ": " + row);
        }
        JsonNode settings = metrics.path("settings");
        assertEquals("depth", settings.get(0).path("missing").asText());
        assertEquals(settings.get(0).path("mean").path("fused").path("i_auroc").asDouble(),
                summary.path("categories").path("puck").path("few_modal").path("rgb_only_3d_estimated").path("i_auroc").asDouble(), 0);
        assertTrue(stdout.contains("target (fused I-AUROC >= 0.95"), stdout);
        boolean met = summary.path("target_met").asBoolean();
        assertEquals(met, stdout.contains(": met"), stdout);

        // a rerun replaces the earlier output (no stale files)
        Files.writeString(out.resolve("eval/puck/stale.txt"), "x");
        assertEquals(0, CrdCli.run(args(out)));
        assertFalse(Files.exists(out.resolve("eval/puck/stale.txt")));
        assertTrue(Files.isRegularFile(out.resolve("summary.json")));
    }

    @Test
    void refusesADirectoryThatIsNotADemoOutput(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("mine");
        Files.createDirectories(out);
        Files.writeString(out.resolve("precious.txt"), "keep me");
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int rc;
        try {
            rc = CrdCli.run(args(out));
        } finally {
            System.setErr(old);
        }
        assertEquals(2, rc);
        String text = err.toString(StandardCharsets.UTF_8).trim();
        assertEquals(1, text.lines().count(), text);
        assertTrue(text.contains("not an earlier crd demo output"), text);
        assertEquals("keep me", Files.readString(out.resolve("precious.txt")));
    }
}
