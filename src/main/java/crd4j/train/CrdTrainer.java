package crd4j.train;

import crd4j.autograd.Graph;
import crd4j.backend.Backend;
import crd4j.backend.BranchParallel;
import crd4j.backend.Tensor;
import crd4j.model.CrdBranch;
import crd4j.model.CrdModel;

/**
 * The training iteration of §7: teacher features of both modalities without gradients, then for the RGB branch
 * forward, loss, zero_grad, backward, Adam step, then the same for the second branch on the same batch. One Adam and
 * one ExponentialLR per branch.
 */
public final class CrdTrainer {
    public static final double DEFAULT_LR = 0.005;

    private final Backend be;
    private final CrdModel model;
    private final Adam rgbOpt, otherOpt;
    private final ExponentialLr schedule = new ExponentialLr(ExponentialLr.GAMMA);
    private java.util.function.BiConsumer<String, CrdBranch> gradientObserver = (name, branch) -> { };

    public CrdTrainer(Backend be, CrdModel model, double lr) {
        this.be = be;
        this.model = model;
        this.rgbOpt = new Adam(be, model.rgbBranch(), lr);
        this.otherOpt = new Adam(be, model.otherBranch(), lr);
    }

    public record StepLosses(BranchLoss.Terms rgb, BranchLoss.Terms other) {}

    /**
     * One iteration on a batch ([N,3,S,S] each); students are put in training mode. The two branches' forward,
     * loss and backward passes run at once where the backend allows it ({@link BranchParallel}: they share only the
     * frozen teacher features), then the gradient observer sees the RGB branch and the second branch, then both Adam
     * steps run; every branch sees exactly the operations of the sequential order, so the step is bit-identical.
     */
    public StepLosses step(Tensor rgbBatch, Tensor otherBatch) {
        model.train(true);
        Graph teacherGraph = Graph.inference(be);
        Graph g = Graph.training(be), h = Graph.training(be);
        try {
            CrdModel.TeacherFeatures t = model.teacherForward(teacherGraph, rgbBatch, otherBatch);
            BranchLoss.Terms[] terms = new BranchLoss.Terms[2];
            BranchParallel.run(be, () -> {
                CrdBranch.Output out = model.rgbForward(g, t);
                terms[0] = BranchLoss.compute(g, out, t.rgb());
                rgbOpt.zeroGrad();
                g.backward();
            }, () -> {
                CrdBranch.Output out2 = model.otherForward(h, t);
                terms[1] = BranchLoss.compute(h, out2, t.other());
                otherOpt.zeroGrad();
                h.backward();
            });
            gradientObserver.accept("rgb", model.rgbBranch());
            gradientObserver.accept(model.secondModality().key(), model.otherBranch());
            BranchParallel.run(be, rgbOpt::step, otherOpt::step);
            return new StepLosses(terms[0], terms[1]);
        } finally {
            g.release();
            h.release();
            teacherGraph.release();
        }
    }

    /** Called after each branch's backward pass and before its Adam step (gradient inspection, tests). */
    public void setGradientObserver(java.util.function.BiConsumer<String, CrdBranch> observer) {
        this.gradientObserver = observer;
    }

    /** Ends an epoch: ExponentialLR(0.95) on both optimisers. */
    public void endEpoch() {
        schedule.step(rgbOpt);
        schedule.step(otherOpt);
    }

    public Adam rgbOptimizer() { return rgbOpt; }

    public Adam otherOptimizer() { return otherOpt; }
}
