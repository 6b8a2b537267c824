package crd4j.model;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.nn.BatchNorm2d;
import crd4j.nn.Conv2d;
import crd4j.nn.Module;
import crd4j.nn.NnContext;
import crd4j.nn.Sequential;

import java.util.List;

/**
 * The optional dedicated mapping network of few-modal inference (§17.2 item 5, after CMDIAD's feature-to-feature
 * maps): for each direction (RGB → second modality and back) and each teacher level, a 3×3 conv, BN, ReLU, 1×1 conv,
 * BN, ReLU from one modality's teacher features to an estimate of the other's, at the same resolution. It is trained
 * after the students, with the teacher frozen ({@code crd train --mapping}), and exists to be compared with the
 * Crossmodal Filter, which estimates the same thing with no extra weights.
 *
 * <p>State-dict names: {@code to_<target>.level_<k>.<i>.*} with target {@code rgb} or the second modality's key; the
 * final ReLU matches the teacher features, which leave every ResNet stage through a ReLU (non-negative).
 */
public final class MappingNetwork extends Module {
    private final Sequential[][] levels = new Sequential[2][3];

    public MappingNetwork(NnContext ctx, Preset p, List<String> branchKeys) {
        super(ctx);
        for (int target = 0; target < 2; target++) {
            Direction d = child("to_" + branchKeys.get(target), new Direction(ctx));
            for (int k = 0; k < 3; k++) levels[target][k] = d.level(k, p.channels(k + 1));
        }
    }

    /** The parameters' container of one direction (a module so that its state-dict names nest). */
    private static final class Direction extends Module {
        Direction(NnContext ctx) { super(ctx); }

        Sequential level(int k, int ch) {
            Sequential s = new Sequential(ctx);
            s.add(new Conv2d(ctx, ch, ch, 3, 1, 1, true));
            s.add(new BatchNorm2d(ctx, ch, true));
            s.addRelu();
            s.add(new Conv2d(ctx, ch, ch, 1, 1, 0, true));
            s.add(new BatchNorm2d(ctx, ch, true));
            s.addRelu();
            return child("level_" + (k + 1), s);
        }
    }

    /** The estimate of branch {@code target}'s teacher features (0 = RGB, 1 = second) from the other modality's. */
    public List<Var> forward(Graph g, int target, List<Var> present) {
        Sequential[] l = levels[target];
        return List.of(l[0].forward(g, present.get(0)), l[1].forward(g, present.get(1)), l[2].forward(g, present.get(2)));
    }
}
