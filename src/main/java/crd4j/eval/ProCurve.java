package crd4j.eval;

/**
 * The exact MVTec per-region-overlap curve (spec §9): {@code fpr[k]} (float32 values widened to double) and
 * {@code pro[k]}, starting with (0,0) and ending with (1,1), one point per distinct score in between.
 */
public record ProCurve(double[] fpr, double[] pro) {
    public ProCurve {
        if (fpr.length != pro.length) throw new IllegalArgumentException("fpr and pro lengths differ");
    }

    /** AU-PRO up to {@code limit}: {@code Metrics.trapezoid(fpr, pro, limit) / limit}. */
    public double auPro(double limit) {
        return Metrics.trapezoid(fpr, pro, limit) / limit;
    }
}
