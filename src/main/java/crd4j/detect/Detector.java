package crd4j.detect;

import crd4j.autograd.Graph;
import crd4j.backend.Backend;
import crd4j.backend.Tensor;
import crd4j.eval.GaussianFilter;
import crd4j.model.AnomalyMap;
import crd4j.model.CrdBranch;
import crd4j.model.CrdModel;
import crd4j.tensor.HostTensor;

import java.util.Arrays;

/**
 * The embedding surface: a loaded CRD model plus its normalisation statistics, scoring one sample at a time (§8.3).
 * Create it once, call {@link #score} many times. Calls are serialised (the backends are single-stream), so one
 * instance may be shared by several threads; activations are freed after each call.
 *
 * <pre>{@code
 * try (Detector d = Detector.load(Path.of("bagel.crd4j"), new Nd4jBackend())) {
 *     Detector.Result r = d.score(rgbInput, depthInput);   // [1,3,256,256] each, preprocessed (crd4j.data)
 *     if (r.score() > threshold) reject();
 * }
 * }</pre>
 */
public final class Detector implements AutoCloseable {
    private final Backend be;
    private final CrdModel model;
    private final NormalizationStats stats;

    public Detector(Backend be, CrdModel model, NormalizationStats stats) {
        this.be = be;
        this.model = model;
        this.stats = stats;
        model.train(false);
    }

    /** Loads a crd4j model file that holds validation statistics. */
    public static Detector load(java.nio.file.Path modelFile, Backend be) throws java.io.IOException {
        return of(crd4j.model.ModelFiles.load(modelFile, new crd4j.nn.NnContext(be, crd4j.tensor.DType.FLOAT32, 0)), modelFile, be);
    }

    /** A detector from a model file already loaded (its metadata, e.g. the teacher source, stays with the caller). */
    public static Detector of(crd4j.model.ModelFiles.Loaded l, java.nio.file.Path modelFile, Backend be) throws java.io.IOException {
        var statsNode = l.meta().get("stats");
        if (statsNode == null || statsNode.isNull()) {
            throw new crd4j.io.WeightsFormatException(modelFile, "metadata 'stats': missing (train with validation, or give --stats)");
        }
        return new Detector(be, l.model(), NormalizationStats.fromJson(statsNode, l.model().secondModality().key(), modelFile));
    }

    public CrdModel model() { return model; }

    public NormalizationStats stats() { return stats; }

    /**
     * @param score      max of the fused map (the image anomaly score)
     * @param rgbScore   max of the smoothed normalised RGB map alone
     * @param otherScore max of the smoothed normalised second-modality map alone
     * @param map        the fused, normalised, Gaussian-smoothed map, row-major S×S
     * @param rgbMap     the smoothed normalised RGB map alone (§8.3 item 4), row-major S×S
     * @param otherMap   the smoothed normalised second-modality map alone, row-major S×S
     */
    public record Result(double score, double rgbScore, double otherScore, double[] map, int size,
                         double[] rgbMap, double[] otherMap) {}

    /** Scores one preprocessed sample ([1,3,S,S] each). */
    public synchronized Result score(HostTensor rgb, HostTensor other) {
        if (closed) throw new IllegalStateException("detector is closed");
        int s = model.preset().size();
        long[] want = {1, 3, s, s};
        if (!Arrays.equals(rgb.shape(), want) || !Arrays.equals(other.shape(), want)) {
            throw new IllegalArgumentException("expected inputs of shape " + Arrays.toString(want) + ", got "
                    + Arrays.toString(rgb.shape()) + " and " + Arrays.toString(other.shape()));
        }
        Tensor x = be.fromHost(convert(rgb)), y = be.fromHost(convert(other));
        Graph g = Graph.inference(be);
        double[] mr, mo;
        try {
            CrdModel.TeacherFeatures t = model.teacherForward(g, x, y);
            CrdBranch.Output r = model.rgbForward(g, t), o = model.otherForward(g, t);
            mr = AnomalyMap.raw(be, r.fused(), t.rgb(), s).doubles();
            mo = AnomalyMap.raw(be, o.fused(), t.other(), s).doubles();
        } finally {
            g.release();
            x.close();
            y.close();
        }
        double[] nr = new double[mr.length], no = new double[mo.length], fused = new double[mr.length];
        for (int i = 0; i < mr.length; i++) {
            nr[i] = (mr[i] - stats.rgbMean()) / stats.rgbStd();
            no[i] = (mo[i] - stats.otherMean()) / stats.otherStd();
            fused[i] = nr[i] + no[i];
        }
        double[] smooth = GaussianFilter.apply(fused, s, s);
        double[] sr = GaussianFilter.apply(nr, s, s), so = GaussianFilter.apply(no, s, s);
        return new Result(max(smooth), max(sr), max(so), smooth, s, sr, so);
    }

    private HostTensor convert(HostTensor h) {
        // the model's parameters decide the compute dtype; inputs follow
        return model.rgbBranch().parameters().get(0).value().dtype() == crd4j.tensor.DType.FLOAT64 ? h.toFloat64() : h.toFloat32();
    }

    private static double max(double[] a) {
        double m = Double.NEGATIVE_INFINITY;
        for (double v : a) m = Math.max(m, v);
        return m;
    }

    private boolean closed;

    /** Ends use of this detector; the backend, which the caller passed in, stays open. */
    @Override
    public synchronized void close() {
        closed = true;
    }
}
