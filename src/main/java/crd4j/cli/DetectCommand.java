package crd4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.backend.Backend;
import crd4j.detect.AnomalyScoring;
import crd4j.detect.BranchMode;
import crd4j.detect.Detector;
import crd4j.detect.MissingStrategy;
import crd4j.detect.Sample;
import crd4j.detect.NormalizationStats;
import crd4j.detect.Decision;
import crd4j.detect.ModelInputs;
import crd4j.detect.ModelMetadata;
import crd4j.data.Image8;
import crd4j.data.ImageInputs;
import crd4j.data.XyzTiff;
import crd4j.report.Heatmap;
import crd4j.io.AtomicFiles;
import crd4j.io.Npy;
import crd4j.model.Checkpoints;
import crd4j.model.CrdModel;
import crd4j.data.SecondInput;
import crd4j.model.ModelFiles;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code crd detect}: the fused, normalised, smoothed anomaly map and scores of one sample (§8.3). */
@Command(name = "detect", mixinStandardHelpOptions = true,
        description = "Score one part and decide: writes DIR/map.npy (fused normalised Gaussian-smoothed map, float64 SxS), "
                + "DIR/score.json (score, normalized_score = score / threshold, anomalous, thresholds, defect regions, "
                + "one score per contributing branch, modes, missing), DIR/mask.png (map pixels at or above the pixel "
                + "threshold, SxS) and DIR/heatmap.png (the map over the input image at its resolution, fixed colour "
                + "scale: the threshold in the middle; score and decision written on it). A model without thresholds "
                + "scores but does not decide (run crd calibrate). Either modality may be left out; the model then "
                + "stands in for it (--missing-strategy). Raw files are preprocessed at the model's input side and as "
                + "its second modality.")
final class DetectCommand implements Callable<Integer> {
    @Mixin
    Common common;

    @Option(names = "--model", description = "crd4j model file with validation statistics.")
    Path modelFile;

    @Option(names = "--teacher", description = "torchvision wide_resnet50_2 .pth (with --checkpoint and --stats).")
    Path teacher;

    @Option(names = "--checkpoint", description = "Reference CRD checkpoint .pth (with --teacher and --stats).")
    Path checkpoint;

    @Option(names = "--stats", description = "JSON {\"rgb\": {\"mean\", \"std\"}, \"depth\": {\"mean\", \"std\"}}: the"
            + " validation statistics that normalise each branch's map; overrides the model file's.")
    Path statsFile;

    @Mixin
    SampleInputs inputs;

    @Mixin
    SecondInputOptions secondOptions;

    @Option(names = "--out", required = true, description = "Output directory.")
    Path out;

    @Option(names = "--input-dir", paramLabel = "DIR", description = {"Score every part of a folder (with --model; instead of"
            + " the single-part inputs): an MVTec 3D-AD split (DIR/<defect>/rgb/<stem>.png with DIR/<defect>/xyz/<stem>.tiff),"
            + " a folder with rgb/ and xyz/, or pairs <stem>.png + <stem>.tiff (<stem>_normals.png for a normals model).",
            "Writes OUT/results.jsonl (one line per part, as it is scored) and OUT/results.csv (part, status, score,"
            + " normalised score, decision, region count, branch scores, files, error). A rerun on the same OUT skips the"
            + " parts already scored and retries failed ones; a part that fails is one line and an \"error\" row, the"
            + " others are still scored, and the exit status is 2."})
    Path inputDir;

    @Option(names = "--save-maps", description = "With --input-dir: also OUT/maps/<part>.npy (fused map, float64 SxS) and"
            + " OUT/heatmaps/<part>.png.")
    boolean saveMaps;

    @Option(names = "--dtype", defaultValue = "float32", description = "float32 (default) or float64 compute.")
    String dtype;

    @Option(names = "--missing-strategy", defaultValue = "filter",
            description = "When one modality is not given: how the model stands in for it. filter (default: the missing branch's"
                    + " Crossmodal Filter estimates its teacher features from the present ones), amplifier (the same with the"
                    + " Crossmodal Amplifier), mapping (the mapping network of crd train --mapping), zero (zero-filled teacher"
                    + " features), drop (the present branch alone, without crossmodal assist).")
    String missingStrategy;

