package crd4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.autograd.Graph;
import crd4j.backend.Backend;
import crd4j.data.MvtecDataset;
import crd4j.detect.NormalizationStats;
import crd4j.io.ModelFile;
import crd4j.io.WeightsFormatException;
import crd4j.model.AnomalyMap;
import crd4j.model.Checkpoints;
import crd4j.model.CrdBranch;
import crd4j.model.CrdModel;
import crd4j.model.FusionSemantics;
import crd4j.model.ModelFiles;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import crd4j.train.CrdTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * {@code crd train}: trains one CRD model on one category (spec §7), then computes the validation statistics of §8.2
 * and stores them in the model file.
 *
 * <p>Inputs are preprocessed at the preset's side S (256 for paper; 128 small; 64 tiny): §2.2–§2.4 with 256 replaced
 * by S (RGB/GT/normals Pillow-resized to S, the xyz TIFF nearest-resized to S before the plane/closing/hole-fill
 * steps). Each epoch shuffles the training samples with {@code new Random(seed·1000003 + epoch)}, so the shuffle RNG
 * state at an epoch boundary is fully given by (seed, epoch). drop_last is false, except that a final batch of one
 * sample is skipped (training-mode batch norm needs more than one sample; a log line says so).
 *
 * <p>After every epoch the model file {@code --out} is written atomically (stats null until training ends) together
 * with the sidecar {@code <out>.train-state} (a crd4j {@link ModelFile}: both Adam states as tensors
 * {@code rgb.m.<i>}, {@code rgb.v.<i>}, …, the float64 fusion logits {@code rgb.fusion_logits.<j>} (the model file
 * rounds them to float32), and metadata {@code {"epoch": completed epochs, "lr_rgb", "lr_other",
 * "seed", "rng": "java.util.Random(seed*1000003+epoch)", ...}}). {@code --resume} continues from them.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a CRD model on one MVTec 3D-AD / Eyecandies category (spec §7), then store validation statistics (§8.2).")
final class TrainCommand implements Callable<Integer> {
    static final String STATE_SUFFIX = ".train-state";
    static final String STATE_FORMAT = "crd4j-train-state";

    @Mixin
    Common common;

    @Option(names = "--data", required = true, description = "Dataset root (<root>/<category>/{train,validation,test}).")
    Path data;

    @Option(names = "--category", required = true, description = "Category (class) name.")
    String category;

    @Option(names = "--teacher", defaultValue = "random",
            description = "torchvision wide_resnet50_2 .pth, or 'random' for a seeded random teacher (default: ${DEFAULT-VALUE}).")
    String teacher;

    @Option(names = "--preset", defaultValue = "paper", description = "paper | small | tiny (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--epochs", defaultValue = "200", description = "Epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch", defaultValue = "16", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "0.005", description = "Initial Adam learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--seed", defaultValue = "42", description = "Seed for initialisation, random teacher and shuffling (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--semantics", defaultValue = "detached", description = "Fusion gradient semantics (§6.3): detached | joint (default: ${DEFAULT-VALUE}).")
    String semantics;

    @Option(names = "--out", required = true, description = "Model file to write (crd4j format).")
    Path out;

    @Option(names = "--calibrate-teacher", description = "With --teacher random: estimate the random teacher's batch-norm"
            + " statistics on the training images (both modalities) before training.")
    boolean calibrateTeacher;

    @Option(names = "--resume", description = "Continue from --out and its " + STATE_SUFFIX + " sidecar.")
    boolean resume;

