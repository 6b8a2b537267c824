package crd4j.eval;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Metrics} against scikit-learn 1.2 (roc_auc_score, average_precision_score) and against the AU-PRO of spec §9
 * as implemented in {@code eval_reference.py}.
 */
class MetricsTest {
    static final double SCORE_TOL = 1e-10, PRO_TOL = 1e-6;

    private static EvalReference ref() {
        return EvalReference.generate("seed1", "--seed", "1");
    }

    @Test
    void rocAucMatchesSklearn() {
        EvalReference ref = ref();
        double worst = 0;
        for (int i = 0; i < ref.integer("binary_count"); i++) {
            double expected = ref.scalar("bin" + i + "_auroc");
            double got = Metrics.rocAuc(ref.f64("bin" + i + "_scores"), ref.i32("bin" + i + "_labels"));
            if (Double.isNaN(expected)) {
                assertTrue(Double.isNaN(got), "one class only: NaN expected, case " + i);
                continue;
            }
            worst = Math.max(worst, Math.abs(got - expected));
            assertEquals(expected, got, SCORE_TOL, "case " + i);
        }
        System.out.printf("rocAuc vs sklearn: max abs err %.3g%n", worst);
    }

    @Test
    void averagePrecisionMatchesSklearn() {
        EvalReference ref = ref();
        double worst = 0;
        for (int i = 0; i < ref.integer("binary_count"); i++) {
            double expected = ref.scalar("bin" + i + "_ap");
            double got = Metrics.averagePrecision(ref.f64("bin" + i + "_scores"), ref.i32("bin" + i + "_labels"));
            worst = Math.max(worst, Math.abs(got - expected));
            assertEquals(expected, got, SCORE_TOL, "case " + i);
        }
        System.out.printf("averagePrecision vs sklearn: max abs err %.3g%n", worst);
    }

    @Test
    void evaluateMatchesReference() {
        EvalReference ref = ref();
        double[] worst = new double[6];
        for (String name : new String[]{"eval0", "eval1", "eval2"}) {
            int m = ref.integer(name + "_m"), h = ref.integer(name + "_h"), w = ref.integer(name + "_w");
            List<double[]> maps = EvalReference.split(ref.f64(name + "_maps"), m);
            List<int[]> gts = EvalReference.split(ref.i32(name + "_gts"), m);
            MetricSet got = Metrics.evaluate(maps, gts, h, w);
            double[] g = {got.iAuroc(), got.iAp(), got.pAuroc(), got.pAp(), got.auPro30(), got.auPro01()};
            String[] keys = {"iauroc", "iap", "pauroc", "pap", "aupro30", "aupro01"};
            for (int k = 0; k < 6; k++) {
                double e = ref.scalar(name + "_" + keys[k]);
                worst[k] = Math.max(worst[k], Math.abs(g[k] - e));
                assertEquals(e, g[k], k < 4 ? SCORE_TOL : PRO_TOL, name + " " + keys[k]);
            }
            // the single-metric entry points agree with evaluate()
            assertEquals(got.pAuroc(), Metrics.pixelRocAuc(maps, gts), 0.0);
            assertEquals(got.pAp(), Metrics.pixelAveragePrecision(maps, gts), 0.0);
            assertEquals(got.auPro30(), Metrics.auPro(maps, gts, h, w, 0.3), 0.0);
        }
        System.out.printf("evaluate vs reference: max abs err I-AUROC %.3g I-AP %.3g P-AUROC %.3g P-AP %.3g "
                + "AU-PRO30 %.3g AU-PRO01 %.3g%n", worst[0], worst[1], worst[2], worst[3], worst[4], worst[5]);
    }

    /**
     * Full size (the reference takes ~15 s to generate and writes ~100 MB under target/). All six
     * metrics on 100 maps of 256x256 (6.5 M pooled pixels) against scikit-learn and the Python AU-PRO.
     */
    @Test

    void evaluateMatchesReferenceAt100Maps256Squared() {
        EvalReference ref = EvalReference.generate("big", "--seed", "2", "--big");
        int m = ref.integer("big_m"), h = ref.integer("big_h"), w = ref.integer("big_w");
        List<double[]> maps = EvalReference.split(ref.f64("big_maps"), m);
        List<int[]> gts = EvalReference.split(ref.i32("big_gts"), m);
        long t0 = System.nanoTime();
        MetricSet got = Metrics.evaluate(maps, gts, h, w);
        double sec = (System.nanoTime() - t0) / 1e9;
        double[] g = {got.iAuroc(), got.iAp(), got.pAuroc(), got.pAp(), got.auPro30(), got.auPro01()};
        String[] keys = {"iauroc", "iap", "pauroc", "pap", "aupro30", "aupro01"};
        StringBuilder errs = new StringBuilder();
        for (int k = 0; k < 6; k++) {
            double e = ref.scalar("big_" + keys[k]);
            errs.append(String.format(" %s %.3g", keys[k], Math.abs(g[k] - e)));
            assertEquals(e, g[k], k < 4 ? SCORE_TOL : PRO_TOL, "big " + keys[k]);
        }
        System.out.printf("100x256x256 vs reference (%.2f s):%s%n", sec, errs);
    }

