package crd4j.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.backend.Backend;
import crd4j.data.MvtecDataset;
import crd4j.detect.AnomalyScoring;
import crd4j.detect.BranchMode;
import crd4j.data.SecondInput;
import crd4j.detect.Detector;
import crd4j.detect.MissingStrategy;
import crd4j.detect.ModelMetadata;
import crd4j.detect.NormalizationStats;
import crd4j.detect.Sample;
import crd4j.detect.Scorer;
import crd4j.eval.MetricSet;
import crd4j.eval.Metrics;
import crd4j.eval.ProCurve;
import crd4j.eval.RocCurve;
import crd4j.io.AtomicDirectory;
import crd4j.io.AtomicFiles;
import crd4j.io.Npy;
import crd4j.io.WeightsFormatException;
import crd4j.model.Modality;
import crd4j.model.ModelFiles;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * One category's test split scored by a {@link Detector} (§8.3) and evaluated (§9): what {@code crd eval} writes, as a
 * library call.
 *
 * <pre>{@code
 * Evaluation ev = Evaluation.run(Path.of("runs/bagel.crd4j"), backend, Path.of("mvtec3d"), "bagel", line -> {});
 * ev.metrics().get("fused").iAuroc();
 * ev.writeTo(Path.of("eval/bagel"), Evaluation.Outputs.DEFAULT);   // metrics.json + report.html, atomically
 * }</pre>
 *
 * <p>Detectors are keyed {@code "fused"}, {@code "rgb"} and the second modality's key ({@code "depth"} or
 * {@code "normals"}), in that order; each branch alone is the Gaussian of its normalised map (§8.3 item 4). Every
 * sample's three smoothed maps and its GT are kept (the pixel metrics pool them), 28 bytes per pixel per sample; the
 * report's panels re-read only the input images of the samples they show.
 */
public final class Evaluation {
    /** The three detectors' order in tables and plots; the third is the second modality's key. */
    public static final String FUSED = "fused", RGB = "rgb";

    /** Where the scores came from, for the report: the model file's name and its teacher source (metadata). */
    public record ModelInfo(String name, String teacher) {}

    /**
     * What {@link #writeTo} writes beside {@code metrics.json}: {@code maps/} and {@code gt/} ({@code saveMaps}),
     * {@code report.html} ({@code report}) with at most {@code reportSamples} sample panels.
     */
    public record Outputs(boolean saveMaps, boolean report, int reportSamples) {
        public static final int DEFAULT_REPORT_SAMPLES = 24;
        /** metrics.json and report.html with 24 panels. */
        public static final Outputs DEFAULT = new Outputs(false, true, DEFAULT_REPORT_SAMPLES);

        public Outputs {
            if (reportSamples < 0) throw new IllegalArgumentException("--report-samples: expected >= 0, found " + reportSamples);
        }
    }

    /**
     * One scored test sample: the max of the fused map, the max of each contributing branch's smoothed normalised map
     * (keyed by branch, with its mode in {@code modes}), and which modality was withheld from it.
     */
    public record Scored(MvtecDataset.Sample sample, double score, Map<String, Double> branchScores, Map<String, BranchMode> modes,
                         Withheld withheld) {
        public boolean defective() { return !sample.good(); }
    }

    /** Which modality a test sample was scored without (few-modal evaluation, §17.3). */
    public enum Withheld {
        NONE, RGB, SECOND;

        public String key(Modality second) {
            return switch (this) {
                case NONE -> "none";
                case RGB -> "rgb";
                case SECOND -> second.key();
            };
        }
    }

    /**
     * A few-modal evaluation setting: which modality each test sample (by index) is scored without, and the strategy
     * that stands in for it. {@link #COMPLETE}: every sample with both modalities.
     */
    public record Setting(String name, java.util.function.IntFunction<Withheld> withheld, MissingStrategy strategy) {
        public static final Setting COMPLETE = new Setting("both modalities", i -> Withheld.NONE, MissingStrategy.FILTER);
    }

    /** The numbers of one category for a several-category table. */
    public record Summary(String category, ModelInfo model, String preset, int good, int defective,
                          Map<String, MetricSet> metrics) {}

