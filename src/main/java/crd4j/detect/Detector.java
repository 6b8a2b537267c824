package crd4j.detect;

import crd4j.autograd.Graph;
import crd4j.backend.Backend;
import crd4j.backend.DeviceMaps;
import crd4j.backend.GraphCapture;
import crd4j.backend.Tensor;
import crd4j.model.CrdModel;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The embedding surface: a loaded CRD model plus its normalisation statistics, scoring one part at a time (§8.3).
 * Create it once, call {@link #score} many times; activations are freed after each call.
 *
 * <h2>Threads</h2>
 * One instance may be shared by any number of threads. On the CPU backend calls run <em>in parallel</em>: the model
 * is read-only while scoring (eval mode; each call records into its own inference {@link Graph}), and the backend's
 * shared state is safe for concurrent use — the activation buffer pool is synchronised, the im2col and
 * transposed-convolution scratch buffers are per thread (each worker thread is its own workspace, grown once to the
 * largest convolution), and the cached batch-norm coefficients are computed once under the γ tensor's lock and only
 * read afterwards. Results are bit-identical to single-threaded scoring (a call's arithmetic does not depend on what
 * other threads do). For throughput use a fixed pool of about one scoring thread per core with ND4J's own threads
 * set to 1 ({@code Nd4jBackend.setThreads(1)}); a new thread per call works but leaves its scratch buffers to the
 * garbage collector.
 *
 * <p>On a device backend (CUDA) calls are queued: they run one at a time, in arrival order of the lock, on the
 * backend's single stream. The backend's memory arena, its pinned staging buffers and the CUDA graphs captured per
 * kind of call (whose device buffers are fixed at capture) are all per stream; a stream per worker would need a
 * copy of each, and one scoring pass of the paper preset already fills the GPU, so a queue is what we chose. (Not
 * yet measured on a GPU.)
 *
 * <p>{@link #close()} waits for calls in progress, then every later call fails with an
 * {@link IllegalStateException} saying the detector is closed.
 *
 * <p>A part may arrive without one of its modalities ({@link Sample}); the model then stands in for it as the
 * {@link MissingStrategy} says (few-modal inference, §17), and the {@link Result} lists which branches contributed
 * and from what.
 *
 * <pre>{@code
 * try (Detector d = Detector.load(Path.of("bagel.crd4j"), new Nd4jBackend())) {
 *     Detector.Result r = d.score(Path.of("rgb/000.png"), Path.of("xyz/000.tiff"));   // preprocessed as the model needs
 *     if (r.hasDecision() && r.anomalous()) reject(r.normalizedScore(), r.regions());  // thresholds from the model file
 *     Detector.Result r2 = d.score(Path.of("rgb/000.png"), null, MissingStrategy.FILTER); // the 3D scan failed
 *     Detector.Result r3 = d.score(rgbInput, depthInput);  // tensors [1,3,S,S] each, preprocessed (crd4j.data)
 * }
 * }</pre>
 *
 * <p>The detector owns its preprocessing ({@link #inputs()}): raw files are resized to the model's input side and
 * the second modality is made as the model file records (depth, normals, or normals computed from depth with its
 * Sobel k); a file of the wrong kind or size is one clear line. With thresholds ({@link #thresholds()}, stored by
 * training or {@code crd calibrate}) every {@link Result} carries a {@link Decision}.
 */
public final class Detector implements Scorer, AutoCloseable {
    private final Backend be;
    private final CrdModel model;
    private final NormalizationStats stats;
    private final String source;
    private final ModelInputs inputs;
    private final Thresholds thresholds;
    private final ModelMetadata metadata;
    /** The model's compute dtype (its parameters'), which inputs are converted to. */
    private final DType computeDtype;

    public Detector(Backend be, CrdModel model, NormalizationStats stats) {
        this(be, model, stats, null);
    }

    /** {@code source} names the statistics' origin (a model file) in errors; may be null. */
    public Detector(Backend be, CrdModel model, NormalizationStats stats, String source) {
        this(be, model, stats, source, null, null);
    }

    /**
     * A detector with its decision thresholds (null: none stored, {@link Result#anomalous} then says to run
     * {@code crd calibrate}) and its second input (null: the model's modality as older files meant it, depth from
     * the xyz TIFF or Eyecandies' normals PNG).
     */
    public Detector(Backend be, CrdModel model, NormalizationStats stats, String source, crd4j.data.SecondInput second,
                    Thresholds thresholds) {
        this(be, model, stats, source, second, thresholds, null);
    }

    private Detector(Backend be, CrdModel model, NormalizationStats stats, String source, crd4j.data.SecondInput second,
                     Thresholds thresholds, ModelMetadata metadata) {
        this.be = be;
        this.model = model;
        this.stats = stats;
        this.source = source;
        this.thresholds = thresholds;
        this.metadata = metadata;
        this.computeDtype = model.rgbBranch().parameters().get(0).value().dtype();
        crd4j.data.SecondInput s = second != null ? second
                : model.secondModality() == crd4j.model.Modality.DEPTH ? crd4j.data.SecondInput.DEPTH : crd4j.data.SecondInput.NORMALS;
        if (s.branch() != model.secondModality()) {
            throw new IllegalArgumentException("second input " + s.describe() + " feeds a " + s.branch().key() + " branch, but the model's is "
                    + model.secondModality().key());
        }
        this.inputs = new ModelInputs(model.preset().size(), s, source);
        model.train(false);
        checkWeights(model, source);
    }

    /**
     * Fails closed on weights: a NaN or Inf in any parameter or buffer (teacher, both branches, mapping network) is
     * one clear error naming the tensor, at construction, instead of maps that might or might not show it.
     */
    public static void checkWeights(CrdModel model, String source) {
        List<crd4j.nn.Module> parts = new ArrayList<>(List.of(model.teacher(), model.rgbBranch(), model.otherBranch()));
        List<String> prefixes = new ArrayList<>(List.of("teacher.", "rgb.", model.secondModality().key() + "."));
        if (model.mapping() != null) {
            parts.add(model.mapping());
            prefixes.add(crd4j.model.ModelFiles.MAPPING_PREFIX);
        }
        for (int p = 0; p < parts.size(); p++) {
            for (crd4j.nn.StateEntry e : parts.get(p).stateEntries()) {
                String bad = crd4j.tensor.Finite.describe(e.reader().get());
                if (bad != null) {
                    throw new IllegalArgumentException((source == null ? "the model" : source) + ": tensor '" + prefixes.get(p) + e.name()
                            + "' holds " + bad + " (expected finite weights; the model cannot score)");
                }
            }
        }
    }

    /** Loads a crd4j model file that holds validation statistics. */
    public static Detector load(java.nio.file.Path modelFile, Backend be) throws java.io.IOException {
        return of(crd4j.model.ModelFiles.load(modelFile, new crd4j.nn.NnContext(be, DType.FLOAT32, 0)), modelFile, be);
    }

    /** A detector from a model file already loaded; its typed metadata is {@link #metadata()}. */
    public static Detector of(crd4j.model.ModelFiles.Loaded l, java.nio.file.Path modelFile, Backend be) throws java.io.IOException {
        ModelMetadata meta = ModelMetadata.read(l.meta(), modelFile);
        return of(l.model(), meta, meta.requireStats(modelFile), modelFile, be);
    }

    /**
     * A detector for {@code model} as {@code meta} describes it, normalised with {@code stats} (the metadata's, or
     * statistics given separately); {@code modelFile} names it in errors.
     */
    public static Detector of(CrdModel model, ModelMetadata meta, NormalizationStats stats, java.nio.file.Path modelFile, Backend be) {
        return new Detector(be, model, stats, modelFile.toString(), meta.secondInput(), meta.thresholds(), meta);
    }

    public CrdModel model() { return model; }

    /** The model file's typed metadata; null when this detector was built from weights directly. */
    public ModelMetadata metadata() { return metadata; }

    /** The decision thresholds; null when the model has none (older files: run {@code crd calibrate}). */
    public Thresholds thresholds() { return thresholds; }

    /** This model's preprocessing: raw files or preprocessed tensors to network inputs at its side and modality. */
    public ModelInputs inputs() { return inputs; }

    /** The same model and statistics deciding with {@code t} instead (e.g. thresholds being chosen by calibration). */
    public Detector withThresholds(Thresholds t) {
        return new Detector(be, model, stats, source, inputs.secondInput(), t, metadata == null ? null : metadata.withThresholds(t));
    }

    @Override
    public int size() { return model.preset().size(); }

    @Override
    public String presetName() { return model.preset().name(); }

    @Override
    public List<String> branchKeys() { return model.branchKeys(); }

    @Override
    public crd4j.model.Modality secondModality() { return model.secondModality(); }

    public NormalizationStats stats() { return stats; }

    /**
     * @param score    max of the fused map (the image anomaly score)
     * @param map      the fused, normalised, Gaussian-smoothed map, row-major S×S
     * @param branches every branch that contributed to {@code map}, in branch order (RGB first): its name, its mode
     *                 (real, or what stood in for a missing modality), its smoothed normalised map and that map's max
     * @param strategy how a missing modality was stood in for (irrelevant when the sample was complete)
     */
    public record Result(double score, double[] map, int size, List<AnomalyScoring.BranchScore> branches, MissingStrategy strategy,
                         Decision decision) {
        /** The message where a decision is asked of a model without thresholds. */
        public static final String NO_THRESHOLD = "no threshold stored: run crd calibrate";

        /** A result without a decision (a model without thresholds). */
        public Result(double score, double[] map, int size, List<AnomalyScoring.BranchScore> branches, MissingStrategy strategy) {
            this(score, map, size, branches, strategy, null);
        }

        /** This result with the decision of {@code t} (null: none). */
        public Result decide(Thresholds t) {
            return new Result(score, map, size, branches, strategy, t == null ? null : Decision.of(t, score, map, size));
        }

        /** True when the model holds thresholds, so {@link #anomalous} and the rest can answer. */
        public boolean hasDecision() { return decision != null; }

        private Decision need() {
            if (decision == null) throw new IllegalStateException(NO_THRESHOLD);
            return decision;
        }

        /** Whether the part is rejected: its score reaches the image threshold. */
        public boolean anomalous() { return need().anomalous(); }

        /** The score divided by the image threshold: 1.0 is the threshold. */
        public double normalizedScore() { return need().normalizedScore(); }

        /** The binary defect mask, row-major S×S: 1 where the fused map reaches the pixel threshold (a copy). */
        public int[] mask() { return need().mask(); }

        /** The mask's connected defect regions, in map pixels. */
        public List<Decision.Region> regions() { return need().regions(); }

        /** The contribution of the branch named {@code key} ("rgb", "depth", "normals"), or null when it did not contribute. */
        public AnomalyScoring.BranchScore branch(String key) {
            for (AnomalyScoring.BranchScore b : branches) if (b.branch().equals(key)) return b;
            return null;
        }

        /** True when every contributing branch ran on real inputs of both modalities. */
        public boolean complete() {
            for (AnomalyScoring.BranchScore b : branches) if (b.mode() != BranchMode.REAL) return false;
            return true;
        }
    }

    /**
     * Scores one part from its files, preprocessed as this model needs (at its input side, as its second modality:
     * {@link ModelInputs}); either may be null (a missing modality, stood in for with {@link MissingStrategy#FILTER}).
     * Each file may be a raw one (an RGB PNG; an xyz TIFF or a normals PNG) or a preprocessed [1,3,S,S] {@code .npy}.
     */
    public Result score(java.nio.file.Path rgb, java.nio.file.Path second) throws java.io.IOException {
        return score(rgb, second, MissingStrategy.FILTER);
    }

    /** As {@link #score(java.nio.file.Path, java.nio.file.Path)}, a missing modality stood in for as {@code strategy} says. */
    public Result score(java.nio.file.Path rgb, java.nio.file.Path second, MissingStrategy strategy) throws java.io.IOException {
        Sample s = inputs.load(rgb, second);
        checkCanServe(s.hasRgb(), s.hasSecond(), strategy);
        return score(s, strategy);
    }

    /** Scores one complete preprocessed sample ([1,3,S,S] each). */
    public Result score(HostTensor rgb, HostTensor other) {
        return score(Sample.of(rgb, other), MissingStrategy.FILTER);
    }

    /** Scores one sample, standing in for a missing modality with the {@link MissingStrategy#FILTER} strategy. */
    public Result score(Sample sample) {
        return score(sample, MissingStrategy.FILTER);
    }

    /** Scores one sample; a missing modality is stood in for as {@code strategy} says (§17.2). */
    @Override
    public Result score(Sample sample, MissingStrategy strategy) {
        java.util.concurrent.locks.Lock open = lifecycle.readLock();   // shared: calls do not wait for each other
        open.lock();
        try {
            if (closed) throw closedError();
            return scoreOpen(sample, strategy);
        } finally {
            open.unlock();
        }
    }

    private IllegalStateException closedError() {
        return new IllegalStateException("this Detector is closed" + (source == null ? "" : " (" + source + ")")
                + ": score() after close(); load a new Detector to score again");
    }

    private Result scoreOpen(Sample sample, MissingStrategy strategy) {
        int s = model.preset().size();
        long[] want = {1, 3, s, s};
        for (int i = 0; i < 2; i++) {
            HostTensor in = sample.input(i);
            if (in != null && !Arrays.equals(in.shape(), want)) {
                throw new IllegalArgumentException("the " + model.branchKeys().get(i) + " input: expected shape " + Arrays.toString(want)
                        + " for this model (preset " + model.preset().name() + "), got " + Arrays.toString(in.shape()));
            }
        }
        for (int i = 0; i < 2; i++) {
            HostTensor in = sample.input(i);
            String bad = in == null ? null : crd4j.tensor.Finite.describe(in);
            if (bad != null) {
                throw new IllegalArgumentException("the " + model.branchKeys().get(i) + " input holds " + bad
                        + " (expected finite values): no score is given");
            }
        }
        List<AnomalyScoring.Planned> plan = AnomalyScoring.plan(model, sample.hasRgb(), sample.hasSecond(), strategy);
        List<NormalizationStats.MeanStd> planStats = checkCanServe(plan, strategy);   // before any work
        HostTensor x = sample.hasRgb() ? convert(sample.rgb()) : null, y = sample.hasSecond() ? convert(sample.second()) : null;
        if (be instanceof DeviceMaps dm) {
            synchronized (deviceQueue) {   // one stream: device calls are queued (see the class comment)
                return scoreOnDevice(dm, x, y, strategy, plan, planStats);
            }
        }
        Tensor xt = x == null ? null : be.fromHost(x), yt = y == null ? null : be.fromHost(y);
        Graph g = Graph.scoring(be);
        try {
            AnomalyScoring.Forward f = AnomalyScoring.forward(g, model, model.teacherForward(g, xt, yt), strategy);
            List<double[]> raw = AnomalyScoring.rawMaps(be, f, s);
            AnomalyScoring.Scores sc = AnomalyScoring.combine(plan, raw, planStats, s);
            return new Result(sc.score(), sc.map(), s, sc.branches(), strategy).decide(thresholds);
        } finally {
            g.release();
            if (xt != null) xt.close();
            if (yt != null) yt.close();
        }
    }

    /**
     * Checks, without scoring, that this detector can score a sample with the given modalities under {@code strategy}:
     * the mapping network exists when asked for, and the validation statistics of every map the plan needs are stored.
     * Each failure is one clear line (an IllegalArgumentException).
     */
    @Override
    public void checkCanServe(boolean hasRgb, boolean hasSecond, MissingStrategy strategy) {
        checkCanServe(AnomalyScoring.plan(model, hasRgb, hasSecond, strategy), strategy);
    }

    private List<NormalizationStats.MeanStd> checkCanServe(List<AnomalyScoring.Planned> plan, MissingStrategy strategy) {
        boolean complete = plan.stream().allMatch(p -> p.mode() == BranchMode.REAL);
        if (!complete && strategy == MissingStrategy.MAPPING && model.mapping() == null) {
            throw new IllegalArgumentException("--missing-strategy mapping: " + (source == null ? "the model" : source)
                    + " has no mapping network (train it with crd train --mapping)");
        }
        return AnomalyScoring.statsFor(plan, stats, source);
    }

    /** Whether a device backend records the whole scoring pass as a CUDA graph after two eager calls. */
    private static final boolean CAPTURE = !"false".equals(System.getProperty("crd4j.cudaGraphs"));

    /** Per kind of call (which modalities are present, which strategy): its eager call count and captured run. */
    private final Map<String, Integer> deviceCalls = new HashMap<>();
    private final Map<String, GraphCapture.CapturedRun> captured = new HashMap<>();

    /**
     * The device path: network, raw maps, normalisation, fusion and Gaussian smoothing all run on the device and
     * only the final S×S float64 maps come back. After two eager calls of the same kind (the first chooses the
     * convolution algorithms) the pass is captured as a CUDA graph and replayed from then on; the model is frozen in
     * a Detector, so the captured fusion weights and parameters stay valid. {@code -Dcrd4j.cudaGraphs=false} keeps
     * it eager.
     */
    private Result scoreOnDevice(DeviceMaps dm, HostTensor x, HostTensor y, MissingStrategy strategy,
                                 List<AnomalyScoring.Planned> plan, List<NormalizationStats.MeanStd> planStats) {
        int s = model.preset().size();
        String kind = (x != null ? "r" : "-") + (y != null ? "s" : "-") + (x != null && y != null ? "" : strategy.key());
        List<HostTensor> inputs = new ArrayList<>();
        if (x != null) inputs.add(x);
        if (y != null) inputs.add(y);
        double[] maps;
        GraphCapture.CapturedRun run = captured.get(kind);
        if (run != null) {
            maps = run.run(inputs).get(0).doubles();
        } else {
            List<Tensor> dev = new ArrayList<>();
            for (HostTensor h : inputs) dev.add(be.fromHost(h));
            Tensor out = deviceMaps(dm, dev, x != null, y != null, strategy, planStats);
            maps = out.toHost().doubles();
            out.close();
            for (Tensor t : dev) t.close();
            int calls = deviceCalls.merge(kind, 1, Integer::sum);
            if (calls >= 2 && CAPTURE && be instanceof GraphCapture gc) {
                try {
                    captured.put(kind, gc.capture(inputs, in -> List.of(deviceMaps(dm, in, x != null, y != null, strategy, planStats))));
                } catch (RuntimeException e) {
                    System.err.println("crd4j: CUDA graph capture failed, scoring eagerly: " + e.getMessage());
                }
            }
        }
        AnomalyScoring.Scores sc = AnomalyScoring.fromDevice(plan, maps, s);
        return new Result(sc.score(), sc.map(), s, sc.branches(), strategy).decide(thresholds);
    }

    /** [1 + B, S, S] float64 on the device: {fused, each branch alone}, normalised and smoothed (§8.1–§8.3). */
    private Tensor deviceMaps(DeviceMaps dm, List<Tensor> in, boolean hasRgb, boolean hasSecond, MissingStrategy strategy,
                              List<NormalizationStats.MeanStd> planStats) {
        int s = model.preset().size();
        Tensor x = hasRgb ? in.get(0) : null, y = hasSecond ? in.get(hasRgb ? 1 : 0) : null;
        Graph g = Graph.scoring(be);
        try {
            AnomalyScoring.Forward f = AnomalyScoring.forward(g, model, model.teacherForward(g, x, y), strategy);
            return AnomalyScoring.deviceMaps(dm, f, planStats, s);
        } finally {
            g.release();
        }
    }

    private HostTensor convert(HostTensor h) {
        // the model's parameters decide the compute dtype; inputs follow
        return computeDtype == DType.FLOAT64 ? h.toFloat64() : h.toFloat32();
    }

    /** Read lock: a call in progress; write lock: {@link #close()}, which waits for those calls. Fair, so close is not starved. */
    private final java.util.concurrent.locks.ReentrantReadWriteLock lifecycle = new java.util.concurrent.locks.ReentrantReadWriteLock(true);
    /** Serialises device calls (and guards {@link #deviceCalls}, {@link #captured}). */
    private final Object deviceQueue = new Object();
    private volatile boolean closed;

    /** Whether {@link #close()} was called. */
    public boolean isClosed() { return closed; }

    /**
     * Ends use of this detector: waits for calls in progress, frees captured device graphs; later calls throw
     * {@link IllegalStateException}. The backend, which the caller passed in, stays open. Closing twice is allowed.
     */
    @Override
    public void close() {
        java.util.concurrent.locks.Lock w = lifecycle.writeLock();
        w.lock();
        try {
            closed = true;
            synchronized (deviceQueue) {
                for (GraphCapture.CapturedRun r : captured.values()) r.close();
                captured.clear();
            }
        } finally {
            w.unlock();
        }
    }
}
