package crd4j.model;

import crd4j.autograd.FusionWeights;
import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.nn.DecoderBottleneck;
import crd4j.nn.Module;
import crd4j.nn.NnContext;
import crd4j.nn.Sequential;

import java.util.List;

/**
 * The student decoder (§4.2) with the Crossmodal Amplifier's per-stage fusion (§5.4, reference
 * {@code ResNet_Skip.forward_fuse}): after each stage s the raw output R_s is mixed with the Inverted Bottleneck
 * Projection Q_s as G_s = ω1·R_s + ω2·Q_s with (ω1, ω2) = softmax(w_s), and G_s feeds the next stage.
 */
public final class Decoder extends Module {
    final FusionWeights wA = new FusionWeights(1, 1), wB = new FusionWeights(1, 1), wC = new FusionWeights(1, 1);
    final Sequential layer1, layer2, layer3;

    public Decoder(NnContext ctx, Preset p) {
        super(ctx);
        int b = p.base();
        fusionParameter("w_a", wA);
        fusionParameter("w_b", wB);
        fusionParameter("w_c", wC);
        layer1 = child("layer1", DecoderBottleneck.stage(ctx, 32 * b, 8 * b, 16 * b, 3));
        layer2 = child("layer2", DecoderBottleneck.stage(ctx, 16 * b, 4 * b, 8 * b, 4));
        layer3 = child("layer3", DecoderBottleneck.stage(ctx, 8 * b, 2 * b, 4 * b, 6));
    }

    /** Raw and fused stage outputs, both ordered [level 1 (S/4), level 2, level 3]. */
    public record Output(List<Var> raw, List<Var> fused) {}

    /** RD's plain decoder (§4.2): [S1, S2, S3] without fusion. */
    public List<Var> forwardPlain(Graph g, Var z) {
        Var s3 = layer1.forward(g, z);
        Var s2 = layer2.forward(g, s3);
        Var s1 = layer3.forward(g, s2);
        return List.of(s1, s2, s3);
    }

    public Output forwardFused(Graph g, Var z, List<Var> q, FusionSemantics semantics) {
        Var r3 = layer1.forward(g, z);
        Var[] f3 = fuse(g, r3, q.get(2), wA, semantics);
        Var r2 = layer2.forward(g, f3[0]);
        Var[] f2 = fuse(g, r2, q.get(1), wB, semantics);
        Var r1 = layer3.forward(g, f2[0]);
        Var[] f1 = fuse(g, r1, q.get(0), wC, semantics);
        return new Output(List.of(r1, r2, r3), List.of(f1[1], f2[1], f3[1]));
    }

    /** {forwarded, returned}; the two are the same values and differ only in the gradients they pass (§6.3). */
    private static Var[] fuse(Graph g, Var r, Var q, FusionWeights w, FusionSemantics semantics) {
        if (semantics == FusionSemantics.JOINT || !g.recording()) {
            Var f = g.fuse(r, q, w, true);
            return new Var[]{f, f};
        }
        Var forwarded = g.fuse(r, q, w, false);
        Var returned = g.fuse(g.detach(r), g.detach(q), w, true);
        return new Var[]{forwarded, returned};
    }
}
