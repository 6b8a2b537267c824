package crd4j.eval;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@link ConnectedComponents} against scipy.ndimage.label(structure=np.ones((3, 3))), exact. */
class ConnectedComponentsTest {
    @Test
    void matchesScipyLabelExactly() {
        EvalReference ref = EvalReference.generate("seed1", "--seed", "1");
        int cases = ref.integer("label_count");
        for (int i = 0; i < cases; i++) {
            int h = ref.integer("label" + i + "_h"), w = ref.integer("label" + i + "_w");
            int[] in = ref.i32("label" + i + "_in");
            int[] labels = new int[h * w];
            int n = ConnectedComponents.label(in, h, w, labels);
            assertEquals(ref.integer("label" + i + "_n"), n, "component count, case " + i);
            assertArrayEquals(ref.i32("label" + i + "_out"), labels, "labels, case " + i + " (" + h + "x" + w + ")");
        }
    }

    @Test
    void diagonalNeighboursAreConnected() {
        int[] m = {
                1, 0, 0, 1,
                0, 1, 0, 1,
                0, 0, 0, 0,
                1, 0, 1, 1};
        int[] expected = {
                1, 0, 0, 2,
                0, 1, 0, 2,
                0, 0, 0, 0,
                3, 0, 4, 4};
        assertArrayEquals(expected, ConnectedComponents.label(m, 4, 4));
    }
}
