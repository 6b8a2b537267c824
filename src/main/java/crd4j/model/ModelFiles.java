package crd4j.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.io.ModelFile;
import crd4j.io.WeightsFormatException;
import crd4j.nn.NnContext;
import crd4j.nn.StateDictException;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * crd4j's own model file: one checksummed safetensors file ({@link ModelFile}) holding the teacher
 * ({@code teacher.*}, torchvision names), both branches ({@code rgb.*}, {@code <modality>.*}, reference names) and
 * JSON metadata:
 * <pre>{"format": "crd4j-model", "version": 1,
 *  "preset": {"name": "paper", "base": 64, "size": 256},
 *  "modalities": ["rgb", "depth"], "teacher": "wide_resnet50_2-95faca4d.pth" | "random(seed=42)",
 *  "fusion_semantics": "detached", "stats": null | {"rgb": {"mean": m, "std": s}, "depth": {...}}}</pre>
 * {@code stats} holds the validation statistics of §8.2 once a training run has computed them.
 */
public final class ModelFiles {
    public static final String FORMAT = "crd4j-model";
    public static final int VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelFiles() {}

    public record Loaded(CrdModel model, ObjectNode meta) {}

    public static void save(CrdModel model, Path file, String teacherSource, ObjectNode stats) throws IOException {
        ModelFile.write(file, tensors(model), meta(model, teacherSource, stats));
    }

    /** Every tensor of the model file: {@code teacher.*}, {@code rgb.*}, {@code <modality>.*}. */
    public static Map<String, HostTensor> tensors(CrdModel model) {
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        put(tensors, "teacher.", model.teacher().stateDict());
        put(tensors, "rgb.", model.rgbBranch().stateDict());
        put(tensors, model.secondModality().key() + ".", model.otherBranch().stateDict());
        return tensors;
    }

    /** The model file's metadata (see the class comment). */
    public static ObjectNode meta(CrdModel model, String teacherSource, ObjectNode stats) {
        ObjectNode meta = JSON.createObjectNode();
        meta.put("format", FORMAT);
        meta.put("version", VERSION);
        ObjectNode p = meta.putObject("preset");
        p.put("name", model.preset().name());
        p.put("base", model.preset().base());
        p.put("size", model.preset().size());
        meta.putArray("modalities").add("rgb").add(model.secondModality().key());
        meta.put("teacher", teacherSource);
        meta.put("fusion_semantics", model.semantics().name().toLowerCase(java.util.Locale.ROOT));
        if (stats == null) meta.putNull("stats");
        else meta.set("stats", stats);
        return meta;
    }

    private static void put(Map<String, HostTensor> out, String prefix, Map<String, HostTensor> sd) {
        for (Map.Entry<String, HostTensor> e : sd.entrySet()) out.put(prefix + e.getKey(), e.getValue());
    }

    public static Loaded load(Path file, NnContext ctx) throws IOException {
        ModelFile.Contents c = ModelFile.read(file);
        return fromContents(c.tensors(), c.meta(), file, ctx);
    }

    /**
     * Builds the model described by {@code meta} (a model file's metadata) from {@code tensors} (which may hold more
     * entries, e.g. a training-state file's optimizer moments); {@code file} names the source in errors.
     */
    public static Loaded fromContents(Map<String, HostTensor> tensors, ObjectNode meta, Path file, NnContext ctx) throws IOException {
        if (!FORMAT.equals(meta.path("format").asText()) || meta.path("version").asInt(-1) != VERSION) {
            throw new WeightsFormatException(file, "metadata 'format'/'version': expected " + FORMAT + " version " + VERSION
                    + ", found " + meta.path("format").asText("?") + " version " + meta.path("version").asText("?"));
        }
        try {
            Preset preset = new Preset(meta.path("preset").path("name").asText("custom"), meta.path("preset").path("base").asInt(),
                    meta.path("preset").path("size").asInt());
            Modality second = Modality.parse(meta.path("modalities").path(1).asText("?"));
            // Shapes first: building the model allocates what the preset says, which the file must back (issue 13).
            ModelShapes.check(tensors, preset, second, file, ctx.backend());
            CrdModel model = new CrdModel(ctx, preset, second);
            model.setSemantics(FusionSemantics.parse(meta.path("fusion_semantics").asText("detached")));
            String name = file.getFileName().toString();
            model.teacher().loadStateDict(tensors, "teacher.", name);
            model.rgbBranch().loadStateDict(tensors, "rgb.", name);
            model.otherBranch().loadStateDict(tensors, second.key() + ".", name);
            return new Loaded(model, meta);
        } catch (IllegalArgumentException e) {
            throw new WeightsFormatException(file, "metadata: " + e.getMessage());
        }
    }

    /** True when the file starts like a safetensors file (8-byte header length then '{'), not like a .pth. */
    public static boolean looksLikeModelFile(Path file) throws IOException {
        try (var in = java.nio.file.Files.newInputStream(file)) {
            byte[] head = in.readNBytes(9);
            return head.length == 9 && head[8] == '{';
        }
    }
}
