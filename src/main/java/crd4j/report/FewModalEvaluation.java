package crd4j.report;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.detect.MissingStrategy;
import crd4j.eval.MetricSet;
import crd4j.model.Modality;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Evaluation with modalities missing (§17.3): the same test split scored under several settings — all-or-nothing
 * (every sample without RGB, or without its 3D input) and random missing rates with a missing type, over several seeds
 * ({@link MissingMask}) — each evaluated like a complete split ({@link Evaluation}), with the mean and the population
 * standard deviation (ddof 0) over seeds. Each sample is scored once per (withheld modality, strategy)
 * ({@link ScoredSplit}).
 */
public final class FewModalEvaluation {
    private FewModalEvaluation() {}

    /**
     * One setting: {@code type} null for all-or-nothing ({@code withheld} applies to every sample), else a random
     * missing {@code rate} of that type drawn for each seed.
     */
    public record Spec(Evaluation.Withheld withheld, MissingMask.Type type, double rate, MissingStrategy strategy, List<Long> seeds) {
        public static Spec allOrNothing(Evaluation.Withheld withheld, MissingStrategy s) {
            return new Spec(withheld, null, withheld == Evaluation.Withheld.NONE ? 0 : 1, s, List.of());
        }

        public static Spec random(MissingMask.Type type, double rate, MissingStrategy s, List<Long> seeds) {
            if (seeds.isEmpty()) throw new IllegalArgumentException("--seeds: at least one seed");
            return new Spec(null, type, rate, s, List.copyOf(seeds));
        }

        /** A readable name, e.g. "rgb missing, filter" or "3d missing 30%, filter". */
        public String name(Modality second) {
            if (type == null) {
                return withheld == Evaluation.Withheld.NONE ? "both modalities"
                        : (withheld == Evaluation.Withheld.RGB ? "rgb" : second.key()) + " missing, " + strategy.key();
            }
            String t = type == MissingMask.Type.RGB ? "rgb" : type == MissingMask.Type.SECOND ? second.key() : "rgb or " + second.key();
            return String.format(Locale.ROOT, "%s missing %d%%, %s", t, Math.round(rate * 100), strategy.key());
        }
    }

    /** The metrics of one setting: per seed (one entry for all-or-nothing), and their mean and std per detector. */
    public record Result(Spec spec, String name, List<Map<String, MetricSet>> perSeed, Map<String, MetricSet> mean,
                         Map<String, MetricSet> std, Map<String, Double> perDefectIAuroc) {}

    /** Scores and evaluates every spec on {@code split}; {@code onEvaluation} sees each setting's evaluation (e.g. to save its maps). */
    static List<Result> run(ScoredSplit split, Evaluation.ModelInfo model, List<Spec> specs, Consumer<String> progress,
                            EvaluationSink onEvaluation) throws IOException {
        Modality second = split.dataset().modality();
        int n = split.samples().size();
        List<Result> out = new ArrayList<>();
        for (Spec spec : specs) {
            String name = spec.name(second);
            List<Map<String, MetricSet>> perSeed = new ArrayList<>();
            Map<String, Double> perDefect = new java.util.TreeMap<>();
            List<Long> seeds = spec.type() == null ? java.util.Collections.singletonList(null) : spec.seeds();
            for (Long seed : seeds) {
                Evaluation.Withheld[] mask = spec.type() == null ? null : MissingMask.of(n, spec.rate(), spec.type(), seed);
                Evaluation.Setting setting = new Evaluation.Setting(name, i -> mask == null ? spec.withheld() : mask[i], spec.strategy());
                Evaluation ev = Evaluation.run(split, model, setting, line -> {});
                perSeed.add(ev.metrics());
                ev.perDefectIAuroc().get(Evaluation.FUSED).forEach((d, v) -> perDefect.merge(d, v / seeds.size(), Double::sum));
                onEvaluation.accept(spec, seed, ev);
                progress.accept(name + (seed == null ? "" : " seed " + seed) + ": fused I-AUROC "
                        + String.format(Locale.ROOT, "%.4f", ev.metrics().get(Evaluation.FUSED).iAuroc()));
            }
            Map<String, MetricSet> mean = new LinkedHashMap<>(), std = new LinkedHashMap<>();
            for (String det : perSeed.get(0).keySet()) {
                if (!perSeed.stream().allMatch(m -> m.containsKey(det))) continue;
                List<MetricSet> ms = perSeed.stream().map(m -> m.get(det)).toList();
                mean.put(det, meanOf(ms));
                std.put(det, stdOf(ms, mean.get(det)));
            }
            out.add(new Result(spec, name, perSeed, mean, std, perDefect));
        }
        return out;
    }

