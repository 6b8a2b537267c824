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
 *  "fusion_semantics": "detached", "mapping": true (only with a mapping network),
 *  "stats": null | {"rgb": {"mean": m, "std": s, "modes": {...}}, "depth": {...}},
 *  ...training information: "recipe", "seed", "second_input", "sobel_k" (crd4j.data.SecondInput)}</pre>
 * {@code stats} holds the validation statistics of §8.2 (and, under {@code modes}, those of the few-modal scoring modes,
 * §17.2) once a training run has computed them; {@code mapping.*} tensors hold the optional mapping network. The
 * training information ({@code info} of {@link #save(CrdModel, Path, String, ObjectNode, ObjectNode)}) is copied in as
 * given; files without it are read as before.
 */
public final class ModelFiles {
    public static final String FORMAT = "crd4j-model";
    public static final int VERSION = 1;
    /** Tensor-name prefix of the optional few-modal mapping network ({@code crd train --mapping}). */
    public static final String MAPPING_PREFIX = "mapping.";
    private static final ObjectMapper JSON = new ObjectMapper();
    /**
     * The crd4j version that writes model files (metadata {@code crd4j_version}): the jar's Implementation-Version,
     * else Maven's pom.properties, else "dev" (classes run from a source checkout).
     */
    public static final String CRD4J_VERSION = version();

    private ModelFiles() {}

    private static String version() {
        String v = ModelFiles.class.getPackage().getImplementationVersion();
        if (v != null) return v;
        try (var in = ModelFiles.class.getResourceAsStream("/META-INF/maven/crd4j/crd4j/pom.properties")) {
            if (in != null) {
                java.util.Properties p = new java.util.Properties();
                p.load(in);
                if (p.getProperty("version") != null) return p.getProperty("version");
            }
        } catch (IOException ignored) {
            // fall through
        }
        return "dev";
    }

    public record Loaded(CrdModel model, ObjectNode meta) {}

    public static void save(CrdModel model, Path file, String teacherSource, ObjectNode stats) throws IOException {
        save(model, file, teacherSource, stats, null);
    }

    /** As {@link #save(CrdModel, Path, String, ObjectNode)} with training information fields added to the metadata. */
    public static void save(CrdModel model, Path file, String teacherSource, ObjectNode stats, ObjectNode info) throws IOException {
        ModelFile.write(file, tensors(model), meta(model, teacherSource, stats, info));
    }

    /** Every tensor of the model file: {@code teacher.*}, {@code rgb.*}, {@code <modality>.*}. */
    public static Map<String, HostTensor> tensors(CrdModel model) {
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        put(tensors, "teacher.", model.teacher().stateDict());
        put(tensors, "rgb.", model.rgbBranch().stateDict());
        put(tensors, model.secondModality().key() + ".", model.otherBranch().stateDict());
        if (model.mapping() != null) put(tensors, MAPPING_PREFIX, model.mapping().stateDict());
        return tensors;
    }

    /** The model file's metadata (see the class comment). */
    public static ObjectNode meta(CrdModel model, String teacherSource, ObjectNode stats) {
        return meta(model, teacherSource, stats, null);
    }

    /** The model file's metadata with {@code info}'s fields (training information; may be null) after the others. */
    public static ObjectNode meta(CrdModel model, String teacherSource, ObjectNode stats, ObjectNode info) {
        ObjectNode meta = JSON.createObjectNode();
        meta.put("format", FORMAT);
        meta.put("version", VERSION);
        presetNode(meta, model.preset());
        meta.putArray("modalities").add("rgb").add(model.secondModality().key());
        meta.put("teacher", teacherSource);
        meta.put("fusion_semantics", model.semantics().name().toLowerCase(java.util.Locale.ROOT));
        if (model.mapping() != null) meta.put("mapping", true);
        if (stats == null) meta.putNull("stats");
        else meta.set("stats", stats);
        if (info != null) info.fields().forEachRemaining(e -> { if (!meta.has(e.getKey())) meta.set(e.getKey(), e.getValue()); });
        meta.put("crd4j_version", CRD4J_VERSION);
        return meta;
    }

    private static void presetNode(ObjectNode meta, Preset preset) {
        ObjectNode p = meta.putObject("preset");
        p.put("name", preset.name());
        p.put("base", preset.base());
        p.put("size", preset.size());
    }

    /**
     * The preset a model file's metadata names: {@code {"name", "base", "size"}}, a known preset (paper, small, tiny)
     * or {@code custom}, with base and size. Errors (IllegalArgumentException) name the field.
     */
    public static Preset presetOf(ObjectNode meta) {
        com.fasterxml.jackson.databind.JsonNode p = meta.get("preset");
        if (p == null || !p.isObject()) throw new IllegalArgumentException("metadata 'preset': missing (expected {\"name\", \"base\", \"size\"})");
        if (!p.path("base").isIntegralNumber() || !p.path("base").canConvertToInt() || !p.path("size").isIntegralNumber() || !p.path("size").canConvertToInt()) {
            throw new IllegalArgumentException("metadata 'preset.base'/'preset.size': expected integers, found " + p);
        }
        String name = p.path("name").asText("custom");
        int base = p.path("base").asInt(), size = p.path("size").asInt();
        // a known name with other base/size is left to ModelShapes.check, which names the tensor that disagrees
        if (!name.equals("custom") && Preset.all().stream().noneMatch(k -> k.name().equals(name))) {
            throw new IllegalArgumentException("metadata 'preset.name': expected paper, small, tiny or custom, found '" + name + "'");
        }
        try {
            return new Preset(name, base, size);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("metadata 'preset': " + e.getMessage());
        }
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
            Preset preset = presetOf(meta);
            Modality second = Modality.parse(meta.path("modalities").path(1).asText("?"));
            // Shapes first: building the model allocates what the preset says, which the file must back (issue 13).
            ModelShapes.check(tensors, preset, second, file, ctx.backend());
            // every weight is loaded below, strictly (a missing key is an error): build from zeros instead of drawing
            // initial values only to overwrite them (≈ 10 s for the paper preset; NnContext.forLoading)
            NnContext build = NnContext.forLoading(ctx.backend(), ctx.dtype());
            CrdModel model = new CrdModel(build, preset, second);
            model.setSemantics(FusionSemantics.parse(meta.path("fusion_semantics").asText("detached")));
            String name = file.getFileName().toString();
            model.teacher().loadStateDict(tensors, "teacher.", name);
            model.rgbBranch().loadStateDict(tensors, "rgb.", name);
            model.otherBranch().loadStateDict(tensors, second.key() + ".", name);
            if (meta.path("mapping").asBoolean(false)) {
                MappingNetwork m = new MappingNetwork(build, preset, model.branchKeys());
                m.loadStateDict(tensors, MAPPING_PREFIX, name);
                model.setMapping(m);
            }
            return new Loaded(model, meta);
        } catch (IllegalArgumentException e) {
            throw new WeightsFormatException(file, e.getMessage() != null && e.getMessage().startsWith("metadata") ? e.getMessage() : "metadata: " + e.getMessage());
        }
    }

    /** The metadata format of a single-modality Reverse Distillation model file. */
    public static final String RD_FORMAT = "crd4j-rd-model";

    /**
     * A single-modality RD model file: {@code teacher.*}, {@code student.*} (the reference's RD names) and metadata
     * {@code {"format": "crd4j-rd-model", "version": 1, "preset": {...}, "modalities": ["<m>"], "teacher": ...,
     * "stats": null | {"<m>": {"mean": m, "std": s}}}}.
     */
    public static void saveReverseDistillation(ReverseDistillationModel m, Path file, String teacherSource, ObjectNode stats)
            throws IOException {
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        put(tensors, "teacher.", m.teacher().stateDict());
        put(tensors, "student.", m.student().stateDict());
        ObjectNode meta = JSON.createObjectNode();
        meta.put("format", RD_FORMAT);
        meta.put("version", VERSION);
        presetNode(meta, m.preset());
        meta.putArray("modalities").add(m.modality());
        meta.put("teacher", teacherSource);
        if (stats == null) meta.putNull("stats");
        else meta.set("stats", stats);
        meta.put("crd4j_version", CRD4J_VERSION);
        ModelFile.write(file, tensors, meta);
    }

    public record LoadedReverseDistillation(ReverseDistillationModel model, ObjectNode meta) {}

    /** Reads a file of {@link #saveReverseDistillation}. */
    public static LoadedReverseDistillation loadReverseDistillation(ModelFile.Contents c, Path file, NnContext ctx) throws IOException {
        ObjectNode meta = c.meta();
        if (!RD_FORMAT.equals(meta.path("format").asText()) || meta.path("version").asInt(-1) != VERSION) {
            throw new WeightsFormatException(file, "metadata 'format'/'version': expected " + RD_FORMAT + " version " + VERSION);
        }
        try {
            Preset preset = presetOf(meta);
            ReverseDistillationModel m = new ReverseDistillationModel(ctx, preset, meta.path("modalities").path(0).asText("?"));
            String name = file.getFileName().toString();
            m.teacher().loadStateDict(c.tensors(), "teacher.", name);
            m.student().loadStateDict(c.tensors(), "student.", name);
            return new LoadedReverseDistillation(m, meta);
        } catch (IllegalArgumentException e) {
            throw new WeightsFormatException(file, e.getMessage() != null && e.getMessage().startsWith("metadata") ? e.getMessage() : "metadata: " + e.getMessage());
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
