package crd4j.eval;

/**
 * The six per-class numbers of spec §9: image-level AUROC and AP (scores = max of each map, labels = max of each GT
 * map), pixel-level AUROC and AP over all pooled pixels, and AU-PRO integrated up to FPR 0.3 and 0.01 (normalised by
 * the limit).
 */
public record MetricSet(double iAuroc, double iAp, double pAuroc, double pAp, double auPro30, double auPro01) {
    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT,
                "I-AUROC %.4f  I-AP %.4f  P-AUROC %.4f  P-AP %.4f  AU-PRO@0.3 %.4f  AU-PRO@0.01 %.4f",
                iAuroc, iAp, pAuroc, pAp, auPro30, auPro01);
    }
}