    @Test
    void proCurveMatchesReference() {
        EvalReference ref = ref();
        for (String name : new String[]{"eval0", "eval1"}) {
            int m = ref.integer(name + "_m"), h = ref.integer(name + "_h"), w = ref.integer(name + "_w");
            ProCurve c = Metrics.proCurve(EvalReference.split(ref.f64(name + "_maps"), m),
                    EvalReference.split(ref.i32(name + "_gts"), m), h, w);
            assertEquals(ref.integer(name + "_curve_len"), c.fpr().length, name + " curve length");
            assertArrayEquals(ref.f64(name + "_fpr"), c.fpr(), 0.0, name + " fpr (float32 division, exact)");
            double[] pro = ref.f64(name + "_pro");
            double worst = 0;
            for (int k = 0; k < pro.length; k++) worst = Math.max(worst, Math.abs(pro[k] - c.pro()[k]));
            System.out.printf("%s PRO curve: %d points, max abs err pro %.3g%n", name, pro.length, worst);
            assertTrue(worst <= 1e-12, name + " pro max err " + worst);
        }
    }

    @Test
    void trapezoidInterpolationCorrection() {
        double[] x = {0, 0.1, 0.2, 0.5, 1};
        double[] y = {0, 0.4, 0.6, 0.9, 1};
        // up to 0.2: 0.5*0.4*0.1 + 0.5*(0.4+0.6)*0.1 = 0.07; y(0.3) = 0.7, correction 0.5*(0.7+0.6)*0.1 = 0.065
        assertEquals(0.135, Metrics.trapezoid(x, y, 0.3), 1e-15);
        // limit on a sample: no correction
        assertEquals(0.07, Metrics.trapezoid(x, y, 0.2), 1e-15);
        // non-finite points are dropped
        double[] xn = {0, 0.1, Double.NaN, 0.2, 0.5, 1};
        double[] yn = {0, 0.4, 0.5, 0.6, 0.9, 1};
        assertEquals(0.135, Metrics.trapezoid(xn, yn, 0.3), 1e-15);
        // no limit: the whole curve
        assertEquals(0.07 + 0.5 * (0.6 + 0.9) * 0.3 + 0.5 * (0.9 + 1) * 0.5, Metrics.trapezoid(x, y, Double.NaN), 1e-15);
        assertThrows(IllegalArgumentException.class, () -> Metrics.trapezoid(x, y, 1.5));
    }

