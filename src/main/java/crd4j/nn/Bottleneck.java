package crd4j.nn;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;

/**
 * torchvision's V1.5 Bottleneck (§3): 1×1 → BN → ReLU → 3×3 (stride here) → BN → ReLU → 1×1 → BN, plus the
 * shortcut (identity, or 1×1 strided conv + BN as {@code downsample}), then ReLU. Used by the teacher and by both
 * OCBE bottleneck stacks (the reference's AttnBottleneck computes the same thing).
 */
public final class Bottleneck extends Module implements Layer {
    final Conv2d conv1, conv2, conv3;
    final BatchNorm2d bn1, bn2, bn3;
    final Conv2d downConv;
    final BatchNorm2d downBn;

    public Bottleneck(NnContext ctx, int in, int width, int out, int stride, boolean trainable) {
        super(ctx);
        conv1 = child("conv1", new Conv2d(ctx, in, width, 1, 1, 0, trainable));
        bn1 = child("bn1", new BatchNorm2d(ctx, width, trainable));
        conv2 = child("conv2", new Conv2d(ctx, width, width, 3, stride, 1, trainable));
        bn2 = child("bn2", new BatchNorm2d(ctx, width, trainable));
        conv3 = child("conv3", new Conv2d(ctx, width, out, 1, 1, 0, trainable));
        bn3 = child("bn3", new BatchNorm2d(ctx, out, trainable));
        if (stride != 1 || in != out) {
            Sequential down = child("downsample", new Sequential(ctx));
            downConv = down.add(new Conv2d(ctx, in, out, 1, stride, 0, trainable));
            downBn = down.add(new BatchNorm2d(ctx, out, trainable));
        } else {
            downConv = null;
            downBn = null;
        }
    }

    @Override
    public Var forward(Graph g, Var x) {
        Var y = bn1.forward(g, conv1.forward(g, x), null, true);
        y = bn2.forward(g, conv2.forward(g, y), null, true);
        Var z = conv3.forward(g, y);
        Var shortcut = downConv == null ? x : downBn.forward(g, downConv.forward(g, x), null, false);
        return bn3.forward(g, z, shortcut, true);   // relu(bn3(z) + shortcut)
    }

    /** A ResNet stage: {@code blocks} bottlenecks, the first with the stride and the projection shortcut. */
    public static Sequential stage(NnContext ctx, int in, int width, int out, int blocks, int stride, boolean trainable) {
        Sequential s = new Sequential(ctx);
        s.add(new Bottleneck(ctx, in, width, out, stride, trainable));
        for (int i = 1; i < blocks; i++) s.add(new Bottleneck(ctx, out, width, out, 1, trainable));
        return s;
    }
}
