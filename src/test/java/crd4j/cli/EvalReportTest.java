package crd4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.data.Image8;
import crd4j.data.ImageInputs;
import crd4j.data.synth.SyntheticRgbd;
import crd4j.detect.NormalizationStats;
import crd4j.io.Npy;
import crd4j.model.CrdModel;
import crd4j.model.Modality;
import crd4j.model.ModelFiles;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code crd eval}'s report.html and several-category evaluation, on two synthetic categories (SyntheticRgbd at 64 px;
 * cookie's test split cut to 1 good + 3 defective samples, puck's to 1 + 1) scored by untrained tiny-preset models
 * (random weights, fixed validation statistics): the report's mechanics do not depend on the model being good, and
 * skipping training and most samples keeps the test fast (10 forward passes in all). Each {@code crd eval} runs once,
 * in {@link #evaluate}; the tests read what it wrote.
 */
class EvalReportTest {
    static final int S = 64, PANELS = 2, TEST_SAMPLES = 4;
    static final String[] KEYS = {"i_auroc", "i_ap", "p_auroc", "p_ap", "au_pro_0.3", "au_pro_0.01"};
    /** The 2025 reference's metrics (threshold-sampled AU-PRO, F1-max), after the paper's six. */
    static final String[] TRD_KEYS = {"au_pro_sampled_0.3", "au_pro_sampled_0.1", "au_pro_sampled_0.05", "au_pro_sampled_0.01",
            "i_f1_max", "p_f1_max"};
    static final String[] ALL_KEYS = java.util.stream.Stream.concat(java.util.Arrays.stream(KEYS), java.util.Arrays.stream(TRD_KEYS))
            .toArray(String[]::new);
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path tmp;
    static Path data, single, multi;
    static String multiStdout;

    @BeforeAll
    static void evaluate() throws Exception {
        data = tmp.resolve("data");
        SyntheticRgbd.generate(data, new SyntheticRgbd.Options(List.of("cookie", "puck"), 11, S, 0, 0, 1, 1));
        for (String cut : new String[]{"cookie/test/bump", "cookie/test/dent", "puck/test/bump", "puck/test/dent",
                "puck/test/color", "puck/test/crack"}) {
            try (Stream<Path> w = Files.walk(data.resolve(cut))) {
                for (Path p : w.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
            }
        }
        for (String c : new String[]{"cookie", "puck"}) {
            CrdModel m = new CrdModel(new NnContext(new Nd4jBackend(), DType.FLOAT32, c.length()), Preset.TINY, Modality.DEPTH);
            ModelFiles.save(m, tmp.resolve(c + ".crd4j"), "random(test)", NormalizationStats.of("depth", 1.0, 0.05, 1.0, 0.05).toJson());
        }
        single = tmp.resolve("single");
        assertEquals(0, CrdCli.run("eval", "--data", data.toString(), "--category", "cookie", "--model",
                tmp.resolve("cookie.crd4j").toString(), "--out", single.toString(), "--save-maps", "--report-samples", "" + PANELS));
        multi = tmp.resolve("multi");
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, CrdCli.run("eval", "--data", data.toString(), "--category", "cookie,puck", "--model",
                    tmp.resolve("{category}.crd4j").toString(), "--out", multi.toString(), "--report-samples", "" + PANELS));
        } finally {
            System.setOut(old);
        }
        multiStdout = out.toString(StandardCharsets.UTF_8);
        System.out.print(multiStdout);
    }

    private static String read(Path p) throws Exception {
        return Files.readString(p, StandardCharsets.UTF_8);
    }

    private static List<byte[]> pngs(String html) {
        List<byte[]> out = new ArrayList<>();
        Matcher m = Pattern.compile("<img src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"").matcher(html);
        while (m.find()) out.add(Base64.getDecoder().decode(m.group(1)));
        return out;
    }

    private static BufferedImage decode(byte[] png) throws Exception {
        BufferedImage im = ImageIO.read(new ByteArrayInputStream(png));
        assertTrue(im != null, "not a PNG ImageIO can read");
        return im;
    }

    /** (sample, score) of each panel in report order. */
    private static List<String[]> panels(String html) {
        List<String[]> out = new ArrayList<>();
        Matcher m = Pattern.compile("data-sample=\"([^\"]+)\" data-score=\"([^\"]+)\"").matcher(html);
        while (m.find()) out.add(new String[]{m.group(1), m.group(2)});
        return out;
    }

    @Test
    void singleCategoryKeepsTheMetricsJsonFormat() throws Exception {
        JsonNode m = JSON.readTree(single.resolve("metrics.json").toFile());
        assertEquals(List.of("fused", "rgb", "depth"), iterable(m.fieldNames()));
        for (String det : new String[]{"fused", "rgb", "depth"}) {
            assertEquals(List.of(ALL_KEYS), iterable(m.get(det).fieldNames()), det);
            for (String k : ALL_KEYS) assertTrue(m.get(det).get(k).isNumber(), det + "." + k);
        }
        try (Stream<Path> w = Files.list(single.resolve("maps"))) {
            assertEquals(TEST_SAMPLES, w.count(), "one maps/ folder per defect type plus good");
        }
    }

    @Test
    void reportIsOneSelfContainedFileWithDecodablePngs() throws Exception {
        String html = read(single.resolve("report.html"));
        assertTrue(html.startsWith("<!DOCTYPE html>") && html.strip().endsWith("</html>"));
        for (String external : new String[]{"http:", "https:", "<script", "<link", "url("}) {
            assertFalse(html.contains(external), "report refers to something outside itself: " + external);
        }
        int imgTags = html.split("<img ", -1).length - 1;
        List<byte[]> png = pngs(html);
        // two charts, then six images per panel: every <img> is an embedded PNG
        assertEquals(2 + 6 * PANELS, png.size());
        assertEquals(png.size(), imgTags);
        for (int i = 0; i < png.size(); i++) {
            BufferedImage im = decode(png.get(i));
            int w = i < 2 ? 480 : S, h = i < 2 ? 400 : S;
            assertEquals(w, im.getWidth(), "image " + i);
            assertEquals(h, im.getHeight(), "image " + i);
        }
        assertTrue(html.contains("Showing " + PANELS + " of " + TEST_SAMPLES + " test samples; " + (TEST_SAMPLES - PANELS)
                + " left out"), "the report says how many samples were left out");
        for (String field : new String[]{"cookie.crd4j", "random(test)", "tiny (input 64×64)", "4: 1 good, 3 defective"}) {
            assertTrue(html.contains(field), "report names " + field);
        }
    }

    @Test
    void metricsTableHasPercentagesAndTheFractionsAsTitles() throws Exception {
        String html = read(single.resolve("report.html"));
        JsonNode m = JSON.readTree(single.resolve("metrics.json").toFile());
        for (String det : new String[]{"fused", "rgb", "depth"}) {
            StringBuilder row = new StringBuilder("<td>" + det + "</td>");
            for (String k : ALL_KEYS) {
                double v = m.get(det).get(k).asDouble();
                row.append("<td class=\"num\" title=\"").append(v).append("\">")
                        .append(String.format(Locale.ROOT, "%.1f", 100 * v)).append("</td>");
            }
            assertTrue(html.contains(row + "</tr>"), "metrics row " + row);
        }
        assertTrue(html.contains("as the 2025 reference (TRD) prints them") && html.contains("threshold-sampled AU-PRO"),
                "the 2025 reference's columns are labelled apart from the exact AU-PRO");
    }

    @Test
    void panelsPutTheWorstMissesFirst() throws Exception {
        // the rule of MissRanking, recomputed from the saved maps (image score = max of the fused map)
        List<Path> files;
        try (Stream<Path> w = Files.walk(single.resolve("maps"))) {
            files = w.filter(p -> p.toString().endsWith(".npy")).sorted().toList();   // dataset order: defect, then stem
        }
        int n = files.size();
        assertEquals(TEST_SAMPLES, n);
        double[] score = new double[n];
        boolean[] defective = new boolean[n];
        String[] name = new String[n];
        for (int i = 0; i < n; i++) {
            Path rel = single.resolve("maps").relativize(files.get(i));
            name[i] = rel.toString().replace('\\', '/').replace(".npy", "");
            score[i] = java.util.Arrays.stream(Npy.read(files.get(i)).toFloat64().doubles()).max().orElseThrow();
            defective[i] = !name[i].startsWith("good/");
        }
        double[] sorted = java.util.Arrays.stream(score).distinct().sorted().toArray();
        double bestT = Double.NaN, bestJ = Double.NEGATIVE_INFINITY;
        for (int k = 0; k + 1 < sorted.length; k++) {
            double t = sorted[k] + (sorted[k + 1] - sorted[k]) / 2;
            double tp = 0, fp = 0, pos = 0, neg = 0;
            for (int i = 0; i < n; i++) {
                if (defective[i]) { pos++; if (score[i] > t) tp++; } else { neg++; if (score[i] > t) fp++; }
            }
            double j = tp / pos - fp / neg;
            if (j >= bestJ) { bestJ = j; bestT = t; }   // ascending, so >= keeps the higher t on ties
        }
        double t = bestT;
        double[] margin = IntStream.range(0, n).mapToDouble(i -> defective[i] ? t - score[i] : score[i] - t).toArray();
        List<Integer> order = IntStream.range(0, n).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> -margin[i]).thenComparingInt(i -> i)).toList();

        List<String[]> shown = panels(read(single.resolve("report.html")));
        assertEquals(PANELS, shown.size());
        for (int r = 0; r < PANELS; r++) {
            int i = order.get(r);
            assertEquals(name[i], shown.get(r)[0], "panel " + (r + 1));
            assertEquals(score[i], Double.parseDouble(shown.get(r)[1]), 0, "panel " + (r + 1) + " score");
        }
        assertTrue(read(single.resolve("report.html")).contains(String.format(Locale.ROOT, "t = %.6g", t)));
    }

    @Test
    void panelShowsTheInputRgbAndTheGtOutline() throws Exception {
        String html = read(single.resolve("report.html"));
        List<String[]> shown = panels(html);
        List<byte[]> png = pngs(html);
        for (int p = 0; p < PANELS; p++) {
            String[] sample = shown.get(p)[0].split("/");
            Path dir = data.resolve("cookie/test").resolve(sample[0]);
            // RGB: the preprocessed input with ImageNet normalisation undone = the Pillow-resized 8-bit image
            Image8 expected = ImageInputs.read(dir.resolve("rgb/" + sample[1] + ".png")).toRgb().resize(S, S);
            BufferedImage rgb = decode(png.get(2 + 6 * p));
            for (int y = 0; y < S; y++) {
                for (int x = 0; x < S; x++) {
                    int e = (expected.get(x, y, 0) << 16) | (expected.get(x, y, 1) << 8) | expected.get(x, y, 2);
                    assertEquals(e, rgb.getRGB(x, y) & 0xffffff, "panel " + (p + 1) + " RGB at " + x + "," + y);
                }
            }
            // overlay: magenta exactly on the GT boundary pixels
            float[] gt = sample[0].equals("good") ? new float[S * S] : ImageInputs.groundTruth(dir.resolve("gt/" + sample[1] + ".png"), S).floats();
            BufferedImage overlay = decode(png.get(2 + 6 * p + 5));
            int boundary = 0;
            for (int y = 0; y < S; y++) {
                for (int x = 0; x < S; x++) {
                    int i = y * S + x;
                    boolean edge = gt[i] > 0.5f && ((x > 0 && gt[i - 1] < 0.5f) || (x < S - 1 && gt[i + 1] < 0.5f)
                            || (y > 0 && gt[i - S] < 0.5f) || (y < S - 1 && gt[i + S] < 0.5f));
                    if (edge) boundary++;
                    assertEquals(edge, (overlay.getRGB(x, y) & 0xffffff) == 0xff00ff, "panel " + (p + 1) + " outline at " + x + "," + y);
                }
            }
            assertEquals(sample[0].equals("good"), boundary == 0, "panel " + (p + 1) + ": defective samples have an outline");
        }
    }

    @Test
    void severalCategoriesWriteEachCategoryAndAMeanRow() throws Exception {
        JsonNode top = JSON.readTree(multi.resolve("metrics.json").toFile());
        assertEquals(List.of("categories", "mean"), iterable(top.fieldNames()));
        assertEquals(List.of("cookie", "puck"), iterable(top.get("categories").fieldNames()));
        String md = read(multi.resolve("summary.md")), html = read(multi.resolve("report.html"));
        for (String c : new String[]{"cookie", "puck"}) {
            assertTrue(Files.isRegularFile(multi.resolve(c).resolve("report.html")), c + "/report.html");
            assertEquals(JSON.readTree(multi.resolve(c).resolve("metrics.json").toFile()), top.get("categories").get(c),
                    "top-level metrics.json repeats " + c + "/metrics.json");
            assertTrue(html.contains("<a href=\"" + c + "/report.html\">" + c + "</a>"), "top report links " + c);
        }
        // the same category, model and options give the same report, byte for byte (no timestamp in it)
        assertEquals(read(single.resolve("report.html")), read(multi.resolve("cookie/report.html")));

        StringBuilder mdRow = new StringBuilder("| **mean** |"), htmlRow = new StringBuilder("<tr class=\"mean\"><td>mean</td>");
        StringBuilder textRow = new StringBuilder("mean");
        StringBuilder trdTextRow = new StringBuilder("mean");
        for (String det : new String[]{"fused", "rgb", "depth"}) {
            for (String k : ALL_KEYS) {
                boolean trd = java.util.Arrays.asList(TRD_KEYS).contains(k);
                double a = JSON.readTree(multi.resolve("cookie/metrics.json").toFile()).get(det).get(k).asDouble();
                double b = JSON.readTree(multi.resolve("puck/metrics.json").toFile()).get(det).get(k).asDouble();
                double mean = top.get("mean").get(det).get(k).asDouble();
                assertEquals((a + b) / 2, mean, 1e-15, "mean " + det + "." + k);
                if (det.equals("fused")) {
                    String pct = String.format(Locale.ROOT, "%.1f", 100 * mean);
                    mdRow.append(' ').append(pct).append(" |");
                    htmlRow.append("<td class=\"num\" title=\"").append(mean).append("\">").append(pct).append("</td>");
                    (trd ? trdTextRow : textRow).append("\\s+").append(Pattern.quote(pct));
                }
            }
        }
        assertTrue(md.contains(mdRow), "summary.md mean row " + mdRow + " in\n" + md);
        assertTrue(html.contains(htmlRow), "report.html mean row " + htmlRow);
        assertTrue(Pattern.compile("(?m)^" + textRow + "\\s*$").matcher(multiStdout).find(), "stdout mean row in\n" + multiStdout);
        assertTrue(Pattern.compile("(?m)^" + trdTextRow + "\\s*$").matcher(multiStdout).find(), "stdout TRD mean row in\n" + multiStdout);
    }

    @Test
    void unknownCategoryIsOneLineAndWritesNothing() throws Exception {
        Path out = tmp.resolve("bad-category");
        List<String> err = runFailing("eval", "--data", data.toString(), "--category", "cookie,nope", "--model",
                tmp.resolve("{category}.crd4j").toString(), "--out", out.toString());
        assertEquals(1, err.size(), err.toString());
        assertTrue(err.get(0).contains(data.resolve("nope").toString()) && err.get(0).contains("not found"), err.get(0));
        assertFalse(Files.exists(out));
        assertNoPartialDirectories();
    }

    @Test
    void missingModelForOneCategoryIsOneLineAndWritesNothing() throws Exception {
        Path out = tmp.resolve("bad-model");
        Files.copy(tmp.resolve("cookie.crd4j"), tmp.resolve("only-cookie.crd4j"));
        List<String> err = runFailing("eval", "--data", data.toString(), "--category", "cookie,puck", "--model",
                tmp.resolve("only-{category}.crd4j").toString(), "--out", out.toString());
        assertEquals(1, err.size(), err.toString());
        assertTrue(err.get(0).contains(tmp.resolve("only-puck.crd4j").toString()) && err.get(0).contains("'puck'"), err.get(0));
        assertFalse(Files.exists(out));
        assertNoPartialDirectories();
    }

    @Test
    void severalCategoriesNeedThePlaceholder() throws Exception {
        List<String> err = runFailing("eval", "--data", data.toString(), "--category", "cookie,puck", "--model",
                tmp.resolve("cookie.crd4j").toString(), "--out", tmp.resolve("no-placeholder").toString());
        assertEquals(1, err.size(), err.toString());
        assertTrue(err.get(0).contains("--model") && err.get(0).contains("{category}"), err.get(0));
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

    private static void assertNoPartialDirectories() throws Exception {
        try (Stream<Path> s = Files.list(tmp)) {
            List<Path> partial = s.filter(p -> p.getFileName().toString().contains(".partial-")).toList();
            assertEquals(List.of(), partial);
        }
    }

    private static List<String> iterable(java.util.Iterator<String> it) {
        List<String> l = new ArrayList<>();
        it.forEachRemaining(l::add);
        return l;
    }
}