    /** Receives each (setting, seed) evaluation; seed null for all-or-nothing settings. */
    @FunctionalInterface
    interface EvaluationSink {
        void accept(Spec spec, Long seed, Evaluation ev) throws IOException;
    }

    /** The mean of each metric over {@code ms}. */
    public static MetricSet meanOf(List<MetricSet> ms) {
        double[] acc = new double[ms.get(0).values().length];
        for (MetricSet x : ms) {
            double[] v = x.values();
            for (int k = 0; k < v.length; k++) acc[k] += v[k] / ms.size();
        }
        return MetricSet.of(acc);
    }

    /** Population standard deviation (ddof 0) of each metric over {@code ms}. */
    static MetricSet stdOf(List<MetricSet> ms, MetricSet mean) {
        double[] m = mean.values();
        double[] acc = new double[m.length];
        for (MetricSet x : ms) {
            double[] v = x.values();
            for (int k = 0; k < v.length; k++) acc[k] += (v[k] - m[k]) * (v[k] - m[k]);
        }
        for (int k = 0; k < acc.length; k++) acc[k] = Math.sqrt(acc[k] / ms.size());
        return MetricSet.of(acc);
    }


    /** {@code "settings": [...]} entries of metrics.json. */
    static void json(ArrayNode arr, List<Result> results, Modality second) {
        for (Result r : results) {
            ObjectNode o = arr.addObject();
            o.put("name", r.name());
            Spec s = r.spec();
            o.put("missing", s.type() == null ? s.withheld().key(second) : s.type().key());
            o.put("rate", s.rate());
            o.put("strategy", s.strategy().key());
            ArrayNode seeds = o.putArray("seeds");
            s.seeds().forEach(seeds::add);
            ObjectNode mean = o.putObject("mean"), std = o.putObject("std");
            r.mean().forEach((d, m) -> Evaluation.metricsNode(mean.putObject(d), m));
            r.std().forEach((d, m) -> Evaluation.metricsNode(std.putObject(d), m));
            ObjectNode pd = o.putObject("per_defect_i_auroc");   // fused, mean over seeds
            r.perDefectIAuroc().forEach((d, v) -> { if (Double.isNaN(v)) pd.putNull(d); else pd.put(d, v); });
            ArrayNode per = o.putArray("per_seed");
            for (int k = 0; k < r.perSeed().size(); k++) {
                ObjectNode e = per.addObject();
                if (!s.seeds().isEmpty()) e.put("seed", s.seeds().get(k));
                r.perSeed().get(k).forEach((d, m) -> Evaluation.metricsNode(e.putObject(d), m));
            }
        }
    }

    /** The fused detector per setting as a text table (mean ± std over seeds), what {@code crd eval} prints. */
    static String table(List<Result> results) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-40s %15s %15s %15s%n", "setting (fused)", "I-AUROC",
                "P-AUROC", "AU-PRO@0.3"));
        for (Result r : results) {
            MetricSet m = r.mean().get(Evaluation.FUSED), d = r.std().get(Evaluation.FUSED);
            sb.append(String.format(Locale.ROOT, "%-40s %15s %15s %15s%n", r.name(), pm(m.iAuroc(), d.iAuroc(), r),
                    pm(m.pAuroc(), d.pAuroc(), r), pm(m.auPro30(), d.auPro30(), r)));
        }
        return sb.toString();
    }

    private static String pm(double mean, double std, Result r) {
        return r.perSeed().size() > 1 ? String.format(Locale.ROOT, "%.4f±%.4f", mean, std) : String.format(Locale.ROOT, "%.4f", mean);
    }

    /** The report's section: one row per setting and detector, percent, mean ± std over seeds. */
    static void html(StringBuilder sb, List<Result> results) {
        sb.append("<h2>Scoring with a modality missing</h2>\n<table class=\"metrics\">\n");
        Html.header(sb, "setting / detector");
        for (Result r : results) {
            for (Map.Entry<String, MetricSet> e : r.mean().entrySet()) {
                String label = Html.escape(r.name()) + " / " + Html.escape(e.getKey());
                if (r.perSeed().size() > 1) label += " <small>(mean of " + r.perSeed().size() + " seeds; ± in metrics.json)</small>";
                Html.row(sb, e.getKey().equals(Evaluation.FUSED) ? "fused" : null, label, e.getValue());
            }
        }
        sb.append("</table>\n<p>Each setting scores the same test parts with one modality withheld: from every part (\"rgb missing\"),"
                + " or from a random share of them drawn per seed (half of the chosen losing each modality for \"rgb or …\")."
                + " The strategy says what stood in for the missing modality. A branch appears alone only where it produced a map"
                + " for every part.</p>\n");
    }
}
