package crd4j.train;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.model.CrdBranch;

import java.util.List;

/**
 * The per-branch loss of §6.1: L^A = L(F_raw, T^A) + L(P, T^A) + L(Q, T^A) + L(F_fused, T^A), with L the
 * three-level flattened cosine loss of §4.3. Targets are the branch's own-modality teacher features.
 */
public final class BranchLoss {
    private BranchLoss() {}

    public record Terms(double raw, double bp, double ibp, double fused) {
        public double total() { return raw + bp + ibp + fused; }
    }

    /** Computes the terms; in a recording graph it also seeds their gradients for {@link Graph#backward()}. */
    public static Terms compute(Graph g, CrdBranch.Output out, List<Var> tOwn) {
        return new Terms(levels(g, out.raw(), tOwn), levels(g, out.bp(), tOwn),
                levels(g, out.ibp(), tOwn), levels(g, out.fused(), tOwn));
    }

    /** Σ_k mean_n(1 − cos(vec(S_k[n]), vec(T_k[n]))). */
    public static double levels(Graph g, List<Var> s, List<Var> t) {
        double sum = 0;
        for (int k = 0; k < 3; k++) sum += g.cosineLoss(s.get(k), t.get(k));
        return sum;
    }
}
