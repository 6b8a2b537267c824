package crd4j.cli;

import crd4j.backend.Backend;
import crd4j.data.MvtecDataset;
import crd4j.detect.BranchMode;
import crd4j.detect.NormalizationStats;
import crd4j.detect.Sample;
import crd4j.detect.ValidationStatistics;
import crd4j.detect.Detector;
import crd4j.detect.ModelMetadata;
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
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code crd stats}: (re)computes a model's validation statistics for every scoring mode (both modalities, and each
 * way of standing in for a missing one) and rewrites the model file with them, atomically. Model files made before
 * few-modal scoring existed hold only the both-modalities statistics; this adds the rest.
 */
@Command(name = "stats", mixinStandardHelpOptions = true,
        description = "Compute the validation statistics of every scoring mode (both modalities; RGB only and second "
                + "modality only, under each missing-modality strategy) on ROOT/C/validation and store them in the "
                + "model file, with decision thresholds chosen again on the same good parts (the thresholds are in "
                + "units of the normalised map; re-run crd calibrate afterwards if you had calibrated). Rewritten "
                + "atomically; weights unchanged.")
final class StatsCommand implements Callable<Integer> {
    @Mixin
    Common common;

    @Option(names = "--data", required = true, description = "Dataset root (<root>/<category>/validation).")
    Path data;

    @Option(names = "--category", required = true, description = "Category (class) name.")
    String category;

    @Option(names = "--model", required = true, description = "crd4j model file to update.")
    Path modelFile;

    @Override
    public Integer call() throws Exception {
        MvtecDataset ds = MvtecDataset.open(data, category);
        List<MvtecDataset.Sample> val = ds.samples("validation");
        if (val.isEmpty()) throw new WeightsFormatException(ds.categoryDir().resolve("validation"), "no validation samples");
        Backend be = common.backend();
        ModelFile.Contents c = ModelFile.read(modelFile);
        ModelMetadata meta = ModelMetadata.read(c.meta(), modelFile);
        if (!meta.crd()) throw new WeightsFormatException(modelFile, "a single-modality model; crd stats updates CRD model files");
        CrdModel model = ModelFiles.fromContents(c.tensors(), c.meta(), modelFile, new NnContext(be, DType.FLOAT32, 0)).model();
        MvtecDataset data = ds.with(meta.secondInput(), "the model " + modelFile.getFileName());
        common.threadsFor(model.preset());
        int s = model.preset().size();
        long t0 = System.nanoTime();
        NormalizationStats stats = ValidationStatistics.compute(be, model, val.size(), i -> {
            MvtecDataset.Inputs in = data.load(val.get(i), s);
            return Sample.of(in.rgb(), in.second());
        }, true);
        // the thresholds are in units of the normalised map, so they are chosen again with the new statistics
        Thresholds t;
        try (Detector det = Detector.of(model, meta.withStats(stats), stats, modelFile, be)) {
            t = ValidationStatistics.thresholds(det, val.size(), i -> {
                MvtecDataset.Inputs in = data.load(val.get(i), s);
                return Sample.of(in.rgb(), in.second());
            });
        }
        ModelFile.write(modelFile, c.tensors(), meta.withStats(stats).withThresholds(t).writeOver(c.meta()));
        for (String b : stats.branches()) {
            StringBuilder line = new StringBuilder(b);
            for (BranchMode m : stats.modes(b)) {
                NormalizationStats.MeanStd ms = stats.find(b, m);
                line.append(String.format(Locale.ROOT, "  %s %.5g±%.3g", m.key(), ms.mean(), ms.std()));
            }
            System.out.println(line);
        }
        System.out.printf(Locale.ROOT, "decision thresholds (%s): image %.5g, pixel %.5g%n", t.rule(), t.image(), t.pixel());
        System.out.printf(Locale.ROOT, "crd stats: %d validation samples, %.1f s; wrote %s%n", val.size(), (System.nanoTime() - t0) / 1e9, modelFile);
        return 0;
    }
}
