package crd4j.report;

import crd4j.data.Image8;
import crd4j.data.ImageInputs;
import crd4j.data.MvtecDataset;
import crd4j.eval.MetricSet;
import crd4j.eval.Metrics;
import crd4j.eval.ProCurve;
import crd4j.eval.RocCurve;
import crd4j.model.Modality;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code report.html} of one category: a single self-contained file (PNG images as base64 data URIs, inline CSS, no
 * script, nothing fetched) with the model and data, the §9 metrics table, the image-level ROC and PRO charts, and
 * one panel per sample, worst misses first ({@link MissRanking}), capped at {@code maxPanels}.
 *
 * <p>A panel is a row of six S×S PNGs: the RGB input (ImageNet normalisation undone), the second-modality input
 * (depth: channel 0 min–max scaled to grey; normals: the normals image, normalisation undone), the RGB branch map,
 * the second branch map, the fused map, and the fused map blended 50/50 over the RGB with the GT boundary in magenta.
 * Each detector's maps are drawn on one colour scale shared by all panels, from the lowest to the highest value of
 * that detector's maps over the whole test split, so panels compare with each other. The body holds no timestamp:
 * the same evaluation gives the same bytes.
 */
final class CategoryReport {
    /** Images per panel (in the order above). */
    static final int PANEL_IMAGES = 6;

    private CategoryReport() {}

    static String html(Evaluation ev, int maxPanels) throws IOException {
        String second = ev.modality().key();
        List<String> dets = new ArrayList<>(ev.metrics().keySet());
        StringBuilder sb = new StringBuilder(1 << 16);
        Html.head(sb, "crd eval: " + ev.category());
        sb.append("<h1>CRD evaluation: ").append(Html.escape(ev.category())).append("</h1>\n");

        List<Evaluation.Scored> samples = ev.samples();
        int good = 0;
        Map<String, Integer> perDefect = new TreeMap<>();
        for (Evaluation.Scored s : samples) {
            if (s.defective()) perDefect.merge(s.sample().defect(), 1, Integer::sum); else good++;
        }
        StringBuilder defects = new StringBuilder();
        for (Map.Entry<String, Integer> e : perDefect.entrySet()) {
            defects.append(defects.length() == 0 ? "" : ", ").append(e.getKey()).append(' ').append(e.getValue());
        }
        Map<String, String> info = new LinkedHashMap<>();
        info.put("category", ev.category());
        info.put("model", ev.model().name());
        info.put("teacher", ev.model().teacher());
        info.put("preset", ev.preset() + " (input " + ev.size() + "×" + ev.size() + ")");
        crd4j.data.SecondInput in = ev.dataset().secondInput();
        info.put("second modality", in.kind().key().equals(second) ? second : second + " branch, fed " + in.describe());
        info.put("test samples", samples.size() + ": " + good + " good, " + (samples.size() - good) + " defective"
                + (defects.length() == 0 ? "" : " (" + defects + ")"));
        Html.info(sb, info);

        sb.append("<h2>Metrics</h2>\n<table class=\"metrics\">\n");
        Html.header(sb, "detector");
        for (String d : dets) Html.row(sb, d.equals(Evaluation.FUSED) ? "fused" : null, Html.escape(d), ev.metrics().get(d));
        sb.append("</table>\n<p>Percentages with one decimal, as in the paper; each cell's title (hover) is the fraction, "
                + "and metrics.json has all of them. fused = the CRD detector (sum of the normalised branch maps, "
                + "Gaussian σ = 4); rgb and ").append(Html.escape(second)).append(" = each branch's normalised map alone, "
                + "smoothed the same way. Image scores are map maxima.</p>\n");
        Html.legend(sb);
        decision(sb, ev);

        if (!ev.settings().isEmpty()) FewModalEvaluation.html(sb, ev.settings());

        sb.append("<h2>Curves</h2>\n");
        List<RocCurve> rocs = new ArrayList<>();
        List<ProCurve> pros = new ArrayList<>();
        List<Double> aurocs = new ArrayList<>(), aupros = new ArrayList<>();
        StringBuilder rocCaption = new StringBuilder(), proCaption = new StringBuilder();
        for (String d : dets) {
            MetricSet m = ev.metrics().get(d);
            rocs.add(ev.imageRoc().get(d));
            pros.add(ev.proCurves().get(d));
            aurocs.add(m.iAuroc());
            aupros.add(m.auPro30());
            rocCaption.append(rocCaption.length() == 0 ? "" : ", ").append(Html.escape(d)).append(' ').append(Html.percent(m.iAuroc()));
            proCaption.append(proCaption.length() == 0 ? "" : ", ").append(Html.escape(d)).append(' ').append(Html.percent(m.auPro30()));
        }
        figure(sb, Plots.roc(dets, rocs, aurocs), "image-level ROC",
                "Image-level ROC (score = max of the map). AUROC: " + rocCaption + ".");
        figure(sb, Plots.pro(dets, pros, aupros, Metrics.PRO_LIMIT), "PRO curve",
                "Per-region overlap against the pixel false positive rate, up to 0.3. AU-PRO@0.3 (area / 0.3): " + proCaption + ".");

        panels(sb, ev, dets, maxPanels);
        sb.append("</body>\n</html>\n");
        return sb.toString();
    }

