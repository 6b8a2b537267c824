package crd4j.detect;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.io.WeightsFormatException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The validation statistics of §8.2, per branch and per {@link BranchMode} (§17.2 item 3): mean and population
 * standard deviation of the branch's raw anomaly map over all pixels of all validation images, computed in the same
 * mode as the maps they normalise. JSON form (the {@code stats} field of a model file, and {@code crd detect --stats}):
 * <pre>{"rgb":   {"mean": m, "std": s, "modes": {"assist-filter": {"mean": m, "std": s}, …}},
 *  "depth": {"mean": m, "std": s, "modes": {…}}}</pre>
 * The top-level {@code mean}/{@code std} of a branch are its {@link BranchMode#REAL} statistics (both modalities
 * present); {@code modes} is optional and absent in model files made before few-modal scoring existed.
 */
public final class NormalizationStats {
    /** One map's validation mean and population standard deviation. */
    public record MeanStd(double mean, double std) {
        public MeanStd {
            if (!Double.isFinite(mean) || !(std > 0) || !Double.isFinite(std)) {
                throw new IllegalArgumentException("normalisation statistics need a finite mean and a positive standard deviation, found "
                        + mean + " / " + std);
            }
        }
    }

    private final Map<String, Map<BranchMode, MeanStd>> table;

    private NormalizationStats(Map<String, Map<BranchMode, MeanStd>> table) {
        Map<String, Map<BranchMode, MeanStd>> t = new LinkedHashMap<>();
        table.forEach((k, v) -> t.put(k, Collections.unmodifiableMap(new LinkedHashMap<>(v))));
        this.table = Collections.unmodifiableMap(t);
    }

    /** Real-mode statistics only (both modalities present), for branches {@code "rgb"} and {@code secondKey}. */
    public static NormalizationStats of(String secondKey, double rgbMean, double rgbStd, double otherMean, double otherStd) {
        return builder().put("rgb", BranchMode.REAL, new MeanStd(rgbMean, rgbStd))
                .put(secondKey, BranchMode.REAL, new MeanStd(otherMean, otherStd)).build();
    }

    public static Builder builder() { return new Builder(); }

    /** Collects statistics branch by branch; every branch needs its {@link BranchMode#REAL} entry. */
    public static final class Builder {
        private final Map<String, Map<BranchMode, MeanStd>> table = new LinkedHashMap<>();

        public Builder put(String branch, BranchMode mode, MeanStd s) {
            table.computeIfAbsent(branch, k -> new LinkedHashMap<>()).put(mode, s);
            return this;
        }

        public Builder putAll(NormalizationStats other) {
            other.table.forEach((b, modes) -> modes.forEach((m, s) -> put(b, m, s)));
            return this;
        }

        public NormalizationStats build() {
            for (Map.Entry<String, Map<BranchMode, MeanStd>> e : table.entrySet()) {
                if (!e.getValue().containsKey(BranchMode.REAL)) {
                    throw new IllegalArgumentException("normalisation statistics of branch '" + e.getKey() + "' lack the both-modalities entry");
                }
            }
            return new NormalizationStats(table);
        }
    }

    /** The statistics of {@code branch} in {@code mode}, or null when they were not computed. */
    public MeanStd find(String branch, BranchMode mode) {
        Map<BranchMode, MeanStd> m = table.get(branch);
        return m == null ? null : m.get(mode);
    }

    public boolean has(String branch, BranchMode mode) { return find(branch, mode) != null; }

    /** The branches, in the order they were stored. */
    public List<String> branches() { return List.copyOf(table.keySet()); }

    /** The modes stored for {@code branch} (REAL first). */
    public List<BranchMode> modes(String branch) {
        Map<BranchMode, MeanStd> m = table.get(branch);
        return m == null ? List.of() : List.copyOf(m.keySet());
    }

    /** True when some branch has statistics for a mode other than {@link BranchMode#REAL}. */
    public boolean hasFewModalModes() {
        for (Map<BranchMode, MeanStd> m : table.values()) if (m.size() > 1) return true;
        return false;
    }