    private final String category;
    private final MvtecDataset dataset;
    private final ModelInfo model;
    private final String preset;
    private final int size;
    private final List<Scored> scored;
    /** Per detector ("fused", then each branch that contributed to every sample): the smoothed maps in sample order. */
    private final Map<String, List<double[]>> maps;
    private final List<int[]> gts;
    private final Map<String, MetricSet> metrics = new LinkedHashMap<>();
    private final Map<String, RocCurve> roc = new LinkedHashMap<>();
    private final Map<String, ProCurve> pro = new LinkedHashMap<>();
    /** Per detector: the lowest and highest value of its maps over the split (the report's colour scale). */
    private final Map<String, double[]> range = new LinkedHashMap<>();
    private final MissRanking ranking;
    /** metrics.json key → why that metric cannot be defined on this split (see {@link #undefinedMetrics()}). */
    private final Map<String, String> undefined;

    /**
     * The metrics this split cannot define, each with the reason, in metrics.json key order: without defective parts
     * (or without good parts) the image-level ranking metrics have one class only; without any anomalous GT pixel
     * (no defective part, or every GT mask empty) the pixel-level metrics and the AU-PROs have no positives (no
     * region to overlap); with every pixel anomalous they have no false positives to count. Such a metric is left
     * out — NaN in {@link #metrics()}, {@code null} in metrics.json with the reason under {@code "undefined"}, "n/a"
     * in the tables — never a number computed from a degenerate formula (AP −0.0, an AUROC of 0.5, an AU-PRO).
     * A choice where the issue let us choose: the defined metrics are still written and the command still succeeds,
     * with one warning line naming what was left out, because an all-good split is a legitimate check of false alarms.
     */
    public Map<String, String> undefinedMetrics() { return Collections.unmodifiableMap(undefined); }

    static Map<String, String> undefinedMetrics(List<Scored> scored, List<int[]> gts) {
        // the image label is the max of the GT map, as in the metrics themselves (a defective part with an empty mask
        // counts as good there)
        int pos = 0, neg = 0, defectFolders = 0;
        long ppos = 0, pneg = 0;
        for (int i = 0; i < gts.size(); i++) {
            boolean any = false;
            for (int v : gts.get(i)) {
                if (v > 0) {
                    ppos++;
                    any = true;
                } else {
                    pneg++;
                }
            }
            if (any) pos++;
            else neg++;
            if (scored.get(i).defective()) defectFolders++;
        }
        String noDefect = defectFolders == 0 ? "the test split has no defective parts"
                : "no ground-truth pixel is anomalous: every defective part's GT mask is empty";
        Map<String, String> out = new LinkedHashMap<>();
        if (pos == 0) {
            for (String k : List.of("i_auroc", "i_ap", "i_f1_max")) out.put(k, noDefect);
        } else if (neg == 0) {
            out.put("i_auroc", "the test split has no good parts");
        }
        List<String> pixel = List.of("p_auroc", "p_ap", "au_pro_0.3", "au_pro_0.01", "au_pro_sampled_0.3", "au_pro_sampled_0.1",
                "au_pro_sampled_0.05", "au_pro_sampled_0.01", "p_f1_max");
        if (ppos == 0) {
            for (String k : pixel) out.put(k, noDefect);
        } else if (pneg == 0) {
            for (String k : pixel) if (!k.equals("p_ap") && !k.equals("p_f1_max")) out.put(k, "every ground-truth pixel is anomalous (no normal pixel)");
        }
        return out;
    }

    private static MetricSet withoutUndefined(MetricSet m, java.util.Set<String> undefined) {
        if (undefined.isEmpty()) return m;
        double[] v = m.values();
        for (int k = 0; k < 6; k++) if (undefined.contains(MetricSet.PAPER_KEYS.get(k))) v[k] = Double.NaN;
        for (int k = 0; k < 6; k++) if (undefined.contains(MetricSet.TRD_KEYS.get(k))) v[6 + k] = Double.NaN;
        return MetricSet.of(v);
    }

    /** One line for the user: which metrics were left out and why, or null when all are defined. */
    public String undefinedLine() {
        if (undefined.isEmpty()) return null;
        Map<String, List<String>> byReason = new LinkedHashMap<>();
        undefined.forEach((k, why) -> byReason.computeIfAbsent(why, w -> new ArrayList<>()).add(header(k)));
        StringBuilder sb = new StringBuilder(category + ": left out, as they cannot be defined: ");
        boolean first = true;
        for (Map.Entry<String, List<String>> e : byReason.entrySet()) {
            sb.append(first ? "" : "; ").append(String.join(", ", e.getValue())).append(" (").append(e.getKey()).append(')');
            first = false;
        }
        return sb.toString();
    }

