package crd4j.detect;

import java.util.Arrays;
import java.util.List;

/**
 * Choosing decision thresholds on labelled parts ({@code crd calibrate}), image and pixel level alike:
 *
 * <ul>
 *   <li>{@link #f1Threshold}: the threshold of the highest F1 = 2PR/(P+R) over every distinct score used as threshold
 *       (score ≥ threshold flagged), as anomalib's adaptive threshold picks it from
 *       {@code precision_recall_curve}; among equal F1 the lowest threshold (numpy's {@code argmax} over
 *       scikit-learn's increasing thresholds).</li>
 *   <li>{@link #fprThreshold}: the lowest threshold at which at most a share {@code fpr} of the negatives (good parts;
 *       for pixels, the normal pixels) is flagged — the most sensitive setting that keeps the false-positive rate.</li>
 * </ul>
 */
public final class Calibration {
    private Calibration() {}

    /** The F1-maximising threshold of {@code scores} with {@code labels} (1 = anomalous); needs both classes. */
    public static double f1Threshold(double[] scores, int[] labels) {
        int n = scores.length;
        if (labels.length != n) throw new IllegalArgumentException("scores and labels differ in length");
        long positives = 0;
        for (int l : labels) positives += l != 0 ? 1 : 0;
        if (positives == 0 || positives == n) {
            throw new IllegalArgumentException("F1 calibration needs anomalous and good examples, found " + positives + " anomalous of " + n);
        }
        // positives and negatives sorted apart (primitive sorts: a paper-preset split has ~16 M pixels), merged downwards
        double[] pos = new double[(int) positives], neg = new double[n - (int) positives];
        for (int i = 0, a = 0, b = 0; i < n; i++) {
            if (labels[i] != 0) pos[a++] = scores[i];
            else neg[b++] = scores[i];
        }
        Arrays.sort(pos);
        Arrays.sort(neg);
        int ip = pos.length - 1, in = neg.length - 1;
        double best = -1, bestT = Double.NaN;
        long tp = 0, fp = 0;
        while (ip >= 0 || in >= 0) {
            double t = Math.max(ip >= 0 ? pos[ip] : Double.NEGATIVE_INFINITY, in >= 0 ? neg[in] : Double.NEGATIVE_INFINITY);
            while (ip >= 0 && pos[ip] == t) { tp++; ip--; }
            while (in >= 0 && neg[in] == t) { fp++; in--; }
            double p = (double) tp / (tp + fp), r = (double) tp / positives;
            double f1 = p + r == 0 ? 0 : 2 * p * r / (p + r);
            if (f1 >= best) {   // descending thresholds: ">=" keeps the lowest among equal F1
                best = f1;
                bestT = t;
            }
        }
        return bestT;
    }

    /** {@link #f1Threshold} over every pixel of every map, {@code gts} the binary ground truth. */
    public static double pixelF1Threshold(List<double[]> maps, List<int[]> gts) {
        return f1Threshold(concat(maps), concatInts(gts));
    }

    /**
     * The lowest threshold t with {@code #{negatives ≥ t} ≤ fpr · #negatives}: the (k+1)-th highest negative score
     * moved up by one ulp, k = ⌊fpr · n⌋ (every negative when k ≥ n).
     */
    public static double fprThreshold(double[] negatives, double fpr) {
        if (!(fpr >= 0 && fpr < 1)) throw new IllegalArgumentException("--target-fpr: expected a rate in [0, 1), found " + fpr);
        if (negatives.length == 0) throw new IllegalArgumentException("target-FPR calibration needs good examples");
        double[] s = negatives.clone();
        Arrays.sort(s);
        int n = s.length;
        long k = (long) Math.floor(fpr * n);
        // k may be one too large when fpr·n rounds up past an integer; the check below keeps the rate
        while (k > 0 && k > fpr * n) k--;
        return Math.nextUp(s[n - 1 - (int) k]);
    }

    /** The normal pixels' values of every map (GT 0). */
    public static double[] normalPixels(List<double[]> maps, List<int[]> gts) {
        int count = 0;
        for (int[] g : gts) for (int v : g) if (v == 0) count++;
        double[] out = new double[count];
        int j = 0;
        for (int i = 0; i < maps.size(); i++) {
            double[] m = maps.get(i);
            int[] g = gts.get(i);
            for (int p = 0; p < m.length; p++) if (g[p] == 0) out[j++] = m[p];
        }
        return out;
    }

    static double[] concat(List<double[]> xs) {
        int n = 0;
        for (double[] x : xs) n += x.length;
        double[] out = new double[n];
        int j = 0;
        for (double[] x : xs) {
            System.arraycopy(x, 0, out, j, x.length);
            j += x.length;
        }
        return out;
    }

    static int[] concatInts(List<int[]> xs) {
        int n = 0;
        for (int[] x : xs) n += x.length;
        int[] out = new int[n];
        int j = 0;
        for (int[] x : xs) {
            System.arraycopy(x, 0, out, j, x.length);
            j += x.length;
        }
        return out;
    }
}
