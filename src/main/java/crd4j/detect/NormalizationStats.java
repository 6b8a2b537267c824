package crd4j.detect;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.io.WeightsFormatException;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The validation statistics of §8.2: mean and population standard deviation of each branch's raw anomaly map over
 * all pixels of all validation images. JSON form: {@code {"rgb": {"mean": m, "std": s}, "depth": {"mean": m, "std": s}}}
 * (the second key is the second modality's name).
 */
public record NormalizationStats(double rgbMean, double rgbStd, double otherMean, double otherStd) {
    public NormalizationStats {
        if (!(rgbStd > 0) || !(otherStd > 0) || !Double.isFinite(rgbMean) || !Double.isFinite(otherMean)) {
            throw new IllegalArgumentException("normalisation statistics need finite means and positive standard deviations");
        }
    }

    public static NormalizationStats fromJson(JsonNode node, String secondKey, Path source) throws WeightsFormatException {
        if (node == null || !node.isObject()) throw new WeightsFormatException(source, "expected an object {\"rgb\": {...}, \"" + secondKey + "\": {...}}");
        return new NormalizationStats(field(node, "rgb", "mean", source), field(node, "rgb", "std", source),
                field(node, secondKey, "mean", source), field(node, secondKey, "std", source));
    }

    private static double field(JsonNode node, String branch, String name, Path source) throws WeightsFormatException {
        JsonNode v = node.path(branch).path(name);
        if (!v.isNumber()) throw new WeightsFormatException(source, "field '" + branch + "." + name + "': expected a number");
        double d = v.asDouble();
        if (!Double.isFinite(d) || (name.equals("std") && d <= 0)) {
            throw new WeightsFormatException(source, "field '" + branch + "." + name + "': expected a finite"
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

    public ObjectNode toJson(String secondKey) {
        ObjectNode n = new ObjectMapper().createObjectNode();
        n.putObject("rgb").put("mean", rgbMean).put("std", rgbStd);
        n.putObject(secondKey).put("mean", otherMean).put("std", otherStd);
        return n;
    }
}