    private static String header(String key) {
        int i = MetricSet.PAPER_KEYS.indexOf(key);
        if (i >= 0) return MetricSet.PAPER_HEADERS.get(i);
        return MetricSet.TRD_HEADERS.get(MetricSet.TRD_KEYS.indexOf(key));
    }

    private Evaluation(String category, MvtecDataset dataset, ModelInfo model, String preset, int size, List<Scored> scored,
                       Map<String, List<double[]>> maps, List<int[]> gts) {
        this.category = category;
        this.dataset = dataset;
        this.model = model;
        this.preset = preset;
        this.size = size;
        this.scored = List.copyOf(scored);
        this.maps = maps;
        this.gts = gts;
        this.undefined = undefinedMetrics(scored, gts);
        for (Map.Entry<String, List<double[]>> e : maps.entrySet()) {
            Metrics.Curves c = Metrics.evaluateWithCurves(e.getValue(), gts, size, size);
            metrics.put(e.getKey(), withoutUndefined(c.metrics(), undefined.keySet()));
            roc.put(e.getKey(), c.imageRoc());
            pro.put(e.getKey(), Plots.thin(c.pro(), Metrics.PRO_LIMIT));   // the whole curve has a point per pixel
            double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
            for (double[] m : e.getValue()) {
                for (double v : m) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
            }
            range.put(e.getKey(), new double[]{lo, hi});
        }
        double[] s = new double[scored.size()];
        boolean[] d = new boolean[scored.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = scored.get(i).score();
            d[i] = scored.get(i).defective();
        }
        this.ranking = MissRanking.of(s, d);
    }

    /**
     * Loads {@code modelFile} (a crd4j model with validation statistics), scores every test sample of
     * {@code dataRoot/category} and evaluates. {@code progress} gets one line per sample.
     */
    public static Evaluation run(Path modelFile, Backend be, Path dataRoot, String category, Consumer<String> progress)
            throws IOException {
        return run(modelFile, be, dataRoot, category, SecondInput.Choice.MODEL, List.of(), progress);
    }

    /** The complete evaluation plus the few-modal {@code specs}, the second modality as the model file records. */
    public static Evaluation run(Path modelFile, Backend be, Path dataRoot, String category, List<FewModalEvaluation.Spec> specs,
                                 Consumer<String> progress) throws IOException {
        return run(modelFile, be, dataRoot, category, SecondInput.Choice.MODEL, specs, progress);
    }

    /**
     * As {@link #run(Path, Backend, Path, String, Consumer)}, plus the few-modal {@code specs} ({@link #runWithSettings};
     * none: the complete evaluation only). The test split's second modality is preprocessed as the model file records
     * ({@link SecondInput#ofModel}), which must agree with {@code asked} (the user's {@code --second}/{@code --sobel-k}),
     * and the category must hold those files. A single-modality Reverse Distillation model file is scored on complete
     * samples with its one modality.
     */
    public static Evaluation run(Path modelFile, Backend be, Path dataRoot, String category, SecondInput.Choice asked,
                                 List<FewModalEvaluation.Spec> specs, Consumer<String> progress) throws IOException {
        MvtecDataset ds = MvtecDataset.open(dataRoot, category);
        ds.samples("test");   // fails on a missing or empty test split before the (large) model is read
        crd4j.io.ModelFile.Contents contents = crd4j.io.ModelFile.read(modelFile);
        ModelMetadata meta = ModelMetadata.read(contents.meta(), modelFile);
        ModelInfo info = new ModelInfo(modelFile.getFileName().toString(), meta.teacher());
        if (!meta.crd()) {
            // the single-modality Reverse Distillation baseline: complete samples only
            if (!specs.isEmpty()) throw new IllegalArgumentException(modelFile + ": a single-modality model; --missing and --missing-rate need a CRD model");
            ModelFiles.LoadedReverseDistillation rd = ModelFiles.loadReverseDistillation(contents, modelFile, new NnContext(be, DType.FLOAT32, 0));
            String m = rd.model().modality();
            NormalizationStats.MeanStd st = meta.requireStats(modelFile).find(m, BranchMode.REAL);
            try (crd4j.detect.ReverseDistillationDetector det = new crd4j.detect.ReverseDistillationDetector(be, rd.model(), st)) {
                return run(det, info, ds, Setting.COMPLETE, progress);
            }
        }
        ModelFiles.Loaded l = ModelFiles.fromContents(contents.tensors(), contents.meta(), modelFile, new NnContext(be, DType.FLOAT32, 0));
        SecondInput input = meta.secondInput();
        asked.check(input, modelFile);
        ds = ds.with(input, "the model " + modelFile.getFileName());
        if (l.model().secondModality() != ds.modality()) {
            throw new WeightsFormatException(modelFile, "model's second modality is " + l.model().secondModality().key()
                    + " but " + ds.categoryDir() + " has " + ds.modality().key());
        }
        try (Detector det = Detector.of(l.model(), meta, meta.requireStats(modelFile), modelFile, be)) {
            return specs.isEmpty() ? run(det, info, ds, progress) : runWithSettings(det, info, ds, specs, progress);
        }
    }

