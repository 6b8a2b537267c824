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

    /**
     * The optimiser state for resuming: {@code m.<i>}, {@code v.<i>} per parameter (in {@code module.parameters()}
     * order), {@code fusion.<j>} = [m0, m1, v0, v1] (float64) per fusion weight, and {@code step} (int64 [1]).
     */
    public java.util.Map<String, crd4j.tensor.HostTensor> exportState() {
        java.util.Map<String, crd4j.tensor.HostTensor> out = new java.util.LinkedHashMap<>();
        for (int i = 0; i < params.size(); i++) {
            out.put("m." + i, m.get(i).toHost());
            out.put("v." + i, v.get(i).toHost());
        }
        for (int j = 0; j < fusion.size(); j++) out.put("fusion." + j, crd4j.tensor.HostTensor.of(fusion.get(j).adamMoments(), 4));
        out.put("step", crd4j.tensor.HostTensor.of(new long[]{step}, 1));
        return out;
    }

    /** Restores {@link #exportState()}; throws IllegalArgumentException naming the first missing or mis-shaped entry. */
    public void importState(java.util.Map<String, crd4j.tensor.HostTensor> state) {
        for (int i = 0; i < params.size(); i++) {
            for (String k : new String[]{"m." + i, "v." + i}) {
                crd4j.tensor.HostTensor t = state.get(k);
                if (t == null || !java.util.Arrays.equals(t.shape(), params.get(i).shape())) {
                    throw new IllegalArgumentException("Adam state '" + k + "' missing or of the wrong shape");
                }
            }
        }
        for (int i = 0; i < params.size(); i++) {
            var dt = params.get(i).value().dtype();
            m.get(i).close();
            v.get(i).close();
            m.set(i, be.fromHost(convert(state.get("m." + i), dt)));
            v.set(i, be.fromHost(convert(state.get("v." + i), dt)));
        }
        for (int j = 0; j < fusion.size(); j++) {
            crd4j.tensor.HostTensor t = state.get("fusion." + j);
            if (t == null) throw new IllegalArgumentException("Adam state 'fusion." + j + "' missing");
            fusion.get(j).setAdamMoments(t.toFloat64().doubles());
        }
        crd4j.tensor.HostTensor s = state.get("step");
        if (s == null) throw new IllegalArgumentException("Adam state 'step' missing");
        step = (long) s.getDouble(0);
    }

    private static crd4j.tensor.HostTensor convert(crd4j.tensor.HostTensor t, crd4j.tensor.DType dt) {
        return dt == crd4j.tensor.DType.FLOAT64 ? t.toFloat64() : t.toFloat32();
    }

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
