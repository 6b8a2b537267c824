package crd4j.model;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.nn.BatchNorm2d;
import crd4j.nn.Conv2d;
import crd4j.nn.Module;
import crd4j.nn.NnContext;
import crd4j.nn.Sequential;

import java.util.List;

/**
 * Inverted Bottleneck Projection, the first half of the Crossmodal Amplifier (§5.3, reference
 * {@code Projector_Amply_upsample}): per level a 3×3 conv, a 1×1 expansion to twice the channels and a 1×1
 * compression back, each followed by BN and ReLU; the resolution never changes.
 */
public final class InvertedBottleneckProjection extends Module {
    final Sequential a, b, c;

    public InvertedBottleneckProjection(NnContext ctx, Preset p) {
        super(ctx);
        a = child("conv_a", chain(ctx, p.channels(1)));
        b = child("conv_b", chain(ctx, p.channels(2)));
        c = child("conv_c", chain(ctx, p.channels(3)));
    }

    private static Sequential chain(NnContext ctx, int ch) {
        Sequential s = new Sequential(ctx);
        s.add(new Conv2d(ctx, ch, ch, 3, 1, 1, true));
        s.add(new BatchNorm2d(ctx, ch, true));
        s.addRelu();
        s.add(new Conv2d(ctx, ch, 2 * ch, 1, 1, 0, true));
        s.add(new BatchNorm2d(ctx, 2 * ch, true));
        s.addRelu();
        s.add(new Conv2d(ctx, 2 * ch, ch, 1, 1, 0, true));
        s.add(new BatchNorm2d(ctx, ch, true));
        s.addRelu();
        return s;
    }

    /** Q = [Q1, Q2, Q3] from the helper modality's teacher features. */
    public List<Var> forward(Graph g, List<Var> tHelper) {
        return List.of(a.forward(g, tHelper.get(0)), b.forward(g, tHelper.get(1)), c.forward(g, tHelper.get(2)));
    }
}