    /**
     * Scores every test sample of {@code ds} with {@code det} (at the model's input side S) and evaluates. {@code ds}
     * must preprocess the second modality as the model was trained: open it with
     * {@code MvtecDataset.open(root, category).with(SecondInput.ofModel(meta, modelFile), ...)}; only the branch
     * (depth or normals) can be checked here.
     */
    public static Evaluation run(Detector det, ModelInfo model, MvtecDataset ds, Consumer<String> progress) throws IOException {
        return run(det, model, ds, Setting.COMPLETE, progress);
    }

    /**
     * Scores every test sample of {@code ds} in {@code setting} (some samples may be scored without one modality)
     * and evaluates. Detectors: "fused", then each branch whose map exists for every sample.
     */
    public static Evaluation run(Scorer det, ModelInfo model, MvtecDataset ds, Setting setting, Consumer<String> progress)
            throws IOException {
        checkData(det, model, ds);
        return run(new ScoredSplit(det, ds), model, setting, progress);
    }

    /**
     * The complete evaluation of {@code ds} (both modalities) plus every few-modal setting of {@code specs}
     * ({@link FewModalEvaluation}), each test sample scored once per (withheld modality, strategy). The settings go to
     * {@link #settings()}, metrics.json ({@code "settings"}), the report and, with {@code saveMaps}, to
     * {@code settings/<setting>/[seed-<k>/]maps/…}.
     */
    public static Evaluation runWithSettings(Scorer det, ModelInfo model, MvtecDataset ds, List<FewModalEvaluation.Spec> specs,
                                             Consumer<String> progress) throws IOException {
        checkData(det, model, ds);
        for (FewModalEvaluation.Spec spec : specs) {   // every setting's needs, before anything is scored
            boolean rgbMissing = spec.type() == null ? spec.withheld() == Withheld.RGB : spec.type() != MissingMask.Type.SECOND;
            boolean secondMissing = spec.type() == null ? spec.withheld() == Withheld.SECOND : spec.type() != MissingMask.Type.RGB;
            if (rgbMissing) det.checkCanServe(false, true, spec.strategy());
            if (secondMissing) det.checkCanServe(true, false, spec.strategy());
        }
        ScoredSplit split = new ScoredSplit(det, ds);
        Evaluation complete = run(split, model, Setting.COMPLETE, progress);
        complete.settings = FewModalEvaluation.run(split, model, specs, progress, (spec, seed, ev) ->
                complete.settingEvaluations.put(slug(spec) + (seed == null ? "" : "/seed-" + seed), ev));
        return complete;
    }

    private static String slug(FewModalEvaluation.Spec s) {
        String what = s.type() == null ? s.withheld().name().toLowerCase(Locale.ROOT) : s.type().key();
        return "missing-" + what + (s.type() == null ? "" : "-" + Math.round(100 * s.rate())) + "-" + s.strategy().key();
    }

    private List<FewModalEvaluation.Result> settings = List.of();
    /** Each (setting, seed) evaluation by its output folder below settings/ (for --save-maps). */
    private final Map<String, Evaluation> settingEvaluations = new LinkedHashMap<>();

    /** The few-modal settings evaluated with {@link #runWithSettings}; empty otherwise. */
    public List<FewModalEvaluation.Result> settings() { return settings; }

    private static void checkData(Scorer det, ModelInfo model, MvtecDataset ds) {
        if (det.secondModality() != null && det.secondModality() != ds.modality()) {
            throw new IllegalArgumentException(ds.categoryDir() + ": has " + ds.modality().key() + " data but the model ("
                    + model.name() + ") expects " + det.secondModality().key());
        }
    }

