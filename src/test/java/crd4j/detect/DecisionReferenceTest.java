package crd4j.detect;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import crd4j.io.Npy;
import crd4j.tensor.HostTensor;
import crd4j.testing.PyReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The decision's arithmetic against independent references ({@code src/test/python/decision_reference.py}): the F1
 * threshold against scikit-learn's {@code precision_recall_curve}, the target-FPR threshold against a brute-force
 * search in numpy, the defect regions against {@code scipy.ndimage.label} and {@code find_objects}, and the validation
 * rule recomputed. Thresholds are score values, so they must agree bit for bit.
 */
class DecisionReferenceTest {
    static final ObjectMapper JSON = new ObjectMapper();

    /** Runs the reference script; its JSON answer. */
    static JsonNode reference(String... args) throws IOException, InterruptedException {
        PyReference.assumeModules("python3-scipy python3-sklearn", "numpy", "scipy.ndimage", "sklearn.metrics");
        List<String> cmd = new ArrayList<>(List.of(PyReference.python(), Path.of("src/test/python/decision_reference.py").toAbsolutePath().toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, "decision_reference.py " + String.join(" ", args) + ": " + out);
        return JSON.readTree(out);
    }

    static Path npy(Path dir, String name, double[] v) throws IOException {
        Path f = dir.resolve(name + ".npy");
        Npy.write(f, HostTensor.of(v, v.length));
        return f;
    }

    static double threshold(JsonNode n) { return Double.parseDouble(n.path("threshold").asText()); }

    /** Scores with ties (rounded to 1/8) and a class overlap, as image scores of a real split have. */
    static double[][] scoresAndLabels(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] s = new double[n], l = new double[n];
        for (int i = 0; i < n; i++) {
            l[i] = r.nextDouble() < 0.4 ? 1 : 0;
            s[i] = Math.round((r.nextGaussian() + 1.5 * l[i] + 4) * 8) / 8.0;
        }
        return new double[][]{s, l};
    }

    @Test
    void f1ThresholdIsScikitLearnsBestF1Threshold(@TempDir Path tmp) throws Exception {
        for (long seed = 1; seed <= 4; seed++) {
            double[][] sl = scoresAndLabels(seed, seed == 4 ? 20000 : 37);
            int[] labels = new int[sl[1].length];
            for (int i = 0; i < labels.length; i++) labels[i] = (int) sl[1][i];
            double want = threshold(reference("f1", npy(tmp, "s" + seed, sl[0]).toString(), npy(tmp, "l" + seed, sl[1]).toString()));
            assertEquals(want, Calibration.f1Threshold(sl[0], labels), 0.0, "seed " + seed);
        }
    }

    @Test
    void targetFprThresholdIsTheLowestThatKeepsTheRate(@TempDir Path tmp) throws Exception {
        double[] neg = scoresAndLabels(9, 50)[0];
        for (double f : new double[]{0, 0.01, 0.1, 0.3, 0.5}) {
            double want = threshold(reference("fpr", npy(tmp, "neg", neg).toString(), Double.toString(f)));
            double got = Calibration.fprThreshold(neg, f);
            assertEquals(want, got, 0.0, "fpr " + f);
            long flagged = java.util.Arrays.stream(neg).filter(v -> v >= got).count();
            assertTrue(flagged <= f * neg.length, flagged + " flagged at fpr " + f);
        }
        assertThrows(IllegalArgumentException.class, () -> Calibration.fprThreshold(neg, 1.0));
    }

