package crd4j.backend.cuda;

import crd4j.backend.Backend;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.detect.Detector;
import crd4j.detect.NormalizationStats;
import crd4j.model.CrdModel;
import crd4j.detect.Inspection;
import crd4j.model.Modality;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import crd4j.testing.Parity;
import crd4j.train.BranchLoss;
import crd4j.train.CrdTrainer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The whole network on the GPU against the CPU reference backend, same seeded random weights and inputs: the
 * {@code paper} preset forward (every Inspection output), the Detector (eager and CUDA-graph replay), and two training
 * iterations of §7 (tiny preset, float64: the same maths to float64 rounding). Skipped, with the reason, without a GPU.
 */
class GpuNetworkParityTest {
    static CudaBackend gpu;

    @BeforeAll
    static void open() {
        if (GpuAvailable.reason() == null) gpu = CudaBackend.open(false);
    }

    /** Per test, so that every skipped test carries the reason (a class-level skip shows none in the reports). */
    @BeforeEach
    void requireGpu() {
        GpuAvailable.assume();
    }

    @AfterAll
    static void close() {
        if (gpu != null) gpu.close();
    }

    static HostTensor input(long seed, int s) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[3 * s * s];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 4 - 2);
        return HostTensor.of(a, 1, 3, s, s);
    }

    static Map<String, HostTensor> forward(Backend be, Preset p, DType dt) {
        CrdModel model = new CrdModel(new NnContext(be, dt, 5), p, Modality.DEPTH);
        model.train(false);
        HostTensor x = input(1, p.size()), y = input(2, p.size());
        if (dt == DType.FLOAT64) {
            x = x.toFloat64();
            y = y.toFloat64();
        }
        return Inspection.run(be, model, be.fromHost(x), be.fromHost(y), true);
    }

    /** GPU float32 within 1e-4 of the exact (CPU float64) result, or twice CPU float32's own error where that is larger. */
    @Test
    void paperPresetForwardMatchesTheCpuBackend() {
        Nd4jBackend cpu = new Nd4jBackend();
        Map<String, HostTensor> exact = forward(cpu, Preset.PAPER, DType.FLOAT64);
        Map<String, HostTensor> cpu32 = forward(cpu, Preset.PAPER, DType.FLOAT32);
        Map<String, HostTensor> gpu32 = forward(gpu, Preset.PAPER, DType.FLOAT32);
        Map<String, HostTensor> gpu64 = forward(gpu, Preset.PAPER, DType.FLOAT64);
        assertEquals(exact.keySet(), gpu32.keySet());
        for (String k : exact.keySet()) {
            double cpuErr = Parity.relL2(cpu32.get(k), exact.get(k));
            Parity.assertClose("paper gpu f64 " + k, gpu64.get(k), exact.get(k), 1e-9);
            Parity.assertClose("paper gpu f32 " + k, gpu32.get(k), exact.get(k), Math.max(Parity.NETWORK, 2 * cpuErr));
        }
    }

    @Test
    void detectorOnTheGpuGivesTheCpuMapsAndReplaysItsGraphExactly() {
        Preset p = Preset.TINY;
        NormalizationStats stats = NormalizationStats.of("depth", 1.0, 0.2, 1.1, 0.3);
        HostTensor x = input(3, p.size()), y = input(4, p.size());
        Nd4jBackend cpu = new Nd4jBackend();
        Detector.Result ref = new Detector(cpu, new CrdModel(new NnContext(cpu, DType.FLOAT32, 5), p, Modality.DEPTH), stats).score(x, y);
        try (Detector d = new Detector(gpu, new CrdModel(new NnContext(gpu, DType.FLOAT32, 5), p, Modality.DEPTH), stats)) {
            List<Detector.Result> rs = new ArrayList<>();
            for (int i = 0; i < 4; i++) rs.add(d.score(x, y));   // 2 eager, then capture, then replays
            int s = p.size();
            Parity.assertClose("detector map gpu vs cpu", HostTensor.of(rs.get(0).map(), s, s), HostTensor.of(ref.map(), s, s), Parity.NETWORK);
            Parity.assertClose("detector rgb map", HostTensor.of(rs.get(0).branch("rgb").map(), s, s), HostTensor.of(ref.branch("rgb").map(), s, s), Parity.NETWORK);
            for (int i = 1; i < 4; i++) {
                Parity.assertClose("detector call " + i + " vs call 0", HostTensor.of(rs.get(i).map(), s, s), HostTensor.of(rs.get(0).map(), s, s), 0);
            }
            int before = gpu.deviceAllocations();
            for (int i = 0; i < 5; i++) d.score(x, y);
            assertEquals(before, gpu.deviceAllocations(), "cuMemAlloc calls in the steady state");
        }
    }

    record Trained(List<double[]> losses, Map<String, HostTensor> rgbState, Map<String, HostTensor> otherState) {}

    static Trained train(Backend be) {
        CrdModel model = new CrdModel(new NnContext(be, DType.FLOAT64, 7), Preset.TINY, Modality.DEPTH);
        SplittableRandom r = new SplittableRandom(8);
        double[] a = new double[2 * 3 * 64 * 64], b = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = r.nextDouble() * 4 - 2;
            b[i] = r.nextDouble() * 4 - 2;
        }
        CrdTrainer t = new CrdTrainer(be, model, CrdTrainer.DEFAULT_LR);
        List<double[]> losses = new ArrayList<>();
        for (int step = 0; step < 2; step++) {
            CrdTrainer.StepLosses l = t.step(be.fromHost(HostTensor.of(a, 2, 3, 64, 64)), be.fromHost(HostTensor.of(b, 2, 3, 64, 64)));
            t.endEpoch();
            for (BranchLoss.Terms x : List.of(l.rgb(), l.other())) losses.add(new double[]{x.raw(), x.bp(), x.ibp(), x.fused(), x.total()});
        }
        return new Trained(losses, model.rgbBranch().stateDict(), model.otherBranch().stateDict());
    }

    @Test
    void twoTrainingStepsInFloat64AreTheCpuMaths() {
        Trained c = train(new Nd4jBackend()), g = train(gpu);
        for (int i = 0; i < c.losses().size(); i++) {
            Parity.assertClose("losses " + i, HostTensor.of(g.losses().get(i), 5), HostTensor.of(c.losses().get(i), 5), 1e-9);
        }
        for (String k : c.rgbState().keySet()) {
            if (k.endsWith("num_batches_tracked")) continue;
            Parity.assertClose("rgb " + k, g.rgbState().get(k).toFloat64(), c.rgbState().get(k).toFloat64(), 1e-7);
            Parity.assertClose("depth " + k, g.otherState().get(k).toFloat64(), c.otherState().get(k).toFloat64(), 1e-7);
        }
    }
}
