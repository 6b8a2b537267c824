package crd4j.bench;

import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.detect.Detector;
import crd4j.detect.NormalizationStats;
import crd4j.model.CrdModel;
import crd4j.model.Modality;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * {@link Detector#score} latency at batch 1 — what a line controller calls per part: both teacher passes, both
 * branches, both raw maps, normalisation, fusion and the σ=4 Gaussian (§8). Random weights (latency does not depend
 * on their values). Sample-time mode reports p50/p99; run with {@code -prof gc} for the allocation rate.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class DetectorBenchmark {
    @Param({"tiny", "paper"})
    public String preset;

    /** The CPU thread budget (Nd4jBackend.setThreads): 1, or 2 = both halves of each pass at once; 0 = ND4J's default. */
    @Param({"2"})
    public int threads;

    Detector detector;
    HostTensor rgb, depth;

    @Setup
    public void setup() {
        Preset p = Preset.byName(preset);
        Nd4jBackend.setThreads(threads);
        Nd4jBackend be = new Nd4jBackend();
        CrdModel model = new CrdModel(new NnContext(be, DType.FLOAT32, 1), p, Modality.DEPTH);
        detector = new Detector(be, model, NormalizationStats.of("depth", 1.5, 0.1, 1.5, 0.1));
        rgb = random(p.size(), 2);
        depth = random(p.size(), 3);
    }

    static HostTensor random(int s, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[3 * s * s];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 4 - 2);
        return HostTensor.of(a, 1, 3, s, s);
    }

    @Benchmark
    public double score() {
        return detector.score(rgb, depth).score();
    }
}
