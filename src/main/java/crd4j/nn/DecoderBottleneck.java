package crd4j.nn;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;

/**
 * The RD decoder block (§4.2). In the first block of a stage the 3×3 conv is a k2 s2 transposed conv and the
 * shortcut is {@code upsample} = transposed conv (in→out) + BN; the other blocks are plain stride-1 bottlenecks.
 */
public final class DecoderBottleneck extends Module implements Layer {
    final Conv2d conv1, conv3;
    final Layer conv2;
    final BatchNorm2d bn1, bn2, bn3;
    final ConvTranspose2x2 upConv;
    final BatchNorm2d upBn;

    public DecoderBottleneck(NnContext ctx, int in, int width, int out, boolean upsample) {
        super(ctx);
        conv1 = child("conv1", new Conv2d(ctx, in, width, 1, 1, 0, true));
        bn1 = child("bn1", new BatchNorm2d(ctx, width, true));
        conv2 = upsample ? child("conv2", new ConvTranspose2x2(ctx, width, width, true))
                : child("conv2", new Conv2d(ctx, width, width, 3, 1, 1, true));
        bn2 = child("bn2", new BatchNorm2d(ctx, width, true));
        conv3 = child("conv3", new Conv2d(ctx, width, out, 1, 1, 0, true));
        bn3 = child("bn3", new BatchNorm2d(ctx, out, true));
        if (upsample) {
            Sequential up = child("upsample", new Sequential(ctx));
            upConv = up.add(new ConvTranspose2x2(ctx, in, out, true));
            upBn = up.add(new BatchNorm2d(ctx, out, true));
        } else {
            if (in != out) throw new IllegalArgumentException("identity shortcut needs in == out");
            upConv = null;
            upBn = null;
        }
    }

    @Override
    public Var forward(Graph g, Var x) {
        Var y = bn1.forward(g, conv1.forward(g, x), null, true);
        y = bn2.forward(g, conv2.forward(g, y), null, true);
        Var z = conv3.forward(g, y);
        Var shortcut = upConv == null ? x : upBn.forward(g, upConv.forward(g, x), null, false);
        return bn3.forward(g, z, shortcut, true);   // relu(bn3(z) + shortcut)
    }

    /** A decoder stage: the upsampling block, then {@code blocks − 1} identity blocks. */
    public static Sequential stage(NnContext ctx, int in, int width, int out, int blocks) {
        Sequential s = new Sequential(ctx);
        s.add(new DecoderBottleneck(ctx, in, width, out, true));
        for (int i = 1; i < blocks; i++) s.add(new DecoderBottleneck(ctx, out, width, out, false));
        return s;
    }
}
