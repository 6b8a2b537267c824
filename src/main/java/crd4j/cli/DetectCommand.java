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

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code crd detect}: the fused, normalised, smoothed anomaly map and scores of one sample (§8.3). */
@Command(name = "detect", mixinStandardHelpOptions = true,
        description = {"Score one sample: writes DIR/map.npy (fused normalised Gaussian-smoothed map, float64 SxS),",
                "DIR/score.json ({\"score\", one score per contributing branch, \"modes\", \"missing\"}) and DIR/heatmap.png",
                "(the map over the RGB image). Either modality may be left out; the model then stands in for it",
                "(--missing-strategy). Raw files are preprocessed at the model's input side."})
final class DetectCommand implements Callable<Integer> {
    @Mixin
    Common common;

    @Option(names = "--model", description = "crd4j model file with validation statistics.")
    Path modelFile;

    @Option(names = "--teacher", description = "torchvision wide_resnet50_2 .pth (with --checkpoint and --stats).")
    Path teacher;

    @Option(names = "--checkpoint", description = "Reference CRD checkpoint .pth (with --teacher and --stats).")
    Path checkpoint;

    @Option(names = "--stats", description = "JSON {\"rgb\": {\"mean\", \"std\"}, \"depth\": {\"mean\", \"std\"}} (§8.2); overrides the model file's.")
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
        CrdModel model;
        NormalizationStats stats = null;
        String modelName;
        SecondInput second;
        if (modelFile != null) {
            ModelFiles.Loaded l = ModelFiles.load(modelFile, ctx);
            model = l.model();
            modelName = modelFile.toString();
            second = SecondInput.ofModel(l.meta(), modelFile);
            secondOptions.choice().check(second, modelFile);
            var node = l.meta().get("stats");
            if (statsFile == null && node != null && !node.isNull()) {
                stats = NormalizationStats.fromJson(node, model.secondModality().key(), modelFile);
            }
        } else {
            second = inputs.secondWithoutModel(secondOptions);
            Map<String, HostTensor> sd = Checkpoints.readTeacher(teacher);
            model = new CrdModel(ctx, InspectCommand.presetFor(Checkpoints.teacherBase(sd, teacher), inputs.sizeOfGivenTensors()),
                    second.branch());
            Checkpoints.loadTeacher(model.teacher(), sd, teacher);
            Checkpoints.loadReference(model, checkpoint);
            modelName = checkpoint.toString();
        }
        int s = model.preset().size();
        SampleInputs.Loaded in = inputs.load(s, true, second);
        SampleInputs.checkAgainst(in, s, modelName);
        String key = model.secondModality().key();
        if (statsFile != null) stats = NormalizationStats.read(statsFile, key);
        if (stats == null) throw new IllegalArgumentException("no normalisation statistics: give --stats S.json");
        Detector.Result r = new Detector(be, model, stats, statsFile != null ? statsFile.toString() : modelName)
                .score(Sample.of(in.rgb(), in.other()), strategy);

        ObjectMapper json = new ObjectMapper();
        ObjectNode score = json.createObjectNode();
        score.put("score", r.score());
        for (AnomalyScoring.BranchScore b : r.branches()) score.put(b.branch(), b.score());
        ObjectNode modes = score.putObject("modes");
        for (AnomalyScoring.BranchScore b : r.branches()) modes.put(b.branch(), b.mode().key());
        if (in.complete()) score.putNull("missing");
        else score.put("missing", in.rgb() == null ? "rgb" : key);
        if (!in.complete()) score.put("strategy", strategy.key());
        byte[] png = heatmap(in.rgb() != null ? in.rgb() : in.other(), r.map(), s);
        byte[] scoreJson = json.writerWithDefaultPrettyPrinter().writeValueAsString(score).getBytes(StandardCharsets.UTF_8);
        Map<String, OutputDirectory.FileWriter> files = new LinkedHashMap<>();
        files.put("map.npy", f -> Npy.write(f, HostTensor.of(r.map(), s, s)));
        files.put("score.json", f -> AtomicFiles.write(f, scoreJson));
        files.put("heatmap.png", f -> AtomicFiles.write(f, png));
        OutputDirectory.write(out, files);
        StringBuilder parts = new StringBuilder();
        for (AnomalyScoring.BranchScore b : r.branches()) {
            parts.append(parts.length() == 0 ? "" : ", ").append(b.branch())
                    .append(b.mode() == BranchMode.REAL ? "" : " (" + b.mode().key() + ")").append(String.format(Locale.ROOT, " %.4f", b.score()));
        }
        System.out.printf(Locale.ROOT, "score %.4f (%s)%s -> %s%n", r.score(), parts,
                in.complete() ? "" : " without " + (in.rgb() == null ? "rgb" : key) + ", strategy " + strategy.key(), out);
        return 0;
    }

    /** The map (min–max scaled, blue→red) blended 50/50 over the de-normalised RGB input. */
    static byte[] heatmap(HostTensor rgbInput, double[] map, int s) throws java.io.IOException {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (double v : map) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        float[] in = rgbInput.toFloat32().floats();
        float[] mean = {0.485f, 0.456f, 0.406f}, std = {0.229f, 0.224f, 0.225f};
        BufferedImage img = new BufferedImage(s, s, BufferedImage.TYPE_INT_RGB);
        for (int yy = 0; yy < s; yy++) {
            for (int xx = 0; xx < s; xx++) {
                int i = yy * s + xx;
                double t = hi > lo ? (map[i] - lo) / (hi - lo) : 0;
                int[] c = new int[3];
                double[] heat = {Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - 3))), Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - 2))),
                        Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - 1)))};
                for (int ch = 0; ch < 3; ch++) {
                    double v = in[ch * s * s + i] * std[ch] + mean[ch];
                    c[ch] = (int) Math.round(255 * Math.min(1, Math.max(0, 0.5 * v + 0.5 * heat[ch])));
                }
                img.setRGB(xx, yy, (c[0] << 16) | (c[1] << 8) | c[2]);
            }
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ImageIO.write(img, "png", bytes);
        return bytes.toByteArray();
    }
}
