package crd4j.eval;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@link Metrics#rocCurve} and {@link Metrics#evaluateWithCurves}: the curves behind the report's charts. */
class RocCurveTest {
    @Test
    void matchesTheScikitLearnDocumentationExample() {
        // sklearn.metrics.roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], drop_intermediate=False), from its docstring
        RocCurve c = Metrics.rocCurve(new double[]{0.1, 0.4, 0.35, 0.8}, new int[]{0, 0, 1, 1});
        assertArrayEquals(new double[]{0, 0, 0.5, 0.5, 1}, c.fpr());
        assertArrayEquals(new double[]{0, 0.5, 0.5, 1, 1}, c.tpr());
        assertArrayEquals(new double[]{Double.POSITIVE_INFINITY, 0.8, 0.4, 0.35, 0.1}, c.threshold());
        assertEquals(0.75, c.area());
    }

    @Test
    void areaIsTheAurocWithTies() {
        Random rnd = new Random(5);
        double[] s = new double[200];
        int[] y = new int[200];
        for (int i = 0; i < s.length; i++) {
            y[i] = rnd.nextInt(3) == 0 ? 1 : 0;
            s[i] = Math.round((rnd.nextGaussian() + y[i]) * 4) / 4.0;   // many ties
        }
        assertEquals(Metrics.rocAuc(s, y), Metrics.rocCurve(s, y).area(), 1e-12);
    }

    @Test
    void evaluateWithCurvesGivesTheSameNumbersAndConsistentCurves() {
        Random rnd = new Random(6);
        int h = 12, w = 12;
        List<double[]> maps = new ArrayList<>();
        List<int[]> gts = new ArrayList<>();
        for (int k = 0; k < 6; k++) {
            double[] m = new double[h * w];
            int[] g = new int[h * w];
            for (int i = 0; i < m.length; i++) {
                boolean defect = k >= 3 && (i % w) >= 3 && (i % w) < 6 && (i / w) >= 4 && (i / w) < 8;
                g[i] = defect ? 1 : 0;
                m[i] = rnd.nextGaussian() + (defect ? 1.5 : 0);
            }
            maps.add(m);
            gts.add(g);
        }
        Metrics.Curves c = Metrics.evaluateWithCurves(maps, gts, h, w);
        assertEquals(Metrics.evaluate(maps, gts, h, w), c.metrics());
        assertEquals(c.metrics().iAuroc(), c.imageRoc().area(), 1e-15);
        assertEquals(c.metrics().auPro30(), c.pro().auPro(0.3), 0);
        assertEquals(c.metrics().auPro30(), Metrics.auPro(maps, gts, h, w, 0.3), 0);
    }
}
