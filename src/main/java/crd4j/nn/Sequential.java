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

    /** A ReLU at the next index. */
    public void addRelu() {
        next++;
        layers.add(Graph::relu);
    }

    @Override
    public Var forward(Graph g, Var x) {
        for (Layer l : layers) x = l.forward(g, x);
        return x;
    }

    public int size() { return layers.size(); }
}
