package crd4j.model;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.nn.BatchNorm2d;
import crd4j.nn.Conv2d;
import crd4j.nn.ConvTranspose2x2;
import crd4j.nn.Module;
import crd4j.nn.NnContext;
import crd4j.nn.Sequential;

import java.util.List;

/**
 * Bottleneck Projection, the first half of the Crossmodal Filter (§5.1, reference {@code NormalProjector_8}): each
 * level of the helper modality's teacher features is squeezed to the bottleneck resolution (S/32) by k2 s2
 * convolutions and restored by k2 s2 transposed convolutions, each followed by BN and ReLU.
 */
public final class BottleneckProjection extends Module {
    final Sequential a, b, c;

    public BottleneckProjection(NnContext ctx, Preset p) {
        super(ctx);
        int c1 = p.channels(1);
        a = child("conv_a", chain(ctx, c1, 3));
        b = child("conv_b", chain(ctx, 2 * c1, 2));
        c = child("conv_c", chain(ctx, 4 * c1, 1));
    }

    /** {@code downs} k2 s2 convs doubling channels, then as many transposed convs halving them. */
    private static Sequential chain(NnContext ctx, int channels, int downs) {
        Sequential s = new Sequential(ctx);
        int ch = channels;
        for (int i = 0; i < downs; i++, ch *= 2) {
            s.add(new Conv2d(ctx, ch, 2 * ch, 2, 2, 0, true));
            s.add(new BatchNorm2d(ctx, 2 * ch, true));
            s.addRelu();
        }
        for (int i = 0; i < downs; i++, ch /= 2) {
            s.add(new ConvTranspose2x2(ctx, ch, ch / 2, true));
            s.add(new BatchNorm2d(ctx, ch / 2, true));
            s.addRelu();
        }
        return s;
    }

    /** P = [P1, P2, P3] from the helper modality's teacher features. */
    public List<Var> forward(Graph g, List<Var> tHelper) {
        return List.of(a.forward(g, tHelper.get(0)), b.forward(g, tHelper.get(1)), c.forward(g, tHelper.get(2)));
    }
}
