package crd4j.eval;

/**
 * An exact ROC curve, as {@code sklearn.metrics.roc_curve(labels, scores, drop_intermediate=False)} with its leading
 * (0, 0): one point per distinct score, thresholds descending, a sample counted positive when its score is at or above
 * the threshold. {@code threshold[0]} is +∞. With one class only the missing rate is NaN (scikit-learn warns there).
 */
public record RocCurve(double[] fpr, double[] tpr, double[] threshold) {
    public RocCurve {
        if (fpr.length != tpr.length || fpr.length != threshold.length) throw new IllegalArgumentException("curve lengths differ");
    }

    /** Trapezoidal area under the curve; equals {@link Metrics#rocAuc} (ties are straight segments, counted ½). */
    public double area() {
        double a = 0;
        for (int i = 1; i < fpr.length; i++) a += 0.5 * (tpr[i] + tpr[i - 1]) * (fpr[i] - fpr[i - 1]);
        return a;
    }
}