    @Override
    public Integer call() throws Exception {
        if (epochs < 1) throw new IllegalArgumentException("--epochs must be >= 1");
        if (batch < 2) throw new IllegalArgumentException("--batch must be >= 2 (batch norm in training mode needs more than one sample)");
        Backend be = common.backend();
        MvtecDataset ds = MvtecDataset.open(data, category);
        List<MvtecDataset.Sample> train = ds.samples("train");
        List<MvtecDataset.Sample> val = ds.samples("validation");
        Path statePath = out.resolveSibling(out.getFileName() + STATE_SUFFIX);

        CrdModel model;
        String teacherSource;
        CrdTrainer trainer;
        int startEpoch = 0;
        if (resume) {
            if (!Files.isRegularFile(out)) throw new WeightsFormatException(out, "--resume: no model file to resume from");
            if (!Files.isRegularFile(statePath)) throw new WeightsFormatException(statePath, "--resume: training-state sidecar missing");
            ModelFiles.Loaded l = ModelFiles.load(out, new NnContext(be, DType.FLOAT32, seed));
            model = l.model();
            teacherSource = l.meta().path("teacher").asText("?");
            ModelFile.Contents st = ModelFile.read(statePath);
            if (!STATE_FORMAT.equals(st.meta().path("format").asText())) {
                throw new WeightsFormatException(statePath, "metadata 'format': expected " + STATE_FORMAT);
            }
            startEpoch = st.meta().path("epoch").asInt();
            seed = st.meta().path("seed").asLong(seed);
            trainer = new CrdTrainer(be, model, lr);
            try {
                trainer.rgbOptimizer().importState(sub(st.tensors(), "rgb."));
                trainer.otherOptimizer().importState(sub(st.tensors(), "other."));
            } catch (IllegalArgumentException e) {
                throw new WeightsFormatException(statePath, e.getMessage());
            }
            restoreLogits(st.tensors(), "rgb.", model.rgbBranch().fusionWeights(), statePath);
            restoreLogits(st.tensors(), "other.", model.otherBranch().fusionWeights(), statePath);
            trainer.rgbOptimizer().setLr(st.meta().path("lr_rgb").asDouble());
            trainer.otherOptimizer().setLr(st.meta().path("lr_other").asDouble());
            System.err.printf(Locale.ROOT, "crd train: resuming %s after epoch %d (lr %.6g, seed %d)%n", out, startEpoch,
                    trainer.rgbOptimizer().lr(), seed);
        } else {
            Preset p = Preset.byName(preset);
            NnContext ctx = new NnContext(be, DType.FLOAT32, seed);
            model = new CrdModel(ctx, p, ds.modality());
            if (teacher.equals("random")) {
                teacherSource = "random(seed=" + seed + ")";
                System.err.println("crd train: WARNING: teacher is RANDOM (seed " + seed + "), not ImageNet-pretrained;"
                        + " the model shows the mechanics only, not the paper's accuracy");
            } else {
                Path tf = Path.of(teacher);
                Map<String, HostTensor> sd = Checkpoints.readTeacher(tf);
                int b = Checkpoints.teacherBase(sd, tf);
                if (b != p.base()) {
                    throw new WeightsFormatException(tf, "teacher stem width " + b + " does not match preset " + p.name() + " (base " + p.base() + ")");
                }
                Checkpoints.loadTeacher(model.teacher(), sd, tf);
                teacherSource = tf.getFileName().toString();
            }
            model.setSemantics(FusionSemantics.parse(semantics));
            if (calibrateTeacher) {
                if (!teacher.equals("random")) throw new IllegalArgumentException("--calibrate-teacher: only with --teacher random");
                calibrate(be, model, ds, train, p.size());
                teacherSource += "+bn-calibrated";
            }
            trainer = new CrdTrainer(be, model, lr);
        }
        int size = model.preset().size();
        if (startEpoch >= epochs) {
            System.err.printf(Locale.ROOT, "crd train: already trained %d epochs (>= --epochs %d); recomputing validation statistics%n",
                    startEpoch, epochs);
        }
        if (train.size() % batch == 1) {
            System.err.println("crd train: the last batch of each epoch would hold 1 sample; it is skipped (batch norm in"
                    + " training mode needs more than one sample)");
        }
        System.err.printf(Locale.ROOT, "crd train: %s/%s, %d training and %d validation samples, preset %s (S=%d), second modality %s%n",
                data, category, train.size(), val.size(), model.preset().name(), size, ds.modality().key());

        InputCache cache = new InputCache(ds, size, train.size());
        long t0 = System.nanoTime();
        int done = 0;
        for (int e = startEpoch; e < epochs; e++) {
            long te = System.nanoTime();
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < train.size(); i++) order.add(i);
            Collections.shuffle(order, new Random(seed * 1000003L + e));
            double rgbLoss = 0, otherLoss = 0, lr0 = trainer.rgbOptimizer().lr();
            int steps = 0, seen = 0;
            for (int i = 0; i < order.size(); i += batch) {
                List<Integer> b = order.subList(i, Math.min(order.size(), i + batch));
                if (b.size() < 2) continue;
                List<HostTensor> xs = new ArrayList<>(), ys = new ArrayList<>();
                for (int k : b) {
                    MvtecDataset.Inputs in = cache.get(k, train.get(k));
                    xs.add(in.rgb());
                    ys.add(in.second());
                }
                var x = be.fromHost(MvtecDataset.stack(xs));
                var y = be.fromHost(MvtecDataset.stack(ys));
                CrdTrainer.StepLosses l = trainer.step(x, y);
                x.close();
                y.close();
                rgbLoss += l.rgb().total();
                otherLoss += l.other().total();
                steps++;
                seen += b.size();
            }
            trainer.endEpoch();
            model.train(false);
            saveCheckpoint(model, teacherSource, trainer, statePath, e + 1);
            done++;
            double secs = (System.nanoTime() - te) / 1e9, total = (System.nanoTime() - t0) / 1e9;
            double eta = total / done * (epochs - e - 1);
            System.err.printf(Locale.ROOT, "epoch %d/%d  lr %.4g  loss rgb %.5f  %s %.5f  %.1f samples/s  ETA %s%n", e + 1, epochs, lr0,
                    rgbLoss / Math.max(steps, 1), ds.modality().key(), otherLoss / Math.max(steps, 1), seen / secs, hms(eta));
        }

