package crd4j.cli;

import crd4j.backend.Backend;
import crd4j.data.MvtecDataset;
import crd4j.detect.Calibration;
import crd4j.detect.Detector;
import crd4j.detect.MissingStrategy;
import crd4j.detect.ModelMetadata;
import crd4j.detect.Sample;
import crd4j.detect.Thresholds;
import crd4j.io.ModelFile;
import crd4j.io.WeightsFormatException;
import crd4j.model.CrdModel;
import crd4j.model.ModelFiles;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code crd calibrate}: re-picks a model's decision thresholds on labelled parts (the category's test split, which
 * holds good and defective parts with ground truth) and rewrites the model file with them, atomically, its weights
 * unchanged. Two rules ({@link Calibration}): the F1-maximising thresholds (default; anomalib's adaptive threshold),
 * image level over the parts and pixel level over every pixel; or a target false-positive rate: the lowest image
 * threshold that rejects at most that share of the good parts, and the lowest pixel threshold that flags at most that
 * share of the normal pixels.
 */
@Command(name = "calibrate", mixinStandardHelpOptions = true,
        description = "Choose the model's accept/reject thresholds on labelled parts (ROOT/C/test: good and defective parts "
                + "with ground truth) and store them in the model file (rewritten atomically; weights unchanged). --f1 "
                + "(default): the image threshold with the best F1 over the parts, the pixel threshold with the best F1 "
                + "over all pixels. --target-fpr F: the lowest thresholds that reject at most a share F of the good "
                + "parts and flag at most a share F of the normal pixels. Training stores thresholds from the good "
                + "validation parts alone (the highest validation score x 1.1); calibrating on labelled parts is better "
                + "where you have them.")
final class CalibrateCommand implements Callable<Integer> {
    @Mixin
    Common common;

    @Option(names = "--data", required = true, description = "Dataset root (<root>/<category>/test, labelled).")
    Path data;

    @Option(names = "--category", required = true, description = "Category (class) name.")
    String category;

    @Option(names = "--model", required = true, description = "crd4j model file to update.")
    Path modelFile;

    @Option(names = "--f1", description = "Pick the thresholds of the best F1 (default).")
    boolean f1;

    @Option(names = "--target-fpr", paramLabel = "F",
            description = "Pick the lowest thresholds whose false-positive rate on the good parts (image) and the normal pixels"
                    + " (pixel) is at most F, e.g. 0.01.")
    Double targetFpr;

    @Override
    public Integer call() throws Exception {
        if (f1 && targetFpr != null) throw new IllegalArgumentException("give one of --f1 or --target-fpr, not both");
        if (targetFpr != null && !(targetFpr >= 0 && targetFpr < 1)) {
            throw new IllegalArgumentException("--target-fpr: expected a rate in [0, 1), found " + targetFpr);
        }
        MvtecDataset ds = MvtecDataset.open(data, category);
        List<MvtecDataset.Sample> test = ds.samples("test");
        Backend be = common.backend();
        ModelFile.Contents c = ModelFile.read(modelFile);
        ModelMetadata meta = ModelMetadata.read(c.meta(), modelFile);
        if (!meta.crd()) throw new WeightsFormatException(modelFile, "a single-modality model; crd calibrate sets the thresholds of CRD models");
        CrdModel model = ModelFiles.fromContents(c.tensors(), c.meta(), modelFile, new NnContext(be, DType.FLOAT32, 0)).model();
        common.threadsFor(model.preset());
        MvtecDataset split = ds.with(meta.secondInput(), "the model " + modelFile.getFileName());
        int good = (int) test.stream().filter(MvtecDataset.Sample::good).count();
        if (targetFpr == null && (good == 0 || good == test.size())) {
            throw new WeightsFormatException(ds.categoryDir().resolve("test"), "--f1 needs good and defective parts, found " + good
                    + " good of " + test.size());
        }
        if (good == 0) throw new WeightsFormatException(ds.categoryDir().resolve("test"), "--target-fpr needs good parts, found none");

        int s = model.preset().size();
        double[] scores = new double[test.size()];
        int[] labels = new int[test.size()];
        List<double[]> maps = new ArrayList<>();
        List<int[]> gts = new ArrayList<>();
        long t0 = System.nanoTime();
        try (Detector det = Detector.of(model, meta, meta.requireStats(modelFile), modelFile, be)) {
            for (int i = 0; i < test.size(); i++) {
                MvtecDataset.Inputs in = split.load(test.get(i), s);
                Detector.Result r = det.score(Sample.of(in.rgb(), in.second()), MissingStrategy.FILTER);
                scores[i] = r.score();
                labels[i] = test.get(i).good() ? 0 : 1;
                maps.add(r.map());
                float[] g = in.gt().floats();
                int[] gi = new int[g.length];
                for (int k = 0; k < g.length; k++) gi[k] = g[k] > 0.5f ? 1 : 0;
                gts.add(gi);
                if (common.verbose) System.err.printf(Locale.ROOT, "crd calibrate: %d/%d score %.4f%n", i + 1, test.size(), r.score());
            }
        }
        Thresholds t;
        if (targetFpr == null) {
            boolean anyDefectPixel = gts.stream().anyMatch(g -> java.util.Arrays.stream(g).anyMatch(v -> v != 0));
            if (!anyDefectPixel) throw new WeightsFormatException(ds.categoryDir().resolve("test"), "--f1: no defect pixel in any ground truth");
            t = new Thresholds(Calibration.f1Threshold(scores, labels), Calibration.pixelF1Threshold(maps, gts), "f1-max", test.size());
        } else {
            double[] goodScores = new double[good];
            for (int i = 0, j = 0; i < scores.length; i++) if (labels[i] == 0) goodScores[j++] = scores[i];
            t = new Thresholds(Calibration.fprThreshold(goodScores, targetFpr),
                    Calibration.fprThreshold(Calibration.normalPixels(maps, gts), targetFpr),
                    String.format(Locale.ROOT, "target-fpr %s", targetFpr), test.size());
        }
        ModelFile.write(modelFile, c.tensors(), meta.withThresholds(t).writeOver(c.meta()));
        int tp = 0, fp = 0;
        for (int i = 0; i < scores.length; i++) {
            if (scores[i] >= t.image()) {
                if (labels[i] != 0) tp++;
                else fp++;
            }
        }
        System.out.printf(Locale.ROOT, "thresholds (%s on %d labelled parts of %s): image %.6g, pixel %.6g%n", t.rule(), test.size(),
                category, t.image(), t.pixel());
        System.out.printf(Locale.ROOT, "on these parts: %d of %d defective rejected, %d of %d good rejected (%.1f s); wrote %s%n",
                tp, test.size() - good, fp, good, (System.nanoTime() - t0) / 1e9, modelFile);
        return 0;
    }
}
