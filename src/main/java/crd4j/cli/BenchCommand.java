package crd4j.cli;

import crd4j.backend.Backend;
import crd4j.detect.BranchMode;
import crd4j.detect.Detector;
import crd4j.detect.MissingStrategy;
import crd4j.detect.NormalizationStats;
import crd4j.detect.Sample;
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
 * {@code crd bench}: wall-clock time of one whole {@code Detector.score} (two teacher passes, both branches, both raw
 * maps, normalisation, fusion, Gaussian σ=4) on randomly initialised weights. {@code crd_reference.py bench} times the
 * same network without the last three (a few milliseconds on the host), so the two run side by side
 * (benchmarks/cpu_forward.sh). JMH benchmarks of the embedding API: benchmarks/.
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

    @Option(names = "--missing", defaultValue = "none",
            description = "none (default) | rgb | second: time scoring a part that lacks that modality (filter strategy).")
    String missing;

    @Override
    public Integer call() {
        Preset p = Preset.byName(preset);
        if (!List.of("none", "rgb", "second").contains(missing)) {
            throw new IllegalArgumentException("--missing: expected none, rgb or second, found '" + missing + "'");
        }
        Backend be = common.backend();
        int threads = common.threadsFor(p);
        CrdModel model = new CrdModel(new NnContext(be, DType.FLOAT32, 0), p, Modality.DEPTH);
        // random weights and statistics: the timing does not depend on the values
        NormalizationStats.Builder sb = NormalizationStats.builder();
        for (String b : model.branchKeys()) for (BranchMode m : BranchMode.values()) sb.put(b, m, new NormalizationStats.MeanStd(1.5, 0.1));
        SplittableRandom r = new SplittableRandom(1);
        float[] a = new float[3 * p.size() * p.size()], b = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (r.nextDouble() * 4 - 2);
            b[i] = (float) (r.nextDouble() * 4 - 2);
        }
        HostTensor x = HostTensor.of(a, 1, 3, p.size(), p.size()), y = HostTensor.of(b, 1, 3, p.size(), p.size());
        Sample sample = Sample.of(missing.equals("rgb") ? null : x, missing.equals("second") ? null : y);
        List<Double> times = new ArrayList<>();
        try (Detector det = new Detector(be, model, sb.build())) {
            for (int i = 0; i < warmup + runs; i++) {
                long t0 = System.nanoTime();
                det.score(sample, MissingStrategy.FILTER);
                if (i >= warmup) times.add((System.nanoTime() - t0) / 1e9);
                if (common.verbose) System.err.printf(Locale.ROOT, "run %d: %.3f s, rss %s%n", i, (System.nanoTime() - t0) / 1e9, rss());
            }
        }
        Collections.sort(times);
        System.out.printf(Locale.ROOT, "{\"what\": \"crd4j %s float32 CRD scoring, Detector.score (teachers + branches + maps +"
                        + " normalisation + fusion + Gaussian)%s\", \"preset\": \"%s\", \"threads\": %d, \"runs_s\": %s, \"median_s\": %.4f}%n",
                be.name(), missing.equals("none") ? "" : ", without " + missing + " (filter)", p.name(),
                threads, times, times.get(times.size() / 2));
        return 0;
    }
}
