package crd4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.data.TinyMvtec;
import crd4j.detect.TinyModels;
import crd4j.io.Npy;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code crd detect --input-dir} (issue 12 item 4): an MVTec 3D-AD split and a flat folder of pairs scored into
 * results.jsonl / results.csv (and maps), each part exactly as {@code crd detect} scores it alone; a rerun skips what
 * is done, continues after a line cut short by a kill and retries failed parts; a bad file is one line and one error
 * row while the other parts are scored, then exit status 2; results of another model are never mixed in.
 */
class FolderScoringTest {
    @TempDir
    static Path dir;
    static Path data, model, test;

    @BeforeAll
    static void make() throws Exception {
        data = dir.resolve("data");
        TinyMvtec.write(data, "cat");
        test = data.resolve("cat/test");
        model = TinyModels.save(new Nd4jBackend(), 21, dir.resolve("m.crd4j"));
    }

    private record Run(int rc, String out, String err) {}

    private static Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        PrintStream o = System.out, e = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            return new Run(CrdCli.run(args), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
    }

    private static List<String> csv(Path out) throws Exception {
        return Files.readAllLines(out.resolve("results.csv"));
    }

    /** The cell of column {@code col} in the row of {@code part} (no quoted cells in these tests). */
    private static String cell(List<String> csv, String part, String col) {
        int c = Arrays.asList(csv.get(0).split(",", -1)).indexOf(col);
        for (String l : csv) if (l.startsWith(part + ",")) return l.split(",", -1)[c];
        throw new AssertionError("no row for " + part + " in\n" + String.join("\n", csv));
    }

    @Test
    void anMvtecSplitIsScoredPartByPartAsDetectScoresOnePart(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        Run r = cli("detect", "--model", model.toString(), "--input-dir", test.toString(), "--out", out.toString(), "--save-maps");
        assertEquals(0, r.rc(), r.err());
        assertTrue(r.out().contains("7 parts: 7 scored now, 0 already done, 0 failed"), r.out());
        assertTrue(r.err().contains("crd detect: 7/7 parts"), r.err());
        List<String> csv = csv(out);
        assertEquals("part,status,score,normalised_score,decision,regions,rgb_score,depth_score,rgb_file,depth_file,error", csv.get(0));
        assertEquals(8, csv.size(), String.join("\n", csv));
        assertEquals(7, Files.readAllLines(out.resolve("results.jsonl")).size());
        assertEquals("crack/rgb/002.png", cell(csv, "crack/002", "rgb_file"));
        assertEquals("crack/xyz/002.tiff", cell(csv, "crack/002", "depth_file"));

        // the same part through the single-part command: same score, same map, bit for bit
        Path one = tmp.resolve("one");
        assertEquals(0, cli("detect", "--model", model.toString(), "--rgb-image", test.resolve("crack/rgb/002.png").toString(),
                "--xyz", test.resolve("crack/xyz/002.tiff").toString(), "--out", one.toString()).rc());
        JsonNode single = new ObjectMapper().readTree(one.resolve("score.json").toFile());
        assertEquals(single.path("score").asDouble(), Double.parseDouble(cell(csv, "crack/002", "score")), 0.0);
        assertEquals(single.path("depth").asDouble(), Double.parseDouble(cell(csv, "crack/002", "depth_score")), 0.0);
        assertArrayEquals(Npy.read(one.resolve("map.npy")).doubles(), Npy.read(out.resolve("maps/crack/002.npy")).doubles());
        assertTrue(Files.size(out.resolve("heatmaps/good/000.png")) > 0);
        // the decision columns stay empty until the model carries a threshold
        assertEquals("", cell(csv, "good/000", "decision"));
    }

