package crd4j.report;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * The order of the report's sample panels, worst misses first.
 *
 * <p>The rule: a threshold {@code t} on the fused image score is placed halfway between two consecutive distinct
 * scores of the test split, at the place that maximises Youden's J = TPR − FPR (a sample counts as flagged when its
 * score is above {@code t}; TPR is 0 without defective samples, FPR 0 without good ones; among equal J the highest
 * {@code t} wins). Each sample's <em>margin</em> is how far it lies on the wrong side of {@code t}:
 * {@code t − score} for a defective sample, {@code score − t} for a good one, so a positive margin is a miss or a
 * false alarm and a negative one a correct decision. Samples are ordered by margin, largest first (missed defects
 * with the lowest scores and good samples with the highest scores come first, then the correct decisions closest to
 * the threshold); equal margins keep the dataset order (defect folder, then stem). With fewer than two distinct
 * scores there is no such threshold: {@code t} is that score, every margin is 0 and the order is the dataset order.
 *
 * @param threshold   {@code t}
 * @param youdenJ     J at {@code t}
 * @param order       sample indices, worst first
 * @param margin      per sample (indexed like the input, not like {@code order})
 * @param misses      defective samples with score ≤ t
 * @param falseAlarms good samples with score > t
 */
public record MissRanking(double threshold, double youdenJ, int[] order, double[] margin, int misses, int falseAlarms) {
    /** Ranks samples by their fused image {@code scores}; {@code defective[i]} is the GT label of sample i. */
    public static MissRanking of(double[] scores, boolean[] defective) {
        if (scores.length != defective.length) throw new IllegalArgumentException("scores and labels differ in length");
        int pos = 0, neg = 0;
        for (boolean d : defective) if (d) pos++; else neg++;
        double[] distinct = Arrays.stream(scores).distinct().sorted().toArray();
        for (double s : distinct) if (Double.isNaN(s)) throw new IllegalArgumentException("NaN image score");
        double t = distinct.length == 0 ? 0 : distinct[0], bestJ = distinct.length < 2 ? 0 : Double.NEGATIVE_INFINITY;
        // from the highest candidate down, so that a tie keeps the higher threshold
        for (int k = distinct.length - 2; k >= 0; k--) {
            double c = distinct[k] + (distinct[k + 1] - distinct[k]) / 2;
            int tp = 0, fp = 0;
            for (int i = 0; i < scores.length; i++) {
                if (scores[i] > c) {
                    if (defective[i]) tp++; else fp++;
                }
            }
            double j = (pos == 0 ? 0 : (double) tp / pos) - (neg == 0 ? 0 : (double) fp / neg);
            if (j > bestJ) {
                bestJ = j;
                t = c;
            }
        }
        double[] margin = new double[scores.length];
        int misses = 0, falseAlarms = 0;
        for (int i = 0; i < scores.length; i++) {
            margin[i] = distinct.length < 2 ? 0 : defective[i] ? t - scores[i] : scores[i] - t;
            if (defective[i] && !(scores[i] > t)) misses++;
            if (!defective[i] && scores[i] > t) falseAlarms++;
        }
        int[] order = IntStream.range(0, scores.length).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> margin[i]).reversed().thenComparingInt(i -> i))
                .mapToInt(Integer::intValue).toArray();
        return new MissRanking(t, bestJ, order, margin, misses, falseAlarms);
    }
}