    @Override
    public Integer call() throws Exception {
        DType dt = Common.parseDtype(dtype);
        MissingStrategy strategy = MissingStrategy.parse(missingStrategy);
        if ((modelFile == null) == (teacher == null || checkpoint == null)) {
            throw new IllegalArgumentException("give either --model, or --teacher with --checkpoint and --stats");
        }
        if (inputDir != null) {
            if (modelFile == null) throw new IllegalArgumentException("--input-dir needs --model (a crd4j model file with validation statistics)");
            if (inputs.any()) throw new IllegalArgumentException("--input-dir: give either a folder or one part's inputs (--rgb, --xyz, ...), not both");
            if (statsFile != null) throw new IllegalArgumentException("--input-dir: --stats is not used with a folder (the model's statistics are)");
            Backend be = common.backend();
            ModelFiles.Loaded l = ModelFiles.load(modelFile, new NnContext(be, dt, 0));
            SecondInput second = SecondInput.ofModel(l.meta(), modelFile);
            secondOptions.choice().check(second, modelFile);
            try (Detector det = Detector.of(l, modelFile, be)) {
                return FolderScoring.run(det, second, modelFile, inputDir, out, saveMaps, strategy);
            }
        }
        if (saveMaps) throw new IllegalArgumentException("--save-maps goes with --input-dir (one part always gets map.npy)");
        Backend be = common.backend();
        NnContext ctx = new NnContext(be, dt, 0);
        Detector detector;
        Sample sample;
        String key;
        if (modelFile != null) {
            ModelFiles.Loaded l = ModelFiles.load(modelFile, ctx);
            ModelMetadata meta = ModelMetadata.read(l.meta(), modelFile);
            secondOptions.choice().check(meta.secondInput(), modelFile);
            inputs.check(true, meta.secondInput());
            key = l.model().secondModality().key();
            NormalizationStats stats = statsFile != null ? NormalizationStats.read(statsFile, key) : meta.requireStats(modelFile);
            detector = Detector.of(l.model(), meta, stats, modelFile, be);
            common.threadsFor(l.model().preset());
            // the model's own preprocessing: its input side, its second modality (Detector.score(Path, Path))
            detector.checkCanServe(inputs.rgbFile() != null, inputs.secondFile() != null, strategy);
            sample = detector.inputs().load(inputs.rgbFile(), inputs.secondFile());
        } else {
            SecondInput second = inputs.secondWithoutModel(secondOptions);
            Map<String, HostTensor> sd = Checkpoints.readTeacher(teacher);
            // teacher and both branches are loaded below, strictly: nothing to draw
            CrdModel model = new CrdModel(NnContext.forLoading(be, dt), InspectCommand.presetFor(Checkpoints.teacherBase(sd, teacher), inputs.sizeOfGivenTensors()),
                    second.branch());
            Checkpoints.loadTeacher(model.teacher(), sd, teacher);
            Checkpoints.loadReference(model, checkpoint);
            common.threadsFor(model.preset());
            int s = model.preset().size();
            SampleInputs.Loaded in = inputs.load(s, true, second);
            SampleInputs.checkAgainst(in, s, checkpoint.toString());
            key = model.secondModality().key();
            if (statsFile == null) throw new IllegalArgumentException("no normalisation statistics: give --stats S.json");
            detector = new Detector(be, model, NormalizationStats.read(statsFile, key), statsFile.toString(), second, null);
            sample = Sample.of(in.rgb(), in.other());
        }
        int s = detector.size();
        Detector.Result r = detector.score(sample, strategy);
        boolean complete = sample.complete();
        Picture bg = background(inputs.rgbFile(), inputs.secondFile(), sample, s);

        ObjectNode score = scoreJson(r, complete ? null : sample.hasRgb() ? key : "rgb", strategy, s, bg.image().width(), bg.image().height());
        String caption = Heatmap.caption(r.score(), r.hasDecision() ? r.normalizedScore() : null, r.hasDecision() ? r.anomalous() : null,
                Detector.Result.NO_THRESHOLD);
        byte[] png = Heatmap.png(Heatmap.render(bg.image(), r.map(), s, r.hasDecision() ? r.decision().thresholds() : null, caption));
        byte[] scoreBytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsString(score).getBytes(StandardCharsets.UTF_8);
        Map<String, OutputDirectory.FileWriter> files = new LinkedHashMap<>();
        files.put("map.npy", f -> Npy.write(f, HostTensor.of(r.map(), s, s)));
        files.put("score.json", f -> AtomicFiles.write(f, scoreBytes));
        files.put("heatmap.png", f -> AtomicFiles.write(f, png));
        if (r.hasDecision()) {
            byte[] mask = Heatmap.maskPng(r.mask(), s, s);
            files.put("mask.png", f -> AtomicFiles.write(f, mask));
        }
        OutputDirectory.write(out, files, OUTPUTS);
        StringBuilder parts = new StringBuilder();
        for (AnomalyScoring.BranchScore b : r.branches()) {
            parts.append(parts.length() == 0 ? "" : ", ").append(b.branch())
                    .append(b.mode() == BranchMode.REAL ? "" : " (" + b.mode().key() + ")").append(String.format(Locale.ROOT, " %.4f", b.score()));
        }
        String decision = r.hasDecision()
                ? String.format(Locale.ROOT, ": %s (%.3f x threshold, %d defect region%s)", r.anomalous() ? "REJECT" : "ACCEPT",
                r.normalizedScore(), r.regions().size(), r.regions().size() == 1 ? "" : "s")
                : " (" + Detector.Result.NO_THRESHOLD + ")";
        System.out.printf(Locale.ROOT, "score %.4f%s [%s]%s -> %s%n", r.score(), decision, parts,
                complete ? "" : " without " + (sample.hasRgb() ? key : "rgb") + ", strategy " + strategy.key(), out);
        return 0;
    }

