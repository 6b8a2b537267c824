package crd4j.autograd;

import crd4j.backend.Backend;
import crd4j.backend.Tensor;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.model.FusionSemantics;
import crd4j.model.Preset;
import crd4j.nn.BatchNorm2d;
import crd4j.nn.Bottleneck;
import crd4j.nn.DecoderBottleneck;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every explicit backward pass against central finite differences in float64. The loss is L = Σ f(inputs)·R with a
 * fixed random R, so dL/dinput is exactly what the backward rule computes from the upstream gradient R.
 * Tolerance: relative L2 error ≤ 1e-6 over the checked coordinates (float64 with h = 1e-6 gives ~1e-9 for
 * smooth functions; ReLU kinks are avoided by random inputs away from zero with probability ~1).
 */
class FiniteDifferenceTest {
    static final Backend BE = new Nd4jBackend();
    static final double H = 1e-6, TOL = 1e-6;

    static Var param(SplittableRandom rng, long... shape) {
        int n = Math.toIntExact(HostTensor.numel(shape));
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = rng.nextDouble() * 2 - 1;
        return new Var(BE.fromHost(HostTensor.of(d, shape)), true);
    }

    static Tensor random(SplittableRandom rng, long... shape) {
        int n = Math.toIntExact(HostTensor.numel(shape));
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = rng.nextDouble() * 2 - 1;
        return BE.fromHost(HostTensor.of(d, shape));
    }

    /**
     * Checks d(Σ f·R)/dv for every v in {@code vars} at up to 24 random coordinates each. {@code f} builds the output
     * in the given graph (it may return a scalar loss via {@code lossOnly}).
     */
    static void check(String what, List<Var> vars, Function<Graph, Var> f) {
        SplittableRandom rng = new SplittableRandom(7);
        Graph g = Graph.training(BE);
        Var out = f.apply(g);
        Tensor r = out instanceof ScalarOut ? BE.fromHost(HostTensor.of(new double[]{1}, 1)) : random(rng, out.shape());
        g.backward(out, BE.copy(r));
        for (int vi = 0; vi < vars.size(); vi++) {
            Var v = vars.get(vi);
            HostTensor analytic = v.grad().toHost();
            double[] base = v.value().toHost().doubles().clone();
            double num2 = 0, err2 = 0;
            for (int s = 0; s < Math.min(24, base.length); s++) {
                int i = base.length <= 24 ? s : rng.nextInt(base.length);
                double fp = eval(v, base, i, base[i] + H, f, r);
                double fm = eval(v, base, i, base[i] - H, f, r);
                double numeric = (fp - fm) / (2 * H);
                num2 += numeric * numeric;
                err2 += Math.pow(numeric - analytic.getDouble(i), 2);
            }
            v.setValue(BE.fromHost(HostTensor.of(base, v.shape())));
            double rel = Math.sqrt(err2) / Math.max(Math.sqrt(num2), 1e-300);
            assertTrue(rel <= TOL, what + ": input " + vi + " relative L2 error " + rel + " > " + TOL);
        }
    }

    private static double eval(Var v, double[] base, int i, double value, Function<Graph, Var> f, Tensor r) {
        double[] d = base.clone();
        d[i] = value;
        v.setValue(BE.fromHost(HostTensor.of(d, v.shape())));
        return BE.dot(f.apply(Graph.inference(BE)).value(), r);
    }

    final SplittableRandom rng = new SplittableRandom(1);

    @Test
    void conv2dAllKernelShapes() {
        int[][] ksp = {{3, 1, 1}, {3, 2, 1}, {7, 2, 3}, {1, 1, 0}, {1, 2, 0}, {2, 2, 0}};
        for (int[] c : ksp) {
            Var x = param(rng, 2, 3, 9, 7), w = param(rng, 4, 3, c[0], c[0]);
            check("conv k" + c[0] + " s" + c[1] + " p" + c[2], List.of(x, w), g -> g.conv2d(x, w, c[1], c[2]));
        }
    }

    @Test
    void deconv2x2() {
        Var x = param(rng, 2, 3, 5, 3), w = param(rng, 3, 4, 2, 2);
        check("deconv k2 s2", List.of(x, w), g -> g.deconv2x2(x, w));
    }

    @Test
    void batchNormTrainingMode() {
        Var x = param(rng, 3, 4, 5, 3), gamma = param(rng, 4), beta = param(rng, 4);
        Tensor rm = BE.zeros(DType.FLOAT64, 4), rv = BE.zeros(DType.FLOAT64, 4);
        check("batch norm (train)", List.of(x, gamma, beta),
                g -> g.batchNormTrain(x, gamma, beta, rm, rv, BatchNorm2d.MOMENTUM, BatchNorm2d.EPS));
    }

