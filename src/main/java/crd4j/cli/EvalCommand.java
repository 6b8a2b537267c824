package crd4j.cli;

import crd4j.backend.Backend;
import crd4j.data.MvtecDataset;
import crd4j.io.AtomicDirectory;
import crd4j.io.AtomicFiles;
import crd4j.io.WeightsFormatException;
import crd4j.report.CategoryTable;
import crd4j.detect.MissingStrategy;
import crd4j.report.Evaluation;
import crd4j.report.FewModalEvaluation;
import crd4j.report.MissingMask;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * {@code crd eval}: scores every test sample of one category with a trained model ({@link crd4j.detect.Detector}, §8.3)
 * and writes the §9 metrics of the fused detector and of each branch alone (Gaussian of the normalised branch map,
 * §8.3 item 4) to {@code DIR/metrics.json} as fractions:
 * <pre>{"fused": {"i_auroc", "i_ap", "p_auroc", "p_ap", "au_pro_0.3", "au_pro_0.01",
 *            "au_pro_sampled_0.3", "au_pro_sampled_0.1", "au_pro_sampled_0.05", "au_pro_sampled_0.01",
 *            "i_f1_max", "p_f1_max"}, "rgb": {...}, "depth": {...}}</pre>
 * (the third key is the second modality's name; the last six are the 2025 reference's metrics of §16.2, the
 * threshold-sampled AU-PRO being a different metric from the exact {@code au_pro_*}). Maps and GT are at the model's input side S (256 for paper).
 * {@code DIR/report.html} (unless {@code --no-report}) is the self-contained report of {@link Evaluation#reportHtml}.
 * {@code --save-maps} also writes {@code DIR/maps/<defect>/<stem>.npy} (fused smoothed map, float64 [S,S]) and
 * {@code DIR/gt/<defect>/<stem>.npy} (the binarised GT used, float32 [S,S] of 0/1).
 *
 * <p>The second modality is preprocessed as the model file records it (depth, normals, or normals computed from the
 * xyz TIFF with its Sobel k); {@code --second}/{@code --sobel-k}, when given, must agree with it.
 *
 * <p>Several categories ({@code --category a,b,c}, {@code --model} containing {@code {category}}): each goes to
 * {@code DIR/<category>/} as above, and {@code DIR/metrics.json} becomes
 * {@code {"categories": {"a": {fused, rgb, depth}, ...}, "mean": {...}}}, with {@code DIR/summary.md} and
 * {@code DIR/report.html} holding the per-category table and its mean row ({@link CategoryTable}). Every category and
 * model file is checked before anything is scored, and nothing is published unless all categories succeed.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Evaluate trained CRD models on the test split of one or several categories: I-AUROC, I-AP, P-AUROC, P-AP, AU-PRO, F1-max.",
                "One category: DIR/metrics.json, DIR/report.html [, DIR/maps, DIR/gt].",
                "Several (--category a,b --model 'runs/{category}.crd4j'): DIR/<category>/… for each, and DIR/metrics.json "
                        + "({\"categories\": …, \"mean\": …}), DIR/summary.md, DIR/report.html with the mean row."})
