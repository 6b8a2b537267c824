package crd4j.eval;

import java.util.List;

/**
 * The per-class numbers of one detector.
 *
 * <p>The six of spec §9 (the paper's): image-level AUROC and AP (scores = max of each map, labels = max of each GT
 * map), pixel-level AUROC and AP over all pooled pixels, and the exact AU-PRO integrated up to FPR 0.3 and 0.01
 * (normalised by the limit).
 *
 * <p>The six the 2025 reference (TRD) prints (spec §16.2): the <em>threshold-sampled</em> AU-PRO (100 thresholds at
 * positions of the sorted good-pixel scores; a different, slightly different-valued metric from the exact AU-PRO) up to
 * FPR 0.3, 0.1, 0.05 and 0.01, and the image- and pixel-level F1-max. NaN where they were not computed.
 */
public record MetricSet(double iAuroc, double iAp, double pAuroc, double pAp, double auPro30, double auPro01,
                        double auProSampled30, double auProSampled10, double auProSampled05, double auProSampled01,
                        double iF1Max, double pF1Max) {
    /** metrics.json keys of the paper's six numbers, in {@link #paperValues()} order. */
    public static final List<String> PAPER_KEYS = List.of("i_auroc", "i_ap", "p_auroc", "p_ap", "au_pro_0.3", "au_pro_0.01");
    /** Table headers of the paper's six numbers. */
    public static final List<String> PAPER_HEADERS = List.of("I-AUROC", "I-AP", "P-AUROC", "P-AP", "AU-PRO@0.3", "AU-PRO@0.01");
    /** metrics.json keys of the 2025 reference's six numbers, in {@link #trdValues()} order. */
    public static final List<String> TRD_KEYS = List.of("au_pro_sampled_0.3", "au_pro_sampled_0.1", "au_pro_sampled_0.05",
            "au_pro_sampled_0.01", "i_f1_max", "p_f1_max");
    /** Table headers of the 2025 reference's six numbers ("sampled" marks the threshold-sampled AU-PRO). */
    public static final List<String> TRD_HEADERS = List.of("sAU-PRO@0.3", "sAU-PRO@0.1", "sAU-PRO@0.05", "sAU-PRO@0.01",
            "I-F1max", "P-F1max");
    /** One sentence for table legends: what the 2025 columns are and why they differ from the exact AU-PRO. */
    public static final String TRD_LEGEND = "sAU-PRO = the threshold-sampled AU-PRO the 2025 reference (TRD) prints "
            + "(100 thresholds at quantiles of the good-pixel scores), not the exact AU-PRO of the paper's columns; "
            + "I-/P-F1max = the best F1 over all thresholds, image and pixel level.";

    /** The same in one short line, for the text tables printed on a terminal. */
    public static final String TRD_LEGEND_SHORT = "the 2025 reference's (TRD) metrics; sAU-PRO = threshold-sampled AU-PRO "
            + "(100 thresholds), not the exact AU-PRO above; F1max = best F1 over all thresholds:";

    /** The paper's six numbers only; the 2025 reference's are NaN. */
    public MetricSet(double iAuroc, double iAp, double pAuroc, double pAp, double auPro30, double auPro01) {
        this(iAuroc, iAp, pAuroc, pAp, auPro30, auPro01, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
    }

    /** Builds from {@link #values()} order (paper's six, then the 2025 reference's six). */
    public static MetricSet of(double[] v) {
        if (v.length != 12) throw new IllegalArgumentException("expected 12 values, got " + v.length);
        return new MetricSet(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]);
    }

    public double[] paperValues() {
        return new double[]{iAuroc, iAp, pAuroc, pAp, auPro30, auPro01};
    }

    public double[] trdValues() {
        return new double[]{auProSampled30, auProSampled10, auProSampled05, auProSampled01, iF1Max, pF1Max};
    }

    /** All twelve, paper's first. */
    public double[] values() {
        double[] a = paperValues(), b = trdValues(), v = new double[12];
        System.arraycopy(a, 0, v, 0, 6);
        System.arraycopy(b, 0, v, 6, 6);
        return v;
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT,
                "I-AUROC %.4f  I-AP %.4f  P-AUROC %.4f  P-AP %.4f  AU-PRO@0.3 %.4f  AU-PRO@0.01 %.4f  |  2025 reference: "
                        + "sampled AU-PRO@0.3 %.4f @0.1 %.4f @0.05 %.4f @0.01 %.4f  I-F1max %.4f  P-F1max %.4f",
                iAuroc, iAp, pAuroc, pAp, auPro30, auPro01, auProSampled30, auProSampled10, auProSampled05, auProSampled01,
                iF1Max, pF1Max);
    }
}
