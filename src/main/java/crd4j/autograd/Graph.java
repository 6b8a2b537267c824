package crd4j.autograd;

import crd4j.backend.Backend;
import crd4j.backend.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Records the operations of one forward pass so that {@link #backward()} can run their explicit backward passes
 * in reverse order. A graph made with {@code recording=false} only computes values (inference).
 *
 * <p>Every backward rule here calls the backend's hand-written backward operation; there is no symbolic
 * differentiation. Loss terms are scalars whose coefficient in the total loss is 1 (§6.1), so each loss op seeds its
 * input's gradient directly.
 *
 * <p>An inference graph may record from several threads at once (the two halves of {@link
 * crd4j.backend.BranchParallel}); a training graph belongs to one thread.
 */
public final class Graph {
    private final Backend be;
    private final boolean recording;
    private final boolean scoring;
    private final List<Runnable> tape = new ArrayList<>();
    private final List<Tensor> produced = new ArrayList<>();

    public Graph(Backend be, boolean recording) {
        this(be, recording, false);
    }

    private Graph(Backend be, boolean recording, boolean scoring) {
        this.be = be;
        this.recording = recording;
        this.scoring = scoring;
    }

    /** Values only, every operation on the backend's reference path (training's frozen teacher passes, BN calibration). */
    public static Graph inference(Backend be) { return new Graph(be, false, false); }

    /**
     * Values only, for scoring parts (detection, the validation statistics that normalise its maps, inspection):
     * convolutions may take the backend's faster algorithm ({@link Backend#conv2dInference}).
     */
    public static Graph scoring(Backend be) { return new Graph(be, false, true); }

    public static Graph training(Backend be) { return new Graph(be, true); }

    public Backend backend() { return be; }

    public boolean recording() { return recording; }

    public Var constant(Tensor t) { return new Var(t, false); }

    /** A zero tensor of {@code x}'s dtype and shape, freed with this graph's activations. */
    public Var zerosLike(Var x) {
        return result(be.zeros(x.value().dtype(), x.shape()), false);
    }

    /** The same value with no gradient flowing back (PyTorch's {@code detach()}). */
    public Var detach(Var x) { return new Var(x.value(), false); }

    private boolean track(Var... inputs) {
        if (!recording) return false;
        for (Var v : inputs) if (v.requiresGrad()) return true;
        return false;
    }

    private Var result(Tensor t, boolean tracked) {
        synchronized (produced) {
            produced.add(t);
        }
        return new Var(t, tracked);
    }

    /**
     * Frees every tensor this graph's operations produced (activations), now rather than at garbage collection:
     * large native buffers that wait for the GC make the next forward pass fault in fresh memory. Call it once
     * nothing computed by this graph is used any more (copy results to the host first).
     */
    public void release() {
        synchronized (produced) {
            for (Tensor t : produced) t.close();
            produced.clear();
        }
        tape.clear();
    }

    /** Seeds dL/d(output) = {@code gradOutput} (a tensor handed over) and runs {@link #backward()}. */
    public void backward(Var output, Tensor gradOutput) {
        output.accumulate(be, gradOutput);
        backward();
    }

    /** Runs the recorded backward rules, newest first. */
    public void backward() {
        if (!recording) throw new IllegalStateException("backward() on an inference graph");
        for (int i = tape.size() - 1; i >= 0; i--) tape.get(i).run();
        tape.clear();
    }

    // ---- operations ------------------------------------------------------------------------------------------

    public Var conv2d(Var x, Var w, int stride, int pad) {
        Tensor y = scoring ? be.conv2dInference(x.value(), w.value(), stride, pad) : be.conv2d(x.value(), w.value(), stride, pad);
        boolean t = track(x, w);
        Var out = result(y, t);
        if (t) {
            Tensor xv = x.value(), wv = w.value();
            long[] xs = xv.shape(), ws = wv.shape();
            tape.add(() -> {
                Tensor gy = out.grad();
                if (gy == null) return;
                if (w.requiresGrad()) w.accumulate(be, be.conv2dBackwardFilter(xv, gy, ws, stride, pad));
                if (x.requiresGrad()) x.accumulate(be, be.conv2dBackwardData(gy, wv, xs, stride, pad));
            });
        }
        return out;
    }

    public Var deconv2x2(Var x, Var w) {
        Tensor y = scoring ? be.deconv2x2Inference(x.value(), w.value()) : be.deconv2x2(x.value(), w.value());
        boolean t = track(x, w);
        Var out = result(y, t);
        if (t) {
            Tensor xv = x.value(), wv = w.value();
            tape.add(() -> {
                Tensor gy = out.grad();
                if (gy == null) return;
                if (w.requiresGrad()) w.accumulate(be, be.deconv2x2BackwardFilter(xv, gy));
                if (x.requiresGrad()) x.accumulate(be, be.deconv2x2BackwardData(gy, wv));
            });
        }
        return out;
    }

    /** Training-mode batch norm; updates the running statistics in place (§1). */
    public Var batchNormTrain(Var x, Var gamma, Var beta, Tensor runningMean, Tensor runningVar, double momentum, double eps) {
        Backend.BatchNormForward f = be.batchNormTrain(x.value(), gamma.value(), beta.value(), runningMean, runningVar, momentum, eps);
        boolean t = track(x, gamma, beta);
        Var out = result(f.out(), t);
        if (t) {
            Tensor xv = x.value(), gv = gamma.value();
            tape.add(() -> {
                Tensor gy = out.grad();
                if (gy == null) return;
                Backend.BatchNormGrads g = be.batchNormBackward(xv, gy, gv, f);
                gamma.accumulate(be, g.dgamma());
                beta.accumulate(be, g.dbeta());
                x.accumulate(be, g.dx());
            });
        }
        return out;
    }

    public Var batchNormEval(Var x, Var gamma, Var beta, Tensor runningMean, Tensor runningVar, double eps) {
        if (track(x, gamma, beta)) {
            throw new UnsupportedOperationException("gradients through eval-mode batch norm are not needed by CRD training");
        }
        return result(be.batchNormEval(x.value(), gamma.value(), beta.value(), runningMean, runningVar, eps), false);
    }

    public Var relu(Var x) {
        Tensor y = be.relu(x.value());
        boolean t = track(x);
        Var out = result(y, t);
        if (t) {
            tape.add(() -> {
                Tensor gy = out.grad();
                if (gy != null) x.accumulate(be, be.reluBackward(y, gy));
            });
        }
        return out;
    }

    public Var add(Var a, Var b) {
        Tensor y = be.add(a.value(), b.value());
        boolean t = track(a, b);
        Var out = result(y, t);
        if (t) {
            tape.add(() -> {
                Tensor gy = out.grad();
                if (gy == null) return;
                // each input gets its own tensor: accumulate() keeps the first contribution by reference
                if (a.requiresGrad() && b.requiresGrad()) {
                    a.accumulate(be, be.copy(gy));
                    b.accumulate(be, gy);
                } else if (a.requiresGrad()) {
                    a.accumulate(be, gy);
                } else {
                    b.accumulate(be, gy);
                }
            });
        }
        return out;
    }

    public Var concatChannels(List<Var> parts) {
        Tensor y = be.concatChannels(parts.stream().map(Var::value).toList());
        boolean t = track(parts.toArray(Var[]::new));
        Var out = result(y, t);
        if (t) {
            long[] sizes = parts.stream().mapToLong(p -> p.value().dim(1)).toArray();
            tape.add(() -> {
                Tensor gy = out.grad();
                if (gy == null) return;
                List<Tensor> g = be.splitChannels(gy, sizes);
                for (int i = 0; i < parts.size(); i++) parts.get(i).accumulate(be, g.get(i));
            });
        }
        return out;
    }

    public Var maxPool3x3s2p1(Var x) {
        if (track(x)) throw new UnsupportedOperationException("max-pool backward is not needed: the teacher is frozen");
        return result(be.maxPool3x3s2p1(x.value()), false);
    }

    /**
     * Softmax fusion of §5.4: ω = softmax(w) (exp / Σexp), out = ω0·r + ω1·q. {@code w} is a 2-vector parameter held on
     * the host side of the graph because it is tiny. With {@code gradToWeights=false} ω acts as a constant
     * (PyTorch's {@code ω.detach()}, §6.3).
     */
    public Var fuse(Var r, Var q, FusionWeights w, boolean gradToWeights) {
        double[] om = w.softmax();
        Tensor y = be.axpby(om[0], r.value(), om[1], q.value());
        boolean wGrad = gradToWeights && w.requiresGrad();
        boolean t = recording && (r.requiresGrad() || q.requiresGrad() || wGrad);
        Var out = result(y, t);
        if (t) {
            Tensor rv = r.value(), qv = q.value();
            tape.add(() -> {
                Tensor gy = out.grad();
                if (gy == null) return;
                if (be instanceof crd4j.backend.FusionOps f) {   // one pass over gy, r, q (fusion.cu)
                    crd4j.backend.FusionOps.FusionGrads fg = f.fusionBackward(gy, rv, qv, om[0], om[1],
                            r.requiresGrad(), q.requiresGrad(), wGrad);
                    if (wGrad) {
                        double c = om[0] * om[1] * (fg.dotR() - fg.dotQ());
                        w.accumulate(c, -c);
                    }
                    r.accumulate(be, fg.dr());
                    q.accumulate(be, fg.dq());
                    return;
                }
                if (wGrad) {
                    // dL/dω_i = <gy, input_i>; softmax Jacobian: dω0/dw0 = ω0ω1, dω0/dw1 = −ω0ω1, and symmetric.
                    double g0 = be.dot(gy, rv), g1 = be.dot(gy, qv);
                    double c = om[0] * om[1] * (g0 - g1);
                    w.accumulate(c, -c);
                }
                if (r.requiresGrad()) r.accumulate(be, be.axpby(om[0], gy, 0.0, gy));
                if (q.requiresGrad()) q.accumulate(be, be.axpby(om[1], gy, 0.0, gy));
            });
        }
        return out;
    }

    /**
     * One level of the flattened cosine loss (§4.3); the target never receives a gradient (teacher features).
     * Returns the loss value; in a recording graph the gradient is seeded for backward().
     */
    public double cosineLoss(Var s, Var target) {
        boolean t = track(s);
        Backend.CosineLoss l = be.cosineLoss(s.value(), target.value(), t);
        if (t) tape.add(() -> s.accumulate(be, l.gradS()));
        return l.loss();
    }
}
