package crd4j.model;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
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

    /** Students to train/eval mode; the teacher stays in eval mode (§7). */
    public void train(boolean on) {
        rgb.train(on);
        other.train(on);
    }

    /** Teacher features of both modalities, [T1, T2, T3] each. */
    public record TeacherFeatures(List<Var> rgb, List<Var> other) {}

    /** Teacher features computed without recording (the teacher runs under no_grad in the reference). */
    public TeacherFeatures teacherForward(Graph inference, Tensor rgbInput, Tensor otherInput) {
        return new TeacherFeatures(teacher.forward(inference, inference.constant(rgbInput)),
                teacher.forward(inference, inference.constant(otherInput)));
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