final class EvalCommand implements Callable<Integer> {
    static final String PLACEHOLDER = "{category}";
    /** A category name must be one plain folder name, since it also names an output folder. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]*");

    @Mixin
    Common common;

    @Option(names = "--data", required = true, description = "Dataset root (<root>/<category>/test).")
    Path data;

    @Option(names = "--category", required = true, description = "Category (class) name, or several separated by commas.")
    String category;

    @Option(names = "--model", required = true, description = "crd4j model file with validation statistics (crd train); "
            + "'{category}' in the path is replaced by each category's name (needed with several categories).")
    String model;

    @Option(names = "--out", required = true, description = "Output directory.")
    Path out;

    @Option(names = "--save-maps", description = "Also write the fused maps and binarised GT as .npy.")
    boolean saveMaps;

    @Option(names = "--no-report", description = "Do not write report.html.")
    boolean noReport;

    @Mixin
    SecondInputOptions secondInput;

    @Option(names = "--report-samples", defaultValue = "24", paramLabel = "N",
            description = "Sample panels in report.html, worst misses first (default: ${DEFAULT-VALUE}).")
    int reportSamples;

    @Option(names = "--missing", paramLabel = "none|rgb|3d[,…]",
            description = "Also score every test part without that modality (rgb, or 3d: the depth or normals input), under each"
                    + " --missing-strategy; a comma list gives several settings.")
    String missing;

    @Option(names = "--missing-rate", paramLabel = "R[,R…]",
            description = "Also score with a random share R of the test parts missing a modality (--missing-type), drawn per --seeds,"
                    + " e.g. 0.3,0.5,0.7: the table gives the mean ± std over seeds.")
    String missingRate;

    @Option(names = "--missing-type", defaultValue = "both", paramLabel = "rgb|3d|both",
            description = "With --missing-rate: which modality the chosen parts lose; both = half of them lose RGB, half 3D"
                    + " (default: ${DEFAULT-VALUE}).")
    String missingType;

    @Option(names = "--seeds", defaultValue = "0,1,2", description = "With --missing-rate: the seeds of the random masks (default: ${DEFAULT-VALUE}).")
    String seeds;

    @Option(names = "--missing-strategy", defaultValue = "filter", paramLabel = "S[,S…]",
            description = "What stands in for a missing modality: filter (default), amplifier, mapping, zero, drop; a comma list"
                    + " evaluates each (see crd detect --help).")
    String missingStrategy;

    /** The few-modal settings asked for, in option order (empty: the complete evaluation only). */
    List<FewModalEvaluation.Spec> specs() {
        List<FewModalEvaluation.Spec> out = new ArrayList<>();
        List<MissingStrategy> strategies = new ArrayList<>();
        for (String s : missingStrategy.split(",")) strategies.add(MissingStrategy.parse(s.strip()));
        if (missing != null) {
            for (String m : missing.split(",")) {
                switch (m.strip().toLowerCase(Locale.ROOT)) {
                    case "none" -> { }
                    case "rgb" -> strategies.forEach(st -> out.add(FewModalEvaluation.Spec.allOrNothing(Evaluation.Withheld.RGB, st)));
                    case "3d", "depth", "normals", "second" ->
                            strategies.forEach(st -> out.add(FewModalEvaluation.Spec.allOrNothing(Evaluation.Withheld.SECOND, st)));
                    default -> throw new IllegalArgumentException("--missing: expected none, rgb or 3d, found '" + m + "'");
                }
            }
        }
        if (missingRate != null) {
            MissingMask.Type type = MissingMask.Type.parse(missingType);
            List<Long> seedList = new ArrayList<>();
            for (String s : seeds.split(",")) {
                try {
                    seedList.add(Long.parseLong(s.strip()));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--seeds: expected integers separated by commas, found '" + seeds + "'");
                }
            }
            for (String r : missingRate.split(",")) {
                double rate;
                try {
                    rate = Double.parseDouble(r.strip());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--missing-rate: expected rates in [0, 1] separated by commas, found '" + missingRate + "'");
                }
                if (!(rate >= 0 && rate <= 1)) throw new IllegalArgumentException("--missing-rate: expected rates in [0, 1], found " + r.strip());
                for (MissingStrategy st : strategies) out.add(FewModalEvaluation.Spec.random(type, rate, st, seedList));
            }
        }
        return out;
    }