    @Test
    void reluAddConcat() {
        Var a = param(rng, 2, 3, 4, 4), b = param(rng, 2, 3, 4, 4), c = param(rng, 2, 2, 4, 4);
        check("relu(a+b) ++ c", List.of(a, b, c), g -> g.concatChannels(List.of(g.relu(g.add(a, b)), c)));
    }

    @Test
    void softmaxFusionIncludingLogits() {
        Var r = param(rng, 2, 3, 4, 5), q = param(rng, 2, 3, 4, 5);
        FusionWeights w = new FusionWeights(0.7, 1.6);
        check("fusion (r, q)", List.of(r, q), g -> g.fuse(r, q, w, true));
        // logits: compare with finite differences of the logits themselves
        Tensor gout = random(rng, 2, 3, 4, 5);
        Graph g = Graph.training(BE);
        w.zeroGrad();
        g.backward(g.fuse(r, q, w, true), BE.copy(gout));
        double[] analytic = w.grad();
        for (int i = 0; i < 2; i++) {
            double[] l = w.logits();
            double[] lp = l.clone(), lm = l.clone();
            lp[i] += H;
            lm[i] -= H;
            w.setLogits(lp[0], lp[1]);
            double fp = BE.dot(Graph.inference(BE).fuse(r, q, w, true).value(), gout);
            w.setLogits(lm[0], lm[1]);
            double fm = BE.dot(Graph.inference(BE).fuse(r, q, w, true).value(), gout);
            w.setLogits(l[0], l[1]);
            double numeric = (fp - fm) / (2 * H);
            assertTrue(Math.abs(numeric - analytic[i]) <= TOL * Math.max(1, Math.abs(numeric)),
                    "fusion logit " + i + ": numeric " + numeric + " analytic " + analytic[i]);
        }
    }

    @Test
    void flattenedCosineLoss() {
        Var s = param(rng, 3, 4, 3, 5);
        Var t = new Var(random(rng, 3, 4, 3, 5), false);
        // the loss is a scalar: wrap it as a 1-element output so check() can weight it
        check("cosine loss", List.of(s), g -> {
            double l = g.cosineLoss(s, t);
            return new ScalarOut(BE, l);
        });
    }

    @Test
    void bottleneckWithBatchNormInTrainingMode() {
        NnContext ctx = new NnContext(BE, DType.FLOAT64, 3);
        Bottleneck block = new Bottleneck(ctx, 6, 4, 8, 2, true);
        block.train(true);
        Var x = param(rng, 2, 6, 6, 6);
        List<Var> ps = new java.util.ArrayList<>(block.parameters());
        ps.add(x);
        check("bottleneck", List.of(x, ps.get(0), ps.get(3), ps.get(ps.size() - 3)), g -> block.forward(g, x));
    }

    @Test
    void decoderBottleneckWithUpsampling() {
        NnContext ctx = new NnContext(BE, DType.FLOAT64, 4);
        DecoderBottleneck block = new DecoderBottleneck(ctx, 8, 3, 4, true);
        block.train(true);
        Var x = param(rng, 2, 8, 3, 3);
        List<Var> ps = block.parameters();
        check("decoder bottleneck", List.of(x, ps.get(0), ps.get(3), ps.get(ps.size() - 3)), g -> block.forward(g, x));
    }

    @Test
    void wholeBranchLossJointSemantics() {
        // only the joint semantics is a true gradient; the detached one is checked against PyTorch instead
        {
            FusionSemantics sem = FusionSemantics.JOINT;
            NnContext ctx = new NnContext(BE, DType.FLOAT64, 5);
            Preset p = new Preset("fd", 1, 32);
            crd4j.model.CrdBranch branch = new crd4j.model.CrdBranch(ctx, p);
            branch.train(true);
            List<Var> tOwn = List.of(new Var(BE.relu(random(rng, 2, 4, 8, 8)), false),
                    new Var(BE.relu(random(rng, 2, 8, 4, 4)), false), new Var(BE.relu(random(rng, 2, 16, 2, 2)), false));
            List<Var> tHelp = List.of(new Var(BE.relu(random(rng, 2, 4, 8, 8)), false),
                    new Var(BE.relu(random(rng, 2, 8, 4, 4)), false), new Var(BE.relu(random(rng, 2, 16, 2, 2)), false));
            List<Var> ps = branch.parameters();
            List<Var> pick = List.of(ps.get(0), ps.get(ps.size() / 3), ps.get(ps.size() / 2), ps.get(ps.size() - 1));
            check("branch loss " + sem, pick, g -> {
                crd4j.model.CrdBranch.Output o = branch.forward(g, tOwn, tHelp, sem);
                return new ScalarOut(BE, crd4j.train.BranchLoss.compute(g, o, tOwn).total());
            });
        }
    }

    /** A scalar loss as a 1-element Var; backward from it is the graph's seeded loss gradients times the seed. */
    static final class ScalarOut extends Var {
        ScalarOut(Backend be, double v) { super(be.fromHost(HostTensor.of(new double[]{v}, 1)), false); }
    }
}