        model.train(false);
        NormalizationStats stats = validationStats(be, model, ds, val, size);
        System.err.printf(Locale.ROOT, "crd train: validation statistics rgb mean %.6g std %.6g, %s mean %.6g std %.6g%n",
                stats.rgbMean(), stats.rgbStd(), ds.modality().key(), stats.otherMean(), stats.otherStd());
        ModelFiles.save(model, out, teacherSource, stats.toJson(model.secondModality().key()));
        System.out.println("wrote " + out);
        return 0;
    }

    /** Re-estimates the teacher's batch-norm statistics on the training images of both modalities. */
    private void calibrate(Backend be, CrdModel model, MvtecDataset ds, List<MvtecDataset.Sample> train, int size) throws IOException {
        List<crd4j.backend.Tensor> batches = new ArrayList<>();
        for (int i = 0; i + 1 < train.size(); i += batch) {
            List<HostTensor> xs = new ArrayList<>(), ys = new ArrayList<>();
            for (MvtecDataset.Sample s : train.subList(i, Math.min(train.size(), i + batch))) {
                MvtecDataset.Inputs in = ds.load(s, size);
                xs.add(in.rgb());
                ys.add(in.second());
            }
            batches.add(be.fromHost(MvtecDataset.stack(xs)));
            batches.add(be.fromHost(MvtecDataset.stack(ys)));
        }
        model.teacher().calibrateBatchNorm(be, batches);
        for (crd4j.backend.Tensor t : batches) t.close();
        System.err.println("crd train: random teacher's batch-norm statistics estimated on " + train.size() + " training samples (both modalities)");
    }

    private void saveCheckpoint(CrdModel model, String teacherSource, CrdTrainer trainer, Path statePath, int epochsDone)
            throws IOException {
        ModelFiles.save(model, out, teacherSource, null);
        Map<String, HostTensor> t = new LinkedHashMap<>();
        trainer.rgbOptimizer().exportState().forEach((k, v) -> t.put("rgb." + k, v));
        trainer.otherOptimizer().exportState().forEach((k, v) -> t.put("other." + k, v));
        // the model file stores the fusion logits as float32 (reference dtype); training keeps them in float64
        putLogits(t, "rgb.", model.rgbBranch().fusionWeights());
        putLogits(t, "other.", model.otherBranch().fusionWeights());
        ObjectNode meta = new ObjectMapper().createObjectNode();
        meta.put("format", STATE_FORMAT);
        meta.put("epoch", epochsDone);
        meta.put("lr_rgb", trainer.rgbOptimizer().lr());
        meta.put("lr_other", trainer.otherOptimizer().lr());
        meta.put("seed", seed);
        meta.put("rng", "java.util.Random(seed*1000003+epoch) per epoch; next epoch " + epochsDone);
        meta.put("batch", batch);
        meta.put("category", category);
        ModelFile.write(statePath, t, meta);
    }

    private static void putLogits(Map<String, HostTensor> t, String prefix, List<crd4j.autograd.FusionWeights> ws) {
        for (int j = 0; j < ws.size(); j++) t.put(prefix + "fusion_logits." + j, HostTensor.of(ws.get(j).logits(), 2));
    }

    private static void restoreLogits(Map<String, HostTensor> t, String prefix, List<crd4j.autograd.FusionWeights> ws, Path file)
            throws WeightsFormatException {
        for (int j = 0; j < ws.size(); j++) {
            HostTensor h = t.get(prefix + "fusion_logits." + j);
            if (h == null || h.numel() != 2) throw new WeightsFormatException(file, "tensor '" + prefix + "fusion_logits." + j + "' missing");
            ws.get(j).setLogits(h.getDouble(0), h.getDouble(1));
        }
    }

    private static Map<String, HostTensor> sub(Map<String, HostTensor> all, String prefix) {
        Map<String, HostTensor> out = new HashMap<>();
        all.forEach((k, v) -> { if (k.startsWith(prefix)) out.put(k.substring(prefix.length()), v); });
        return out;
    }

    /** §8.2: mean and population std (float64, two passes) over all pixels of all raw validation maps per branch. */
    static NormalizationStats validationStats(Backend be, CrdModel model, MvtecDataset ds, List<MvtecDataset.Sample> val, int s)
            throws IOException {
        int px = s * s;
        double[] r = new double[val.size() * px], o = new double[val.size() * px];
        for (int i = 0; i < val.size(); i++) {
            MvtecDataset.Inputs in = ds.load(val.get(i), s);
            var x = be.fromHost(in.rgb());
            var y = be.fromHost(in.second());
            Graph g = Graph.inference(be);
            try {
                CrdModel.TeacherFeatures t = model.teacherForward(g, x, y);
                CrdBranch.Output a = model.rgbForward(g, t), b = model.otherForward(g, t);
                System.arraycopy(AnomalyMap.raw(be, a.fused(), t.rgb(), s).doubles(), 0, r, i * px, px);
                System.arraycopy(AnomalyMap.raw(be, b.fused(), t.other(), s).doubles(), 0, o, i * px, px);
            } finally {
                g.release();
                x.close();
                y.close();
            }
        }
        double[] mr = DemoCommand.meanStd(r), mo = DemoCommand.meanStd(o);
        return new NormalizationStats(mr[0], mr[1], mo[0], mo[1]);
    }

    static String hms(double secs) {
        long t = Math.round(secs);
        return String.format(Locale.ROOT, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    }

    /** Keeps preprocessed training inputs in memory when they fit in 1 GiB; otherwise loads them per batch. */
    private static final class InputCache {
        private final MvtecDataset ds;
        private final int size;
        private final Map<Integer, MvtecDataset.Inputs> cache;

        InputCache(MvtecDataset ds, int size, int n) {
            this.ds = ds;
            this.size = size;
            long bytes = (long) n * 2 * 3 * size * size * 4;
            this.cache = bytes <= (1L << 30) ? new HashMap<>() : null;
        }

        MvtecDataset.Inputs get(int i, MvtecDataset.Sample s) throws IOException {
            if (cache == null) return ds.load(s, size);
            MvtecDataset.Inputs in = cache.get(i);
            if (in == null) {
                in = ds.load(s, size);
                cache.put(i, new MvtecDataset.Inputs(in.rgb(), in.second(), null));
            }
            return in;
        }
    }
}
