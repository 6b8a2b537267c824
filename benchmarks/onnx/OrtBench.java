import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * ONNX Runtime's Java CPU runtime on the network benchmarks/onnx/export_onnx.py exported (the same inference as
 * `crd bench`: two teacher passes, both branches, both raw maps; batch 1), for benchmarks/onnx_cpu.sh:
 *   java -cp onnxruntime-1.20.0.jar OrtBench.java MODEL.onnx SIZE THREADS RUNS
 * Prints one JSON line: session load time, per-run wall times, median.
 */
public class OrtBench {
    public static void main(String[] args) throws Exception {
        String model = args[0];
        int size = Integer.parseInt(args[1]), threads = Integer.parseInt(args[2]), runs = Integer.parseInt(args[3]);
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        OrtSession.SessionOptions o = new OrtSession.SessionOptions();
        o.setIntraOpNumThreads(threads);
        o.setInterOpNumThreads(1);
        o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        long l0 = System.nanoTime();
        OrtSession s = env.createSession(model, o);
        double load = (System.nanoTime() - l0) / 1e9;
        SplittableRandom r = new SplittableRandom(1);
        float[] a = new float[3 * size * size], b = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (r.nextDouble() * 4 - 2);
            b[i] = (float) (r.nextDouble() * 4 - 2);
        }
        long[] shape = {1, 3, size, size};
        List<Double> times = new ArrayList<>();
        for (int i = 0; i < runs + 1; i++) {
            long t0 = System.nanoTime();
            try (OnnxTensor x = OnnxTensor.createTensor(env, FloatBuffer.wrap(a), shape);
                 OnnxTensor y = OnnxTensor.createTensor(env, FloatBuffer.wrap(b), shape);
                 OrtSession.Result res = s.run(Map.of("rgb", x, "depth", y))) {
                float[][][][] m = (float[][][][]) res.get(0).getValue(); // copy the map out, as a user would
                if (m.length != 1) throw new IllegalStateException("unexpected output");
            }
            if (i > 0) times.add((System.nanoTime() - t0) / 1e9); // the first run is warm-up
        }
        List<Double> sorted = new ArrayList<>(times);
        Collections.sort(sorted);
        System.out.println(String.format(Locale.ROOT,
                "{\"what\": \"onnxruntime java %s cpu CRD inference (2 teachers + 2 branches + 2 raw maps)\", \"threads\": %d,"
                        + " \"load_s\": %.3f, \"runs_s\": %s, \"median_s\": %.4f}",
                env.getVersion(), threads, load, times, sorted.get(sorted.size() / 2)));
    }
}