    /**
     * What the model's stored decision does on this split: parts rejected per class, and pixels flagged (fused map at
     * or above the pixel threshold) among defect and normal pixels. These thresholds came with the model (training's
     * validation rule or crd calibrate), unlike the ranking threshold of the sample panels, fitted on this split.
     */
    private static void decision(StringBuilder sb, Evaluation ev) {
        sb.append("<h2>Decision</h2>\n");
        crd4j.detect.Thresholds t = ev.decisionThresholds();
        if (t == null) {
            sb.append("<p id=\"decision\">The model file holds no decision thresholds: run crd calibrate to choose them.</p>\n");
            return;
        }
        int rejDef = 0, def = 0, rejGood = 0, good = 0;
        long defPx = 0, defFlag = 0, normPx = 0, normFlag = 0;
        List<Evaluation.Scored> samples = ev.samples();
        for (int i = 0; i < samples.size(); i++) {
            boolean rejected = samples.get(i).score() >= t.image();
            if (samples.get(i).defective()) {
                def++;
                if (rejected) rejDef++;
            } else {
                good++;
                if (rejected) rejGood++;
            }
            double[] m = ev.fusedMap(i);
            int[] g = ev.gt(i);
            for (int p = 0; p < m.length; p++) {
                boolean flagged = m[p] >= t.pixel();
                if (g[p] != 0) {
                    defPx++;
                    if (flagged) defFlag++;
                } else {
                    normPx++;
                    if (flagged) normFlag++;
                }
            }
        }
        sb.append(String.format(Locale.ROOT, "<p id=\"decision\">The model's stored thresholds (rule %s, chosen on %d parts): image %.6g, "
                        + "pixel %.6g. On this test split they reject %d of %d defective parts and %d of %d good parts; the defect mask "
                        + "(fused map at or above the pixel threshold) covers %s of the defect pixels and %s of the normal pixels. "
                        + "(The threshold that orders the sample panels below is fitted on this split, for the ordering only.)</p>%n",
                Html.escape(t.rule()), t.parts(), t.image(), t.pixel(), rejDef, def, rejGood, good,
                defPx == 0 ? "none (no defect pixels)" : Html.percent((double) defFlag / defPx),
                normPx == 0 ? "none" : Html.percent((double) normFlag / normPx)));
    }

