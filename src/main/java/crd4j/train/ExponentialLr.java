package crd4j.train;

/** PyTorch's ExponentialLR in its chainable form: lr ← lr·γ once per epoch (§7: γ = 0.95). */
public final class ExponentialLr {
    public static final double GAMMA = 0.95;
    private final double gamma;

    public ExponentialLr(double gamma) { this.gamma = gamma; }

    public void step(Adam opt) { opt.setLr(opt.lr() * gamma); }
}