    /** {@link #run(Detector, ModelInfo, MvtecDataset, Setting, Consumer)} on a split whose results may be reused. */
    static Evaluation run(ScoredSplit split, ModelInfo model, Setting setting, Consumer<String> progress) throws IOException {
        Scorer det = split.detector();
        List<MvtecDataset.Sample> test = split.samples();
        List<Scored> scored = new ArrayList<>();
        Map<String, List<double[]>> maps = new LinkedHashMap<>();
        maps.put(FUSED, new ArrayList<>());
        for (String b : det.branchKeys()) maps.put(b, new ArrayList<>());
        List<int[]> gts = new ArrayList<>();
        for (int i = 0; i < test.size(); i++) {
            MvtecDataset.Sample smp = test.get(i);
            Withheld w = setting.withheld().apply(i);
            Detector.Result r = split.score(i, w, setting.strategy());
            Map<String, Double> bs = new LinkedHashMap<>();
            Map<String, BranchMode> modes = new LinkedHashMap<>();
            for (AnomalyScoring.BranchScore b : r.branches()) {
                bs.put(b.branch(), b.score());
                modes.put(b.branch(), b.mode());
            }
            scored.add(new Scored(smp, r.score(), Collections.unmodifiableMap(bs), Collections.unmodifiableMap(modes), w));
            maps.get(FUSED).add(r.map());
            for (String b : det.branchKeys()) {
                AnomalyScoring.BranchScore bsc = r.branch(b);
                if (bsc != null) maps.get(b).add(bsc.map());
            }
            gts.add(split.gt(i));
            progress.accept(String.format(Locale.ROOT, "%d/%d %s/%s score %.4f", i + 1, test.size(), smp.defect(), smp.stem(), r.score()));
        }
        // a branch evaluated alone only where it contributed to every sample (not under drop/zero with a missing modality)
        maps.values().removeIf(l -> l.size() != test.size());
        MvtecDataset ds = split.dataset();
        String category = ds.categoryDir().getFileName().toString();
        Evaluation ev = new Evaluation(category, ds, model, det.presetName(), split.size(), scored, maps, gts);
        if (det instanceof Detector d) ev.decisionThresholds = d.thresholds();
        return ev;
    }

    // ------------------------------------------------------------------------------------------------ results

    public String category() { return category; }

    public MvtecDataset dataset() { return dataset; }

    public Modality modality() { return dataset.modality(); }

    public ModelInfo model() { return model; }

    public String preset() { return preset; }

    /** The model's input side S: the side of every map and GT. */
    public int size() { return size; }

    /** The test samples in dataset order (defect folder, then stem). */
    public List<Scored> samples() { return scored; }

    /** §9 metrics keyed fused, rgb, second modality. */
    public Map<String, MetricSet> metrics() { return Collections.unmodifiableMap(metrics); }

    /** Image-level ROC curves, keyed like {@link #metrics}. */
    public Map<String, RocCurve> imageRoc() { return Collections.unmodifiableMap(roc); }

    /** PRO curves up to FPR 0.3, thinned for drawing (the AU-PRO values come from the whole curves). */
    public Map<String, ProCurve> proCurves() { return Collections.unmodifiableMap(pro); }

    /** The fused, Gaussian-smoothed map of sample {@code i}, row-major S×S (not a copy). */
    public double[] fusedMap(int i) { return maps.get(FUSED).get(i); }

    /** The detectors evaluated: "fused", then each branch evaluated alone. */
    public List<String> detectors() { return List.copyOf(maps.keySet()); }

    /** The smoothed map of {@code detector} ("fused" or a branch) for sample {@code i} (not a copy). */
    public double[] map(String detector, int i) { return maps.get(detector).get(i); }

    /** The binarised GT of sample {@code i} (0/1, S×S). */
    public int[] gt(int i) { return gts.get(i); }

    /** The panel order of the report (see {@link MissRanking}). */
    public MissRanking ranking() { return ranking; }

    /** The decision thresholds stored in the model that scored this split; null when it has none. */
    public crd4j.detect.Thresholds decisionThresholds() { return decisionThresholds; }

    private crd4j.detect.Thresholds decisionThresholds;

    /** {@code [lo, hi]} of a detector's maps over the split: the report's colour scale for that detector. */
    double[] range(String detector) { return range.get(detector).clone(); }

