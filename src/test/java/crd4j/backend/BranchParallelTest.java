package crd4j.backend;

import crd4j.autograd.Graph;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.detect.AnomalyScoring;
import crd4j.detect.MissingStrategy;
import crd4j.model.CrdModel;
import crd4j.model.Modality;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.nn.StateEntry;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import crd4j.train.CrdTrainer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The two halves of a computation run at once ({@link BranchParallel}, what a 2-thread budget selects on the CPU)
 * give bit-for-bit the results of running them one after the other: teacher features, branch maps for a complete
 * sample and for each missing side, and three training steps (every loss term and every state-dict entry after them).
 */
class BranchParallelTest {
    @AfterEach
    void sequentialAgain() { Nd4jBackend.setBranchParallelism(1); }

    private static HostTensor input(long seed, DType dt, int n, int s) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] v = new double[n * 3 * s * s];
        for (int i = 0; i < v.length; i++) v[i] = r.nextDouble() * 4 - 2;
        HostTensor h = HostTensor.of(v, n, 3, s, s);
        return dt == DType.FLOAT64 ? h : h.toFloat32();
    }

    private static CrdModel model(Backend be, DType dt) {
        CrdModel m = new CrdModel(new NnContext(be, dt, 7), Preset.TINY, Modality.DEPTH);
        m.train(false);
        return m;
    }

    /** Every raw branch map, for the complete sample and with each modality missing (filter strategy). */
    private static List<double[]> maps(int workers, DType dt) {
        Backend be = new Nd4jBackend();
        Nd4jBackend.setBranchParallelism(workers);   // after construction: a first backend applies the default budget
        assertEquals(workers, be.branchParallelism());
        CrdModel m = model(be, dt);
        int s = Preset.TINY.size();
        List<double[]> out = new ArrayList<>();
        for (int missing = -1; missing < 2; missing++) {
            Tensor x = missing == 0 ? null : be.fromHost(input(1, dt, 1, s));
            Tensor y = missing == 1 ? null : be.fromHost(input(2, dt, 1, s));
            Graph g = Graph.inference(be);
            CrdModel.TeacherFeatures t = m.teacherForward(g, x, y);
            AnomalyScoring.Forward f = AnomalyScoring.forward(g, m, t, MissingStrategy.FILTER);
            out.addAll(AnomalyScoring.rawMaps(be, f, s));
            for (var level : (t.rgb() != null ? t.rgb() : t.other())) out.add(level.value().toHost().toFloat64().doubles());
            g.release();
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "FLOAT64"})
    void scoringIsBitIdentical(DType dt) {
        List<double[]> seq = maps(1, dt), par = maps(2, dt);
        assertEquals(seq.size(), par.size());
        for (int i = 0; i < seq.size(); i++) assertArrayEquals(seq.get(i), par.get(i), 0.0, "map/feature " + i);
    }

    private record Trained(List<double[]> losses, List<HostTensor> state) {}

    private static Trained train(int workers, DType dt) {
        Backend be = new Nd4jBackend();
        Nd4jBackend.setBranchParallelism(workers);   // after construction: a first backend applies the default budget
        assertEquals(workers, be.branchParallelism());
        CrdModel m = model(be, dt);
        CrdTrainer tr = new CrdTrainer(be, m, CrdTrainer.DEFAULT_LR);
        List<double[]> losses = new ArrayList<>();
        int s = Preset.TINY.size();
        for (int step = 0; step < 3; step++) {
            CrdTrainer.StepLosses l = tr.step(be.fromHost(input(10 + step, dt, 2, s)), be.fromHost(input(20 + step, dt, 2, s)));
            losses.add(new double[]{l.rgb().raw(), l.rgb().bp(), l.rgb().ibp(), l.rgb().fused(),
                    l.other().raw(), l.other().bp(), l.other().ibp(), l.other().fused()});
            tr.endEpoch();
        }
        List<HostTensor> state = new ArrayList<>();
        for (var b : m.branches()) for (StateEntry e : b.stateEntries()) state.add(e.reader().get());
        return new Trained(losses, state);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "FLOAT64"})
    void trainingStepsAreBitIdentical(DType dt) {
        Trained seq = train(1, dt), par = train(2, dt);
        for (int i = 0; i < seq.losses().size(); i++) assertArrayEquals(seq.losses().get(i), par.losses().get(i), 0.0, "losses of step " + i);
        assertEquals(seq.state().size(), par.state().size());
        for (int i = 0; i < seq.state().size(); i++) {
            HostTensor a = seq.state().get(i), b = par.state().get(i);
            assertArrayEquals(a.shape(), b.shape());
            for (long j = 0; j < a.numel(); j++) {
                if (Double.doubleToLongBits(a.getDouble(j)) != Double.doubleToLongBits(b.getDouble(j))) {
                    throw new AssertionError("state entry " + i + " element " + j + ": " + a.getDouble(j) + " vs " + b.getDouble(j));
                }
            }
        }
    }

    @Test
    void runsBothHalvesAtOnceAndRethrowsTheFirstFailureAfterBothFinished() {
        Backend be = new Nd4jBackend();
        Nd4jBackend.setBranchParallelism(2);
        Thread caller = Thread.currentThread();
        Thread[] ran = new Thread[2];
        BranchParallel.run(be, () -> ran[0] = Thread.currentThread(), () -> ran[1] = Thread.currentThread());
        assertSame(caller, ran[1]);
        assertTrue(ran[0] != caller, "the first half runs on a worker thread");

        AtomicBoolean secondFinished = new AtomicBoolean();
        IllegalStateException first = new IllegalStateException("first");
        RuntimeException thrown = assertThrows(RuntimeException.class, () -> BranchParallel.run(be, () -> { throw first; }, () -> {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
            secondFinished.set(true);
            throw new IllegalArgumentException("second");
        }));
        assertSame(first, thrown);
        assertTrue(secondFinished.get());
        assertEquals("second", thrown.getSuppressed()[0].getMessage());
    }
    @Test
    void manyCallersShareAFixedSetOfWorkersThatOutliveIdlePeriods() throws Exception {
        Backend be = new Nd4jBackend();
        Nd4jBackend.setBranchParallelism(2);
        int callers = 4 * BranchParallel.WORKERS + 2;
        java.util.concurrent.atomic.AtomicInteger halves = new java.util.concurrent.atomic.AtomicInteger();
        Runnable half = () -> {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
            halves.incrementAndGet();
        };
        java.util.concurrent.ExecutorService callerPool = java.util.concurrent.Executors.newFixedThreadPool(callers);
        try {
            for (int round = 0; round < 2; round++) {
                var fs = new java.util.ArrayList<java.util.concurrent.Future<?>>();
                for (int c = 0; c < callers; c++) fs.add(callerPool.submit(() -> BranchParallel.run(be, half, half)));
                for (var f : fs) f.get();
                int started = BranchParallel.workersStarted();
                assertTrue(started <= BranchParallel.WORKERS,
                        started + " workers started for " + callers + " callers; at most one per core (" + BranchParallel.WORKERS + ")");
            }
        } finally {
            callerPool.shutdown();
        }
        assertEquals(2 * 2 * callers, halves.get(), "every half ran once, on a worker or on its caller when all were busy");
    }
}
