package crd4j.model;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.nn.BatchNorm2d;
import crd4j.nn.Bottleneck;
import crd4j.nn.Conv2d;
import crd4j.nn.Module;
import crd4j.nn.NnContext;
import crd4j.nn.Sequential;

import java.util.List;

/**
 * RD's one-class bottleneck embedding (§4.1, reference {@code BN_layer}): T1 through two stride-2 convs, T2 through
 * one, T3 unchanged, concatenated and compressed by the bottleneck stack. {@code conv4}/{@code bn4} exist in the
 * reference (and in its state dict and optimizer) but are never run; they are kept for checkpoint compatibility.
 */
public final class ReverseDistillationOcbe extends Module {
    final Sequential bnLayer;
    final Conv2d conv1, conv2, conv3;
    final BatchNorm2d bn1, bn2, bn3;

    public ReverseDistillationOcbe(NnContext ctx, Preset p) {
        super(ctx);
        int c1 = p.channels(1), c2 = p.channels(2), c3 = p.channels(3);
        bnLayer = child("bn_layer", Bottleneck.stage(ctx, 3 * c3, c3, p.bottleneckChannels(), 3, 2, true));
        conv1 = child("conv1", new Conv2d(ctx, c1, c2, 3, 2, 1, true));
        bn1 = child("bn1", new BatchNorm2d(ctx, c2, true));
        conv2 = child("conv2", new Conv2d(ctx, c2, c3, 3, 2, 1, true));
        bn2 = child("bn2", new BatchNorm2d(ctx, c3, true));
        conv3 = child("conv3", new Conv2d(ctx, c2, c3, 3, 2, 1, true));
        bn3 = child("bn3", new BatchNorm2d(ctx, c3, true));
        child("conv4", new Conv2d(ctx, 4 * c3, p.bottleneckChannels(), 1, 1, 0, true));
        child("bn4", new BatchNorm2d(ctx, p.bottleneckChannels(), true));
    }

    public Var forward(Graph g, List<Var> t) {
        Var l1 = g.relu(bn1.forward(g, conv1.forward(g, t.get(0))));
        l1 = g.relu(bn2.forward(g, conv2.forward(g, l1)));
        Var l2 = g.relu(bn3.forward(g, conv3.forward(g, t.get(1))));
        return bnLayer.forward(g, g.concatChannels(List.of(l1, l2, t.get(2))));
    }
}
