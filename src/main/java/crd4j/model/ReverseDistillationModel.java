package crd4j.model;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.nn.Module;
import crd4j.nn.NnContext;

import java.util.List;

/**
 * The single-modality Reverse Distillation baseline (RD4AD, §4): the frozen teacher and one student — the RD OCBE
 * (§4.1) and the plain decoder (§4.2) — trained and scored on one modality only ({@code crd train --modalities rgb}
 * or {@code depth}/{@code normals}). It is the model a user without the second sensor would otherwise train, and the
 * baseline few-modal CRD scoring is compared against (§17.3).
 */
public final class ReverseDistillationModel {
    private final Preset preset;
    private final String modality;
    private final WideResNetTeacher teacher;
    private final Student student;

    /** The student's state dict is the reference's RD names: {@code bn.*} and {@code decoder.*}. */
    public static final class Student extends Module {
        final ReverseDistillationOcbe ocbe;
        final Decoder decoder;

        Student(NnContext ctx, Preset p) {
            super(ctx);
            ocbe = child("bn", new ReverseDistillationOcbe(ctx, p));
            decoder = child("decoder", new Decoder(ctx, p));
        }

        /** [S1, S2, S3], ordered like the teacher features (§4.2). */
        public List<Var> forward(Graph g, List<Var> t) { return decoder.forwardPlain(g, ocbe.forward(g, t)); }
    }

    /** {@code modality}: "rgb", "depth" or "normals" (the only input the model takes). */
    public ReverseDistillationModel(NnContext ctx, Preset preset, String modality) {
        if (!List.of("rgb", "depth", "normals").contains(modality)) {
            throw new IllegalArgumentException("--modalities: expected rgb, depth or normals for a single-modality model, found '" + modality + "'");
        }
        this.preset = preset;
        this.modality = modality;
        this.teacher = new WideResNetTeacher(ctx, preset);   // created first, as in CrdModel: the same seed gives the same teacher
        this.student = new Student(ctx, preset);
    }

    public Preset preset() { return preset; }

    /** The one modality this model takes ("rgb", "depth" or "normals"). */
    public String modality() { return modality; }

    public WideResNetTeacher teacher() { return teacher; }

    public Student student() { return student; }

    public void train(boolean on) { student.train(on); }
}
