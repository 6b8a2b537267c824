package crd4j.detect;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.io.WeightsFormatException;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * The accept/reject decision a model file carries: a part is anomalous when its image score (max of the fused map)
 * reaches {@code image}; a pixel belongs to the defect mask when the fused map reaches {@code pixel}. Both are in the
 * units of the fused, normalised, smoothed map (a sum of per-branch z-scores), so they stay valid only with the
 * normalisation statistics they were chosen with ({@code crd stats} recomputes them).
 *
 * <p>JSON form (the {@code thresholds} field of a model file):
 * {@code {"image": t, "pixel": p, "rule": "validation-max x1.1" | "f1-max" | "target-fpr 0.01", "parts": n}}.
 *
 * @param rule  how they were chosen, in words a user can act on
 * @param parts how many parts they were chosen on
 */
public record Thresholds(double image, double pixel, String rule, int parts) {
    /** The margin of {@link #fromValidation}: the threshold lies 10 % above the highest good validation score. */
    public static final double VALIDATION_MARGIN = 1.1;
    public static final String VALIDATION_RULE = "validation-max x1.1";

    public Thresholds {
        // normalizedScore = score / image needs a positive image threshold; the max of a sum of z-scored maps over all
        // pixels of a part is positive in every model seen, so a non-positive one means something went wrong. A pixel
        // threshold may be negative (a weak model's best pixel F1 can flag nearly everything).
        if (!(image > 0) || !Double.isFinite(image)) {
            throw new IllegalArgumentException("the image threshold must be finite and positive, found " + image);
        }
        if (!Double.isFinite(pixel)) throw new IllegalArgumentException("the pixel threshold must be finite, found " + pixel);
        if (rule == null || rule.isBlank()) throw new IllegalArgumentException("thresholds need the rule they were chosen by");
    }

    /**
     * The thresholds stored at the end of training, from the good validation parts alone (no defective example is
     * known then): both are the highest image score of those parts times {@link #VALIDATION_MARGIN}.
     *
     * <p>Why this rule: with the ~10 validation parts of MVTec 3D-AD, no false-reject rate below 1/(n+1) ≈ 9 % can be
     * estimated, so a quantile "at 1 % false rejects" would be a guess dressed as a measurement. The highest of n good
     * scores is exceeded by a further good part with probability 1/(n+1) (exchangeability); the 10 % margin moves the
     * threshold past the spread that the maximum of a larger good population shows over that of ten. The pixel
     * threshold is the same value: every pixel of a good validation part lies below it, so the defect mask of a part
     * is non-empty exactly when the part is rejected. {@code crd calibrate} re-picks both on labelled parts.
     */
    public static Thresholds fromValidation(double[] goodImageScores) {
        if (goodImageScores.length == 0) throw new IllegalArgumentException("thresholds need at least one validation part");
        double max = Arrays.stream(goodImageScores).max().orElseThrow();
        double t = max * VALIDATION_MARGIN;
        return new Thresholds(t, t, VALIDATION_RULE, goodImageScores.length);
    }

    public ObjectNode toJson() {
        ObjectNode n = new ObjectMapper().createObjectNode();
        n.put("image", image).put("pixel", pixel).put("rule", rule).put("parts", parts);
        return n;
    }

    /** Reads the JSON form; {@code file} names the model file in errors. */
    public static Thresholds fromJson(JsonNode n, Path file) throws WeightsFormatException {
        if (n == null || !n.isObject()) {
            throw new WeightsFormatException(file, "metadata 'thresholds': expected {\"image\": t, \"pixel\": p, \"rule\": ..., \"parts\": n}");
        }
        double image = number(n, "image", file, true), pixel = number(n, "pixel", file, false);
        if (!n.path("rule").isTextual()) throw new WeightsFormatException(file, "metadata 'thresholds.rule': expected a text");
        if (!n.path("parts").canConvertToInt() || n.path("parts").asInt() < 1) {
            throw new WeightsFormatException(file, "metadata 'thresholds.parts': expected a positive integer");
        }
        return new Thresholds(image, pixel, n.path("rule").asText(), n.path("parts").asInt());
    }

    private static double number(JsonNode n, String field, Path file, boolean positive) throws WeightsFormatException {
        JsonNode v = n.path(field);
        if (!v.isNumber() || (positive && !(v.asDouble() > 0)) || !Double.isFinite(v.asDouble())) {
            throw new WeightsFormatException(file, "metadata 'thresholds." + field + "': expected a finite" + (positive ? " positive" : "") + " number, found "
                    + (v.isMissingNode() ? "nothing" : v.toString()));
        }
        return v.asDouble();
    }
}
