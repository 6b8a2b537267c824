package crd4j.autograd;

/**
 * The two fusion logits of one decoder stage (§5.4), kept on the host: ω = exp(w) / Σ exp(w). Six scalars per branch
 * do not justify device tensors; they are read into every fused map as two constants.
 */
public final class FusionWeights {
    private final double[] logits;
    private final double[] grad = new double[2];
    private boolean requiresGrad = true;
    // Adam moments for the two logits
    final double[] m = new double[2];
    final double[] v = new double[2];

    public FusionWeights(double w0, double w1) { this.logits = new double[]{w0, w1}; }

    /** Adam moments {m0, m1, v0, v1} (for resuming training). */
    public double[] adamMoments() { return new double[]{m[0], m[1], v[0], v[1]}; }

    public void setAdamMoments(double[] mv) {
        if (mv.length != 4) throw new IllegalArgumentException("expected 4 Adam moments, found " + mv.length);
        m[0] = mv[0]; m[1] = mv[1]; v[0] = mv[2]; v[1] = mv[3];
    }

    public double[] logits() { return logits.clone(); }

    public void setLogits(double w0, double w1) {
        logits[0] = w0;
        logits[1] = w1;
    }

    /** Literally exp / sum(exp) (§5.4), in double; the float32 reference differs by an ulp. */
    public double[] softmax() {
        double e0 = Math.exp(logits[0]), e1 = Math.exp(logits[1]);
        double s = e0 + e1;
        return new double[]{e0 / s, e1 / s};
    }

    public boolean requiresGrad() { return requiresGrad; }

    public void setRequiresGrad(boolean r) { requiresGrad = r; }

    void accumulate(double g0, double g1) {
        grad[0] += g0;
        grad[1] += g1;
    }

    public double[] grad() { return grad.clone(); }

    public void zeroGrad() { grad[0] = 0; grad[1] = 0; }

    /** Adam on the two logits, the same update as {@code Backend.adamStep}, in double. */
    public void adamStep(double lr, double beta1, double beta2, double eps, long step) {
        double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
        for (int i = 0; i < 2; i++) {
            double g = grad[i];
            m[i] = m[i] + (1 - beta1) * (g - m[i]);
            v[i] = beta2 * v[i] + (1 - beta2) * g * g;
            double denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + eps;
            logits[i] = logits[i] - lr / bc1 * m[i] / denom;
        }
    }
}
