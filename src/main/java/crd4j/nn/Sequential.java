package crd4j.nn;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;

import java.util.ArrayList;
import java.util.List;

/**
 * PyTorch's nn.Sequential: children named by their index. {@link #skip()} reserves an index for a parameter-free
 * layer (ReLU in the projections) so that state-dict names keep the reference's numbering.
 */
public final class Sequential extends Module implements Layer {
    private final List<Layer> layers = new ArrayList<>();
    private int next;

    public Sequential(NnContext ctx) { super(ctx); }

    public <M extends Module & Layer> M add(M m) {
        child(Integer.toString(next++), m);
        layers.add(m);
        return m;
    }

    private static final Layer RELU = Graph::relu;

    /** A ReLU at the next index. */
    public void addRelu() {
        next++;
        layers.add(RELU);
    }

    @Override
    public Var forward(Graph g, Var x) {
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            // a convolution followed by batch norm (and ReLU): one BatchNorm2d.forward(g, convOut, null, relu) call,
            // which runs BN and ReLU in place in the convolution's output when it can (eval mode, no gradients)
            if ((l instanceof Conv2d || l instanceof ConvTranspose2x2) && i + 1 < layers.size()
                    && layers.get(i + 1) instanceof BatchNorm2d bn) {
                boolean relu = i + 2 < layers.size() && layers.get(i + 2) == RELU;
                x = bn.forward(g, l.forward(g, x), null, relu);
                i += relu ? 2 : 1;
            } else {
                x = l.forward(g, x);
            }
        }
        return x;
    }

    public int size() { return layers.size(); }
}
