package crd4j.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.backend.Backend;
import crd4j.data.MvtecDataset;
import crd4j.data.SecondInput;
import crd4j.detect.Detector;
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

    /** One scored test sample: the max of the fused map, and of each branch's smoothed normalised map. */
    public record Scored(MvtecDataset.Sample sample, double score, double rgbScore, double otherScore) {
        public boolean defective() { return !sample.good(); }
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
    private final List<double[]> fused, rgb, other;
    private final List<int[]> gts;
    private final Map<String, MetricSet> metrics = new LinkedHashMap<>();
    private final Map<String, RocCurve> roc = new LinkedHashMap<>();
    private final Map<String, ProCurve> pro = new LinkedHashMap<>();
    /** Per detector: the lowest and highest value of its maps over the split (the report's colour scale). */
    private final Map<String, double[]> range = new LinkedHashMap<>();
    private final MissRanking ranking;

    private Evaluation(String category, MvtecDataset dataset, ModelInfo model, String preset, int size, List<Scored> scored,
                       List<double[]> fused, List<double[]> rgb, List<double[]> other, List<int[]> gts) {
        this.category = category;
        this.dataset = dataset;
        this.model = model;
        this.preset = preset;
        this.size = size;
        this.scored = List.copyOf(scored);
        this.fused = fused;
        this.rgb = rgb;
        this.other = other;
        this.gts = gts;
        String second = dataset.modality().key();
        Map<String, List<double[]>> maps = new LinkedHashMap<>();
        maps.put(FUSED, fused);
        maps.put(RGB, rgb);
        maps.put(second, other);
        for (Map.Entry<String, List<double[]>> e : maps.entrySet()) {
            Metrics.Curves c = Metrics.evaluateWithCurves(e.getValue(), gts, size, size);
            metrics.put(e.getKey(), c.metrics());
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
        return run(modelFile, be, dataRoot, category, SecondInput.Choice.MODEL, progress);
    }

    /**
     * As {@link #run(Path, Backend, Path, String, Consumer)}; the test split's second modality is preprocessed as the
     * model file records ({@link SecondInput#ofModel}), which must agree with {@code asked} (the user's
     * {@code --second}/{@code --sobel-k}), and the category must hold those files.
     */
    public static Evaluation run(Path modelFile, Backend be, Path dataRoot, String category, SecondInput.Choice asked,
                                 Consumer<String> progress) throws IOException {
        MvtecDataset ds = MvtecDataset.open(dataRoot, category);
        ds.samples("test");   // fails on a missing or empty test split before the (large) model is read
        ModelFiles.Loaded l = ModelFiles.load(modelFile, new NnContext(be, DType.FLOAT32, 0));
        SecondInput input = SecondInput.ofModel(l.meta(), modelFile);
        asked.check(input, modelFile);
        ds = ds.with(input, "the model " + modelFile.getFileName());
        if (l.model().secondModality() != ds.modality()) {
            throw new WeightsFormatException(modelFile, "model's second modality is " + l.model().secondModality().key()
                    + " but " + ds.categoryDir() + " has " + ds.modality().key());
        }
        try (Detector det = Detector.of(l, modelFile, be)) {
            return run(det, new ModelInfo(modelFile.getFileName().toString(), l.meta().path("teacher").asText("unknown")),
                    ds, progress);
        }
    }

    /**
     * Scores every test sample of {@code ds} with {@code det} (at the model's input side S) and evaluates. {@code ds}
     * must preprocess the second modality as the model was trained: open it with
     * {@code MvtecDataset.open(root, category).with(SecondInput.ofModel(meta, modelFile), ...)}; only the branch
     * (depth or normals) can be checked here.
     */
    public static Evaluation run(Detector det, ModelInfo model, MvtecDataset ds, Consumer<String> progress) throws IOException {
        Modality second = det.model().secondModality();
        if (second != ds.modality()) {
            throw new IllegalArgumentException(ds.categoryDir() + ": has " + ds.modality().key() + " data but the model ("
                    + model.name() + ") expects " + second.key());
        }
        List<MvtecDataset.Sample> test = ds.samples("test");
        int s = det.model().preset().size();
        List<Scored> scored = new ArrayList<>();
        List<double[]> fused = new ArrayList<>(), rgb = new ArrayList<>(), other = new ArrayList<>();
        List<int[]> gts = new ArrayList<>();
        for (int i = 0; i < test.size(); i++) {
            MvtecDataset.Sample smp = test.get(i);
            MvtecDataset.Inputs in = ds.load(smp, s);
            Detector.Result r = det.score(in.rgb(), in.second());
            scored.add(new Scored(smp, r.score(), r.rgbScore(), r.otherScore()));
            fused.add(r.map());
            rgb.add(r.rgbMap());
            other.add(r.otherMap());
            gts.add(binary(in.gt()));
            progress.accept(String.format(Locale.ROOT, "%d/%d %s/%s score %.4f", i + 1, test.size(), smp.defect(), smp.stem(), r.score()));
        }
        String category = ds.categoryDir().getFileName().toString();
        return new Evaluation(category, ds, model, det.model().preset().name(), s, scored, fused, rgb, other, gts);
    }

    private static int[] binary(HostTensor gt) {
        float[] g = gt.floats();
        int[] gi = new int[g.length];
        for (int k = 0; k < g.length; k++) gi[k] = g[k] > 0.5f ? 1 : 0;
        return gi;
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
    public double[] fusedMap(int i) { return fused.get(i); }

    /** The smoothed normalised RGB map of sample {@code i}. */
    public double[] rgbMap(int i) { return rgb.get(i); }

    /** The smoothed normalised second-modality map of sample {@code i}. */
    public double[] otherMap(int i) { return other.get(i); }

    /** The binarised GT of sample {@code i} (0/1, S×S). */
    public int[] gt(int i) { return gts.get(i); }

    /** The panel order of the report (see {@link MissRanking}). */
    public MissRanking ranking() { return ranking; }

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
     * the threshold-sampled AU-PRO, not the exact {@code au_pro_*}). An undefined value (e.g. no GT region) is NaN, which
     * Jackson writes as the string {@code "NaN"}.
     */
    public static ObjectNode metricsNode(ObjectNode n, MetricSet m) {
        double[] p = m.paperValues(), t = m.trdValues();
        for (int k = 0; k < p.length; k++) n.put(MetricSet.PAPER_KEYS.get(k), p[k]);
        for (int k = 0; k < t.length; k++) n.put(MetricSet.TRD_KEYS.get(k), t[k]);
        return n;
    }

    /** {@code {"fused": {...}, "rgb": {...}, "<second>": {...}}}, pretty-printed UTF-8. */
    public byte[] metricsJson() {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        for (Map.Entry<String, MetricSet> e : metrics.entrySet()) metricsNode(root.putObject(e.getKey()), e.getValue());
        try {
            return json.writerWithDefaultPrettyPrinter().writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

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
                sb.append(String.format(Locale.ROOT, " %" + Math.max(8, headers.get(k).length()) + ".4f", v[k]));
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
            for (int i = 0; i < scored.size(); i++) {
                MvtecDataset.Sample smp = scored.get(i).sample();
                String rel = smp.defect() + "/" + smp.stem() + ".npy";
                double[] map = fused.get(i);
                int[] g = gts.get(i);
                files.put("maps/" + rel, f -> Npy.write(f, HostTensor.of(map, size, size)));
                files.put("gt/" + rel, f -> {
                    float[] gf = new float[g.length];
                    for (int k = 0; k < g.length; k++) gf[k] = g[k];
                    Npy.write(f, HostTensor.of(gf, size, size));
                });
            }
        }
        return files;
    }

    /** Writes {@link #files} into {@code out}, all or nothing ({@link AtomicDirectory}). */
    public void writeTo(Path out, Outputs o) throws IOException {
        AtomicDirectory.write(out, files(o));
    }

    /** Writes {@link #files} below {@code prefix/} of a staged directory (one category of several). */
    public void writeTo(AtomicDirectory out, String prefix, Outputs o) throws IOException {
        for (Map.Entry<String, AtomicDirectory.FileWriter> e : files(o).entrySet()) out.put(prefix + "/" + e.getKey(), e.getValue());
    }
}
