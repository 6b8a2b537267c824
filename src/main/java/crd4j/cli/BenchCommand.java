package crd4j.cli;

import crd4j.autograd.Graph;
import crd4j.backend.Backend;
import crd4j.backend.Tensor;
import crd4j.model.AnomalyMap;
import crd4j.model.CrdBranch;
import crd4j.model.CrdModel;
import crd4j.model.Modality;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code crd bench}: wall-clock time of one whole CRD inference (two teacher passes, both branches, both raw maps)
 * on randomly initialised weights; the same pipeline as {@code crd_reference.py bench} so the two can be run side by
 * side (benchmarks/cpu_forward.sh). JMH benchmarks for the embedding API come with the Detector.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Time the eval-mode CRD inference (batch 1) on random weights; prints JSON.")
final class BenchCommand implements Callable<Integer> {
    @Mixin
    Common common;

    @Option(names = "--preset", defaultValue = "paper", description = "paper | small | tiny (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--runs", defaultValue = "3", description = "Timed runs (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--warmup", defaultValue = "1", description = "Untimed warm-up runs (default: ${DEFAULT-VALUE}).")
    int warmup;

    private static String rss() {
        try {
            return java.nio.file.Files.readAllLines(java.nio.file.Paths.get("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("VmRSS")).findFirst().orElse("?").replaceAll("\\s+", " ");
        } catch (java.io.IOException e) {
            return "?";
        }
    }

    @Override
    public Integer call() {
        Preset p = Preset.byName(preset);
        Backend be = common.backend();
        CrdModel model = new CrdModel(new NnContext(be, DType.FLOAT32, 0), p, Modality.DEPTH);
        model.train(false);
        SplittableRandom r = new SplittableRandom(1);
        float[] a = new float[3 * p.size() * p.size()], b = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (r.nextDouble() * 4 - 2);
            b[i] = (float) (r.nextDouble() * 4 - 2);
        }
        List<Double> times = new ArrayList<>();
        for (int i = 0; i < warmup + runs; i++) {
            long t0 = System.nanoTime();
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
            if (i >= warmup) times.add((System.nanoTime() - t0) / 1e9);
            if (common.verbose) System.err.printf(Locale.ROOT, "run %d: %.3f s, rss %s%n", i, (System.nanoTime() - t0) / 1e9, rss());
        }
        Collections.sort(times);
        System.out.printf(Locale.ROOT, "{\"what\": \"crd4j %s float32 CRD inference (2 teachers + 2 branches + 2 raw maps)\", "
                        + "\"preset\": \"%s\", \"threads\": %d, \"runs_s\": %s, \"median_s\": %.4f}%n",
                be.name(), p.name(), Runtime.getRuntime().availableProcessors(), times, times.get(times.size() / 2));
        return 0;
    }
}
