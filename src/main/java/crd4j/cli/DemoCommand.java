package crd4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.backend.Backend;
import crd4j.data.synth.SyntheticRgbd;
import crd4j.eval.MetricSet;
import crd4j.io.AtomicFiles;
import crd4j.model.FusionSemantics;
import crd4j.model.Preset;
import crd4j.report.CategoryTable;
import crd4j.detect.MissingStrategy;
import crd4j.report.Evaluation;
import crd4j.report.FewModalEvaluation;
import crd4j.train.Recipe;
import crd4j.train.TrainingRun;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code crd demo}: the whole workflow on the CPU without any download, as a user would run it on real data:
 * <ol>
 *   <li>{@code crd synth}: a synthetic RGB-D benchmark in the MVTec 3D-AD layout under {@code OUT/data};</li>
 *   <li>{@code crd train} per category with a seeded random teacher whose batch-norm statistics are estimated on the
 *       training images (no pretrained weights are bundled), {@code OUT/models/<category>.crd4j};</li>
 *   <li>{@code crd eval} per category: {@code OUT/eval/<category>/metrics.json} and {@code report.html};</li>
 *   <li>a summary table (fused vs RGB-only vs depth-only) on stdout and in {@code OUT/summary.json}.</li>
 * </ol>
 * The defaults are sized for a 2-core machine (about 10 minutes) and were chosen by measurement; see README.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Generate a synthetic RGB-D benchmark, train a small CRD model with a seeded random teacher,",
                "evaluate it and write metrics.json, report.html and a summary (CPU, no downloads)."})
final class DemoCommand implements Callable<Integer> {
    static final String MARKER = ".crd4j-demo";

    @Mixin
    Common common;

    @Option(names = "--out", defaultValue = "demo-out",
            description = "Output directory (default: ${DEFAULT-VALUE}); an earlier demo's output there is replaced.")
    Path out;

    @Option(names = "--categories", split = ",", defaultValue = "puck",
            description = "Synthetic categories (cookie, puck, tile; default: ${DEFAULT-VALUE}).")
    List<String> categories;

    @Option(names = "--preset", defaultValue = "tiny", description = "tiny | small (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--epochs", defaultValue = "40", description = "Training epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch", defaultValue = "4", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "0.005", description = "Adam learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--train", defaultValue = "120", description = "Good training samples per category (default: ${DEFAULT-VALUE}).")
    int train;

    @Option(names = "--validation", defaultValue = "10", description = "Good validation samples per category (default: ${DEFAULT-VALUE}).")
    int validation;

    @Option(names = "--test-good", defaultValue = "16", description = "Good test samples per category (default: ${DEFAULT-VALUE}).")
    int testGood;

    @Option(names = "--test-defect", defaultValue = "12",
            description = "Test samples per defect type (color, dent, bump, hole, crack) and category (default: ${DEFAULT-VALUE}).")
    int testDefect;

