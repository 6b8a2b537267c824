import crd4j.autograd.Graph;
import crd4j.backend.Tensor;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.model.AnomalyMap;
import crd4j.model.CrdBranch;
import crd4j.model.CrdModel;
import crd4j.model.Modality;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The whole CRD inference of `crd bench` (2 teachers + 2 branches + 2 raw maps, batch 1, float32, random weights) on
 * ONE thread, timed by the thread's CPU time as well as wall time. On one thread ND4J's native ops and OpenBLAS run
 * on the calling thread, so its CPU time is the work itself and stays comparable while other jobs load the machine
 * (wall time does not). Run it from a built checkout, interleaving builds (benchmarks/cpu_ab.sh does the same for
 * `crd bench`):
 *   java -Xmx8g -Dorg.bytedeco.javacpp.maxbytes=10g -Dorg.bytedeco.javacpp.maxPhysicalBytes=0 \
 *     -cp "target/classes:$(cat target/classpath.txt)" benchmarks/CpuForwardTime.java paper 3
 */
public class CpuForwardTime {
    public static void main(String[] args) {
        Preset p = Preset.byName(args.length > 0 ? args[0] : "paper");
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Nd4jBackend.setThreads(1);
        Nd4jBackend be = new Nd4jBackend();
        ThreadMXBean tm = ManagementFactory.getThreadMXBean();
        long b0 = tm.getCurrentThreadCpuTime();
        CrdModel model = new CrdModel(new NnContext(be, DType.FLOAT32, 0), p, Modality.DEPTH);
        model.train(false);
        double buildCpu = (tm.getCurrentThreadCpuTime() - b0) / 1e9;
        SplittableRandom r = new SplittableRandom(1);
        float[] a = new float[3 * p.size() * p.size()], b = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (r.nextDouble() * 4 - 2);
            b[i] = (float) (r.nextDouble() * 4 - 2);
        }
        List<Double> cpu = new ArrayList<>(), wall = new ArrayList<>();
        for (int i = 0; i < runs + 1; i++) {
            long c0 = tm.getCurrentThreadCpuTime(), w0 = System.nanoTime();
            Tensor x = be.fromHost(HostTensor.of(a, 1, 3, p.size(), p.size()));
            Tensor y = be.fromHost(HostTensor.of(b, 1, 3, p.size(), p.size()));
            Graph g = Graph.inference(be);
            CrdModel.TeacherFeatures t = model.teacherForward(g, x, y);
            CrdBranch.Output o1 = model.rgbForward(g, t), o2 = model.otherForward(g, t);
            AnomalyMap.raw(be, o1.fused(), t.rgb(), p.size());
            AnomalyMap.raw(be, o2.fused(), t.other(), p.size());
            g.release();
            x.close();
            y.close();
            if (i > 0) { // the first run is warm-up
                cpu.add((tm.getCurrentThreadCpuTime() - c0) / 1e9);
                wall.add((System.nanoTime() - w0) / 1e9);
            }
        }
        List<Double> sorted = new ArrayList<>(cpu);
        Collections.sort(sorted);
        System.out.printf(Locale.ROOT, "{\"preset\": \"%s\", \"threads\": 1, \"build_cpu_s\": %.2f, \"forward_cpu_s\": %s, "
                + "\"median_cpu_s\": %.3f, \"forward_wall_s\": %s}%n", p.name(), buildCpu, cpu, sorted.get(sorted.size() / 2), wall);
    }
}
