package crd4j.autograd;

import crd4j.backend.Backend;
import crd4j.backend.Tensor;

/**
 * A value in a {@link Graph} together with its gradient. Parameters are long-lived Vars whose gradient
 * accumulates over a backward pass; activations are created by the graph's operations.
 */
public class Var {
    private Tensor value;
    private Tensor grad;
    private final boolean requiresGrad;

    public Var(Tensor value, boolean requiresGrad) {
        this.value = value;
        this.requiresGrad = requiresGrad;
    }

    public Tensor value() { return value; }

    /** Replaces the value (used by optimisers and weight loading); the shape must not change. */
    public void setValue(Tensor v) { this.value = v; }

    public boolean requiresGrad() { return requiresGrad; }

    /** The accumulated gradient, or null when nothing flowed here. */
    public Tensor grad() { return grad; }

    /** Drops (and frees) the accumulated gradient. */
    public void zeroGrad() {
        if (grad != null) grad.close();
        grad = null;
    }

    /**
     * Adds g to the gradient. The first contribution is kept by reference, so a caller hands over a tensor it does
     * not use again.
     */
    void accumulate(Backend be, Tensor g) {
        if (!requiresGrad || g == null) return;
        if (grad == null) grad = g;
        else {
            be.addInPlace(grad, g);
            g.close();   // handed over and added: free device/native memory now rather than at GC
        }
    }

    public long[] shape() { return value.shape(); }
}
