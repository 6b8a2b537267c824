import crd4j.backend.Backend;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.model.CrdModel;
import crd4j.model.Modality;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import crd4j.train.CrdTrainer;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Training throughput of the CRD students (§7 iterations: both teacher passes, both branches forward + backward +
 * Adam) on random weights and inputs, float32, in samples/s by wall time and by the CPU time of the whole process
 * (which stays comparable when other jobs load the machine; wall time does not). Run from a built checkout:
 *   java -Xmx3g -Dorg.bytedeco.javacpp.maxbytes=3g -Dorg.bytedeco.javacpp.maxPhysicalBytes=0 \
 *     -cp "target/classes:$(cat target/classpath.txt)" benchmarks/CpuTrainTime.java tiny 4 1 30
 * (preset, batch, threads, timed steps[, untimed warm-up steps first, default 5]).
 */
public class CpuTrainTime {
    public static void main(String[] args) {
        Preset p = Preset.byName(args.length > 0 ? args[0] : "tiny");
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        int steps = args.length > 3 ? Integer.parseInt(args[3]) : 30;
        int warmup = args.length > 4 ? Integer.parseInt(args[4]) : 5;
        Nd4jBackend.setThreads(threads);
        Backend be = new Nd4jBackend();
        CrdModel model = new CrdModel(new NnContext(be, DType.FLOAT32, 0), p, Modality.DEPTH);
        CrdTrainer tr = new CrdTrainer(be, model, CrdTrainer.DEFAULT_LR);
        SplittableRandom r = new SplittableRandom(1);
        int s = p.size();
        float[] a = new float[batch * 3 * s * s], b = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (r.nextDouble() * 4 - 2);
            b[i] = (float) (r.nextDouble() * 4 - 2);
        }
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long c0 = 0, w0 = 0;
        for (int i = 0; i < steps + warmup; i++) {
            if (i == warmup) {
                c0 = os.getProcessCpuTime();
                w0 = System.nanoTime();
            }
            var x = be.fromHost(HostTensor.of(a, batch, 3, s, s));
            var y = be.fromHost(HostTensor.of(b, batch, 3, s, s));
            tr.step(x, y);
            x.close();
            y.close();
        }
        double cpu = (os.getProcessCpuTime() - c0) / 1e9, wall = (System.nanoTime() - w0) / 1e9;
        System.out.println(String.format(Locale.ROOT,
                "{\"preset\": \"%s\", \"batch\": %d, \"threads\": %d, \"steps\": %d, \"samples_per_s_wall\": %.2f,"
                        + " \"samples_per_cpu_s\": %.2f, \"wall_s\": %.2f, \"cpu_s\": %.2f}",
                p.name().toLowerCase(Locale.ROOT), batch, threads, steps, steps * batch / wall, steps * batch / cpu, wall, cpu));
    }
}
