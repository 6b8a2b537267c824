package crd4j.report;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The report's panel order (worst misses first). Expected values worked out by hand from the rule in
 * {@link MissRanking}'s documentation; integer scores keep the midpoints and margins exact.
 */
class MissRankingTest {
    @Test
    void thresholdMaximisesYoudensJAndWrongSideComesFirst() {
        // good 9, good 2, defect 5, defect 8, defect 1, good 3. Midpoints 1.5, 2.5, 4, 6.5, 8.5 give
        // J = 2/3-1, 2/3-2/3, 2/3-1/3, 1/3-1/3, 0-1/3, so t = 4 (J = 1/3).
        double[] scores = {9, 2, 5, 8, 1, 3};
        boolean[] defective = {false, false, true, true, true, false};
        MissRanking r = MissRanking.of(scores, defective);
        assertEquals(4.0, r.threshold());
        assertEquals(1.0 / 3, r.youdenJ(), 1e-15);
        // margins: 9-4 = 5 (false alarm), 2-4 = -2, 4-5 = -1, 4-8 = -4, 4-1 = 3 (miss), 3-4 = -1
        assertArrayEquals(new double[]{5, -2, -1, -4, 3, -1}, r.margin());
        // the two margins of -1 keep dataset order (2 before 5)
        assertArrayEquals(new int[]{0, 4, 2, 5, 1, 3}, r.order());
        assertEquals(1, r.misses());
        assertEquals(1, r.falseAlarms());
    }

    @Test
    void equalJKeepsTheHigherThreshold() {
        // good 1, defect 2, good 3, defect 4: t = 1.5 and t = 3.5 both give J = 1/2
        MissRanking r = MissRanking.of(new double[]{1, 2, 3, 4}, new boolean[]{false, true, false, true});
        assertEquals(3.5, r.threshold());
        assertEquals(0.5, r.youdenJ());
        assertArrayEquals(new int[]{1, 2, 3, 0}, r.order());   // margins -2.5, 1.5, -0.5, -0.5
    }

    @Test
    void goodSamplesOnlyPutTheHighestScoresFirst() {
        // no defective sample: TPR counts as 0, so J = -FPR is highest at the top midpoint
        MissRanking r = MissRanking.of(new double[]{1, 3, 2}, new boolean[]{false, false, false});
        assertEquals(2.5, r.threshold());
        assertArrayEquals(new int[]{1, 2, 0}, r.order());
        assertEquals(1, r.falseAlarms());
    }

    @Test
    void oneDistinctScoreKeepsDatasetOrder() {
        MissRanking r = MissRanking.of(new double[]{2, 2, 2}, new boolean[]{true, false, true});
        assertEquals(2.0, r.threshold());
        assertArrayEquals(new int[]{0, 1, 2}, r.order());
        assertArrayEquals(new double[]{0, 0, 0}, r.margin());
    }
}
