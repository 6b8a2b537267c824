package crd4j.train;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.backend.Backend;
import crd4j.backend.Tensor;
import crd4j.model.CrdModel;
import crd4j.model.MappingNetwork;
import crd4j.nn.NnContext;

import java.util.List;

/**
 * Trains the optional few-modal {@link MappingNetwork} (§17.2 item 5) after the students, with the teacher frozen:
 * per batch, the teacher features of both modalities without gradients, then for each direction the estimate of one
 * modality's features from the other's and the three-level flattened cosine loss of §4.3 against the real ones — the
 * loss the Crossmodal Filter's projection is trained with (§6.1 term 2), so the two estimates are comparable. One
 * Adam (β = 0.5, 0.999, as the students) per direction's parameters together, constant learning rate.
 */
public final class MappingTrainer {
    private final Backend be;
    private final CrdModel model;
    private final MappingNetwork net;
    private final Adam opt;

    /** Creates the mapping network (seeded by {@code ctx}) and attaches it to {@code model}. */
    public MappingTrainer(Backend be, CrdModel model, NnContext ctx, double lr) {
        this.be = be;
        this.model = model;
        this.net = new MappingNetwork(ctx, model.preset(), model.branchKeys());
        this.opt = new Adam(be, net, lr);
        model.setMapping(net);
    }

    public MappingNetwork network() { return net; }

    /** Losses of one step: the estimate of the RGB features from the second modality's, and the reverse. */
    public record StepLosses(double toRgb, double toSecond) {}

    /** One step on a batch ([N,3,S,S] each, N ≥ 2). */
    public StepLosses step(Tensor rgbBatch, Tensor otherBatch) {
        net.train(true);
        Graph teacher = Graph.inference(be);
        Graph g = Graph.training(be);
        try {
            CrdModel.TeacherFeatures t = model.teacherForward(teacher, rgbBatch, otherBatch);
            List<Var> toRgb = net.forward(g, 0, t.other()), toSecond = net.forward(g, 1, t.rgb());
            double a = BranchLoss.levels(g, toRgb, t.rgb()), b = BranchLoss.levels(g, toSecond, t.other());
            opt.zeroGrad();
            g.backward();
            opt.step();
            return new StepLosses(a, b);
        } finally {
            net.train(false);
            g.release();
            teacher.release();
        }
    }
}
