package crd4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.data.TinyMvtec;
import crd4j.detect.Detector;
import crd4j.detect.TinyModels;
import crd4j.io.Npy;
import crd4j.model.CrdModel;
import crd4j.model.ModelFiles;
import crd4j.nn.StateEntry;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Fail closed (issue 13 item 3): a NaN or Inf in an input, in the weights or in a map is one error line and no output,
 * never a score; metrics.json never carries "NaN"; an evaluation a metric cannot be defined for leaves that metric out
 * (null, with the reason) and says so in one line.
 */
class FailClosedTest {
    @TempDir
    static Path dir;
    static Path data, model;
    static final Nd4jBackend BE = new Nd4jBackend();

    @BeforeAll
    static void make() throws Exception {
        data = dir.resolve("data");
        TinyMvtec.write(data, "cat");
        model = TinyModels.save(BE, 3, dir.resolve("m.crd4j"));
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

    private static String oneErrorLine(Run r, String command) {
        List<String> lines = r.err().lines().filter(l -> l.contains("error")).toList();
        assertEquals(1, lines.size(), r.err());
        assertTrue(lines.get(0).startsWith("crd " + command + ": error: "), lines.get(0));
        return lines.get(0);
    }

    private static HostTensor with(HostTensor t, int index, float v) {
        float[] a = t.floats().clone();
        a[index] = v;
        return HostTensor.of(a, t.shape());
    }

    /** A depth input as preprocessing makes it: channel 0 repeated in all three channels (a depth model checks that). */
    private static HostTensor depthLike(HostTensor t) {
        float[] a = t.floats().clone();
        int plane = a.length / 3;
        System.arraycopy(a, 0, a, plane, plane);
        System.arraycopy(a, 0, a, 2 * plane, plane);
        return HostTensor.of(a, t.shape());
    }

    @Test
    void detectRefusesNonFiniteInputsAndWritesNothing(@TempDir Path tmp) throws Exception {
        Path good = tmp.resolve("good.npy"), nan = tmp.resolve("nan.npy"), inf = tmp.resolve("inf.npy");
        Npy.write(good, depthLike(TinyModels.input(1)));
        Npy.write(nan, with(TinyModels.input(2), 77, Float.NaN));
        HostTensor d = depthLike(TinyModels.input(2));
        int plane = (int) (d.numel() / 3);
        Npy.write(inf, with(with(with(d, 5, Float.NEGATIVE_INFINITY), 5 + plane, Float.NEGATIVE_INFINITY), 5 + 2 * plane, Float.NEGATIVE_INFINITY));
        for (String[] pair : new String[][]{{nan.toString(), good.toString()}, {good.toString(), inf.toString()}}) {
            Path out = tmp.resolve("out-" + Path.of(pair[0]).getFileName() + Path.of(pair[1]).getFileName());
            Run r = cli("detect", "--model", model.toString(), "--rgb", pair[0], "--depth", pair[1], "--out", out.toString());
            assertEquals(2, r.rc(), r.err());
            String line = oneErrorLine(r, "detect");
            Path bad = pair[0].equals(good.toString()) ? inf : nan;
            assertTrue(line.contains(bad.toString()) && line.contains(bad == nan ? "NaN at element 77" : "-Inf at element 5"), line);
            assertFalse(Files.exists(out), "output written for a non-finite input");
            assertFalse(r.out().contains("score"), r.out());
        }
    }

    @Test
    void theDetectorApiRefusesNonFiniteInputsAndWeights() throws Exception {
        CrdModel m = TinyModels.model(BE, 4);
        try (Detector d = new Detector(BE, m, TinyModels.stats(m))) {
            HostTensor x = TinyModels.input(5), y = TinyModels.input(6);
            assertTrue(Double.isFinite(d.score(x, y).score()));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.score(with(x, 3, Float.NaN), y));
            assertTrue(e.getMessage().contains("rgb input holds NaN at element 3"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> d.score(x, with(y, 9, Float.POSITIVE_INFINITY)));
            assertTrue(e.getMessage().contains("depth input holds Inf at element 9"), e.getMessage());
        }
        // one NaN in one weight of the depth branch
        StateEntry w = m.otherBranch().stateEntries().stream().filter(s -> s.dtype().isFloating()).skip(7).findFirst().orElseThrow();
        HostTensor v = w.reader().get().toFloat32();
        w.writer().accept(with(v, 0, Float.NaN));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Detector(BE, m, TinyModels.stats(m), "m.crd4j"));
        assertTrue(e.getMessage().contains("m.crd4j: tensor 'depth." + w.name() + "' holds NaN at element 0"), e.getMessage());
    }

