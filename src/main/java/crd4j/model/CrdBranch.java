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
        List<Var> p = bp.forward(g, tHelper);
        List<Var> q = ibp.forward(g, tHelper);
        Var z = ocbe.forward(g, tOwn, p);
        Decoder.Output d = decoder.forwardFused(g, z, q, semantics);
        return new Output(p, q, d.raw(), d.fused(), z);
    }
}
