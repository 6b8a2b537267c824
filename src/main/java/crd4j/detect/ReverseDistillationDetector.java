package crd4j.detect;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.backend.Backend;
import crd4j.backend.Tensor;
import crd4j.model.AnomalyMap;
import crd4j.model.Modality;
import crd4j.model.ReverseDistillationModel;
import crd4j.tensor.HostTensor;

import java.util.Arrays;
import java.util.List;

/**
 * Scores with a single-modality Reverse Distillation model (§4.5): the raw map 1 − cos of its student against its
 * teacher (§8.1), normalised by its validation statistics and smoothed like a CRD branch (the same
 * {@link AnomalyScoring#combine} with one branch). It takes its own modality only and ignores the other input.
 */
public final class ReverseDistillationDetector implements Scorer, AutoCloseable {
    private final Backend be;
    private final ReverseDistillationModel model;
    private final NormalizationStats.MeanStd stats;
    private final List<AnomalyScoring.Planned> plan;

    public ReverseDistillationDetector(Backend be, ReverseDistillationModel model, NormalizationStats.MeanStd stats) {
        this.be = be;
        this.model = model;
        this.stats = stats;
        this.plan = List.of(new AnomalyScoring.Planned(0, model.modality(), BranchMode.REAL));
        model.train(false);
    }

    public ReverseDistillationModel model() { return model; }

    private boolean rgb() { return model.modality().equals("rgb"); }

    @Override
    public void checkCanServe(boolean hasRgb, boolean hasSecond, MissingStrategy strategy) {
        if (rgb() ? !hasRgb : !hasSecond) {
            throw new IllegalArgumentException("this single-modality model scores " + model.modality() + " inputs only, and the "
                    + model.modality() + " input is missing");
        }
    }

    @Override
    public synchronized Detector.Result score(Sample sample, MissingStrategy strategy) {
        checkCanServe(sample.hasRgb(), sample.hasSecond(), strategy);
        HostTensor in = rgb() ? sample.rgb() : sample.second();
        int s = size();
        if (!Arrays.equals(in.shape(), new long[]{1, 3, s, s})) {
            throw new IllegalArgumentException("the " + model.modality() + " input: expected shape [1, 3, " + s + ", " + s + "], got "
                    + Arrays.toString(in.shape()));
        }
        String bad = crd4j.tensor.Finite.describe(in);
        if (bad != null) throw new IllegalArgumentException("the " + model.modality() + " input holds " + bad + " (expected finite values): no score is given");
        AnomalyScoring.Scores sc = AnomalyScoring.combine(plan, List.of(rawMap(in)), List.of(stats), s);
        return new Detector.Result(sc.score(), sc.map(), s, sc.branches(), strategy);
    }

    /** The raw §8.1 map of one input (scoring, and the §8.2 validation statistics). */
    public double[] rawMap(HostTensor in) {
        Graph g = Graph.scoring(be);
        try (Tensor x = be.fromHost(in.toFloat32())) {
            List<Var> t = model.teacher().forward(g, g.constant(x));
            return AnomalyMap.raw(be, model.student().forward(g, t), t, size()).doubles();
        } finally {
            g.release();
        }
    }

    @Override
    public int size() { return model.preset().size(); }

    @Override
    public String presetName() { return model.preset().name(); }

    @Override
    public List<String> branchKeys() { return List.of(model.modality()); }

    @Override
    public Modality secondModality() { return rgb() ? null : Modality.parse(model.modality()); }

    @Override
    public void close() { }
}
