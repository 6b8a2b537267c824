package crd4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.io.WeightsFormatException;
import crd4j.model.Modality;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What the second branch of a CRD model is fed, and how a raw file becomes that input: the one place that maps a
 * second-modality file to a network input, for training, evaluation, detection and inspection alike.
 *
 * <ul>
 *   <li>{@link Kind#DEPTH}: the xyz TIFF → depth map (spec §2.3, {@link DepthPreprocessing}); the "depth" branch.</li>
 *   <li>{@link Kind#NORMALS}: Eyecandies' surface-normals PNG through the RGB transform (§14); the "normals" branch.</li>
 *   <li>{@link Kind#NORMALS_FROM_DEPTH}: surface normals computed from the xyz TIFF with a Sobel kernel of size
 *       {@code sobelK} (§16.1, {@link NormalsFromDepth}); a "normals" branch fed from xyz files.</li>
 * </ul>
 *
 * <p>A model file records its second input in its metadata ({@code "second_input"}, and {@code "sobel_k"} for
 * normals-from-depth; {@link #writeTo}, {@link #ofModel}); files written before these fields existed are read as
 * depth or normals from their {@code "modalities"}.
 *
 * @param sobelK the Sobel kernel size (1, 3, 5 or 7) for {@link Kind#NORMALS_FROM_DEPTH}, 0 for the other kinds
 */
public record SecondInput(Kind kind, int sobelK) {
    /** Metadata keys in a model file. */
    public static final String META_KIND = "second_input", META_SOBEL_K = "sobel_k";

    /** The kinds of second input, by the names the {@code --second} option uses. */
    public enum Kind {
        DEPTH("depth", Modality.DEPTH, "xyz", ".tiff"),
        NORMALS("normals", Modality.NORMALS, "normals", ".png"),
        NORMALS_FROM_DEPTH("normals-from-depth", Modality.NORMALS, "xyz", ".tiff");

        private final String key;
        private final Modality branch;
        private final String folder, extension;

        Kind(String key, Modality branch, String folder, String extension) {
            this.key = key;
            this.branch = branch;
            this.folder = folder;
            this.extension = extension;
        }

        /** The option value and metadata name ({@code depth}, {@code normals}, {@code normals-from-depth}). */
        public String key() { return key; }

        /** The branch it feeds (its name in model files, metrics and reports). */
        public Modality branch() { return branch; }

        /** The sample folder holding its files ({@code xyz} or {@code normals}). */
        public String folder() { return folder; }

        /** The file name extension of its files ({@code .tiff} or {@code .png}). */
        public String extension() { return extension; }

        /** Parses an option value; the error names {@code option}. */
        public static Kind parse(String s, String option) {
            for (Kind k : values()) if (k.key.equals(s.toLowerCase(Locale.ROOT))) return k;
            throw new IllegalArgumentException(option + ": expected depth, normals or normals-from-depth, found '" + s + "'");
        }
    }

    public SecondInput {
        if (kind == null) throw new IllegalArgumentException("second input kind missing");
        if (kind == Kind.NORMALS_FROM_DEPTH) NormalsFromDepth.checkSobelK(sobelK);
        else if (sobelK != 0) throw new IllegalArgumentException("--sobel-k applies only to --second normals-from-depth (found --second " + kind.key + ")");
    }

    public static final SecondInput DEPTH = new SecondInput(Kind.DEPTH, 0);
    public static final SecondInput NORMALS = new SecondInput(Kind.NORMALS, 0);

    /** Normals computed from depth with Sobel kernel size {@code k}. */
    public static SecondInput normalsFromDepth(int k) {
        return new SecondInput(Kind.NORMALS_FROM_DEPTH, k);
    }

    /**
     * The second input a user asked for: {@code kind} with {@code sobelK} (null = the class's default for
     * normals-from-depth, {@link NormalsFromDepth#defaultSobelK}); {@code sobelK} given with another kind is an error
     * naming {@code --sobel-k}.
     */
    public static SecondInput of(Kind kind, Integer sobelK, String category) {
        if (kind == Kind.NORMALS_FROM_DEPTH) return normalsFromDepth(sobelK != null ? sobelK : NormalsFromDepth.defaultSobelK(category));
        if (sobelK != null) throw new IllegalArgumentException("--sobel-k applies only to --second normals-from-depth (found --second " + kind.key + ")");
        return new SecondInput(kind, 0);
    }

    /** The branch this input feeds. */
    public Modality branch() { return kind.branch; }

    /** {@code depth}, {@code normals} or {@code normals-from-depth (Sobel k=5)}, for logs and reports. */
    public String describe() {
        return kind == Kind.NORMALS_FROM_DEPTH ? kind.key + " (Sobel k=" + sobelK + ")" : kind.key;
    }

    /** The network input [1,3,size,size] float32 of one raw second-modality file of this kind. */
    public HostTensor preprocess(Path file, int size) throws IOException {
        return preprocess(file, kind, sobelK, size);
    }

    /**
     * The network input [1,3,size,size] float32 of one raw second-modality file: an xyz TIFF for {@code depth} and
     * {@code normals-from-depth} (with Sobel kernel size {@code sobelK}, ignored otherwise), a normals PNG for
     * {@code normals}. Bad files are {@link WeightsFormatException}s naming the file; a bad {@code sobelK} is an
     * {@link IllegalArgumentException} naming {@code --sobel-k}.
     */
    public static HostTensor preprocess(Path file, Kind kind, int sobelK, int size) throws IOException {
        return switch (kind) {
            case DEPTH -> DepthPreprocessing.depthInput(file, size);
            case NORMALS -> ImageInputs.normalsInput(file, size);
            case NORMALS_FROM_DEPTH -> NormalsFromDepth.normalsInput(file, sobelK, size);
        };
    }

    /** Records this input in model-file metadata: {@code "second_input"} and {@code "sobel_k"} (null unless normals-from-depth). */
    public ObjectNode writeTo(ObjectNode meta) {
        meta.put(META_KIND, kind.key);
        if (kind == Kind.NORMALS_FROM_DEPTH) meta.put(META_SOBEL_K, sobelK);
        else meta.putNull(META_SOBEL_K);
        return meta;
    }

    /**
     * The second input recorded in a model file's (or training state's model) metadata; {@code file} names it in
     * errors. Without {@code "second_input"} (files from before it existed) it is the second of {@code "modalities"}:
     * depth or normals. The recorded kind must feed the recorded branch.
     */
    public static SecondInput ofModel(ObjectNode meta, Path file) throws WeightsFormatException {
        String branch = meta.path("modalities").path(1).asText("");
        JsonNode k = meta.get(META_KIND);
        if (k == null || k.isNull()) {
            return switch (branch) {
                case "depth" -> DEPTH;
                case "normals" -> NORMALS;
                default -> throw new WeightsFormatException(file, "metadata 'modalities': expected [\"rgb\", \"depth\"|\"normals\"], found "
                        + meta.path("modalities"));
            };
        }
        Kind kind;
        try {
            kind = Kind.parse(k.asText(), "metadata '" + META_KIND + "'");
        } catch (IllegalArgumentException e) {
            throw new WeightsFormatException(file, e.getMessage());
        }
        if (!kind.branch.key().equals(branch)) {
            throw new WeightsFormatException(file, "metadata '" + META_KIND + "' is " + kind.key + ", which feeds a "
                    + kind.branch.key() + " branch, but 'modalities' names " + WeightsFormatException.quote(branch));
        }
        if (kind != Kind.NORMALS_FROM_DEPTH) return new SecondInput(kind, 0);
        JsonNode s = meta.get(META_SOBEL_K);
        if (s == null || !s.isInt()) {
            throw new WeightsFormatException(file, "metadata '" + META_SOBEL_K + "': expected the Sobel kernel size (1, 3, 5 or 7) of"
                    + " normals-from-depth, found " + (s == null ? "nothing" : s.toString()));
        }
        try {
            return normalsFromDepth(s.asInt());
        } catch (IllegalArgumentException e) {
            throw new WeightsFormatException(file, "metadata '" + META_SOBEL_K + "': expected 1, 3, 5 or 7, found " + s.asInt());
        }
    }

    @Override
    public String toString() { return describe(); }

    /**
     * What a user asked for when scoring with a model ({@code --second}, {@code --sobel-k}); a null part means "the
     * model's". Scoring needs the model's own input, so a choice is only ever checked against it.
     */
    public record Choice(Kind kind, Integer sobelK) {
        /** Nothing asked: use the model's second input. */
        public static final Choice MODEL = new Choice(null, null);

        /**
         * Throws a {@link WeightsFormatException} naming {@code modelFile} when {@code model} (its recorded input) is
         * not what was asked for.
         */
        public void check(SecondInput model, Path modelFile) throws WeightsFormatException {
            if (kind != null && kind != model.kind()) {
                throw new WeightsFormatException(modelFile, "the model was trained on " + model.describe() + " input, not "
                        + kind.key() + " (--second); a model scores only the kind of input it was trained on");
            }
            if (sobelK != null) {
                if (model.kind() != Kind.NORMALS_FROM_DEPTH) {
                    throw new WeightsFormatException(modelFile, "--sobel-k " + sobelK + ": the model was trained on "
                            + model.describe() + " input; --sobel-k applies only to normals-from-depth");
                }
                if (sobelK != model.sobelK()) {
                    throw new WeightsFormatException(modelFile, "the model was trained on " + model.describe()
                            + " input, not Sobel k=" + sobelK + " (--sobel-k)");
                }
            }
        }
    }
}