    public Summary summary() {
        int defective = 0;
        for (Scored s : scored) if (s.defective()) defective++;
        return new Summary(category, model, preset, scored.size() - defective, defective, metrics());
    }

    // ------------------------------------------------------------------------------------------------ outputs

    /**
     * The metrics.json node of one detector: twelve fractions under their documented keys, the paper's six
     * ({@link MetricSet#PAPER_KEYS}) then the 2025 reference's ({@link MetricSet#TRD_KEYS}: {@code au_pro_sampled_*} is
     * the threshold-sampled AU-PRO, not the exact {@code au_pro_*}). A value that is not a finite number (a metric the
     * split cannot define, {@link #undefinedMetrics()}) is {@code null}: JSON has no NaN, and a {@code "NaN"} string
     * would compare as a number in no reader.
     */
    public static ObjectNode metricsNode(ObjectNode n, MetricSet m) {
        double[] p = m.paperValues(), t = m.trdValues();
        for (int k = 0; k < p.length; k++) putFinite(n, MetricSet.PAPER_KEYS.get(k), p[k]);
        for (int k = 0; k < t.length; k++) putFinite(n, MetricSet.TRD_KEYS.get(k), t[k]);
        return n;
    }

    /** {@code n.put(key, v)}, or {@code null} when v is NaN or infinite; −0.0 is written as 0.0. */
    public static void putFinite(ObjectNode n, String key, double v) {
        if (Double.isFinite(v)) n.put(key, v == 0 ? 0.0 : v);
        else n.putNull(key);
    }

