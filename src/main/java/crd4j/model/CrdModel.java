package crd4j.model;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.backend.BranchParallel;
import crd4j.backend.Tensor;
import crd4j.nn.NnContext;
import crd4j.nn.StateDictException;
import crd4j.tensor.HostTensor;

import java.util.List;
import java.util.Map;

/**
 * The two-branch CRD model (§5): one frozen teacher applied to both modalities, an RGB branch (RGB own, second
 * modality as helper) and a second-modality branch (the reverse).
 */
public final class CrdModel {
    private final Preset preset;
    private final Modality second;
    private final WideResNetTeacher teacher;
    private final CrdBranch rgb;
    private final CrdBranch other;
    private FusionSemantics semantics = FusionSemantics.DETACHED;
    private MappingNetwork mapping;

    public CrdModel(NnContext ctx, Preset preset, Modality second) {
        this.preset = preset;
        this.second = second;
        this.teacher = new WideResNetTeacher(ctx, preset);
        this.rgb = new CrdBranch(ctx, preset);
        this.other = new CrdBranch(ctx, preset);
    }

    public Preset preset() { return preset; }
    public Modality secondModality() { return second; }
    public WideResNetTeacher teacher() { return teacher; }
    public CrdBranch rgbBranch() { return rgb; }
    public CrdBranch otherBranch() { return other; }
    public FusionSemantics semantics() { return semantics; }
    public void setSemantics(FusionSemantics s) { this.semantics = s; }

    /** The optional few-modal mapping network ({@code crd train --mapping}); null when the model has none. */
    public MappingNetwork mapping() { return mapping; }

    public void setMapping(MappingNetwork m) { this.mapping = m; }

    /** Students to train/eval mode; the teacher stays in eval mode (§7). The mapping network follows its own trainer. */
    public void train(boolean on) {
        rgb.train(on);
        other.train(on);
        if (!on && mapping != null) mapping.train(false);
    }

    /** The branches in scoring order: RGB (index 0), then the second modality (index 1). */
    public List<CrdBranch> branches() { return List.of(rgb, other); }

    /** Branch names in files, statistics and results, in {@link #branches()} order: "rgb", then the second modality's key. */
    public List<String> branchKeys() { return List.of("rgb", second.key()); }

    /**
     * Teacher features of both modalities, [T1, T2, T3] each; either is {@code null} when that modality is missing
     * (few-modal scoring, §17).
     */
    public record TeacherFeatures(List<Var> rgb, List<Var> other) {
        /** The features of branch {@code i} in {@link CrdModel#branches()} order (null when missing). */
        public List<Var> of(int i) { return i == 0 ? rgb : other; }
    }

    /**
     * Teacher features computed without recording (the teacher runs under no_grad in the reference); a {@code null}
     * input (a missing modality) gives {@code null} features.
     */
    public TeacherFeatures teacherForward(Graph inference, Tensor rgbInput, Tensor otherInput) {
        if (inference.recording()) throw new IllegalArgumentException("the teacher runs on an inference graph");
        @SuppressWarnings("unchecked") List<Var>[] out = new List[2];
        Runnable a = () -> out[0] = rgbInput == null ? null : teacher.forward(inference, inference.constant(rgbInput));
        Runnable b = () -> out[1] = otherInput == null ? null : teacher.forward(inference, inference.constant(otherInput));
        if (rgbInput != null && otherInput != null) BranchParallel.run(inference.backend(), a, b);
        else {
            a.run();
            b.run();
        }
        return new TeacherFeatures(out[0], out[1]);
    }

    public CrdBranch.Output rgbForward(Graph g, TeacherFeatures t) {
        return rgb.forward(g, t.rgb(), t.other(), semantics);
    }

    public CrdBranch.Output otherForward(Graph g, TeacherFeatures t) {
        return other.forward(g, t.other(), t.rgb(), semantics);
    }

    /** Loads a reference CRD checkpoint's two state dicts (§13.2). */
    public void loadReferenceBranches(Map<String, HostTensor> rgbSd, Map<String, HostTensor> otherSd, String source)
            throws StateDictException {
        rgb.loadStateDict(rgbSd, "", source + " [student_rgb]");
        other.loadStateDict(otherSd, "", source + " [student_" + second.key() + "]");
    }
}