    @Test
    void perfectDetectorHasAuPro1() {
        Random rnd = new Random(7);
        int h = 32, w = 24;
        List<double[]> maps = new ArrayList<>();
        List<int[]> gts = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            int[] gt = new int[h * w];
            double[] map = new double[h * w];
            if (i % 3 != 0) {
                int y0 = rnd.nextInt(h - 6), x0 = rnd.nextInt(w - 6);
                for (int y = y0; y < y0 + 1 + rnd.nextInt(5); y++) for (int x = x0; x < x0 + 1 + rnd.nextInt(5); x++) gt[y * w + x] = 1;
                gt[rnd.nextInt(h * w)] = 1;
            }
            for (int k = 0; k < map.length; k++) map[k] = gt[k] == 1 ? 2 + rnd.nextDouble() : rnd.nextDouble();
            maps.add(map);
            gts.add(gt);
        }
        MetricSet s = Metrics.evaluate(maps, gts, h, w);
        assertEquals(1.0, s.auPro30(), 1e-12);
        assertEquals(1.0, s.auPro01(), 1e-12);
        assertEquals(1.0, s.pAuroc(), 0.0);
        assertEquals(1.0, s.pAp(), 1e-15);
        assertEquals(1.0, s.iAuroc(), 0.0);
        assertEquals(1.0, s.iAp(), 1e-15);
        // the binary GT itself as the map (all scores tied within each class)
        List<double[]> gtMaps = new ArrayList<>();
        for (int[] g : gts) {
            double[] d = new double[g.length];
            for (int k = 0; k < g.length; k++) d[k] = g[k];
            gtMaps.add(d);
        }
        assertEquals(1.0, Metrics.auPro(gtMaps, gts, h, w, 0.3), 1e-12);
    }

    @Test
    void reversedScoresGiveOneMinusAuroc() {
        Random rnd = new Random(11);
        int n = 5000;
        double[] s = new double[n], r = new double[n];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = rnd.nextDouble() < 0.2 ? 1 : 0;
            s[i] = Math.floor((rnd.nextGaussian() + y[i]) * 4) / 4;   // ties
            r[i] = -s[i];
        }
        double a = Metrics.rocAuc(s, y);
        assertEquals(1.0 - a, Metrics.rocAuc(r, y), 1e-15);
        // constant scores: 0.5 exactly
        assertEquals(0.5, Metrics.rocAuc(new double[]{3, 3, 3, 3}, new int[]{0, 1, 1, 0}), 0.0);
        assertThrows(IllegalArgumentException.class, () -> Metrics.rocAuc(new double[]{Double.NaN, 1}, new int[]{0, 1}));
        assertThrows(IllegalArgumentException.class, () -> Metrics.rocAuc(new double[]{0, 1}, new int[]{0, 2}));
    }

    @Test
    void degenerateInputsFollowTheFormulas() {
        // only good samples: no GT region, one class
        List<double[]> maps = List.of(new double[]{0.1, 0.5, 0.2, 0.3}, new double[]{0.4, 0.4, 0.0, -0.0});
        List<int[]> gts = List.of(new int[4], new int[4]);
        MetricSet s = Metrics.evaluate(maps, gts, 2, 2);
        assertTrue(Double.isNaN(s.iAuroc()) && Double.isNaN(s.pAuroc()), s.toString());
        assertEquals(-0.0, s.pAp(), 0.0);
        // PRO values are NaN (0/0) and dropped: the curve degenerates to the (0,0)-(1,1) diagonal
        assertEquals(0.15, s.auPro30(), 1e-15);   // area 0.5*0.3*0.3 = 0.045, divided by 0.3
        assertEquals(0.005, s.auPro01(), 1e-15);
        // inputs are not modified
        int[] labels = {1, 0, 1, 0};
        double[] scores = {0.3, 0.1, 0.2, 0.4};
        Metrics.rocAuc(scores, labels);
        assertArrayEquals(new int[]{1, 0, 1, 0}, labels);
        assertArrayEquals(new double[]{0.3, 0.1, 0.2, 0.4}, scores, 0.0);
        assertEquals(0.5, Metrics.rocAuc(scores, labels), 0.0);
        assertThrows(IllegalArgumentException.class, () -> Metrics.evaluate(maps, List.of(new int[4]), 2, 2));
    }

    @Test
    void fullScale100Maps256Squared() {
        // 100 x 65,536 pooled pixels: the size of a large MVTec 3D-AD test class
        Random rnd = new Random(3);
        int h = 256, w = 256, m = 100;
        List<double[]> maps = new ArrayList<>();
        List<int[]> gts = new ArrayList<>();
        for (int i = 0; i < m; i++) {
            int[] gt = new int[h * w];
            if (i % 4 != 0) {
                int cy = 20 + rnd.nextInt(200), cx = 20 + rnd.nextInt(200), rad = 3 + rnd.nextInt(15);
                for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) {
                    if ((y - cy) * (y - cy) + (x - cx) * (x - cx) <= rad * rad) gt[y * w + x] = 1;
                }
            }
            double[] map = new double[h * w];
            for (int k = 0; k < map.length; k++) map[k] = rnd.nextGaussian() + 0.15 * gt[k];
            maps.add(GaussianFilter.apply(map, h, w));
            gts.add(gt);
        }
        long t0 = System.nanoTime();
        MetricSet s = Metrics.evaluate(maps, gts, h, w);
        double sec = (System.nanoTime() - t0) / 1e9;
        System.out.printf("100x256x256 evaluate: %.2f s  %s%n", sec, s);
        assertTrue(sec < 10, "evaluate took " + sec + " s");
        assertTrue(s.pAuroc() > 0.6 && s.pAuroc() < 1 && s.auPro30() > 0.3 && s.auPro30() < 1, s.toString());
        assertEquals(1.0 - s.pAuroc(), Metrics.pixelRocAuc(negate(maps), gts), 1e-12);
    }

    private static List<double[]> negate(List<double[]> maps) {
        List<double[]> out = new ArrayList<>();
        for (double[] m : maps) {
            double[] n = new double[m.length];
            for (int k = 0; k < m.length; k++) n[k] = -m[k];
            out.add(n);
        }
        return out;
    }
}
