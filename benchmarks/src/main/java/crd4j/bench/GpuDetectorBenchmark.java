package crd4j.bench;

import crd4j.backend.cuda.CudaBackend;
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
import org.openjdk.jmh.annotations.TearDown;

import java.util.concurrent.TimeUnit;

/**
 * {@link Detector#score} latency at batch 1 on the CUDA backend (float32, TF32 off unless {@code tf32=true}): both
 * teachers, both branches, maps, normalisation, fusion and the Gaussian, replayed as one CUDA graph after two eager
 * calls ({@code -jvmArgsAppend -Dcrd4j.cudaGraphs=false} keeps it eager, for the graph's share of the latency).
 * Sample mode gives p50/p99; run with {@code -prof gc}. Compare with
 * benchmarks/device/torch_gpu_bench.py run in the same session on the same GPU.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class GpuDetectorBenchmark {
    @Param({"paper"})
    public String preset;

    @Param({"false"})
    public boolean tf32;

    CudaBackend be;
    Detector detector;
    HostTensor rgb, depth;

    @Setup
    public void setup() {
        Preset p = Preset.byName(preset);
        be = CudaBackend.open(tf32);
        CrdModel model = new CrdModel(new NnContext(be, DType.FLOAT32, 1), p, Modality.DEPTH);
        detector = new Detector(be, model, NormalizationStats.of("depth", 1.5, 0.1, 1.5, 0.1));
        rgb = DetectorBenchmark.random(p.size(), 2);
        depth = DetectorBenchmark.random(p.size(), 3);
    }

    @Benchmark
    public double score() {
        return detector.score(rgb, depth).score();
    }

    @TearDown
    public void close() {
        detector.close();
        be.close();
    }
}
