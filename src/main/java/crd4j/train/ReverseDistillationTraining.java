package crd4j.train;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.backend.Backend;
import crd4j.backend.Tensor;
import crd4j.data.MvtecDataset;
import crd4j.detect.NormalizationStats;
import crd4j.detect.ReverseDistillationDetector;
import crd4j.detect.ValidationStatistics;
import crd4j.io.WeightsFormatException;
import crd4j.model.Checkpoints;
import crd4j.model.ModelFiles;
import crd4j.model.ReverseDistillationModel;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Trains the single-modality Reverse Distillation baseline (§4.4) on one category: {@code crd train --modalities rgb}
 * (or the second modality's name). Choices, made so that it differs from a CRD branch only in its architecture: the
 * same data, batch, shuffle ({@code new Random(seed·1000003 + epoch)}), Adam (β = 0.5, 0.999) with ExponentialLR(0.95)
 * per epoch, and the same teacher (same seed; a random teacher's batch-norm statistics estimated on both modalities'
 * training images, as for CRD). Loss: the three-level flattened cosine loss of §4.3 between student and teacher
 * features of the one modality. Then the §8.2 validation statistics of its map. No {@code --resume}: a baseline run is
 * short, and a killed run leaves the previous model file (written atomically at the end).
 */
public final class ReverseDistillationTraining {
    private ReverseDistillationTraining() {}

    public static void run(Backend be, TrainingRun.Config c, String modality, TrainingRun.Listener listener) throws IOException {
        if (c.resume()) throw new IllegalArgumentException("--resume: not available for single-modality (--modalities " + modality + ") training");
        if (c.mappingEpochs() > 0) throw new IllegalArgumentException("--mapping: only for CRD models (both modalities)");
        MvtecDataset ds = MvtecDataset.open(c.data(), c.category());
        if (!modality.equals("rgb") && !modality.equals(ds.modality().key())) {
            throw new IllegalArgumentException("--modalities: " + ds.categoryDir() + " has " + ds.modality().key() + " data, not " + modality);
        }
        List<MvtecDataset.Sample> train = ds.samples("train"), val = ds.samples("validation");
        if (train.size() < 2) throw new WeightsFormatException(ds.categoryDir().resolve("train"), "need at least 2 training samples, found " + train.size());
        if (val.isEmpty()) throw new WeightsFormatException(ds.categoryDir().resolve("validation"), "no validation samples");
        ReverseDistillationModel m = new ReverseDistillationModel(new NnContext(be, DType.FLOAT32, c.seed()), c.preset(), modality);
        String teacherSource;
        if (c.teacher().equals("random")) {
            teacherSource = "random(seed=" + c.seed() + ")";
            listener.log("WARNING: teacher is RANDOM (seed " + c.seed() + "), not ImageNet-pretrained");
        } else {
            Path tf = Path.of(c.teacher());
            Map<String, HostTensor> sd = Checkpoints.readTeacher(tf);
            if (Checkpoints.teacherBase(sd, tf) != c.preset().base()) {
                throw new WeightsFormatException(tf, "teacher stem width does not match preset " + c.preset().name());
            }
            m.teacher().loadTorchvision(sd, tf.getFileName().toString());
            teacherSource = tf.getFileName().toString();
        }
        int size = c.preset().size();
        if (c.calibrateTeacher()) {
            if (!c.teacher().equals("random")) throw new IllegalArgumentException("--calibrate-teacher: only with --teacher random");
            TrainingRun.calibrate(be, m.teacher(), ds, train, size, c.batch());
            teacherSource += "+bn-calibrated";
        }
        listener.log(String.format(Locale.ROOT, "%s/%s: single-modality Reverse Distillation on %s, %d training and %d validation samples, preset %s",
                c.data(), c.category(), modality, train.size(), val.size(), c.preset().name()));
        Adam opt = new Adam(be, m.student(), c.lr());
        ExponentialLr schedule = new ExponentialLr(ExponentialLr.GAMMA);
        TrainingRun.InputCache cache = new TrainingRun.InputCache(ds, size, train.size());
        boolean rgb = modality.equals("rgb");
        long t0 = System.nanoTime();
        for (int e = 0; e < c.epochs(); e++) {
            double loss = 0;
            int steps = 0;
            m.train(true);
            for (List<Integer> b : TrainingRun.batches(train.size(), c.batch(), new Random(c.seed() * 1000003L + e))) {
                Graph teacher = Graph.inference(be), g = Graph.training(be);
                try (Tensor x = be.fromHost(cache.stack(b, train, rgb))) {
                    List<Var> t = m.teacher().forward(teacher, teacher.constant(x));
                    loss += BranchLoss.levels(g, m.student().forward(g, t), t);
                    opt.zeroGrad();
                    g.backward();
                    opt.step();
                    steps++;
                } finally {
                    g.release();
                    teacher.release();
                }
            }
            schedule.step(opt);
            listener.log(String.format(Locale.ROOT, "epoch %d/%d  loss %s %.5f  (%.0f s)", e + 1, c.epochs(), modality,
                    loss / Math.max(1, steps), (System.nanoTime() - t0) / 1e9));
        }
        m.train(false);
        ReverseDistillationDetector det = new ReverseDistillationDetector(be, m, new NormalizationStats.MeanStd(0, 1));
        int px = size * size;
        double[] all = new double[val.size() * px];
        for (int i = 0; i < val.size(); i++) {
            MvtecDataset.Inputs in = ds.load(val.get(i), size);
            System.arraycopy(det.rawMap(rgb ? in.rgb() : in.second()), 0, all, i * px, px);
        }
        double[] ms = ValidationStatistics.meanStd(all);
        listener.log(String.format(Locale.ROOT, "validation statistics %s mean %.6g std %.6g", modality, ms[0], ms[1]));
        var stats = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
        stats.putObject(modality).put("mean", ms[0]).put("std", ms[1]);
        ModelFiles.saveReverseDistillation(m, c.out(), teacherSource, stats);
    }
}
