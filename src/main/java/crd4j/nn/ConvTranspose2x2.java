package crd4j.nn;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;

/** ConvTranspose2d(k=2, s=2, p=0) without bias: doubles H and W; weight [C_in, C_out, 2, 2]. */
public final class ConvTranspose2x2 extends Module implements Layer {
    public final int in, out;
    public final Var weight;

    public ConvTranspose2x2(NnContext ctx, int in, int out, boolean trainable) {
        super(ctx);
        this.in = in;
        this.out = out;
        this.weight = parameter("weight", Init.deconvDefault(ctx.rng(), in, out), trainable);
    }

    @Override
    public Var forward(Graph g, Var x) { return g.deconv2x2(x, weight); }
}
