package crd4j.detect;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.data.SecondInput;
import crd4j.io.WeightsFormatException;
import crd4j.model.FusionSemantics;
import crd4j.model.Modality;
import crd4j.model.ModelFiles;
import crd4j.model.Preset;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a crd4j model file says about itself, read once and typed: the one place where a model file's JSON metadata
 * ({@link ModelFiles}) is interpreted. Commands and the {@link Detector} use this record instead of looking fields
 * up by name; a missing required field or a value crd4j does not know is one {@link WeightsFormatException} naming the
 * file and the field.
 *
 * <p>Required: {@code format}, {@code version}, {@code preset}, {@code modalities}, {@code teacher}. Optional, for
 * files written before the field existed: {@code fusion_semantics} (detached), {@code second_input}/{@code sobel_k}
 * (from {@code modalities}), {@code recipe}, {@code seed}, {@code stats} (null until training ends), {@code thresholds}
 * (models trained before decisions existed; {@code crd calibrate} adds them), {@code crd4j_version}. Fields crd4j does
 * not know are ignored and kept when a command rewrites the file (a later version may add some).
 *
 * @param format       {@link ModelFiles#FORMAT} (CRD) or {@link ModelFiles#RD_FORMAT} (single-modality baseline)
 * @param modalities   {@code ["rgb", "depth"|"normals"]} for CRD, the one modality for the baseline
 * @param secondInput  how the second modality is made from a raw file; null for a single-modality model
 * @param recipe       the reference version whose defaults training used ({@code paper-2024}, {@code trd-2025}); null
 *                     in older files
 * @param seed         the training seed; null in older files
 * @param stats        the validation statistics; null before training ended
 * @param thresholds   the decision thresholds; null in older files
 * @param crd4jVersion the crd4j version that wrote the file; null in older files
 */
public record ModelMetadata(String format, Preset preset, List<String> modalities, SecondInput secondInput, String teacher,
                            FusionSemantics semantics, boolean mapping, String recipe, Long seed, NormalizationStats stats,
                            Thresholds thresholds, String crd4jVersion) {
    /** The recipe names training writes (crd4j.train.Recipe keys; listed here because detect sits below train). */
    static final List<String> RECIPES = List.of("paper-2024", "trd-2025");
    public static final String THRESHOLDS = "thresholds", STATS = "stats", VERSION = "crd4j_version";

    public ModelMetadata {
        modalities = List.copyOf(modalities);
    }

    /** True for a CRD model (both modalities), false for the single-modality baseline. */
    public boolean crd() { return ModelFiles.FORMAT.equals(format); }

    /** The second branch's modality; null for a single-modality model. */
    public Modality secondModality() { return secondInput == null ? null : secondInput.branch(); }

    /** These metadata with other statistics (and no thresholds: they belong to the statistics they were chosen with). */
    public ModelMetadata withStats(NormalizationStats s) {
        return new ModelMetadata(format, preset, modalities, secondInput, teacher, semantics, mapping, recipe, seed, s, null, crd4jVersion);
    }

    public ModelMetadata withThresholds(Thresholds t) {
        return new ModelMetadata(format, preset, modalities, secondInput, teacher, semantics, mapping, recipe, seed, stats, t, crd4jVersion);
    }

    /**
     * {@code original} (the file's metadata as read) with this record's statistics, thresholds and the running crd4j
     * version written over it: what a command that rewrites a model file (calibrate, stats) stores. Every other field,
     * known or not, stays as it was.
     */
    public ObjectNode writeOver(ObjectNode original) {
        ObjectNode m = original.deepCopy();
        if (stats == null) m.putNull(STATS);
        else m.set(STATS, stats.toJson());
        if (thresholds == null) m.remove(THRESHOLDS);
        else m.set(THRESHOLDS, thresholds.toJson());
        m.put(VERSION, ModelFiles.CRD4J_VERSION);
        return m;
    }

    /** The statistics, or one line naming {@code file} and what to do. */
    public NormalizationStats requireStats(Path file) throws WeightsFormatException {
        if (stats == null) throw new WeightsFormatException(file, "metadata 'stats': missing (train with validation, or run crd stats)");
        return stats;
    }

    /** Reads a model file's metadata; {@code file} names it in errors. */
    public static ModelMetadata read(ObjectNode meta, Path file) throws WeightsFormatException {
        String format = text(meta, "format", file);
        if (!format.equals(ModelFiles.FORMAT) && !format.equals(ModelFiles.RD_FORMAT)) {
            throw new WeightsFormatException(file, "metadata 'format': expected " + ModelFiles.FORMAT + " or " + ModelFiles.RD_FORMAT
                    + ", found " + WeightsFormatException.quote(format));
        }
        JsonNode v = meta.get("version");
        if (v == null || !v.isInt()) throw new WeightsFormatException(file, "metadata 'version': missing (expected " + ModelFiles.VERSION + ")");
        if (v.asInt() != ModelFiles.VERSION) {
            throw new WeightsFormatException(file, "metadata 'version': expected " + ModelFiles.VERSION + ", found " + v.asInt()
                    + " (written by a newer crd4j?)");
        }
        Preset preset;
        try {
            preset = ModelFiles.presetOf(meta);
        } catch (IllegalArgumentException e) {
            throw new WeightsFormatException(file, e.getMessage());
        }
        boolean crd = format.equals(ModelFiles.FORMAT);
        JsonNode mods = meta.get("modalities");
        if (mods == null || !mods.isArray()) throw new WeightsFormatException(file, "metadata 'modalities': missing");
        List<String> modalities = new ArrayList<>();
        for (JsonNode n : mods) modalities.add(n.asText());
        SecondInput second = null;
        if (crd) {
            if (modalities.size() != 2 || !modalities.get(0).equals("rgb") || !List.of("depth", "normals").contains(modalities.get(1))) {
                throw new WeightsFormatException(file, "metadata 'modalities': expected [\"rgb\", \"depth\"|\"normals\"], found " + mods);
            }
            second = SecondInput.ofModel(meta, file);
        } else if (modalities.size() != 1 || !List.of("rgb", "depth", "normals").contains(modalities.get(0))) {
            throw new WeightsFormatException(file, "metadata 'modalities': expected one of [\"rgb\"], [\"depth\"], [\"normals\"], found " + mods);
        }
        String teacher = text(meta, "teacher", file);
        FusionSemantics semantics = FusionSemantics.DETACHED;
        if (meta.hasNonNull("fusion_semantics")) {
            try {
                semantics = FusionSemantics.parse(meta.get("fusion_semantics").asText());
            } catch (IllegalArgumentException e) {
                throw new WeightsFormatException(file, "metadata 'fusion_semantics': " + e.getMessage());
            }
        }
        String recipe = null;
        if (meta.hasNonNull("recipe")) {
            recipe = meta.get("recipe").asText();
            if (!RECIPES.contains(recipe)) {
                throw new WeightsFormatException(file, "metadata 'recipe': expected one of " + RECIPES + ", found " + WeightsFormatException.quote(recipe));
            }
        }
        Long seed = null;
        if (meta.hasNonNull("seed")) {
            if (!meta.get("seed").canConvertToLong()) throw new WeightsFormatException(file, "metadata 'seed': expected an integer, found " + meta.get("seed"));
            seed = meta.get("seed").asLong();
        }
        NormalizationStats stats = null;
        if (meta.hasNonNull(STATS)) {
            stats = crd ? NormalizationStats.fromJson(meta.get(STATS), second.branch().key(), file)
                    : NormalizationStats.builder().put(modalities.get(0), BranchMode.REAL,
                    NormalizationStats.single(meta.get(STATS), modalities.get(0), file)).build();
        }
        Thresholds thresholds = meta.hasNonNull(THRESHOLDS) ? Thresholds.fromJson(meta.get(THRESHOLDS), file) : null;
        String version = meta.hasNonNull(VERSION) ? meta.get(VERSION).asText() : null;
        return new ModelMetadata(format, preset, modalities, second, teacher, semantics, meta.path("mapping").asBoolean(false), recipe,
                seed, stats, thresholds, version);
    }

    private static String text(ObjectNode meta, String field, Path file) throws WeightsFormatException {
        JsonNode n = meta.get(field);
        if (n == null || n.isNull()) throw new WeightsFormatException(file, "metadata '" + field + "': missing");
        if (!n.isTextual()) throw new WeightsFormatException(file, "metadata '" + field + "': expected a text, found " + n);
        return n.asText();
    }
}