    @Option(names = "--seed", defaultValue = "42", description = "Seed for data, teacher, initialisation and shuffling (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--calibrate-teacher", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Estimate the random teacher's batch-norm statistics on the training images (default: ${DEFAULT-VALUE}).")
    boolean calibrate;

    @Option(names = "--progress", defaultValue = "auto", description = "auto | bar | lines (default: ${DEFAULT-VALUE}).")
    String progress;

    @Mixin
    SecondInputOptions secondInput;

    @Override
    public Integer call() throws Exception {
        Preset p = Preset.byName(preset);
        secondInput.choice();   // a bad --second / --sobel-k fails before anything is written
        if (p == Preset.PAPER) throw new IllegalArgumentException("--preset: paper is too large for a CPU demo; use tiny or small");
        SyntheticRgbd.Options synth = new SyntheticRgbd.Options(categories, seed, 2 * p.size(), train, validation, testGood, testDefect);
        prepareOut();
        Backend be = common.backend();
        common.threadsFor(p);   // the preset's thread count (Threads)
        long t0 = System.nanoTime();

        Path data = out.resolve("data");
        SyntheticRgbd.Summary s = SyntheticRgbd.generate(data, synth);
        System.err.printf(Locale.ROOT, "crd demo: 1/3 synthetic data: %d samples of %s in %s (%.0f s)%n", s.samples(),
                String.join(",", categories), data, secs(t0));

        List<Evaluation.Summary> results = new ArrayList<>();
        List<List<FewModalEvaluation.Result>> fewModal = new ArrayList<>();
        for (String cat : categories) {
            Path model = out.resolve("models").resolve(cat + ".crd4j");
            Files.createDirectories(model.getParent());
            System.err.printf(Locale.ROOT, "crd demo: 2/3 training %s (preset %s, %d epochs, batch %d, random teacher%s)%n", cat,
                    p.name(), epochs, batch, calibrate ? " with estimated batch-norm statistics" : "");
            TrainingRun.Config c = new TrainingRun.Config(data, cat, "random", p, epochs, batch, lr, seed, FusionSemantics.DETACHED,
                    calibrate, model, false, Recipe.PAPER_2024, secondInput.kind(), secondInput.sobelK());
            try (TrainProgress tp = TrainProgress.create(progress, "crd demo")) {
                TrainingRun.run(be, c, tp);
            }
            System.err.printf(Locale.ROOT, "crd demo: 3/3 evaluating %s (%.0f s so far)%n", cat, secs(t0));
            Evaluation ev = evaluate(be, data, cat, model, out.resolve("eval").resolve(cat));
            results.add(ev.summary());
            fewModal.add(ev.settings());
        }
        printSummary(results, fewModal, secs(t0));
        return 0;
    }

    /** The few-modal rows: every test part scored without its 3D input, then without its RGB (filter strategy). */
    static final List<FewModalEvaluation.Spec> FEW_MODAL = List.of(
            FewModalEvaluation.Spec.allOrNothing(Evaluation.Withheld.SECOND, MissingStrategy.FILTER),
            FewModalEvaluation.Spec.allOrNothing(Evaluation.Withheld.RGB, MissingStrategy.FILTER));
    static final List<String> FEW_MODAL_LABELS = List.of("RGB only (3D estimated)", "3D only (RGB estimated)");
    static final List<String> FEW_MODAL_KEYS = List.of("rgb_only_3d_estimated", "3d_only_rgb_estimated");

    private Evaluation evaluate(Backend be, Path data, String cat, Path model, Path dir) throws IOException {
        Evaluation ev = Evaluation.run(model, be, data, cat, FEW_MODAL, line -> { });
        ev.writeTo(dir, Evaluation.Outputs.DEFAULT);
        return ev;
    }

    /** Refuses a non-empty directory that is not an earlier demo's output; removes an earlier demo's output. */
    private void prepareOut() throws IOException {
        if (Files.exists(out)) {
            if (!Files.isDirectory(out)) throw new IOException(out + ": exists and is not a directory");
            boolean empty;
            try (var l = Files.list(out)) {
                empty = l.findAny().isEmpty();
            }
            if (!empty && !Files.isRegularFile(out.resolve(MARKER))) {
                throw new IOException(out + ": exists, is not empty and is not an earlier crd demo output (no " + MARKER
                        + "); choose another --out");
            }
            try (var w = Files.walk(out)) {
                for (Path f : w.sorted(Comparator.reverseOrder()).toList()) if (!f.equals(out)) Files.delete(f);
            }
        }
        Files.createDirectories(out);
        Files.writeString(out.resolve(MARKER), "output of crd demo; the next crd demo with this --out replaces this directory's contents\n");
    }

    private void printSummary(List<Evaluation.Summary> results, List<List<FewModalEvaluation.Result>> fewModal, double seconds)
            throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("preset", preset);
        root.put("epochs", epochs);
        root.put("teacher", "random(seed=" + seed + ")" + (calibrate ? "+bn-calibrated" : ""));
        root.put("seconds", seconds);
        ObjectNode cats = root.putObject("categories");
        System.out.println();
        System.out.printf(Locale.ROOT, "%-10s %-24s %8s %8s %8s %8s %11s%n", "category", "detector", "I-AUROC", "I-AP", "P-AUROC", "P-AP", "AU-PRO@0.3");
        boolean met = true;
        List<List<MetricSet>> fewModalFused = new ArrayList<>();
        for (int k = 0; k < FEW_MODAL.size(); k++) fewModalFused.add(new ArrayList<>());
        for (int ci = 0; ci < results.size(); ci++) {
            Evaluation.Summary r = results.get(ci);
            ObjectNode c = cats.putObject(r.category());
            for (var d : r.metrics().entrySet()) {
                Evaluation.metricsNode(c.putObject(d.getKey()), d.getValue());
                printRow(r.category(), d.getKey(), d.getValue());
            }
            ObjectNode fm = c.putObject("few_modal");
            for (int k = 0; k < FEW_MODAL.size(); k++) {
                MetricSet m = fewModal.get(ci).get(k).mean().get(Evaluation.FUSED);
                fewModalFused.get(k).add(m);
                Evaluation.metricsNode(fm.putObject(FEW_MODAL_KEYS.get(k)), m);
                printLabelled(r.category(), FEW_MODAL_LABELS.get(k), m);
            }
            double fused = r.metrics().get(Evaluation.FUSED).iAuroc();
            boolean ok = fused >= 0.95;
            for (MetricSet m : r.metrics().values()) ok &= fused >= m.iAuroc();
            met &= ok;
        }
        if (results.size() > 1) {
            ObjectNode mean = root.putObject("mean");
            for (var d : new CategoryTable(results).mean().entrySet()) {
                Evaluation.metricsNode(mean.putObject(d.getKey()), d.getValue());
                printRow("mean", d.getKey(), d.getValue());
            }
            ObjectNode fm = mean.putObject("few_modal");
            for (int k = 0; k < FEW_MODAL.size(); k++) {
                MetricSet m = FewModalEvaluation.meanOf(fewModalFused.get(k));
                Evaluation.metricsNode(fm.putObject(FEW_MODAL_KEYS.get(k)), m);
                printLabelled("mean", FEW_MODAL_LABELS.get(k), m);
            }
        }
        root.put("target_met", met);
        AtomicFiles.write(out.resolve("summary.json"),
                json.writerWithDefaultPrettyPrinter().writeValueAsString(root).getBytes(StandardCharsets.UTF_8));
        System.out.printf(Locale.ROOT, "%ntarget (fused I-AUROC >= 0.95 and >= each branch alone): %s%n", met ? "met" : "NOT met");
        System.out.printf(Locale.ROOT, "crd demo: done in %.1f min; reports: %s%n", seconds / 60, out.resolve("eval").resolve("<category>").resolve("report.html"));
    }

    private static void printRow(String category, String detector, MetricSet m) {
        printLabelled(category, detector.equals(Evaluation.FUSED) ? "fused" : detector + " branch alone", m);
    }

    private static void printLabelled(String category, String label, MetricSet m) {
        System.out.printf(Locale.ROOT, "%-10s %-24s %8.3f %8.3f %8.3f %8.3f %11.3f%n", category, label, m.iAuroc(), m.iAp(),
                m.pAuroc(), m.pAp(), m.auPro30());
    }

    private static double secs(long t0) { return (System.nanoTime() - t0) / 1e9; }
}
