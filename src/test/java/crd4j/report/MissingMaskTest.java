package crd4j.report;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** The random-missing masks of §17.3: deterministic per seed, exactly round(rate·n) parts, halves for "both". */
class MissingMaskTest {
    static int count(Evaluation.Withheld[] w, Evaluation.Withheld which) {
        int c = 0;
        for (Evaluation.Withheld x : w) if (x == which) c++;
        return c;
    }

    @Test
    void theSameSeedGivesTheSameMaskAndAnotherSeedAnother() {
        Evaluation.Withheld[] a = MissingMask.of(76, 0.5, MissingMask.Type.RGB, 0), b = MissingMask.of(76, 0.5, MissingMask.Type.RGB, 0);
        assertArrayEquals(a, b);
        assertFalse(java.util.Arrays.equals(a, MissingMask.of(76, 0.5, MissingMask.Type.RGB, 1)));
    }

    @Test
    void ratesAreExactAndTypesChooseTheModality() {
        for (double rate : new double[]{0, 0.3, 0.5, 0.7, 1}) {
            int k = (int) Math.round(rate * 76);
            Evaluation.Withheld[] rgb = MissingMask.of(76, rate, MissingMask.Type.RGB, 2);
            assertEquals(k, count(rgb, Evaluation.Withheld.RGB), "rate " + rate);
            assertEquals(0, count(rgb, Evaluation.Withheld.SECOND));
            Evaluation.Withheld[] second = MissingMask.of(76, rate, MissingMask.Type.SECOND, 2);
            assertEquals(k, count(second, Evaluation.Withheld.SECOND));
            Evaluation.Withheld[] both = MissingMask.of(76, rate, MissingMask.Type.BOTH, 2);
            assertEquals(k / 2, count(both, Evaluation.Withheld.RGB), "both: the first half of the chosen lose RGB");
            assertEquals(k - k / 2, count(both, Evaluation.Withheld.SECOND));
            // the same parts are chosen whatever the type
            for (int i = 0; i < 76; i++) {
                assertEquals(rgb[i] != Evaluation.Withheld.NONE, both[i] != Evaluation.Withheld.NONE);
                assertEquals(rgb[i] != Evaluation.Withheld.NONE, second[i] != Evaluation.Withheld.NONE);
            }
        }
        assertNotEquals(MissingMask.of(10, 0.3, MissingMask.Type.RGB, 5)[0], null);
    }
}