    @Test
    void detectAndInspectRefuseAModelWithNonFiniteWeights(@TempDir Path tmp) throws Exception {
        CrdModel m = TinyModels.model(BE, 8);
        StateEntry w = m.teacher().stateEntries().get(0);
        w.writer().accept(with(w.reader().get().toFloat32(), 11, Float.POSITIVE_INFINITY));
        Path bad = tmp.resolve("bad.crd4j");
        ModelFiles.save(m, bad, "random", TinyModels.stats(m).toJson());
        Path x = tmp.resolve("x.npy");
        Npy.write(x, TinyModels.input(1));
        Run r = cli("detect", "--model", bad.toString(), "--rgb", x.toString(), "--depth", x.toString(), "--out", tmp.resolve("o").toString());
        assertEquals(2, r.rc(), r.err());
        assertTrue(oneErrorLine(r, "detect").contains("tensor 'teacher." + w.name() + "' holds Inf at element 11"), r.err());
        assertFalse(Files.exists(tmp.resolve("o")));
        r = cli("inspect", "--checkpoint", bad.toString(), "--rgb", x.toString(), "--depth", x.toString(), "--out", tmp.resolve("i").toString());
        assertEquals(2, r.rc(), r.err());
        assertTrue(oneErrorLine(r, "inspect").contains("tensor 'teacher." + w.name() + "' holds Inf at element 11"), r.err());
        assertFalse(Files.exists(tmp.resolve("i")));
    }

    /** A copy of the tiny dataset with {@code edit} applied to its test split. */
    private static Path variant(Path tmp, String name, java.util.function.Consumer<Path> edit) throws Exception {
        Path root = tmp.resolve(name);
        try (Stream<Path> w = Files.walk(data)) {
            for (Path p : w.toList()) {
                Path t = root.resolve(data.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
        edit.accept(root.resolve("cat/test"));
        return root;
    }

    private static void deleteTree(Path p) {
        try (Stream<Path> w = Files.walk(p)) {
            for (Path f : w.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(f);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static JsonNode eval(Path root, Path out, List<String> expectNull, List<String> expectNumber, String reason) throws Exception {
        Run r = cli("eval", "--data", root.toString(), "--category", "cat", "--model", model.toString(), "--out", out.toString(), "--no-report");
        assertEquals(0, r.rc(), r.err());
        List<String> warnings = r.err().lines().filter(l -> l.startsWith("crd eval: warning:")).toList();
        assertEquals(1, warnings.size(), r.err());
        assertTrue(warnings.get(0).contains(reason), warnings.get(0));
        String text = Files.readString(out.resolve("metrics.json"));
        assertFalse(text.contains("NaN") || text.contains("Infinity") || text.contains("-0.0"), text);
        JsonNode j = new ObjectMapper().readTree(text);
        for (String det : List.of("fused", "rgb", "depth")) {
            for (String k : expectNull) assertTrue(j.path(det).get(k).isNull(), det + "." + k + " should be left out: " + text);
            for (String k : expectNumber) assertTrue(j.path(det).get(k).isNumber(), det + "." + k + " should be a number: " + text);
        }
        for (String k : expectNull) assertTrue(j.path("undefined").path(k).asText().contains(reason), text);
        for (String k : expectNumber) assertFalse(j.path("undefined").has(k), text);
        assertTrue(r.out().contains("n/a"), r.out());
        return j;
    }

    @Test
    void onlyGoodPartsLeaveOutEveryMetricThatNeedsADefect(@TempDir Path tmp) throws Exception {
        Path root = variant(tmp, "good-only", t -> deleteTree(t.resolve("crack")));
        eval(root, tmp.resolve("e"), List.of("i_auroc", "i_ap", "i_f1_max", "p_auroc", "p_ap", "au_pro_0.3", "au_pro_0.01",
                "au_pro_sampled_0.3", "p_f1_max"), List.of(), "no defective parts");
    }

    @Test
    void onlyDefectivePartsLeaveOutTheImageAuroc(@TempDir Path tmp) throws Exception {
        Path root = variant(tmp, "bad-only", t -> deleteTree(t.resolve("good")));
        eval(root, tmp.resolve("e"), List.of("i_auroc"), List.of("i_ap", "p_auroc", "p_ap", "au_pro_0.3", "i_f1_max"), "no good parts");
    }

    @Test
    void emptyGroundTruthLeavesOutThePixelMetrics(@TempDir Path tmp) throws Exception {
        Path root = variant(tmp, "empty-gt", t -> {
            try (Stream<Path> s = Files.list(t.resolve("crack/gt"))) {
                for (Path g : s.toList()) ImageIO.write(new BufferedImage(80, 80, BufferedImage.TYPE_BYTE_GRAY), "png", g.toFile());
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        // the image label is the GT's max (as in the paper's metrics), so the image-level metrics go too
        eval(root, tmp.resolve("e"), List.of("i_auroc", "i_ap", "i_f1_max", "p_auroc", "p_ap", "au_pro_0.3", "au_pro_0.01",
                "au_pro_sampled_0.01", "p_f1_max"), List.of(), "GT mask is empty");
    }
}
