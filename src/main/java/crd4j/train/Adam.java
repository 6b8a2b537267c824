package crd4j.train;

import crd4j.autograd.FusionWeights;
import crd4j.autograd.Var;
import crd4j.backend.Backend;
import crd4j.backend.Tensor;
import crd4j.nn.Module;

import java.util.ArrayList;
import java.util.List;

/**
 * Adam as the reference configures it (§7): betas (0.5, 0.999), eps 1e-8, no weight decay, with the learning rate
 * of an {@link ExponentialLr} schedule. Parameters without a gradient are skipped, as PyTorch skips grad=None.
 */
public final class Adam {
    public static final double BETA1 = 0.5, BETA2 = 0.999, EPS = 1e-8;

    private final Backend be;
    private final List<Var> params;
    private final List<FusionWeights> fusion;
    private final List<Tensor> m = new ArrayList<>(), v = new ArrayList<>();
    private long step;
    private double lr;

    public Adam(Backend be, Module module, double lr) {
        this.be = be;
        this.params = module.parameters();
        this.fusion = module.fusionWeights();
        this.lr = lr;
        for (Var p : params) {
            m.add(be.zeros(p.value().dtype(), p.shape()));
            v.add(be.zeros(p.value().dtype(), p.shape()));
        }
    }

    public double lr() { return lr; }

    public void setLr(double lr) { this.lr = lr; }

    public long stepCount() { return step; }

    public void zeroGrad() {
        for (Var p : params) p.zeroGrad();
        for (FusionWeights w : fusion) w.zeroGrad();
    }

    public void step() {
        step++;
        for (int i = 0; i < params.size(); i++) {
            Var p = params.get(i);
            if (p.grad() == null) continue;
            be.adamStep(p.value(), p.grad(), m.get(i), v.get(i), lr, BETA1, BETA2, EPS, step);
        }
        for (FusionWeights w : fusion) w.adamStep(lr, BETA1, BETA2, EPS, step);
    }
}
