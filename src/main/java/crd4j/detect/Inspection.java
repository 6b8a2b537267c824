package crd4j.detect;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.backend.Backend;
import crd4j.backend.Tensor;
import crd4j.model.CrdBranch;
import crd4j.model.CrdModel;
import crd4j.tensor.HostTensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every intermediate the parity tool {@code crd inspect} writes, in eval mode, keyed by its relative output path
 * without extension: {@code input_rgb}, {@code teacher_rgb_1..3}, {@code teacher_<m>_1..3} and, with student
 * weights, per branch {@code <branch>/bp_k}, {@code ibp_k}, {@code raw_k}, {@code fused_k}, {@code ocbe} and
 * {@code map} (the raw §8.1 map, [S,S] for one sample, else [N,S,S], float32 of the float64 sum); with a modality
 * missing, {@code estimated_<modality>_1..3} too.
 */
public final class Inspection {
    private Inspection() {}

    /** Both modalities present (§5). */
    public static Map<String, HostTensor> run(Backend be, CrdModel model, Tensor rgb, Tensor other, boolean withBranches) {
        return run(be, model, rgb, other, withBranches, MissingStrategy.FILTER);
    }

    /**
     * Either input may be null (a missing modality, §17.2): then the branches run as {@code strategy} says, and
     * {@code estimated_<missing>_k} holds T̂ of the missing modality per level (not for {@link MissingStrategy#DROP}).
     * Each branch's {@code map} is its raw map against the features it is scored against (T̂ for the missing
     * modality's own branch).
     */
    public static Map<String, HostTensor> run(Backend be, CrdModel model, Tensor rgb, Tensor other, boolean withBranches,
                                              MissingStrategy strategy) {
        List<String> keys = model.branchKeys();
        Map<String, HostTensor> out = new LinkedHashMap<>();
        if (rgb != null) out.put("input_rgb", rgb.toHost().toFloat32());
        if (other != null) out.put("input_" + keys.get(1), other.toHost().toFloat32());
        model.train(false);
        Graph g = Graph.scoring(be);
        try {
            CrdModel.TeacherFeatures t = model.teacherForward(g, rgb, other);
            for (int b = 0; b < 2; b++) {
                List<Var> tb = t.of(b);
                if (tb != null) for (int k = 0; k < 3; k++) out.put("teacher_" + keys.get(b) + "_" + (k + 1), tb.get(k).value().toHost());
            }
            if (withBranches) {
                AnomalyScoring.Forward f = AnomalyScoring.forward(g, model, t, strategy);
                if (f.estimate() != null) {
                    for (int k = 0; k < 3; k++) out.put("estimated_" + keys.get(f.missing()) + "_" + (k + 1), f.estimate().get(k).value().toHost());
                }
                List<double[]> maps = AnomalyScoring.rawMaps(be, f, model.preset().size());
                for (int b = 0; b < f.branches().size(); b++) branch(f.branches().get(b), maps.get(b), model.preset().size(), out);
            }
        } finally {
            g.release();
        }
        return out;
    }

    private static void branch(AnomalyScoring.BranchRun r, double[] rawMap, int size, Map<String, HostTensor> out) {
        String name = r.key();
        CrdBranch.Output o = r.output();
        for (int k = 0; k < 3; k++) {
            out.put(name + "/bp_" + (k + 1), o.bp().get(k).value().toHost());
            out.put(name + "/ibp_" + (k + 1), o.ibp().get(k).value().toHost());
            out.put(name + "/raw_" + (k + 1), o.raw().get(k).value().toHost());
            out.put(name + "/fused_" + (k + 1), o.fused().get(k).value().toHost());
        }
        out.put(name + "/ocbe", o.ocbe().value().toHost());
        int n = rawMap.length / (size * size);
        HostTensor map = HostTensor.of(rawMap, n, size, size).toFloat32();
        out.put(name + "/map", n == 1 ? map.reshape(size, size) : map);
    }
}
