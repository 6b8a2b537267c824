package crd4j.detect;

import crd4j.autograd.Graph;
import crd4j.backend.Backend;
import crd4j.backend.Tensor;
import crd4j.model.CrdModel;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The validation statistics of §8.2 for every map a scoring mode can produce (§17.2 item 3): the raw map of each
 * branch in each {@link BranchMode} over all validation images (all good parts), then mean and population standard
 * deviation over all pixels of all those maps, in float64, two passes. The few-modal modes are computed from the same
 * validation images with the RGB or the second-modality input withheld, under every strategy the model can serve.
 */
public final class ValidationStatistics {
    private ValidationStatistics() {}

    /** Loads validation sample {@code i} (both modalities). */
    @FunctionalInterface
    public interface Loader {
        Sample load(int i) throws IOException;
    }

    /** The strategies whose modes are computed for {@code m}: filter, amplifier, zero, drop, and mapping when it has one. */
    public static List<MissingStrategy> strategies(CrdModel m) {
        List<MissingStrategy> s = new ArrayList<>(List.of(MissingStrategy.FILTER, MissingStrategy.AMPLIFIER, MissingStrategy.ZERO,
                MissingStrategy.DROP));
        if (m.mapping() != null) s.add(2, MissingStrategy.MAPPING);
        return s;
    }

    /**
     * Statistics of {@code count} validation samples; with {@code fewModal} every mode of {@link #strategies}, else
     * only the both-modalities maps (what §8.2 alone asks for).
     */
    public static NormalizationStats compute(Backend be, CrdModel m, int count, Loader samples, boolean fewModal) throws IOException {
        if (count < 1) throw new IllegalArgumentException("validation statistics need at least one validation sample");
        int s = m.preset().size(), px = s * s;
        m.train(false);
        // (branch, mode) → the raw maps of all samples, concatenated in sample order
        Map<String, Map<BranchMode, double[]>> maps = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            Sample smp = samples.load(i);
            if (!smp.complete()) throw new IllegalArgumentException("validation sample " + i + " lacks a modality");
            Graph teacher = Graph.scoring(be);
            try (Tensor x = be.fromHost(smp.rgb()); Tensor y = be.fromHost(smp.second())) {
                CrdModel.TeacherFeatures t = m.teacherForward(teacher, x, y);
                List<CrdModel.TeacherFeatures> settings = new ArrayList<>();
                List<MissingStrategy> strategyOf = new ArrayList<>();
                settings.add(t);
                strategyOf.add(MissingStrategy.FILTER);   // irrelevant for a complete sample
                if (fewModal) {
                    for (MissingStrategy st : strategies(m)) {
                        settings.add(new CrdModel.TeacherFeatures(t.rgb(), null));
                        strategyOf.add(st);
                        settings.add(new CrdModel.TeacherFeatures(null, t.other()));
                        strategyOf.add(st);
                    }
                }
                for (int k = 0; k < settings.size(); k++) {
                    Graph g = Graph.scoring(be);
                    try {
                        AnomalyScoring.Forward f = AnomalyScoring.forward(g, m, settings.get(k), strategyOf.get(k));
                        List<double[]> raw = AnomalyScoring.rawMaps(be, f, s);
                        for (int b = 0; b < raw.size(); b++) {
                            AnomalyScoring.Planned p = f.branches().get(b).plan();
                            double[] all = maps.computeIfAbsent(p.key(), key -> new LinkedHashMap<>())
                                    .computeIfAbsent(p.mode(), mode -> new double[count * px]);
                            System.arraycopy(raw.get(b), 0, all, i * px, px);
                        }
                    } finally {
                        g.release();
                    }
                }
            } finally {
                teacher.release();
            }
        }
        NormalizationStats.Builder b = NormalizationStats.builder();
        maps.forEach((branch, modes) -> modes.forEach((mode, v) -> {
            double[] ms = meanStd(v);
            b.put(branch, mode, new NormalizationStats.MeanStd(ms[0], ms[1]));
        }));
        return b.build();
    }

    /**
     * The decision thresholds of the good validation parts ({@link Thresholds#fromValidation}): each part scored
     * complete by {@code det} (which normalises with the validation statistics just computed).
     */
    public static Thresholds thresholds(Detector det, int count, Loader samples) throws IOException {
        double[] scores = new double[count];
        for (int i = 0; i < count; i++) scores[i] = det.score(samples.load(i), MissingStrategy.FILTER).score();
        return Thresholds.fromValidation(scores);
    }

    /** Mean and population standard deviation (numpy's {@code mean}, {@code std} with ddof 0), two passes in float64. */
    public static double[] meanStd(double[] v) {
        double m = 0;
        for (double x : v) m += x;
        m /= v.length;
        double var = 0;
        for (double x : v) var += (x - m) * (x - m);
        return new double[]{m, Math.sqrt(var / v.length)};
    }
}
