package crd4j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.autograd.FusionWeights;
import crd4j.backend.Backend;
import crd4j.backend.Tensor;
import crd4j.data.MvtecDataset;
import crd4j.detect.BranchMode;
import crd4j.data.NormalsFromDepth;
import crd4j.data.SecondInput;
import crd4j.detect.NormalizationStats;
import crd4j.detect.Sample;
import crd4j.detect.ValidationStatistics;
import crd4j.detect.Detector;
import crd4j.detect.Thresholds;
import crd4j.io.ModelFile;
import crd4j.io.WeightsFormatException;
import crd4j.model.Checkpoints;
import crd4j.model.CrdModel;
import crd4j.model.FusionSemantics;
import crd4j.model.ModelFiles;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * One training run on one category (spec §7), then the validation statistics of §8.2 stored in the model file: what
 * {@code crd train} and {@code crd demo} run.
 *
 * <p>Inputs are preprocessed at the preset's side S (§2.2–§2.4 with 256 replaced by S). Each epoch shuffles the
 * training samples with {@code new Random(seed·1000003 + epoch)}, so the shuffle state at an epoch boundary is given by
 * (seed, epoch). drop_last is false, except that a final batch of one sample is skipped (training-mode batch norm
 * needs more than one sample; a log line says so).
 *
 * <h2>Checkpoints and resuming</h2>
 * After every epoch two files are written, each atomically (temporary file, fsync, rename):
 * <ol>
 *   <li>{@code <out>.train-state}: everything a resumed run needs, in one checksummed crd4j {@link ModelFile}: the
 *       model's tensors (as in the model file), both Adam states ({@code optim.rgb.m.<i>}, {@code optim.rgb.v.<i>}, …),
 *       the float64 fusion logits and their Adam moments, and metadata {@code {"format": "crd4j-train-state",
 *       "epoch": completed epochs, "lr_rgb", "lr_other", "seed", "model": <the model file's metadata>, …}};</li>
 *   <li>{@code <out>}: the model file (stats null until training ends).</li>
 * </ol>
 * Because the training state is one file replaced by one rename, a run killed at any moment leaves either the previous
 * or the new epoch's state, never a mixture, and the model file is always a complete earlier or current version.
 * {@code resume} reads only the training state, so at most the epoch in progress is lost.
 */
public final class TrainingRun {
    public static final String STATE_SUFFIX = ".train-state";
    public static final String STATE_FORMAT = "crd4j-train-state";
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param teacher          torchvision wide_resnet50_2 .pth path, or {@code "random"}
     * @param calibrateTeacher with a random teacher: estimate its batch-norm statistics on the training images first
     * @param recipe           the reference version whose settings {@code seed} and {@code semantics} came from (recorded
     *                         in the model file) and whose second input is used for xyz data when {@code second} is null
     * @param second           the second input ({@code --second}); null: the data's own (xyz TIFFs → the recipe's
     *                         choice, normals PNGs → normals)
     * @param sobelK           {@code --sobel-k} for normals-from-depth; null: the class's default k
     */
    public record Config(Path data, String category, String teacher, Preset preset, int epochs, int batch, double lr,
                         long seed, FusionSemantics semantics, boolean calibrateTeacher, Path out, boolean resume,
                         Recipe recipe, SecondInput.Kind second, Integer sobelK, int mappingEpochs) {
        /** Without a mapping network. */
        public Config(Path data, String category, String teacher, Preset preset, int epochs, int batch, double lr,
                      long seed, FusionSemantics semantics, boolean calibrateTeacher, Path out, boolean resume,
                      Recipe recipe, SecondInput.Kind second, Integer sobelK) {
            this(data, category, teacher, preset, epochs, batch, lr, seed, semantics, calibrateTeacher, out, resume, recipe, second,
                    sobelK, 0);
        }

        public Config {
            if (mappingEpochs < 0) throw new IllegalArgumentException("--mapping-epochs must be >= 0");
            if (epochs < 1) throw new IllegalArgumentException("--epochs must be >= 1");
            if (batch < 2) throw new IllegalArgumentException("--batch must be >= 2 (batch norm in training mode needs more than one sample)");
            if (!(lr > 0)) throw new IllegalArgumentException("--lr must be > 0");
            if (recipe == null) recipe = Recipe.PAPER_2024;
            if (sobelK != null) NormalsFromDepth.checkSobelK(sobelK);
        }

        /** The paper-era recipe, the data's own second input. */
        public Config(Path data, String category, String teacher, Preset preset, int epochs, int batch, double lr,
                      long seed, FusionSemantics semantics, boolean calibrateTeacher, Path out, boolean resume) {
            this(data, category, teacher, preset, epochs, batch, lr, seed, semantics, calibrateTeacher, out, resume,
                    Recipe.PAPER_2024, null, null);
        }

        /** The second input this configuration asks for, given the data's own ({@code detected}). */
        public SecondInput secondInput(SecondInput detected) {
            SecondInput.Kind k = second != null ? second
                    : detected.kind() == SecondInput.Kind.DEPTH ? recipe.xyzInput() : detected.kind();
            return SecondInput.of(k, sobelK, category);
        }
    }

    /** Progress of a run: called on the training thread. */
    public interface Listener {
        /** A listener that ignores everything. */
        Listener NONE = new Listener() {};

        /**
         * Before the first epoch that runs; {@code samplesPerEpoch} counts the samples actually trained on,
         * {@code otherModality} names the second branch ("depth" or "normals").
         */
        default void started(int startEpoch, int epochs, int samplesPerEpoch, String otherModality) {}

        /** After every optimisation step of the current epoch. */
        default void step(int epoch, int samplesDone, CrdTrainer.StepLosses losses) {}

        /** After each epoch, once its checkpoint is written. */
        default void epochDone(EpochReport report) {}

        /** A message for the log (warnings, resume, statistics). */
        default void log(String message) {}
    }

    /** Mean losses of one epoch (1-based {@code epoch}). */
    public record EpochReport(int epoch, int epochs, double lr, double rgbLoss, double otherLoss, int samples,
                              double seconds, double etaSeconds) {}

    /** What a finished run produced. */
    public record Result(CrdModel model, NormalizationStats stats, String teacherSource, int epochsTrained) {}

    private TrainingRun() {}

    public static Path statePath(Path out) {
        return out.resolveSibling(out.getFileName() + STATE_SUFFIX);
    }

    public static Result run(Backend be, Config c, Listener listener) throws IOException {
        return run(be, c, listener, () -> false);
    }

    /**
     * Runs training; {@code stop} is polled before every optimisation step (and between validation samples): once it
     * says true the run writes its training state as it stands (mid-epoch: the step within the epoch is recorded, and
     * {@code --resume} continues from that step) and throws {@link Stopped}. {@link StopOnSignal} makes SIGTERM and
     * Ctrl-C such a request.
     */
    public static Result run(Backend be, Config c, Listener listener, java.util.function.BooleanSupplier stop) throws IOException {
        checkOutputPath(c.out());
        MvtecDataset ds = MvtecDataset.open(c.data(), c.category());
        List<MvtecDataset.Sample> train = ds.samples("train");
        List<MvtecDataset.Sample> val = ds.samples("validation");
        if (train.size() < 2) throw new WeightsFormatException(ds.categoryDir().resolve("train"), "need at least 2 training samples, found " + train.size());
        if (val.isEmpty()) throw new WeightsFormatException(ds.categoryDir().resolve("validation"), "no validation samples (needed for the validation statistics that normalise the maps, and the decision thresholds)");
        Path statePath = statePath(c.out());

        CrdModel model;
        InputCache preChecked = null;
        String teacherSource;
        CrdTrainer trainer;
        int startEpoch = 0, startStep = 0;
        double startRgbLoss = 0, startOtherLoss = 0;
        int startSeen = 0;
        ObjectNode resumedDataset = null;
        long seed = c.seed();
        SecondInput second;
        String recipe;
        if (c.resume()) {
            if (!Files.isRegularFile(statePath)) throw new WeightsFormatException(statePath, "--resume: training-state file missing");
            ModelFile.Contents st = ModelFile.read(statePath);   // verifies the checksum: a damaged state is refused here
            if (!STATE_FORMAT.equals(st.meta().path("format").asText())) {
                throw new WeightsFormatException(statePath, "metadata 'format': expected " + STATE_FORMAT);
            }
            checkStateVersion(st.meta(), statePath);
            if (st.meta().has("batch") && st.meta().path("batch").asInt() != c.batch()) {
                throw new WeightsFormatException(statePath, "this training state was made with --batch " + st.meta().path("batch").asInt()
                        + ", not " + c.batch() + " (the order of the remaining steps depends on it): give --batch "
                        + st.meta().path("batch").asInt() + " to resume it");
            }
            if (!(st.meta().get("model") instanceof ObjectNode modelMeta)) {
                throw new WeightsFormatException(statePath, "metadata 'model': missing");
            }
            if (!c.category().equals(st.meta().path("category").asText(c.category()))) {
                throw new WeightsFormatException(statePath, "metadata 'category': this state trains '"
                        + st.meta().path("category").asText() + "', not '" + c.category() + "'");
            }
            seed = st.meta().path("seed").asLong(seed);
            crd4j.detect.ModelMetadata typed = crd4j.detect.ModelMetadata.read(modelMeta, statePath);
            second = typed.secondInput();
            if ((c.second() != null || c.sobelK() != null) && !second.equals(c.secondInput(ds.secondInput()))) {
                throw new WeightsFormatException(statePath, "--resume: this run trains with --second " + second.describe()
                        + "; it cannot continue with " + c.secondInput(ds.secondInput()).describe());
            }
            ds = ds.with(second, "--resume (" + statePath.getFileName() + ")");
            recipe = typed.recipe() != null ? typed.recipe() : Recipe.PAPER_2024.key();
            model = ModelFiles.fromContents(st.tensors(), modelMeta, statePath, new NnContext(be, DType.FLOAT32, seed)).model();
            teacherSource = typed.teacher();
            if (c.preset() != null && !c.preset().name().equals(model.preset().name())) {
                throw new WeightsFormatException(statePath, "this training state trains preset '" + model.preset().name()
                        + "', not --preset " + c.preset().name() + " (leave --preset out to resume it)");
            }
            startEpoch = st.meta().path("epoch").asInt();
            startStep = st.meta().path("step").asInt(0);
            startRgbLoss = st.meta().path("loss_rgb_sum").asDouble(0);
            startOtherLoss = st.meta().path("loss_other_sum").asDouble(0);
            startSeen = st.meta().path("seen").asInt(0);
            resumedDataset = st.meta().get("dataset") instanceof ObjectNode dn ? dn : null;
            trainer = new CrdTrainer(be, model, c.lr());
            try {
                trainer.rgbOptimizer().importState(sub(st.tensors(), "optim.rgb."));
                trainer.otherOptimizer().importState(sub(st.tensors(), "optim.other."));
            } catch (IllegalArgumentException e) {
                throw new WeightsFormatException(statePath, e.getMessage());
            }
            restoreLogits(st.tensors(), "optim.rgb.", model.rgbBranch().fusionWeights(), statePath);
            restoreLogits(st.tensors(), "optim.other.", model.otherBranch().fusionWeights(), statePath);
            trainer.rgbOptimizer().setLr(st.meta().path("lr_rgb").asDouble());
            trainer.otherOptimizer().setLr(st.meta().path("lr_other").asDouble());
            if (model.secondModality() != ds.modality()) {
                throw new WeightsFormatException(statePath, "model's second modality is " + model.secondModality().key()
                        + " but " + ds.categoryDir() + " has " + ds.modality().key());
            }
            listener.log(String.format(java.util.Locale.ROOT, "resuming %s after epoch %d%s (lr %.6g, seed %d)", statePath,
                    startEpoch, startStep > 0 ? " and step " + startStep + " of epoch " + (startEpoch + 1) : "",
                    trainer.rgbOptimizer().lr(), seed));
        } else {
            second = c.secondInput(ds.secondInput());
            ds = ds.with(second, "--second " + second.kind().key());
            recipe = c.recipe().key();
            Preset p = c.preset();
            model = new CrdModel(new NnContext(be, DType.FLOAT32, seed), p, ds.modality());
            if (c.teacher().equals("random")) {
                teacherSource = "random(seed=" + seed + ")";
                listener.log("WARNING: teacher is RANDOM (seed " + seed + "), not ImageNet-pretrained;"
                        + " the model shows the mechanics only, not the paper's accuracy");
            } else {
                Path tf = Path.of(c.teacher());
                Map<String, HostTensor> sd = Checkpoints.readTeacher(tf);
                int b = Checkpoints.teacherBase(sd, tf);
                if (b != p.base()) {
                    throw new WeightsFormatException(tf, "teacher stem width " + b + " does not match preset " + p.name() + " (base " + p.base() + ")");
                }
                Checkpoints.loadTeacher(model.teacher(), sd, tf);
                teacherSource = tf.getFileName().toString();
            }
            model.setSemantics(c.semantics());
            preChecked = checkInputs(ds, p.size(), listener);
            if (c.calibrateTeacher()) {
                if (!c.teacher().equals("random")) throw new IllegalArgumentException("--calibrate-teacher: only with --teacher random");
                calibrate(be, model.teacher(), ds, train, p.size(), c.batch());
                teacherSource += "+bn-calibrated";
                listener.log("random teacher's batch-norm statistics estimated on " + train.size() + " training samples (both modalities)");
            }
            trainer = new CrdTrainer(be, model, c.lr());
        }
        train = ds.samples("train");        // again: the chosen second input may live in another folder
        val = ds.samples("validation");
        int size = model.preset().size();
        if (startEpoch >= c.epochs()) {
            listener.log("already trained " + startEpoch + " epochs (>= --epochs " + c.epochs() + "); recomputing validation statistics");
        }
        if (train.size() % c.batch() == 1) {
            listener.log("the last batch of each epoch would hold 1 sample; it is skipped (batch norm in training mode needs"
                    + " more than one sample)");
        }
        listener.log(String.format(java.util.Locale.ROOT, "%s/%s: %d training and %d validation samples, preset %s (S=%d), second input %s, recipe %s",
                c.data(), c.category(), train.size(), val.size(), model.preset().name(), size, second.describe(), recipe));
        ObjectNode info = JSON.createObjectNode();
        info.put("recipe", recipe);
        info.put("seed", seed);
        second.writeTo(info);

        ObjectNode dataset = datasetNode(ds, train, val);
        if (resumedDataset != null && !resumedDataset.path("fingerprint").asText().equals(dataset.path("fingerprint").asText())) {
            throw new WeightsFormatException(statePath, "this training state was made from other data: " + describe(resumedDataset)
                    + " then, " + describe(dataset) + " in " + ds.categoryDir() + " now (resume on the same data, or start"
                    + " again without --resume)");
        }
        InputCache cache = preChecked != null ? preChecked : checkInputs(ds, size, listener);
        int perEpoch = train.size() - (train.size() % c.batch() == 1 ? 1 : 0);
        if (startEpoch < c.epochs()) listener.started(startEpoch, c.epochs(), perEpoch, ds.modality().key());
        long t0 = System.nanoTime();
        int done = 0;
        for (int e = startEpoch; e < c.epochs(); e++) {
            long te = System.nanoTime();
            boolean resumedHere = e == startEpoch && startStep > 0;
            double rgbLoss = resumedHere ? startRgbLoss : 0, otherLoss = resumedHere ? startOtherLoss : 0, lr0 = trainer.rgbOptimizer().lr();
            int steps = 0, seen = resumedHere ? startSeen : 0;
            List<List<Integer>> epochBatches = batches(train.size(), c.batch(), new Random(seed * 1000003L + e));
            for (List<Integer> b : epochBatches) {
                if (resumedHere && steps < startStep) {   // done before the run was stopped
                    steps++;
                    continue;
                }
                if (stop.getAsBoolean()) {
                    // between two steps: weights, Adam moments and running statistics are those after `steps` steps
                    model.train(false);
                    ObjectNode partial = JSON.createObjectNode();
                    partial.put("step", steps);
                    partial.put("loss_rgb_sum", rgbLoss);
                    partial.put("loss_other_sum", otherLoss);
                    partial.put("seen", seen);
                    saveCheckpoint(model, teacherSource, trainer, c, seed, statePath, e, info, dataset, partial);
                    throw new Stopped(String.format(java.util.Locale.ROOT, "stopped on request in epoch %d of %d (after step %d of %d);"
                            + " the training state is saved in %s: run the same command with --resume to continue from there",
                            e + 1, c.epochs(), steps, epochBatches.size(), statePath));
                }
                CrdTrainer.StepLosses l;
                try (Tensor x = be.fromHost(cache.stack(b, train, true)); Tensor y = be.fromHost(cache.stack(b, train, false))) {
                    l = trainer.step(x, y);
                }
                checkFinite(l.rgb().total(), "rgb", e, steps, epochBatches.size(), c, statePath, startEpoch);
                checkFinite(l.other().total(), model.secondModality().key(), e, steps, epochBatches.size(), c, statePath, startEpoch);
                rgbLoss += l.rgb().total();
                otherLoss += l.other().total();
                steps++;
                seen += b.size();
                listener.step(e + 1, seen, l);
            }
            trainer.endEpoch();
            model.train(false);
            saveCheckpoint(model, teacherSource, trainer, c, seed, statePath, e + 1, info, dataset, null);
            done++;
            double secs = (System.nanoTime() - te) / 1e9, total = (System.nanoTime() - t0) / 1e9;
            listener.epochDone(new EpochReport(e + 1, c.epochs(), lr0, rgbLoss / Math.max(steps, 1), otherLoss / Math.max(steps, 1),
                    seen, secs, total / done * (c.epochs() - e - 1)));
        }

        model.train(false);
        if (c.mappingEpochs() > 0) trainMapping(be, model, c, train, cache, seed, listener);
        // Training holds the fusion logits in float64, the model file in float32: from here on the model is the one
        // the file will hold, so the statistics and thresholds below are exactly those of the loaded model.
        for (List<FusionWeights> ws : List.of(model.rgbBranch().fusionWeights(), model.otherBranch().fusionWeights())) {
            for (FusionWeights w : ws) w.setLogits((float) w.logits()[0], (float) w.logits()[1]);
        }
        NormalizationStats stats = validationStats(be, model, ds, val, size, stop, statePath);
        StringBuilder line = new StringBuilder("validation statistics (both modalities):");
        for (String b : stats.branches()) {
            NormalizationStats.MeanStd ms = stats.find(b, BranchMode.REAL);
            line.append(String.format(java.util.Locale.ROOT, " %s mean %.6g std %.6g", b, ms.mean(), ms.std()));
        }
        listener.log(line + "; and for scoring with one modality missing: " + (stats.modes(stats.branches().get(0)).size() - 1)
                + " modes per branch");
        ObjectNode finalInfo = info.deepCopy();
        try {
            Thresholds thresholds = validationThresholds(be, model, stats, ds, val, size);
            listener.log(String.format(java.util.Locale.ROOT, "decision thresholds (%s over %d good validation parts): image %.6g, pixel %.6g",
                    thresholds.rule(), thresholds.parts(), thresholds.image(), thresholds.pixel()));
            finalInfo.set(crd4j.detect.ModelMetadata.THRESHOLDS, thresholds.toJson());
        } catch (IllegalArgumentException e) {
            // a degenerate model (every validation score <= 0) still gets saved; it scores, and says to calibrate
            listener.log("WARNING: no decision thresholds stored (" + e.getMessage() + "); run crd calibrate");
        }
        ModelFiles.save(model, c.out(), teacherSource, stats.toJson(), finalInfo);
        return new Result(model, stats, teacherSource, Math.max(startEpoch, c.epochs()));
    }

    /**
     * The optional few-modal mapping network (§17.2 item 5), trained after the students on the same training samples
     * and batch size, with its own shuffle ({@code new Random(seed·1000003 + 7919·(epoch+1))} per mapping epoch).
     */
    private static void trainMapping(Backend be, CrdModel model, Config c, List<MvtecDataset.Sample> train, InputCache cache,
                                     long seed, Listener listener) throws IOException {
        long t0 = System.nanoTime();
        MappingTrainer mt = new MappingTrainer(be, model, new NnContext(be, DType.FLOAT32, seed + 17), c.lr());
        long params = mt.network().parameterCount();
        for (int e = 0; e < c.mappingEpochs(); e++) {
            double a = 0, b = 0;
            int steps = 0;
            for (List<Integer> bi : batches(train.size(), c.batch(), new Random(seed * 1000003L + 7919L * (e + 1)))) {
                try (Tensor x = be.fromHost(cache.stack(bi, train, true)); Tensor y = be.fromHost(cache.stack(bi, train, false))) {
                    MappingTrainer.StepLosses l = mt.step(x, y);
                    a += l.toRgb();
                    b += l.toSecond();
                    steps++;
                }
            }
            listener.log(String.format(java.util.Locale.ROOT, "mapping network epoch %d/%d: loss to rgb %.5f, to %s %.5f",
                    e + 1, c.mappingEpochs(), a / Math.max(1, steps), model.secondModality().key(), b / Math.max(1, steps)));
        }
        listener.log(String.format(java.util.Locale.ROOT, "mapping network: %d parameters, %d epochs in %.1f s",
                params, c.mappingEpochs(), (System.nanoTime() - t0) / 1e9));
    }

    /**
     * One epoch's batches: the indices 0..n−1 shuffled by {@code rnd} ({@code Collections.shuffle}), cut into batches of
     * {@code batch}; a final batch of one sample is left out (training-mode batch norm needs two).
     */
    static List<List<Integer>> batches(int n, int batch, Random rnd) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < n; i++) order.add(i);
        Collections.shuffle(order, rnd);
        List<List<Integer>> out = new ArrayList<>();
        for (int i = 0; i < n; i += batch) {
            List<Integer> b = order.subList(i, Math.min(n, i + batch));
            if (b.size() >= 2) out.add(b);
        }
        return out;
    }

    public static String hms(double secs) {
        long t = Math.round(secs);
        return String.format(java.util.Locale.ROOT, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    }

    /** A random teacher's batch-norm statistics estimated on the training images of both modalities. */
    static void calibrate(Backend be, crd4j.model.WideResNetTeacher teacher, MvtecDataset ds, List<MvtecDataset.Sample> train, int size, int batch)
            throws IOException {
        List<Tensor> batches = new ArrayList<>();
        try {
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
            teacher.calibrateBatchNorm(be, batches);
        } finally {
            for (Tensor t : batches) t.close();
        }
    }

    /**
     * Writes the training state, then the model file. {@code partial} (null at an epoch's end) holds the step within
     * epoch {@code epochsDone + 1} and that epoch's running loss sums, for a run stopped between two steps. Every
     * tensor must be finite: a diverged step that left NaN or Inf in a weight or an Adam moment stops the run instead
     * of replacing the last good checkpoint.
     */
    private static void saveCheckpoint(CrdModel model, String teacherSource, CrdTrainer trainer, Config c, long seed,
                                       Path statePath, int epochsDone, ObjectNode info, ObjectNode dataset, ObjectNode partial)
            throws IOException {
        Map<String, HostTensor> t = new LinkedHashMap<>(ModelFiles.tensors(model));
        trainer.rgbOptimizer().exportState().forEach((k, v) -> t.put("optim.rgb." + k, v));
        trainer.otherOptimizer().exportState().forEach((k, v) -> t.put("optim.other." + k, v));
        // the model tensors hold the fusion logits as float32 (reference dtype); training keeps them in float64
        putLogits(t, "optim.rgb.", model.rgbBranch().fusionWeights());
        putLogits(t, "optim.other.", model.otherBranch().fusionWeights());
        ObjectNode meta = JSON.createObjectNode();
        meta.put("format", STATE_FORMAT);
        meta.put("epoch", epochsDone);
        meta.put("lr_rgb", trainer.rgbOptimizer().lr());
        meta.put("lr_other", trainer.otherOptimizer().lr());
        meta.put("seed", seed);
        meta.put("rng", "java.util.Random(seed*1000003+epoch) per epoch; next epoch " + epochsDone);
        meta.put("batch", c.batch());
        meta.put("category", c.category());
        meta.put("state_version", STATE_VERSION);
        meta.put("crd4j_version", crd4jVersion());
        meta.set("dataset", dataset);
        if (partial != null) meta.setAll(partial);
        meta.set("model", ModelFiles.meta(model, teacherSource, null, info));
        for (Map.Entry<String, HostTensor> en : t.entrySet()) {
            String bad = nonFinite(en.getValue());
            if (bad != null) {
                throw new Diverged("training diverged: tensor '" + en.getKey() + "' holds " + bad + (partial == null ? " after epoch " + epochsDone
                        : " in epoch " + (epochsDone + 1) + " (step " + partial.path("step").asInt() + ")")
                        + " (learning rate too high?); " + lastGood(statePath) + " (lower --lr and start again)");
            }
        }
        // the training state first: it alone is what --resume reads, so it must never lag behind the model file
        ModelFile.write(statePath, t, meta);
        ModelFiles.save(model, c.out(), teacherSource, null, info);
    }

    private static void putLogits(Map<String, HostTensor> t, String prefix, List<FusionWeights> ws) {
        for (int j = 0; j < ws.size(); j++) t.put(prefix + "fusion_logits." + j, HostTensor.of(ws.get(j).logits(), 2));
    }

    private static void restoreLogits(Map<String, HostTensor> t, String prefix, List<FusionWeights> ws, Path file)
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

    /**
     * §8.2 and §17.2 item 3: the validation statistics of every map a scoring mode can produce (see
     * {@link ValidationStatistics}), from the validation split at the model's input side.
     */
    public static NormalizationStats validationStats(Backend be, CrdModel model, MvtecDataset ds, List<MvtecDataset.Sample> val, int s)
            throws IOException {
        return validationStats(be, model, ds, val, s, () -> false, null);
    }

    private static NormalizationStats validationStats(Backend be, CrdModel model, MvtecDataset ds, List<MvtecDataset.Sample> val, int s,
                                                      java.util.function.BooleanSupplier stop, Path statePath) throws IOException {
        return ValidationStatistics.compute(be, model, val.size(), i -> {
            if (stop.getAsBoolean()) {
                throw new Stopped("stopped on request while computing the validation statistics; every epoch is trained and"
                        + " saved in " + statePath + ": run the same command with --resume to compute them");
            }
            MvtecDataset.Inputs in = ds.load(val.get(i), s);
            return Sample.of(in.rgb(), in.second());
        }, true);
    }

    /** The decision thresholds of the good validation parts ({@link Thresholds#fromValidation}), at the model's side. */
    public static Thresholds validationThresholds(Backend be, CrdModel model, NormalizationStats stats, MvtecDataset ds,
                                                  List<MvtecDataset.Sample> val, int s) throws IOException {
        try (Detector det = new Detector(be, model, stats, null, ds.secondInput(), null)) {
            return ValidationStatistics.thresholds(det, val.size(), i -> {
                MvtecDataset.Inputs in = ds.load(val.get(i), s);
                return Sample.of(in.rgb(), in.second());
            });
        }
    }

    /** The version of the training-state layout; a state without it (or another) is refused by {@code --resume}. */
    public static final int STATE_VERSION = 2;

    /** This build's version ({@code Implementation-Version} of the jar; "dev" when run from classes). */
    public static String crd4jVersion() {
        String v = TrainingRun.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    /** Thrown when a run stops because its stop request (SIGTERM, Ctrl-C) came; the state to resume from is written. */
    public static final class Stopped extends RuntimeException {
        public Stopped(String message) { super(message); }
    }

    /** Thrown when a loss or a weight becomes NaN or Inf; nothing of the diverged epoch is saved. */
    public static final class Diverged extends RuntimeException {
        public Diverged(String message) { super(message); }
    }

    /**
     * Checks the output path before any work: its folder exists and can be written, and the path is not a folder.
     * Whether an existing model may be replaced is the caller's policy ({@code crd train} refuses without
     * {@code --resume} or {@code --force}).
     */
    public static void checkOutputPath(Path out) throws IOException {
        Path abs = out.toAbsolutePath();
        Path dir = abs.getParent();
        if (Files.isDirectory(abs)) throw new WeightsFormatException(out, "--out is a folder (expected a model file name, e.g. " + out.resolve("model.crd4j") + ")");
        if (dir == null || !Files.isDirectory(dir)) {
            throw new WeightsFormatException(out, "--out: the folder " + (dir == null ? "?" : dir) + " does not exist (create it first)");
        }
        // a real probe: Files.isWritable says yes to root on a read-only mount
        Path probe = dir.resolve("." + abs.getFileName() + ".probe-" + ProcessHandle.current().pid());
        try {
            Files.deleteIfExists(probe);
            Files.createFile(probe);
        } catch (IOException e) {
            throw new WeightsFormatException(out, "--out: cannot write in " + dir + " (" + reason(e) + ")");
        } finally {
            try {
                Files.deleteIfExists(probe);
            } catch (IOException ignored) {
                // a probe we could create but not delete is harmless
            }
        }
    }

    private static String reason(IOException e) {
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) return f.getReason();
        if (e instanceof java.nio.file.AccessDeniedException) return "permission denied";
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }

    private static void checkStateVersion(com.fasterxml.jackson.databind.JsonNode meta, Path statePath) throws WeightsFormatException {
        if (!meta.has("state_version") || !meta.has("crd4j_version")) {
            throw new WeightsFormatException(statePath, "this training state was written by an older crd4j (no version recorded);"
                    + " it cannot be resumed safely: start again without --resume");
        }
        if (meta.path("state_version").asInt() != STATE_VERSION || !meta.path("crd4j_version").asText().equals(crd4jVersion())) {
            throw new WeightsFormatException(statePath, "this training state was written by crd4j " + meta.path("crd4j_version").asText()
                    + " (state layout " + meta.path("state_version").asText() + "), this is crd4j " + crd4jVersion() + " (layout "
                    + STATE_VERSION + "): resume it with that version, or start again without --resume");
        }
    }

    /**
     * Every training and validation file read and preprocessed once before the first epoch, so that a bad file is
     * one line naming it before any training, not after the last epoch. The training inputs are kept in the returned
     * cache (when they fit), so this is work the first epoch would have done.
     */
    static InputCache checkInputs(MvtecDataset ds, int size, Listener listener) throws IOException {
        List<MvtecDataset.Sample> train = ds.samples("train"), val = ds.samples("validation");
        InputCache cache = new InputCache(ds, size, train.size());
        for (int i = 0; i < train.size(); i++) checkSample(cache.get(i, train.get(i)), train.get(i));
        for (MvtecDataset.Sample s : val) checkSample(ds.load(s, size), s);
        listener.log("checked " + train.size() + " training and " + val.size() + " validation samples (every file read and preprocessed)");
        return cache;
    }

    private static void checkSample(MvtecDataset.Inputs in, MvtecDataset.Sample s) throws WeightsFormatException {
        if (nonFinite(in.rgb()) != null) throw new WeightsFormatException(s.rgb(), "the preprocessed image holds " + nonFinite(in.rgb()));
        if (nonFinite(in.second()) != null) throw new WeightsFormatException(s.second(), "the preprocessed input holds " + nonFinite(in.second()));
    }

    static String nonFinite(HostTensor h) { return crd4j.tensor.Finite.describe(h); }

    private static void checkFinite(double loss, String branch, int epoch, int step, int steps, Config c, Path statePath, int startEpoch) {
        if (Double.isFinite(loss)) return;
        throw new Diverged(String.format(java.util.Locale.ROOT, "training diverged: the %s branch's loss is %s in epoch %d, step %d of %d"
                + " (--lr %s too high?); %s (lower --lr and start again)", branch, Double.isNaN(loss) ? "NaN" : "Inf", epoch + 1,
                step + 1, steps, c.lr(), lastGood(statePath)));
    }

    /** What is left on disk when a run stops on a fault: the training state of the last finished epoch, if any. */
    private static String lastGood(Path statePath) {
        try {
            if (Files.isRegularFile(statePath)) {
                var meta = ModelFile.read(statePath).meta();
                return "the last good checkpoint is " + statePath + " (epoch " + meta.path("epoch").asInt()
                        + (meta.path("step").asInt(0) > 0 ? ", step " + meta.path("step").asInt() : "") + ") and its model file";
            }
        } catch (IOException e) {
            return "the previous checkpoint " + statePath + " cannot be read (" + e.getMessage() + ")";
        }
        return "nothing was saved (no epoch finished)";
    }

    /** The training and validation files a state was made from: counts and a SHA-256 over names and sizes. */
    static ObjectNode datasetNode(MvtecDataset ds, List<MvtecDataset.Sample> train, List<MvtecDataset.Sample> val) throws IOException {
        java.security.MessageDigest md;
        try {
            md = java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        for (List<MvtecDataset.Sample> split : List.of(train, val)) {
            for (MvtecDataset.Sample s : split) {
                for (Path f : new Path[]{s.rgb(), s.second()}) {
                    // relative names, so that the same data under another root still matches
                    String name = ds.categoryDir().relativize(f).toString().replace('\\', '/');
                    md.update((name + "/" + Files.size(f) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
                }
            }
            md.update((byte) '|');
        }
        ObjectNode n = JSON.createObjectNode();
        n.put("train", train.size());
        n.put("validation", val.size());
        n.put("fingerprint", java.util.HexFormat.of().formatHex(md.digest()).substring(0, 16));
        return n;
    }

    private static String describe(com.fasterxml.jackson.databind.JsonNode d) {
        return d.path("train").asInt() + " training and " + d.path("validation").asInt() + " validation samples (fingerprint "
                + d.path("fingerprint").asText() + ")";
    }

    /** Keeps preprocessed training inputs in memory when they fit in 1 GiB; otherwise loads them per batch. */
    static final class InputCache {
        private final MvtecDataset ds;
        private final int size;
        private final Map<Integer, MvtecDataset.Inputs> cache;

        InputCache(MvtecDataset ds, int size, int n) {
            this.ds = ds;
            this.size = size;
            long bytes = (long) n * 2 * 3 * size * size * 4;
            this.cache = bytes <= (1L << 30) ? new HashMap<>() : null;
        }

        /** The RGB ({@code rgb}) or second-modality inputs of training samples {@code idx}, stacked [N,3,S,S]. */
        HostTensor stack(List<Integer> idx, List<MvtecDataset.Sample> samples, boolean rgb) throws IOException {
            List<HostTensor> xs = new ArrayList<>();
            for (int k : idx) {
                MvtecDataset.Inputs in = get(k, samples.get(k));
                xs.add(rgb ? in.rgb() : in.second());
            }
            return MvtecDataset.stack(xs);
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
