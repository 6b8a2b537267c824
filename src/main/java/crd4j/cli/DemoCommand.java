package crd4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.autograd.Graph;
import crd4j.backend.Backend;
import crd4j.io.AtomicFiles;
import crd4j.model.AnomalyMap;
import crd4j.model.CrdBranch;
import crd4j.model.CrdModel;
import crd4j.model.Modality;
import crd4j.model.ModelFiles;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import crd4j.train.CrdTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code crd demo}: the whole CRD loop on the CPU without any download: a seeded random teacher, synthetic RGB-D parts
 * generated in memory (good parts for training and validation; test parts with an RGB-only stain, a depth-only dent,
 * or both), training per §7, validation statistics (§8.2), normalised fused scores (§8.3, without the Gaussian), and
 * an image-level AUROC per branch and fused.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Train and score a small CRD model on synthetic RGB-D parts (CPU, no downloads).")
final class DemoCommand implements Callable<Integer> {
    @Mixin
    Common common;

    @Option(names = "--out", defaultValue = "demo-out", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--preset", defaultValue = "tiny", description = "tiny | small (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--epochs", defaultValue = "12", description = "Training epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--train", defaultValue = "32", description = "Good training parts (default: ${DEFAULT-VALUE}).")
    int trainCount;

    @Option(names = "--batch", defaultValue = "8", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "0.005", description = "Adam learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--seed", defaultValue = "42", description = "Seed for teacher, data and initialisation.")
    long seed;

    @Option(names = "--calibrate-teacher", negatable = true, defaultValue = "false", fallbackValue = "true",
            description = "Estimate the random teacher's batch-norm statistics on the training parts (default: ${DEFAULT-VALUE}).")
    boolean calibrate;

    @Override
    public Integer call() throws Exception {
        Preset p = Preset.byName(preset);
        if (p == Preset.PAPER) throw new IllegalArgumentException("--preset paper is too large for a CPU demo; use tiny or small");
        Backend be = common.backend();
        System.err.println("crd demo: teacher is RANDOM (seed " + seed + "): no pretrained weights are bundled; "
                + "scores show the mechanics, not ImageNet-teacher accuracy");
        CrdModel model = new CrdModel(new NnContext(be, DType.FLOAT32, seed), p, Modality.DEPTH);
        SyntheticParts data = new SyntheticParts(p.size(), seed);
        CrdTrainer trainer = new CrdTrainer(be, model, lr);

        List<SyntheticParts.Sample> train = data.good(trainCount, 1000);
        if (calibrate) {
            // a random teacher's BN statistics (mean 0, var 1) do not fit its own activations; estimate them on the
            // training parts of both modalities (the one teacher serves both)
            List<crd4j.backend.Tensor> batches = new ArrayList<>();
            for (int i = 0; i + 1 < train.size(); i += batch) {
                List<SyntheticParts.Sample> b = train.subList(i, Math.min(train.size(), i + batch));
                batches.add(be.fromHost(SyntheticParts.stack(b, true)));
                batches.add(be.fromHost(SyntheticParts.stack(b, false)));
            }
            model.teacher().calibrateBatchNorm(be, batches);
            System.err.println("crd demo: teacher batch-norm statistics calibrated on " + train.size() + " training parts (both modalities)");
        }
        long t0 = System.nanoTime();
        for (int e = 0; e < epochs; e++) {
            double lr0 = trainer.rgbOptimizer().lr(), rgbLoss = 0, depthLoss = 0;
            int steps = 0;
            for (int i = 0; i < train.size(); i += batch) {
                List<SyntheticParts.Sample> b = train.subList(i, Math.min(train.size(), i + batch));
                if (b.size() < 2) continue; // batch norm in training mode needs more than one sample
                CrdTrainer.StepLosses l = trainer.step(be.fromHost(SyntheticParts.stack(b, true)), be.fromHost(SyntheticParts.stack(b, false)));
                rgbLoss += l.rgb().total();
                depthLoss += l.other().total();
                steps++;
            }
            trainer.endEpoch();
            System.err.printf(Locale.ROOT, "epoch %2d/%d  lr %.5f  loss rgb %.4f  depth %.4f  (%.1f s)%n", e + 1, epochs, lr0,
                    rgbLoss / steps, depthLoss / steps, (System.nanoTime() - t0) / 1e9);
        }
        model.train(false);

        // §8.2: mean and population std of the raw maps over all validation pixels, per branch
        double[][] val = rawMaps(be, model, data.good(8, 2000));
        double[] rgbStats = meanStd(val[0]), depthStats = meanStd(val[1]);

        List<SyntheticParts.Sample> test = new ArrayList<>(data.good(8, 3000));
        test.addAll(data.defective(8, 4000));
        double[][] maps = rawMaps(be, model, test);
        int px = p.size() * p.size();
        double[] fused = new double[test.size()], rgbScore = new double[test.size()], depthScore = new double[test.size()];
        int[] label = new int[test.size()];
        System.out.printf(Locale.ROOT, "%-4s %-10s %8s %8s %8s%n", "#", "part", "rgb", "depth", "fused");
        for (int i = 0; i < test.size(); i++) {
            double best = Double.NEGATIVE_INFINITY, br = best, bd = best;
            for (int k = 0; k < px; k++) {
                double r = (maps[0][i * px + k] - rgbStats[0]) / rgbStats[1];
                double d = (maps[1][i * px + k] - depthStats[0]) / depthStats[1];
                best = Math.max(best, r + d);
                br = Math.max(br, r);
                bd = Math.max(bd, d);
            }
            fused[i] = best;
            rgbScore[i] = br;
            depthScore[i] = bd;
            label[i] = test.get(i).defect().equals("good") ? 0 : 1;
            System.out.printf(Locale.ROOT, "%-4d %-10s %8.3f %8.3f %8.3f%n", i, test.get(i).defect(), br, bd, best);
        }
        double aFused = auroc(fused, label), aRgb = auroc(rgbScore, label), aDepth = auroc(depthScore, label);
        System.out.printf(Locale.ROOT, "image AUROC  fused %.3f   rgb only %.3f   depth only %.3f%n", aFused, aRgb, aDepth);

        Files.createDirectories(out);
        ObjectMapper json = new ObjectMapper();
        ObjectNode stats = json.createObjectNode();
        stats.putObject("rgb").put("mean", rgbStats[0]).put("std", rgbStats[1]);
        stats.putObject("depth").put("mean", depthStats[0]).put("std", depthStats[1]);
        ModelFiles.save(model, out.resolve("model.crd4j"), "random(seed=" + seed + ")", stats);
        ObjectNode summary = json.createObjectNode();
        summary.put("preset", p.name());
        summary.put("epochs", epochs);
        summary.putObject("image_auroc").put("fused", aFused).put("rgb", aRgb).put("depth", aDepth);
        AtomicFiles.write(out.resolve("summary.json"),
                json.writerWithDefaultPrettyPrinter().writeValueAsString(summary).getBytes(StandardCharsets.UTF_8));
        System.out.println("wrote " + out.resolve("model.crd4j") + " and " + out.resolve("summary.json"));
        return 0;
    }

    /** Raw §8.1 maps of both branches, one sample at a time (eval mode), flattened [n·S·S]. */
    private static double[][] rawMaps(Backend be, CrdModel model, List<SyntheticParts.Sample> samples) {
        int s = model.preset().size();
        double[][] out = new double[2][samples.size() * s * s];
        for (int i = 0; i < samples.size(); i++) {
            List<SyntheticParts.Sample> one = samples.subList(i, i + 1);
            Graph g = Graph.inference(be);
            CrdModel.TeacherFeatures t = model.teacherForward(g, be.fromHost(SyntheticParts.stack(one, true)),
                    be.fromHost(SyntheticParts.stack(one, false)));
            CrdBranch.Output r = model.rgbForward(g, t), d = model.otherForward(g, t);
            HostTensor mr = AnomalyMap.raw(be, r.fused(), t.rgb(), s), md = AnomalyMap.raw(be, d.fused(), t.other(), s);
            System.arraycopy(mr.doubles(), 0, out[0], i * s * s, s * s);
            System.arraycopy(md.doubles(), 0, out[1], i * s * s, s * s);
            g.release();
        }
        return out;
    }

    static double[] meanStd(double[] v) {
        double m = 0;
        for (double x : v) m += x;
        m /= v.length;
        double var = 0;
        for (double x : v) var += (x - m) * (x - m);
        return new double[]{m, Math.sqrt(var / v.length)};
    }

    /** Mann–Whitney AUROC with ties counted ½. */
    static double auroc(double[] score, int[] label) {
        double num = 0;
        int pos = 0, neg = 0;
        for (int i = 0; i < score.length; i++) {
            if (label[i] == 1) pos++;
            else neg++;
            for (int j = 0; j < score.length; j++) {
                if (label[i] == 1 && label[j] == 0) num += score[i] > score[j] ? 1 : score[i] == score[j] ? 0.5 : 0;
            }
        }
        return num / ((double) pos * neg);
    }
}
