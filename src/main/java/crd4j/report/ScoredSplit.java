package crd4j.report;

import crd4j.data.MvtecDataset;
import crd4j.detect.Detector;
import crd4j.detect.Scorer;
import crd4j.detect.MissingStrategy;
import crd4j.detect.Sample;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A category's test split scored by one {@link Scorer}, sample by sample, with each result kept: a sample scored
 * without the same modality under the same strategy is scored once however many evaluation settings use it (a complete
 * sample once in all). The inputs are read again only for a result not yet computed. Memory: every kept result holds
 * its 1 + B smoothed S×S maps (float64).
 */
final class ScoredSplit {
    private final Scorer det;
    private final MvtecDataset ds;
    private final List<MvtecDataset.Sample> test;
    private final int size;
    private final Map<String, Detector.Result> results = new HashMap<>();
    private final int[][] gts;

    ScoredSplit(Scorer det, MvtecDataset ds) throws IOException {
        this.det = det;
        this.ds = ds;
        this.test = ds.samples("test");
        this.size = det.size();
        this.gts = new int[test.size()][];
    }

    Scorer detector() { return det; }

    MvtecDataset dataset() { return ds; }

    List<MvtecDataset.Sample> samples() { return test; }

    int size() { return size; }

    /** The binarised GT of sample {@code i} at the model's side. */
    int[] gt(int i) throws IOException {
        if (gts[i] == null) load(i);
        return gts[i];
    }

    /** The result of sample {@code i} scored without {@code w} (standing in with {@code s} when something is withheld). */
    Detector.Result score(int i, Evaluation.Withheld w, MissingStrategy s) throws IOException {
        String key = i + "/" + w + (w == Evaluation.Withheld.NONE ? "" : "/" + s);
        Detector.Result r = results.get(key);
        if (r == null) {
            MvtecDataset.Inputs in = load(i);
            r = det.score(Sample.of(w == Evaluation.Withheld.RGB ? null : in.rgb(), w == Evaluation.Withheld.SECOND ? null : in.second()), s);
            results.put(key, r);
        }
        return r;
    }

    private MvtecDataset.Inputs load(int i) throws IOException {
        MvtecDataset.Inputs in = ds.load(test.get(i), size);
        if (gts[i] == null) {
            float[] g = in.gt().floats();
            int[] gi = new int[g.length];
            for (int k = 0; k < g.length; k++) gi[k] = g[k] > 0.5f ? 1 : 0;
            gts[i] = gi;
        }
        return in;
    }
}