    /** Every file {@code crd detect} writes: a rerun into the same --out replaces them, and removes those it does not write now. */
    static final java.util.Set<String> OUTPUTS = java.util.Set.of("map.npy", "score.json", "heatmap.png", "mask.png");
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * score.json: {@code score}, {@code normalized_score} (score / image threshold; 1.0 is the threshold),
     * {@code anomalous}, {@code thresholds} ({@code image}, {@code pixel}, {@code rule}), {@code regions} (bounding box
     * {@code x, y, width, height} and {@code area} in map pixels, {@code peak}, {@code mean}; {@code bbox_input}: the box
     * in input-image pixels), {@code map_size}, {@code input_size}, one score per contributing branch, {@code modes},
     * {@code missing}, {@code strategy}. Without thresholds the decision fields are null and {@code decision_note} says
     * why. Every number is finite (a non-finite one is an error, never a "NaN" string).
     */
    static ObjectNode scoreJson(Detector.Result r, String missing, MissingStrategy strategy, int s, int inW, int inH) {
        ObjectNode score = JSON.createObjectNode();
        score.put("score", finite(r.score(), "score"));
        if (r.hasDecision()) {
            score.put("normalized_score", finite(r.normalizedScore(), "normalized_score"));
            score.put("anomalous", r.anomalous());
            score.set("thresholds", r.decision().thresholds().toJson());
            var regions = score.putArray("regions");
            double fx = inW / (double) s, fy = inH / (double) s;
            for (Decision.Region g : r.regions()) {
                ObjectNode n = regions.addObject();
                n.put("x", g.x()).put("y", g.y()).put("width", g.width()).put("height", g.height()).put("area", g.area())
                        .put("peak", finite(g.peak(), "region peak")).put("mean", finite(g.mean(), "region mean"));
                int x0 = (int) Math.floor(g.x() * fx), y0 = (int) Math.floor(g.y() * fy);
                int x1 = (int) Math.ceil((g.x() + g.width()) * fx), y1 = (int) Math.ceil((g.y() + g.height()) * fy);
                n.putObject("bbox_input").put("x", x0).put("y", y0).put("width", x1 - x0).put("height", y1 - y0);
            }
        } else {
            score.putNull("normalized_score");
            score.putNull("anomalous");
            score.putNull("thresholds");
            score.putNull("regions");
            score.put("decision_note", Detector.Result.NO_THRESHOLD);
        }
        score.put("map_size", s);
        score.putArray("input_size").add(inW).add(inH);
        for (AnomalyScoring.BranchScore b : r.branches()) score.put(b.branch(), finite(b.score(), b.branch() + " score"));
        ObjectNode modes = score.putObject("modes");
        for (AnomalyScoring.BranchScore b : r.branches()) modes.put(b.branch(), b.mode().key());
        if (missing == null) score.putNull("missing");
        else {
            score.put("missing", missing);
            score.put("strategy", strategy.key());
        }
        return score;
    }

    private static double finite(double v, String what) {
        if (!Double.isFinite(v)) throw new IllegalStateException(what + " is " + v + ": the model produced a non-finite map (nothing written)");
        return v;
    }

    /** The image the heatmap is drawn over, at the input's resolution. */
    record Picture(Image8 image) {}

    /**
     * The RGB image as given (a raw PNG at its own resolution; a preprocessed tensor de-normalised at S); without
     * RGB a grey image of the second file's size (an xyz TIFF's or a normals PNG's; S for a tensor).
     */
    static Picture background(Path rgbFile, Path secondFile, Sample sample, int s) throws java.io.IOException {
        if (rgbFile != null) {
            if (ModelInputs.kindOf(rgbFile) == ModelInputs.FileKind.PNG) return new Picture(ImageInputs.read(rgbFile).toRgb());
            return new Picture(ImageInputs.denormalize(sample.rgb()));
        }
        int w = s, h = s;
        ModelInputs.FileKind k = ModelInputs.kindOf(secondFile);
        if (k == ModelInputs.FileKind.TIFF) {
            XyzTiff t = XyzTiff.read(secondFile);
            w = t.width();
            h = t.height();
        } else if (k == ModelInputs.FileKind.PNG) {
            Image8 im = ImageInputs.read(secondFile);
            w = im.width();
            h = im.height();
        }
        byte[] grey = new byte[w * h * 3];
        java.util.Arrays.fill(grey, (byte) 96);
        return new Picture(new Image8(w, h, 3, grey));
    }
}
