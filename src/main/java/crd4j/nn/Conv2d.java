package crd4j.nn;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;

/** Conv2d without bias (§1: no conv in CRD has one); weight [C_out, C_in, k, k]. */
public final class Conv2d extends Module implements Layer {
    public final int in, out, kernel, stride, pad;
    public final Var weight;

    public Conv2d(NnContext ctx, int in, int out, int kernel, int stride, int pad, boolean trainable) {
        super(ctx);
        this.in = in;
        this.out = out;
        this.kernel = kernel;
        this.stride = stride;
        this.pad = pad;
        this.weight = parameter("weight", Init.kaimingNormalFanOut(ctx.rng(), out, in, kernel), trainable);
    }

    @Override
    public Var forward(Graph g, Var x) { return g.conv2d(x, weight, stride, pad); }
}
