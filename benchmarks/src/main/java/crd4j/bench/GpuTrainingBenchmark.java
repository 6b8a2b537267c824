package crd4j.bench;

import crd4j.backend.Tensor;
import crd4j.backend.cuda.CudaBackend;
import crd4j.model.CrdModel;
import crd4j.model.Modality;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import crd4j.train.CrdTrainer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One §7 training iteration (teachers forward, both branches forward + backward + Adam) on the CUDA backend, batch
 * 16 at the paper preset. Throughput in iterations/s; samples/s = batch × that (benchmarks/device/run.sh converts).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class GpuTrainingBenchmark {
    @Param({"paper"})
    public String preset;

    @Param({"16"})
    public int batch;

    @Param({"false"})
    public boolean tf32;

    CudaBackend be;
    CrdTrainer trainer;
    Tensor rgb, depth;

    @Setup
    public void setup() {
        Preset p = Preset.byName(preset);
        be = CudaBackend.open(tf32);
        CrdModel model = new CrdModel(new NnContext(be, DType.FLOAT32, 1), p, Modality.DEPTH);
        trainer = new CrdTrainer(be, model, CrdTrainer.DEFAULT_LR);
        SplittableRandom r = new SplittableRandom(2);
        long[] shape = {batch, 3, p.size(), p.size()};
        float[] a = new float[Math.toIntExact(HostTensor.numel(shape))], b = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (r.nextDouble() * 4 - 2);
            b[i] = (float) (r.nextDouble() * 4 - 2);
        }
        rgb = be.fromHost(HostTensor.of(a, shape));
        depth = be.fromHost(HostTensor.of(b, shape));
    }

    @Benchmark
    public double step() {
        return trainer.step(rgb, depth).rgb().total();   // the loss values synchronise with the device
    }

    @TearDown
    public void close() {
        be.close();
    }
}