    private static void panels(StringBuilder sb, Evaluation ev, List<String> dets, int maxPanels) throws IOException {
        MissRanking r = ev.ranking();
        List<Evaluation.Scored> samples = ev.samples();
        int n = samples.size(), shown = Math.min(n, maxPanels);
        int defective = 0;
        for (Evaluation.Scored s : samples) if (s.defective()) defective++;
        sb.append("<h2>Samples, worst misses first</h2>\n<p id=\"rule\">Order: a threshold t on the fused image score is "
                + "put halfway between two consecutive distinct scores where it maximises Youden's J = TPR − FPR (flagged "
                + "means score &gt; t; ties keep the higher t). Each sample's margin is how far it lies on the wrong side "
                + "of t (t − score for a defective sample, score − t for a good one); panels are sorted by margin, largest "
                + "first, ties in dataset order. So missed defects with the lowest scores and good samples with the "
                + "highest scores come first, then the correct decisions closest to t.</p>\n");
        sb.append(String.format(Locale.ROOT, "<p id=\"threshold\">t = %.6g (J = %.3f): %d of %d defective samples missed, "
                + "%d of %d good samples flagged.</p>%n", r.threshold(), r.youdenJ(), r.misses(), defective, r.falseAlarms(), n - defective));
        sb.append("<p id=\"scales\">Colour scales (viridis, one per detector, shared by all panels: the lowest to the highest "
                + "value of that detector's maps over the whole test split): ");
        for (int k = 0; k < dets.size(); k++) {
            double[] lr = ev.range(dets.get(k));
            sb.append(k == 0 ? "" : "; ").append(Html.escape(dets.get(k))).append(String.format(Locale.ROOT, " %.3g ", lr[0]))
                    .append("<span class=\"bar\" style=\"background: ").append(Pictures.cssGradient()).append("\"></span>")
                    .append(String.format(Locale.ROOT, " %.3g", lr[1]));
        }
        sb.append(". GT boundary in magenta.</p>\n");
        sb.append(String.format(Locale.ROOT, "<p id=\"shown\">Showing %d of %d test samples; %d left out (those furthest on "
                + "the correct side of t).</p>%n", shown, n, n - shown));

        int s = ev.size();
        String second = ev.modality().key();
        List<String> branches = ev.detectors().subList(1, ev.detectors().size());
        double[] fusedRange = ev.range(Evaluation.FUSED);
        for (int rank = 0; rank < shown; rank++) {
            int i = r.order()[rank];
            Evaluation.Scored sc = samples.get(i);
            MvtecDataset.Sample smp = sc.sample();
            double margin = r.margin()[i];
            // only the shown samples' inputs are read again, one at a time
            MvtecDataset.Inputs in = ev.dataset().load(smp, s);
            Image8 rgb = ImageInputs.denormalize(in.rgb());
            BufferedImage secondImage = ev.modality() == Modality.DEPTH
                    ? Pictures.grey(in.second().toFloat32().floats(), 0, s, s)
                    : Pictures.rgb(ImageInputs.denormalize(in.second()));
            String verdict = sc.defective()
                    ? (margin >= 0 ? "<span class=\"wrong\">missed</span>, " + fmt(margin) + " below t" : "found, " + fmt(-margin) + " above t")
                    : (margin > 0 ? "<span class=\"wrong\">false alarm</span>, " + fmt(margin) + " above t" : "passed, " + fmt(-margin) + " below t");
            sb.append("<div class=\"panel\" data-rank=\"").append(rank + 1).append("\" data-sample=\"")
                    .append(Html.escape(smp.defect() + "/" + smp.stem())).append("\" data-score=\"").append(sc.score())
                    .append("\" data-margin=\"").append(margin).append("\">\n<h3>").append(rank + 1).append(". ")
                    .append(Html.escape(smp.defect() + "/" + smp.stem())).append(String.format(Locale.ROOT, " — fused %.4f", sc.score()));
            StringBuilder parts = new StringBuilder();
            sc.branchScores().forEach((b, v) -> parts.append(parts.length() == 0 ? "" : ", ").append(Html.escape(b))
                    .append(sc.modes().get(b) == crd4j.detect.BranchMode.REAL ? "" : " (" + sc.modes().get(b).key() + ")")
                    .append(String.format(Locale.ROOT, " %.4f", v)));
            sb.append(" (").append(parts).append(")");
            if (sc.withheld() != Evaluation.Withheld.NONE) sb.append(", scored without ").append(Html.escape(sc.withheld().key(ev.modality())));
            sb.append(": ").append(verdict).append("</h3>\n");
            panelImage(sb, Pictures.rgb(rgb), "RGB");
            panelImage(sb, secondImage, second);
            for (String b : branches) {
                double[] range = ev.range(b);
                panelImage(sb, Pictures.map(ev.map(b, i), s, range[0], range[1]), Html.escape(b) + " map");
            }
            panelImage(sb, Pictures.map(ev.fusedMap(i), s, fusedRange[0], fusedRange[1]), "fused map");
            panelImage(sb, Pictures.overlay(rgb, ev.fusedMap(i), ev.gt(i), s, fusedRange[0], fusedRange[1]), "fused over RGB, GT outline");
            sb.append("</div>\n");
        }
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.4f", v);
    }

    private static void figure(StringBuilder sb, BufferedImage im, String alt, String caption) throws IOException {
        sb.append("<figure><img src=\"").append(Pictures.dataUri(im)).append("\" alt=\"").append(Html.escape(alt))
                .append("\" width=\"").append(im.getWidth()).append("\" height=\"").append(im.getHeight())
                .append("\"><figcaption>").append(caption).append("</figcaption></figure>\n");
    }

    private static void panelImage(StringBuilder sb, BufferedImage im, String captionHtml) throws IOException {
        sb.append("<figure><img src=\"").append(Pictures.dataUri(im)).append("\" alt=\"").append(captionHtml)
                .append("\"><figcaption>").append(captionHtml).append("</figcaption></figure>\n");
    }
}