    @Test
    void regionsAreScipysConnectedComponents(@TempDir Path tmp) throws Exception {
        int s = 64;
        SplittableRandom r = new SplittableRandom(5);
        double[] map = new double[s * s];
        // three blobs (one touching the border, two touching diagonally only) on low noise
        double[][] blobs = {{10, 12, 4}, {40, 45, 6}, {0, 60, 3}, {20, 30, 2}, {23, 33, 2}};
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                double v = 0.5 * r.nextDouble();
                for (double[] b : blobs) v = Math.max(v, 3.0 - Math.hypot(x - b[0], y - b[1]) / b[2]);
                map[y * s + x] = v;
            }
        }
        Thresholds t = new Thresholds(2.9, 2.0, "test", 1);
        Decision d = Decision.of(t, 3.0, map, s);
        double[] mask = new double[s * s];
        int[] dm = d.mask();
        for (int i = 0; i < mask.length; i++) mask[i] = dm[i];
        Path maskF = tmp.resolve("mask.npy"), mapF = tmp.resolve("map.npy");
        Npy.write(maskF, HostTensor.of(mask, s, s));
        Npy.write(mapF, HostTensor.of(map, s, s));
        JsonNode want = reference("label", maskF.toString(), mapF.toString()).path("regions");
        assertTrue(want.size() >= 3, "the case has several regions: " + want);
        assertEquals(want.size(), d.regions().size());
        for (int i = 0; i < want.size(); i++) {
            JsonNode w = want.get(i);
            Decision.Region g = d.regions().get(i);
            String at = "region " + i;
            assertEquals(w.path("x").asInt(), g.x(), at);
            assertEquals(w.path("y").asInt(), g.y(), at);
            assertEquals(w.path("width").asInt(), g.width(), at);
            assertEquals(w.path("height").asInt(), g.height(), at);
            assertEquals(w.path("area").asInt(), g.area(), at);
            assertEquals(Double.parseDouble(w.path("peak").asText()), g.peak(), 0.0, at);
            // numpy sums pairwise, Java in order: equal to rounding
            double mean = Double.parseDouble(w.path("mean").asText());
            assertEquals(mean, g.mean(), 1e-14 * Math.abs(mean), at);
        }
        assertTrue(d.anomalous(), "score 3.0 >= image threshold 2.9");
        assertEquals(3.0 / 2.9, d.normalizedScore(), 0.0);
        assertFalse(Decision.of(t, 2.8, map, s).anomalous());
    }

    @Test
    void validationRuleIsTheHighestGoodScoreTimesTheMargin(@TempDir Path tmp) throws Exception {
        double[] good = {3.25, 4.0625, 3.9, 4.0624};
        double want = threshold(reference("validation", npy(tmp, "v", good).toString()));
        Thresholds t = Thresholds.fromValidation(good);
        assertEquals(want, t.image(), 0.0);
        assertEquals(want, t.pixel(), 0.0, "the pixel threshold is the same value: no good validation pixel reaches it");
        assertEquals(good.length, t.parts());
        assertEquals("validation-max x1.1", t.rule());
    }

    @Test
    void theImageThresholdMustBePositiveThePixelThresholdOnlyFinite() {
        // a weak model's best pixel F1 can lie below zero (measured: -1.6 on a 1-epoch tiny model of the synthetic puck)
        Thresholds t = new Thresholds(1.5, -1.6, "f1-max", 7);
        assertEquals(3, Decision.of(t, 1.0, new double[]{-2, -1.6, 0, 3}, 2).maskArea(), "every pixel from -1.6 up");
        assertThrows(IllegalArgumentException.class, () -> new Thresholds(0.0, 1.0, "x", 1));
        assertThrows(IllegalArgumentException.class, () -> new Thresholds(1.0, Double.NaN, "x", 1));
        assertThrows(IllegalArgumentException.class, () -> new Thresholds(Double.POSITIVE_INFINITY, 1.0, "x", 1));
    }

    @Test
    void aResultWithoutThresholdsSaysToCalibrate() {
        Detector.Result r = new Detector.Result(1.0, new double[4], 2, List.of(), MissingStrategy.FILTER);
        assertFalse(r.hasDecision());
        IllegalStateException e = assertThrows(IllegalStateException.class, r::anomalous);
        assertEquals("no threshold stored: run crd calibrate", e.getMessage());
        assertThrows(IllegalStateException.class, r::normalizedScore);
        assertThrows(IllegalStateException.class, r::regions);
    }
}