    @Test
    void aRerunSkipsWhatIsDoneAndContinuesAfterAKilledAppend(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        assertEquals(0, cli("detect", "--model", model.toString(), "--input-dir", test.toString(), "--out", out.toString()).rc());
        List<String> full = Files.readAllLines(out.resolve("results.jsonl")), csv = csv(out);
        // as if killed after four parts, in the middle of appending the fifth line
        Files.writeString(out.resolve("results.jsonl"), String.join("\n", full.subList(0, 4)) + "\n" + full.get(4).substring(0, 20));
        Run r = cli("detect", "--model", model.toString(), "--input-dir", test.toString(), "--out", out.toString());
        assertEquals(0, r.rc(), r.err());
        assertTrue(r.out().contains("7 parts: 3 scored now, 4 already done, 0 failed"), r.out());
        assertEquals(full, Files.readAllLines(out.resolve("results.jsonl")));
        assertEquals(csv, csv(out));
        r = cli("detect", "--model", model.toString(), "--input-dir", test.toString(), "--out", out.toString());
        assertTrue(r.out().contains("0 scored now, 7 already done"), r.out());

        // another model into the same folder is refused, nothing changed
        Path other = TinyModels.save(new Nd4jBackend(), 22, tmp.resolve("other.crd4j"));
        r = cli("detect", "--model", other.toString(), "--input-dir", test.toString(), "--out", out.toString());
        assertEquals(2, r.rc());
        List<String> err = r.err().lines().filter(l -> l.contains("error")).toList();
        assertEquals(1, err.size(), r.err());
        assertTrue(err.get(0).contains("run.json") && err.get(0).contains("another --out"), err.get(0));
        assertEquals(full, Files.readAllLines(out.resolve("results.jsonl")));
    }

    @Test
    void aFlatFolderWithBadFilesScoresTheOthersThenExits2AndARerunRetries(@TempDir Path tmp) throws Exception {
        Path flat = Files.createDirectories(tmp.resolve("flat")), out = tmp.resolve("out");
        Files.copy(test.resolve("good/rgb/000.png"), flat.resolve("a.png"));
        Files.copy(test.resolve("good/xyz/000.tiff"), flat.resolve("a.tiff"));
        Files.copy(test.resolve("good/rgb/001.png"), flat.resolve("b.png"));
        Files.write(flat.resolve("b.tiff"), new byte[]{'I', 'I', 42, 0, 8, 0, 0, 0});   // a broken TIFF
        Files.copy(test.resolve("good/rgb/002.png"), flat.resolve("c.png"));          // no partner
        Run r = cli("detect", "--model", model.toString(), "--input-dir", flat.toString(), "--out", out.toString());
        assertEquals(2, r.rc(), r.err());
        // (without a terminal the progress is a line per tenth: "crd detect: 2/3 parts")
        List<String> lines = r.err().lines().filter(l -> l.startsWith("crd detect:") && !l.matches("crd detect: \\d+/\\d+ parts")).toList();
        assertEquals(3, lines.size(), r.err());   // one per bad part, then the summary
        assertTrue(lines.get(0).startsWith("crd detect: b: ") && lines.get(0).contains("b.tiff"), lines.get(0));
        assertTrue(lines.get(1).startsWith("crd detect: c: ") && lines.get(1).contains("c.tiff"), lines.get(1));
        assertTrue(lines.get(2).contains("2 of 3 parts could not be scored"), lines.get(2));
        List<String> csv = csv(out);
        assertEquals("ok", cell(csv, "a", "status"));
        assertEquals("error", cell(csv, "b", "status"));
        assertEquals("error", cell(csv, "c", "status"));
        assertFalse(cell(csv, "b", "error").isEmpty());
        String aScore = cell(csv, "a", "score");

        Files.copy(test.resolve("good/xyz/001.tiff"), flat.resolve("b.tiff"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.delete(flat.resolve("c.png"));
        r = cli("detect", "--model", model.toString(), "--input-dir", flat.toString(), "--out", out.toString());
        assertEquals(0, r.rc(), r.err());
        assertTrue(r.out().contains("2 parts: 1 scored now, 1 already done, 0 failed"), r.out());
        csv = csv(out);
        assertEquals(3, csv.size());
        assertEquals("ok", cell(csv, "b", "status"));
        assertEquals(aScore, cell(csv, "a", "score"));
    }

    @Test
    void aFolderWithoutPartsIsOneLine(@TempDir Path tmp) throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Run r = cli("detect", "--model", model.toString(), "--input-dir", empty.toString(), "--out", tmp.resolve("o").toString());
        assertEquals(2, r.rc());
        List<String> err = r.err().lines().filter(l -> l.contains("error")).toList();
        assertEquals(1, err.size(), r.err());
        assertTrue(err.get(0).contains("no parts found"), err.get(0));
        assertFalse(Files.exists(tmp.resolve("o")));
    }
}
