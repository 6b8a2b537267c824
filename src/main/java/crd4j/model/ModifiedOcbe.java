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
 * The modified one-class bottleneck embedding, the second half of the Crossmodal Filter (§5.2, reference
 * {@code BN_fuse_layer}): every level of the own-modality teacher features is concatenated with the Bottleneck
 * Projection of the same level, brought to S/16 (two stride-2 convs, one stride-2 conv, one stride-1 conv),
 * concatenated and compressed by the RD bottleneck stack to 32b × S/32 × S/32.
 */
public final class ModifiedOcbe extends Module {
    final Sequential bnLayer;
    final Conv2d conv1, conv2, conv3, conv4;
    final BatchNorm2d bn1, bn2, bn3, bn4;

    public ModifiedOcbe(NnContext ctx, Preset p) {
        super(ctx);
        int c1 = p.channels(1), c2 = p.channels(2), c3 = p.channels(3);
        bnLayer = child("bn_layer", Bottleneck.stage(ctx, 3 * c3, c3, p.bottleneckChannels(), 3, 2, true));
        conv1 = child("conv1", new Conv2d(ctx, 2 * c1, c3, 3, 2, 1, true));
        bn1 = child("bn1", new BatchNorm2d(ctx, c3, true));
        conv2 = child("conv2", new Conv2d(ctx, c3, c3, 3, 2, 1, true));
        bn2 = child("bn2", new BatchNorm2d(ctx, c3, true));
        conv3 = child("conv3", new Conv2d(ctx, 2 * c2, c3, 3, 2, 1, true));
        bn3 = child("bn3", new BatchNorm2d(ctx, c3, true));
        conv4 = child("conv4", new Conv2d(ctx, 2 * c3, c3, 3, 1, 1, true));
        bn4 = child("bn4", new BatchNorm2d(ctx, c3, true));
    }

    public Var forward(Graph g, List<Var> tOwn, List<Var> p) {
        Var l1 = bn1.forward(g, conv1.forward(g, g.concatChannels(List.of(tOwn.get(0), p.get(0)))), null, true);
        l1 = bn2.forward(g, conv2.forward(g, l1), null, true);
        Var l2 = bn3.forward(g, conv3.forward(g, g.concatChannels(List.of(tOwn.get(1), p.get(1)))), null, true);
        Var l3 = bn4.forward(g, conv4.forward(g, g.concatChannels(List.of(tOwn.get(2), p.get(2)))), null, true);
        return bnLayer.forward(g, g.concatChannels(List.of(l1, l2, l3)));
    }
}
