package crd4j.model;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.backend.Backend;
import crd4j.backend.Tensor;
import crd4j.tensor.HostTensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every intermediate the parity tool {@code crd inspect} writes, in eval mode, keyed by its relative output path
 * without extension: {@code input_rgb}, {@code teacher_rgb_1..3}, {@code teacher_<m>_1..3} and, with student
 * weights, per branch {@code <branch>/bp_k}, {@code ibp_k}, {@code raw_k}, {@code fused_k}, {@code ocbe} and
 * {@code map} (the raw §8.1 map, [S,S] for one sample, else [N,S,S], float32 of the float64 sum).
 */
public final class Inspection {
    private Inspection() {}

    public static Map<String, HostTensor> run(Backend be, CrdModel model, Tensor rgb, Tensor other, boolean withBranches) {
        String m = model.secondModality().key();
        Map<String, HostTensor> out = new LinkedHashMap<>();
        out.put("input_rgb", rgb.toHost().toFloat32());
        out.put("input_" + m, other.toHost().toFloat32());
        model.train(false);
        Graph g = Graph.inference(be);
        CrdModel.TeacherFeatures t = model.teacherForward(g, rgb, other);
        for (int k = 0; k < 3; k++) out.put("teacher_rgb_" + (k + 1), t.rgb().get(k).value().toHost());
        for (int k = 0; k < 3; k++) out.put("teacher_" + m + "_" + (k + 1), t.other().get(k).value().toHost());
        if (withBranches) {
            branch(be, "rgb", model.rgbForward(g, t), t.rgb(), model.preset().size(), out);
            branch(be, m, model.otherForward(g, t), t.other(), model.preset().size(), out);
        }
        g.release();
        return out;
    }

    private static void branch(Backend be, String name, CrdBranch.Output o, List<Var> own, int size, Map<String, HostTensor> out) {
        for (int k = 0; k < 3; k++) {
            out.put(name + "/bp_" + (k + 1), o.bp().get(k).value().toHost());
            out.put(name + "/ibp_" + (k + 1), o.ibp().get(k).value().toHost());
            out.put(name + "/raw_" + (k + 1), o.raw().get(k).value().toHost());
            out.put(name + "/fused_" + (k + 1), o.fused().get(k).value().toHost());
        }
        out.put(name + "/ocbe", o.ocbe().value().toHost());
        HostTensor map = AnomalyMap.raw(be, o.fused(), own, size).toFloat32();
        out.put(name + "/map", map.dim(0) == 1 ? map.reshape(size, size) : map);
    }
}
