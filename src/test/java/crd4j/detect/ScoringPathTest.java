package crd4j.detect;

import crd4j.autograd.Graph;
import crd4j.backend.Tensor;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.model.CrdModel;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scoring path (Graph.scoring: Winograd 3×3 convolutions, the direct transposed convolution) through the whole
 * tiny network against the reference path (Graph.inference, what training uses) on the same float32 model and inputs:
 * both raw maps within relative L2 1e-5 of each other (measured 0.8–1.3e-7 on this small network, where few layers
 * are wide enough for Winograd; the paper network's maps are ~3e-5 from exact on either path, docs/PARITY.md), not
 * bit-identical (the faster path was taken), and the same bits when scored again. The comparison against PyTorch is
 * PaperInspectParityTest's and DetectParityTest's.
 */
class ScoringPathTest {
    private static List<double[]> maps(Nd4jBackend be, CrdModel m, Graph g, Tensor x, Tensor y) {
        try {
            AnomalyScoring.Forward f = AnomalyScoring.forward(g, m, m.teacherForward(g, x, y), MissingStrategy.FILTER);
            return AnomalyScoring.rawMaps(be, f, m.preset().size());
        } finally {
            g.release();
        }
    }

    @Test
    void scoringPathAgreesWithTheReferencePath() {
        Nd4jBackend be = new Nd4jBackend();
        CrdModel m = TinyModels.model(be, 5);
        m.train(false);
        try (Tensor x = be.fromHost(TinyModels.input(1)); Tensor y = be.fromHost(TinyModels.input(2))) {
            List<double[]> ref = maps(be, m, Graph.inference(be), x, y), fast = maps(be, m, Graph.scoring(be), x, y);
            assertEquals(ref.size(), fast.size());
            boolean differs = false;
            for (int b = 0; b < ref.size(); b++) {
                double[] r = ref.get(b), f = fast.get(b);
                double num = 0, den = 0;
                for (int i = 0; i < r.length; i++) {
                    num += (f[i] - r[i]) * (f[i] - r[i]);
                    den += r[i] * r[i];
                }
                double e = Math.sqrt(num / den);
                crd4j.testing.Parity.record("tiny scoring path vs reference path, branch " + b + " raw map", e, 1e-5);
                assertTrue(e <= 1e-5, "branch " + b + ": scoring path " + e + " from the reference path");
                differs |= !java.util.Arrays.equals(r, f);
            }
            assertTrue(differs, "the scoring path gave the reference path's bits: no faster route was taken");
            // the same scoring call twice: deterministic
            assertTrue(java.util.Arrays.equals(fast.get(0), maps(be, m, Graph.scoring(be), x, y).get(0)), "scoring is not deterministic");
        }
    }
}