    @Override
    public Integer call() throws Exception {
        List<String> categories = categories(category);
        List<FewModalEvaluation.Spec> specs = specs();
        if (categories.size() > 1 && !model.contains(PLACEHOLDER)) {
            throw new IllegalArgumentException("--model: with several categories the path must contain " + PLACEHOLDER
                    + " (e.g. runs/" + PLACEHOLDER + ".crd4j), found '" + model + "'");
        }
        Evaluation.Outputs outputs = new Evaluation.Outputs(saveMaps, !noReport, reportSamples);
        secondInput.choice();   // a bad --second / --sobel-k fails before anything is read
        Backend be = common.backend();
        Consumer<String> progress = common.verbose ? line -> System.err.println("crd eval: " + line) : line -> {};
        if (categories.size() == 1) {
            String c = categories.get(0);
            Evaluation ev = evaluate(be, c, specs, progress);
            System.out.print(ev.table());
            if (ev.undefinedLine() != null) System.err.println("crd eval: warning: " + ev.undefinedLine());
            System.out.print(ev.settingsTable());
            ev.writeTo(out, outputs);
            System.out.println("wrote " + out.resolve("metrics.json") + (outputs.report() ? " and report.html" : "")
                    + (saveMaps ? " and maps/, gt/" : ""));
            return 0;
        }
        // everything that can be checked without scoring, before the first (long) category starts
        for (String c : categories) {
            MvtecDataset.open(data, c).samples("test");
            Path m = modelFile(c);
            if (!Files.isRegularFile(m)) {
                throw new WeightsFormatException(m, "model file for category '" + c + "' not found (--model " + model + ")");
            }
        }
        List<Evaluation.Summary> rows = new ArrayList<>();
        try (AtomicDirectory dir = AtomicDirectory.stage(out)) {
            for (String c : categories) {
                System.out.println("== " + c);
                Evaluation ev = evaluate(be, c, specs, progress);
                System.out.print(ev.table());
                if (ev.undefinedLine() != null) System.err.println("crd eval: warning: " + ev.undefinedLine());
                System.out.print(ev.settingsTable());
                ev.writeTo(dir, c, outputs);   // written now, so that only one category's maps are in memory
                rows.add(ev.summary());
            }
            CategoryTable table = new CategoryTable(rows);
            dir.put("metrics.json", f -> AtomicFiles.write(f, table.metricsJson()));
            dir.put("summary.md", f -> AtomicFiles.write(f, table.markdown().getBytes(StandardCharsets.UTF_8)));
            if (outputs.report()) dir.put("report.html", f -> AtomicFiles.write(f, table.html(true).getBytes(StandardCharsets.UTF_8)));
            dir.commit(Evaluation.OUTPUTS);
            System.out.print(table.text());
        }
        System.out.println("wrote " + out.resolve("metrics.json") + ", summary.md" + (outputs.report() ? ", report.html" : "")
                + " and " + String.join("/, ", categories) + "/");
        return 0;
    }

    private Evaluation evaluate(Backend be, String c, List<FewModalEvaluation.Spec> specs, Consumer<String> progress)
            throws java.io.IOException {
        common.threadsForModel(modelFile(c));
        long t0 = System.nanoTime();
        Evaluation ev = Evaluation.run(modelFile(c), be, data, c, secondInput.choice(), specs, progress);
        System.err.printf(Locale.ROOT, "crd eval: %s: scored %d test samples in %.1f s%n", c, ev.samples().size(),
                (System.nanoTime() - t0) / 1e9);
        return ev;
    }

    private Path modelFile(String c) {
        return Path.of(model.replace(PLACEHOLDER, c));
    }

    /** The comma-separated list of --category: plain folder names, no duplicates. */
    static List<String> categories(String spec) {
        Set<String> out = new LinkedHashSet<>();
        for (String part : spec.split(",", -1)) {
            String c = part.strip();
            if (!NAME.matcher(c).matches()) {
                throw new IllegalArgumentException("--category: expected category folder names separated by commas, found '"
                        + c + "' in '" + spec + "'");
            }
            if (!out.add(c)) throw new IllegalArgumentException("--category: '" + c + "' is given twice");
        }
        return List.copyOf(out);
    }
}