    /** {@code {"fused": {...}, "rgb": {...}, "<second>": {...}}}, pretty-printed UTF-8. */
    public byte[] metricsJson() {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        for (Map.Entry<String, MetricSet> e : metrics.entrySet()) metricsNode(root.putObject(e.getKey()), e.getValue());
        if (!undefined.isEmpty()) {
            ObjectNode u = root.putObject("undefined");   // why each null above is null
            undefined.forEach(u::put);
        }
        if (!settings.isEmpty()) {
            // few-modal evaluations add the settings and, for the complete one, the per-defect-type image AUROC
            ObjectNode pd = root.putObject("per_defect_i_auroc");
            perDefectIAuroc().forEach((det, row) -> {
                ObjectNode d = pd.putObject(det);
                row.forEach((defect, v) -> { if (Double.isNaN(v)) d.putNull(defect); else d.put(defect, v); });
            });
            FewModalEvaluation.json(root.putArray("settings"), settings, modality());
        }
        try {
            return json.writerWithDefaultPrettyPrinter().writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Image-level AUROC of each detector on the good test parts against each defect type's parts alone (a colour stain
     * is visible in RGB only, a dent in 3D only: §17.3's diagnostic of each modality's blind spot); NaN where a
     * defect type or the good parts are absent.
     */
    public Map<String, Map<String, Double>> perDefectIAuroc() {
        Map<String, Map<String, Double>> out = new LinkedHashMap<>();
        java.util.TreeSet<String> defects = new java.util.TreeSet<>();
        for (Scored s : scored) if (s.defective()) defects.add(s.sample().defect());
        for (String det : maps.keySet()) {
            Map<String, Double> row = new LinkedHashMap<>();
            for (String defect : defects) {
                List<Double> sc = new ArrayList<>();
                List<Integer> lab = new ArrayList<>();
                for (Scored s : scored) {
                    if (s.defective() && !s.sample().defect().equals(defect)) continue;
                    sc.add(det.equals(FUSED) ? s.score() : s.branchScores().get(det));
                    lab.add(s.defective() ? 1 : 0);
                }
                boolean both = lab.contains(0) && lab.contains(1);
                row.put(defect, both ? Metrics.rocAuc(sc.stream().mapToDouble(Double::doubleValue).toArray(),
                        lab.stream().mapToInt(Integer::intValue).toArray()) : Double.NaN);
            }
            out.put(det, row);
        }
        return out;
    }

    /** The few-modal settings' text table (fused detector), or "" when there are none. */
    public String settingsTable() { return settings.isEmpty() ? "" : FewModalEvaluation.table(settings); }

    /**
     * The metrics as the fixed-width text table {@code crd eval} prints (fractions, 4 decimals): the paper's six, then
     * a second block with the six the 2025 reference prints, so the two AU-PRO definitions are not read as one.
     */
    public String table() {
        StringBuilder sb = new StringBuilder();
        tableBlock(sb, MetricSet.PAPER_HEADERS, false);
        sb.append(MetricSet.TRD_LEGEND_SHORT).append('\n');
        tableBlock(sb, MetricSet.TRD_HEADERS, true);
        return sb.toString();
    }

    private void tableBlock(StringBuilder sb, List<String> headers, boolean trd) {
        sb.append(String.format(Locale.ROOT, "%-8s", "detector"));
        for (String h : headers) sb.append(String.format(Locale.ROOT, " %" + Math.max(8, h.length()) + "s", h));
        sb.append('\n');
        for (Map.Entry<String, MetricSet> e : metrics.entrySet()) {
            double[] v = trd ? e.getValue().trdValues() : e.getValue().paperValues();
            sb.append(String.format(Locale.ROOT, "%-8s", e.getKey()));
            for (int k = 0; k < v.length; k++) {
                int w = Math.max(8, headers.get(k).length());
                sb.append(Double.isFinite(v[k]) ? String.format(Locale.ROOT, " %" + w + ".4f", v[k])
                        : String.format(Locale.ROOT, " %" + w + "s", "n/a"));
            }
            sb.append('\n');
        }
    }

    /** The self-contained HTML report (see {@link CategoryReport}); re-reads the inputs of the samples it shows. */
    public String reportHtml(int maxPanels) throws IOException {
        return CategoryReport.html(this, maxPanels);
    }

    /**
     * The output files, path relative to the output directory → writer: {@code metrics.json}, then
     * {@code report.html}, then {@code maps/<defect>/<stem>.npy} (fused smoothed map, float64 [S,S]) and
     * {@code gt/<defect>/<stem>.npy} (binarised GT, float32 [S,S] of 0/1). Writers run when called, so the report
     * is rendered while the file is written.
     */
    public Map<String, AtomicDirectory.FileWriter> files(Outputs o) {
        Map<String, AtomicDirectory.FileWriter> files = new LinkedHashMap<>();
        byte[] json = metricsJson();
        files.put("metrics.json", f -> AtomicFiles.write(f, json));
        if (o.report()) {
            files.put("report.html", f -> AtomicFiles.write(f, reportHtml(o.reportSamples()).getBytes(StandardCharsets.UTF_8)));
        }
        if (o.saveMaps()) {
            settingEvaluations.forEach((dir, ev) -> ev.mapFiles("settings/" + dir + "/", files));
            mapFiles("", files);
        }
        return files;
    }

    /** {@code <prefix>maps/<defect>/<stem>.npy} (fused smoothed map) and {@code <prefix>gt/…} (binarised GT) of every sample. */
    private void mapFiles(String prefix, Map<String, AtomicDirectory.FileWriter> files) {
        for (int i = 0; i < scored.size(); i++) {
            MvtecDataset.Sample smp = scored.get(i).sample();
            String rel = smp.defect() + "/" + smp.stem() + ".npy";
            double[] map = fusedMap(i);
            int[] g = gts.get(i);
            files.put(prefix + "maps/" + rel, f -> Npy.write(f, HostTensor.of(map, size, size)));
            files.put(prefix + "gt/" + rel, f -> {
                float[] gf = new float[g.length];
                for (int k = 0; k < g.length; k++) gf[k] = g[k];
                Npy.write(f, HostTensor.of(gf, size, size));
            });
        }
    }

    /**
     * Every top-level name an evaluation writes into its output directory (one category, or several with
     * {@code summary.md} and the category folders): a rerun into the same directory replaces them and removes those it
     * does not write this time ({@link AtomicDirectory#commit(java.util.Set)}).
     */
    public static final java.util.Set<String> OUTPUTS = java.util.Set.of("metrics.json", "report.html", "summary.md", "maps", "gt", "settings");

    /** Writes {@link #files} into {@code out}, all or nothing ({@link AtomicDirectory}), leaving no stale output. */
    public void writeTo(Path out, Outputs o) throws IOException {
        AtomicDirectory.write(out, files(o), OUTPUTS);
    }

    /** Writes {@link #files} below {@code prefix/} of a staged directory (one category of several). */
    public void writeTo(AtomicDirectory out, String prefix, Outputs o) throws IOException {
        for (Map.Entry<String, AtomicDirectory.FileWriter> e : files(o).entrySet()) out.put(prefix + "/" + e.getKey(), e.getValue());
    }
}