    /** These statistics restricted to {@link BranchMode#REAL} (what a model file made before few-modal scoring holds). */
    public NormalizationStats realOnly() {
        Builder b = builder();
        table.forEach((br, modes) -> b.put(br, BranchMode.REAL, modes.get(BranchMode.REAL)));
        return b.build();
    }

    /**
     * Reads the JSON form for the branches {@code "rgb"} and {@code secondKey}; {@code source} names the file in errors.
     */
    public static NormalizationStats fromJson(JsonNode node, String secondKey, Path source) throws WeightsFormatException {
        if (node == null || !node.isObject()) {
            throw new WeightsFormatException(source, "expected an object {\"rgb\": {\"mean\": m, \"std\": s}, \"" + secondKey + "\": {...}}");
        }
        Builder b = builder();
        for (String branch : List.of("rgb", secondKey)) {
            b.put(branch, BranchMode.REAL, meanStd(node.path(branch), branch, source));
            JsonNode modes = node.path(branch).path("modes");
            if (modes.isMissingNode() || modes.isNull()) continue;
            if (!modes.isObject()) throw new WeightsFormatException(source, "field '" + branch + ".modes': expected an object");
            for (var it = modes.fields(); it.hasNext(); ) {
                var e = it.next();
                BranchMode mode;
                try {
                    mode = BranchMode.parse(e.getKey());
                } catch (IllegalArgumentException ex) {
                    throw new WeightsFormatException(source, "field '" + branch + ".modes': " + ex.getMessage());
                }
                b.put(branch, mode, meanStd(e.getValue(), branch + ".modes." + e.getKey(), source));
            }
        }
        return b.build();
    }

    /** The statistics of one branch, {@code {"<branch>": {"mean": m, "std": s}}} (a single-modality model's). */
    public static MeanStd single(JsonNode node, String branch, Path source) throws WeightsFormatException {
        if (node == null || !node.isObject()) {
            throw new WeightsFormatException(source, "metadata 'stats': missing (expected {\"" + branch + "\": {\"mean\": m, \"std\": s}})");
        }
        return meanStd(node.path(branch), branch, source);
    }

    private static MeanStd meanStd(JsonNode n, String where, Path source) throws WeightsFormatException {
        double mean = field(n, where, "mean", source), std = field(n, where, "std", source);
        return new MeanStd(mean, std);
    }

    private static double field(JsonNode node, String where, String name, Path source) throws WeightsFormatException {
        JsonNode v = node.path(name);
        if (!v.isNumber()) throw new WeightsFormatException(source, "field '" + where + "." + name + "': expected a number");
        double d = v.asDouble();
        if (!Double.isFinite(d) || (name.equals("std") && d <= 0)) {
            throw new WeightsFormatException(source, "field '" + where + "." + name + "': expected a finite"
                    + (name.equals("std") ? " positive" : "") + " number, found " + v.asText());
        }
        return d;
    }

    public static NormalizationStats read(Path file, String secondKey) throws IOException {
        JsonNode n;
        try {
            n = new ObjectMapper().readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new WeightsFormatException(file, "not valid JSON (" + e.getOriginalMessage() + ")");
        }
        return fromJson(n, secondKey, file);
    }

    /** The JSON form (see the class comment); {@code modes} is written only for branches that have few-modal entries. */
    public ObjectNode toJson() {
        ObjectNode n = new ObjectMapper().createObjectNode();
        table.forEach((branch, modes) -> {
            ObjectNode b = n.putObject(branch);
            MeanStd real = modes.get(BranchMode.REAL);
            b.put("mean", real.mean()).put("std", real.std());
            if (modes.size() > 1) {
                ObjectNode m = b.putObject("modes");
                modes.forEach((mode, s) -> {
                    if (mode != BranchMode.REAL) m.putObject(mode.key()).put("mean", s.mean()).put("std", s.std());
                });
            }
        });
        return n;
    }

    @Override
    public boolean equals(Object o) { return o instanceof NormalizationStats s && s.table.equals(table); }

    @Override
    public int hashCode() { return table.hashCode(); }

    @Override
    public String toString() { return toJson().toString(); }
}
