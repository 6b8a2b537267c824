package crd4j.nn;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.backend.Backend;
import crd4j.backend.BatchNormEpilogue;
import crd4j.backend.Tensor;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Eval-mode batch norm run in place in the convolution's output ({@link BatchNormEpilogue}, used by
 * {@link BatchNorm2d#forward(Graph, Var, Var, boolean)}) gives the same bits as the op-by-op sequence
 * batchNormEval → add → relu, in float32 and float64, for single calls and through whole blocks.
 */
class BatchNormEpilogueTest {
    static final Nd4jBackend ND4J = new Nd4jBackend();

    /** The ND4J backend seen only through {@link Backend}: BN, add and ReLU then run one by one. */
    static Backend withoutEpilogue() {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class},
                (p, m, a) -> invoke(m, a));
    }

    /** The ND4J backend with the capability, counting its in-place calls. */
    static Backend counting(AtomicInteger calls) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(),
                new Class<?>[]{Backend.class, BatchNormEpilogue.class}, (p, m, a) -> {
                    if (m.getName().equals("batchNormEvalInPlace")) calls.incrementAndGet();
                    return invoke(m, a);
                });
    }

    private static Object invoke(java.lang.reflect.Method m, Object[] a) throws Throwable {
        try {
            return m.invoke(ND4J, a);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    static HostTensor random(SplittableRandom r, DType dt, double lo, double hi, long... shape) {
        double[] v = new double[(int) HostTensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * r.nextDouble();
        HostTensor h = HostTensor.of(v, shape);
        return dt == DType.FLOAT64 ? h : h.toFloat32();
    }

    static void assertBitIdentical(String what, HostTensor expected, HostTensor actual) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        if (expected.dtype() == DType.FLOAT64) {
            assertArrayEquals(expected.doubles(), actual.doubles(), 0.0, what);
        } else {
            float[] e = expected.floats(), a = actual.floats();
            for (int i = 0; i < e.length; i++) {
                assertEquals(Float.floatToRawIntBits(e[i]), Float.floatToRawIntBits(a[i]),
                        what + ": element " + i + " is " + a[i] + ", op by op gives " + e[i]);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "FLOAT64"})
    void inPlaceEpilogueEqualsBatchNormEvalThenAddThenReluBitForBit(DType dt) {
        SplittableRandom r = new SplittableRandom(11);
        long[] shape = {2, 5, 7, 6};
        HostTensor y = withSpecials(random(r, dt, -3, 3, shape)), res = random(r, dt, -2, 2, shape);
        Tensor gamma = ND4J.fromHost(random(r, dt, -1.5, 1.5, 5)), beta = ND4J.fromHost(random(r, dt, -1, 1, 5));
        Tensor mean = ND4J.fromHost(random(r, dt, -1, 1, 5)), var = ND4J.fromHost(random(r, dt, 0.01, 3, 5));
        for (boolean withResidual : new boolean[]{false, true}) {
            for (boolean relu : new boolean[]{false, true}) {
                Tensor expected = ND4J.batchNormEval(ND4J.fromHost(y), gamma, beta, mean, var, BatchNorm2d.EPS);
                if (withResidual) expected = ND4J.add(expected, ND4J.fromHost(res));
                if (relu) expected = ND4J.relu(expected);
                Tensor inPlace = ND4J.fromHost(y);
                ND4J.batchNormEvalInPlace(inPlace, gamma, beta, mean, var, BatchNorm2d.EPS,
                        withResidual ? ND4J.fromHost(res) : null, relu);
                assertBitIdentical(dt + " residual=" + withResidual + " relu=" + relu, expected.toHost(), inPlace.toHost());
            }
        }
    }

    /** y with −0, +0, NaN and ±∞ at a few places (the fused pass must treat them as the op sequence does). */
    static HostTensor withSpecials(HostTensor y) {
        double[] sp = {-0.0, 0.0, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY};
        if (y.dtype() == DType.FLOAT64) {
            double[] v = y.doubles().clone();
            for (int i = 0; i < sp.length; i++) v[7 * i + 3] = sp[i];
            return HostTensor.of(v, y.shape());
        }
        float[] v = y.floats().clone();
        for (int i = 0; i < sp.length; i++) v[7 * i + 3] = (float) sp[i];
        return HostTensor.of(v, y.shape());
    }

    /** Gives every BN of m random running statistics and affine parameters (defaults 0/1 would hide mistakes). */
    static void randomiseBatchNorms(Module m, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (Module bn : m.modules()) {
            if (!(bn instanceof BatchNorm2d)) continue;
            for (StateEntry e : bn.stateEntries()) {
                switch (e.name()) {
                    case "running_var" -> e.writer().accept(random(r, DType.FLOAT32, 0.2, 2, e.shape()));
                    case "weight" -> e.writer().accept(random(r, DType.FLOAT32, -1.5, 1.5, e.shape()));
                    case "bias", "running_mean" -> e.writer().accept(random(r, DType.FLOAT32, -0.5, 0.5, e.shape()));
                    default -> { }
                }
            }
        }
    }

    /** The output of block(x) in eval mode on be, with weights from seed. */
    static HostTensor evalForward(Backend be, DType dt, Function<NnContext, Module> block, HostTensor x) {
        Module m = block.apply(new NnContext(be, dt, 5));
        randomiseBatchNorms(m, 6);
        m.train(false);
        Graph g = Graph.inference(be);
        HostTensor out = ((Layer) m).forward(g, g.constant(be.fromHost(dt == DType.FLOAT64 ? x.toFloat64() : x))).value().toHost();
        g.release();
        return out;
    }

    static void assertFusedEqualsUnfused(String what, Function<NnContext, Module> block, long[] xShape, int bnCount) {
        for (DType dt : new DType[]{DType.FLOAT32, DType.FLOAT64}) {
            HostTensor x = random(new SplittableRandom(3), DType.FLOAT32, -2, 2, xShape);
            AtomicInteger calls = new AtomicInteger();
            HostTensor fused = evalForward(counting(calls), dt, block, x);
            HostTensor unfused = evalForward(withoutEpilogue(), dt, block, x);
            assertEquals(bnCount, calls.get(), what + ": every BN of the block runs in place");
            assertBitIdentical(what + " " + dt, unfused, fused);
        }
    }

    @Test
    void bottleneckWithProjectionShortcut() {
        assertFusedEqualsUnfused("bottleneck s2", ctx -> new Bottleneck(ctx, 6, 4, 10, 2, false), new long[]{2, 6, 9, 9}, 4);
    }

    @Test
    void bottleneckWithIdentityShortcut() {
        assertFusedEqualsUnfused("bottleneck s1", ctx -> new Bottleneck(ctx, 8, 4, 8, 1, true), new long[]{1, 8, 7, 7}, 3);
    }

    @Test
    void decoderBlockWithTransposedConvolutions() {
        assertFusedEqualsUnfused("decoder block", ctx -> new DecoderBottleneck(ctx, 8, 4, 6, true), new long[]{2, 8, 5, 5}, 4);
    }

    @Test
    void sequentialConvBnReluAndTransposedConvBnRelu() {
        assertFusedEqualsUnfused("sequential", ctx -> {
            Sequential s = new Sequential(ctx);
            s.add(new Conv2d(ctx, 4, 8, 2, 2, 0, true));
            s.add(new BatchNorm2d(ctx, 8, true));
            s.addRelu();
            s.add(new ConvTranspose2x2(ctx, 8, 4, true));
            s.add(new BatchNorm2d(ctx, 4, true));
            s.addRelu();
            s.add(new Conv2d(ctx, 4, 3, 3, 1, 1, true));
            s.add(new BatchNorm2d(ctx, 3, true));
            return s;
        }, new long[]{2, 4, 8, 8}, 3);
    }

    @Test
    void trainingModeNeverRunsInPlace() {
        AtomicInteger calls = new AtomicInteger();
        Backend be = counting(calls);
        Bottleneck b = new Bottleneck(new NnContext(be, DType.FLOAT64, 5), 6, 4, 10, 2, true);
        b.train(true);
        Graph g = Graph.training(be);
        Var y = b.forward(g, g.constant(be.fromHost(random(new SplittableRandom(1), DType.FLOAT64, -1, 1, 2, 6, 9, 9))));
        assertEquals(0, calls.get(), "train-mode BN normalises with batch statistics: no in-place eval epilogue");
        assertEquals(true, y.requiresGrad());
        g.release();
    }
}
