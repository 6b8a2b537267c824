package crd4j.detect;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.backend.Backend;
import crd4j.backend.BranchParallel;
import crd4j.backend.DeviceMaps;
import crd4j.backend.Tensor;
import crd4j.eval.GaussianFilter;
import crd4j.model.AnomalyMap;
import crd4j.model.CrdBranch;
import crd4j.model.CrdModel;

import java.util.ArrayList;
import java.util.List;

/**
 * The one owner of CRD scoring (§8, §17.2): which branch maps a sample can produce, the branch forwards that produce
 * them, the raw maps (§8.1), and the tail — each map normalised by its own (branch, mode) validation statistics,
 * summed in branch order, Gaussian σ=4, max (§8.3) — for however many branches are present. {@link Detector} (host
 * and device), the validation statistics, {@code crd bench} and {@code crd inspect} all go through it.
 */
public final class AnomalyScoring {
    private AnomalyScoring() {}

    /**
     * One branch map to compute: the branch index (0 = RGB, 1 = second modality), its name ("rgb", "depth",
     * "normals") and what it is computed from.
     */
    public record Planned(int branch, String key, BranchMode mode) {}

    /**
     * The branch maps of a sample (§17.2), in branch order: both branches for a complete sample; otherwise the present
     * modality's branch with the strategy's stand-in assist and, when the strategy estimates the missing teacher
     * features, the missing modality's branch run on that estimate.
     */
    public static List<Planned> plan(CrdModel m, boolean hasRgb, boolean hasSecond, MissingStrategy s) {
        if (!hasRgb && !hasSecond) throw new IllegalArgumentException("a sample needs an RGB input, a second-modality input, or both");
        List<String> keys = m.branchKeys();
        List<Planned> out = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            boolean present = i == 0 ? hasRgb : hasSecond, other = i == 0 ? hasSecond : hasRgb;
            BranchMode mode = present && other ? BranchMode.REAL : present ? BranchMode.assist(s) : BranchMode.estimated(s);
            if (mode != null) out.add(new Planned(i, keys.get(i), mode));
        }
        return List.copyOf(out);
    }

    /** One computed branch: its plan entry, its outputs and the teacher features its map is scored against. */
    public record BranchRun(Planned plan, CrdBranch.Output output, List<Var> target) {
        public String key() { return plan.key(); }

        public List<Var> fused() { return output.fused(); }
    }

    /**
     * The branch forwards of one sample. {@code estimate} is T̂ of the missing modality (§17.1; null for a complete
     * sample and for {@link MissingStrategy#DROP}), {@code missing} its branch index (−1 when complete).
     */
    public record Forward(List<BranchRun> branches, List<Var> estimate, int missing) {
        public List<Planned> plan() { return branches.stream().map(BranchRun::plan).toList(); }
    }

    /**
     * Runs the branches of {@link #plan} for teacher features {@code t} (either side null when that modality is
     * missing), recording into {@code g}.
     */
    public static Forward forward(Graph g, CrdModel m, CrdModel.TeacherFeatures t, MissingStrategy s) {
        List<CrdBranch> branches = m.branches();
        List<Planned> plan = plan(m, t.rgb() != null, t.other() != null, s);
        if (t.rgb() != null && t.other() != null) {
            return new Forward(runBranches(g, plan, p -> {
                int i = p.branch();
                CrdBranch.Output o = branches.get(i).forward(g, t.of(i), t.of(1 - i), m.semantics());
                return new BranchRun(p, o, t.of(i));
            }), null, -1);
        }
        int present = t.rgb() != null ? 0 : 1, missing = 1 - present;
        List<Var> tp = t.of(present);
        List<Var> est = estimate(g, m, missing, tp, s);
        return new Forward(runBranches(g, plan, p -> {
            int i = p.branch();
            CrdBranch b = branches.get(i);
            if (i == present) {
                if (s == MissingStrategy.DROP) {
                    List<Var> zeros = tp.stream().map(g::zerosLike).toList();
                    return new BranchRun(p, b.forwardWithAssist(g, tp, zeros, zeros, m.semantics()), tp);
                }
                return new BranchRun(p, b.forward(g, tp, est, m.semantics()), tp);
            }
            return new BranchRun(p, b.forward(g, est, tp, m.semantics()), est);
        }), est, missing);
    }

    /** The planned branch forwards, two at once where the backend allows it ({@link BranchParallel}), in plan order. */
    private static List<BranchRun> runBranches(Graph g, List<Planned> plan, java.util.function.Function<Planned, BranchRun> run) {
        if (plan.size() != 2) return plan.stream().map(run).toList();
        BranchRun[] out = new BranchRun[2];
        BranchParallel.run(g.backend(), () -> out[0] = run.apply(plan.get(0)), () -> out[1] = run.apply(plan.get(1)));
        return List.of(out);
    }

    /** T̂ of branch {@code missing}'s teacher features from the present modality's {@code tp} (§17.1); null for DROP. */
    static List<Var> estimate(Graph g, CrdModel m, int missing, List<Var> tp, MissingStrategy s) {
        CrdBranch target = m.branches().get(missing);
        return switch (s) {
            case FILTER -> target.filterProjection(g, tp);
            case AMPLIFIER -> target.amplifierProjection(g, tp);
            case MAPPING -> {
                if (m.mapping() == null) {
                    throw new IllegalArgumentException("--missing-strategy mapping: this model has no mapping network"
                            + " (train it with crd train --mapping)");
                }
                yield m.mapping().forward(g, missing, tp);
            }
            case ZERO -> tp.stream().map(g::zerosLike).toList();
            case DROP -> null;
        };
    }

    /** The raw §8.1 map of each branch run, [N,S,S] float64 as row-major arrays, in branch order. */
    public static List<double[]> rawMaps(Backend be, Forward f, int size) {
        List<double[]> out = new ArrayList<>();
        for (BranchRun r : f.branches()) out.add(AnomalyMap.raw(be, r.fused(), r.target(), size).doubles());
        return out;
    }

    /** One branch's contribution to a score: its name, mode, smoothed normalised map and that map's max. */
    public record BranchScore(String branch, BranchMode mode, double score, double[] map) {
        /** True when the branch ran on estimated features of its own (missing) modality. */
        public boolean estimated() { return mode.estimated(); }
    }

    /** The fused smoothed map, its max (the image score) and every contributing branch. */
    public record Scores(double score, double[] map, int size, List<BranchScore> branches) {}

    /**
     * The statistics each planned branch is normalised with; a missing entry is one clear error naming the model
     * file and the command that adds the statistics.
     */
    public static List<NormalizationStats.MeanStd> statsFor(List<Planned> plan, NormalizationStats stats, String source) {
        List<NormalizationStats.MeanStd> out = new ArrayList<>();
        for (Planned p : plan) {
            NormalizationStats.MeanStd ms = stats.find(p.key(), p.mode());
            if (ms == null) {
                throw new IllegalArgumentException((source == null ? "normalisation statistics" : source) + ": no validation statistics for the "
                        + p.key() + " branch in mode '" + p.mode().key() + "' (scoring with a missing modality needs them;"
                        + " add them with: crd stats --data ROOT --category C --model MODEL)");
            }
            out.add(ms);
        }
        return out;
    }

    /** Per-thread scratch for {@link #combine}'s sum and normalised maps (inputs of the Gaussian filter only). */
    private static final ThreadLocal<double[][]> COMBINE = ThreadLocal.withInitial(() -> new double[0][0]);

    /**
     * §8.3 on the host: each raw map normalised, (M_b − μ_b)/σ_b, summed in branch order, then Gaussian σ=4 and max;
     * each normalised map smoothed alone too (§8.3 item 4). A non-finite value in any raw map (NaN or Inf in an input
     * or in the weights) is an error, never a score.
     */
    public static Scores combine(List<Planned> plan, List<double[]> raw, List<NormalizationStats.MeanStd> stats, int size) {
        int n = size * size;
        // the sum and the normalised maps are only inputs of the Gaussian filter, which returns new arrays: they
        // live in this thread's scratch (a paper-preset call allocated 1.5 MB for them)
        double[][] work = COMBINE.get();
        if (work.length < raw.size() + 1 || work[0].length != n) {
            work = new double[Math.max(raw.size() + 1, work.length)][n];
            COMBINE.set(work);
        }
        double[] fused = work[0];
        List<double[]> normalised = new ArrayList<>();
        for (int b = 0; b < raw.size(); b++) {
            double[] r = raw.get(b), nb = work[b + 1];
            double mu = stats.get(b).mean(), sd = stats.get(b).std();
            for (int i = 0; i < n; i++) {
                if (!Double.isFinite(r[i])) throw nonFinite(plan.get(b));
                nb[i] = (r[i] - mu) / sd;
                fused[i] = b == 0 ? nb[i] : fused[i] + nb[i];
            }
            normalised.add(nb);
        }
        double[] smooth = GaussianFilter.apply(fused, size, size);
        List<BranchScore> branches = new ArrayList<>();
        for (int b = 0; b < raw.size(); b++) {
            double[] sb = GaussianFilter.apply(normalised.get(b), size, size);
            branches.add(new BranchScore(plan.get(b).key(), plan.get(b).mode(), max(sb), sb));
        }
        return new Scores(max(smooth), smooth, size, List.copyOf(branches));
    }

    /**
     * §8.1–§8.3 on the device: the raw maps, their normalisation, fusion and smoothing all where the features are;
     * returns [1 + B, S, S] float64 = {fused, each branch alone} (see {@link DeviceMaps#normalisedSmoothedMaps}).
     */
    public static Tensor deviceMaps(DeviceMaps dm, Forward f, List<NormalizationStats.MeanStd> stats, int size) {
        List<Tensor> raw = new ArrayList<>();
        try {
            for (BranchRun r : f.branches()) raw.add(dm.rawAnomalyMap(values(r.fused()), values(r.target()), size));
            double[] mu = stats.stream().mapToDouble(NormalizationStats.MeanStd::mean).toArray();
            double[] sd = stats.stream().mapToDouble(NormalizationStats.MeanStd::std).toArray();
            return dm.normalisedSmoothedMaps(raw, mu, sd, GaussianFilter.kernel(GaussianFilter.CRD_SIGMA, GaussianFilter.DEFAULT_TRUNCATE));
        } finally {
            for (Tensor t : raw) t.close();
        }
    }

    /** {@link Scores} from the device's [1 + B, S, S] maps (already smoothed); non-finite values are an error. */
    public static Scores fromDevice(List<Planned> plan, double[] maps, int size) {
        int n = size * size;
        for (int b = 0; b <= plan.size(); b++) {
            for (int i = b * n; i < (b + 1) * n; i++) if (!Double.isFinite(maps[i])) throw nonFinite(plan.get(Math.max(0, b - 1)));
        }
        double[] fused = java.util.Arrays.copyOfRange(maps, 0, n);
        List<BranchScore> branches = new ArrayList<>();
        for (int b = 0; b < plan.size(); b++) {
            double[] sb = java.util.Arrays.copyOfRange(maps, (b + 1) * n, (b + 2) * n);
            branches.add(new BranchScore(plan.get(b).key(), plan.get(b).mode(), max(sb), sb));
        }
        return new Scores(max(fused), fused, size, List.copyOf(branches));
    }

    private static IllegalArgumentException nonFinite(Planned r) {
        return new IllegalArgumentException("the " + r.key() + " branch's anomaly map has non-finite values (NaN or Inf in an input"
                + " or in the model's weights): no score is given");
    }

    private static List<Tensor> values(List<Var> vs) { return vs.stream().map(Var::value).toList(); }

    static double max(double[] a) {
        double m = Double.NEGATIVE_INFINITY;
        for (double v : a) m = Math.max(m, v);
        return m;
    }
}
