package crd4j.model;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.nn.Module;
import crd4j.nn.NnContext;

import java.util.List;

/**
 * One CRD student branch (§5, reference {@code ResNet50DualModalDecoder}) for modality A with helper modality B:
 * the Crossmodal Filter (Bottleneck Projection + modified OCBE) and the Crossmodal Amplifier (Inverted Bottleneck
 * Projection + fused decoder). State-dict names are the reference's (§13.2).
 */
public final class CrdBranch extends Module {
    final ModifiedOcbe ocbe;
    final Decoder decoder;
    final BottleneckProjection bp;
    final InvertedBottleneckProjection ibp;

    public CrdBranch(NnContext ctx, Preset p) {
        super(ctx);
        // registration order as in the reference state dict
        ocbe = child("bn", new ModifiedOcbe(ctx, p));
        decoder = child("decoder", new Decoder(ctx, p));
        bp = child("projector_filter", new BottleneckProjection(ctx, p));
        ibp = child("projector_amply", new InvertedBottleneckProjection(ctx, p));
    }

    /** P, Q, F_raw, F_fused (each [level 1, 2, 3]) and the bottleneck code z. */
    public record Output(List<Var> bp, List<Var> ibp, List<Var> raw, List<Var> fused, Var ocbe) {}

    public Output forward(Graph g, List<Var> tOwn, List<Var> tHelper, FusionSemantics semantics) {
        return forwardWithAssist(g, tOwn, filterProjection(g, tHelper), amplifierProjection(g, tHelper), semantics);
    }

    /**
     * The branch given its two assist signals directly: {@code p} (the Filter's projection, fed to the modified OCBE)
     * and {@code q} (the Amplifier's projection, fused at each decoder stage). {@link #forward} computes them from the
     * helper modality's teacher features; few-modal scoring (§17.2) may set them to zero instead.
     */
    public Output forwardWithAssist(Graph g, List<Var> tOwn, List<Var> p, List<Var> q, FusionSemantics semantics) {
        Var z = ocbe.forward(g, tOwn, p);
        Decoder.Output d = decoder.forwardFused(g, z, q, semantics);
        return new Output(p, q, d.raw(), d.fused(), z);
    }

    /**
     * The Crossmodal Filter's Bottleneck Projection BP(T^B): trained to map the helper modality's teacher features
     * onto this branch's own (loss term 2 of §6.1), hence also this branch's estimate of its own teacher features
     * when only the helper modality is present (§17.1).
     */
    public List<Var> filterProjection(Graph g, List<Var> tHelper) { return bp.forward(g, tHelper); }

    /** The Crossmodal Amplifier's Inverted Bottleneck Projection IBP(T^B): the second estimate of §17.1. */
    public List<Var> amplifierProjection(Graph g, List<Var> tHelper) { return ibp.forward(g, tHelper); }
}
