package crd4j.detect;

import crd4j.data.ImageInputs;
import crd4j.data.SecondInput;
import crd4j.io.Npy;
import crd4j.io.WeightsFormatException;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A model's own preprocessing: turns the files of one part into the network inputs at the model's input side S and
 * as the model's second modality (depth map, normals PNG, or normals computed from the xyz TIFF with the model's
 * Sobel k). What {@link Detector#score(Path, Path)}, {@code crd detect} and {@code crd inspect} share; {@code crd eval}
 * reads its dataset with the same {@link SecondInput} and {@link ImageInputs} calls.
 *
 * <p>A file is recognised by its first bytes, not its name: a PNG image, an xyz TIFF, or a preprocessed {@code .npy}
 * tensor [1,3,S,S]. A file of the wrong kind for its place (an xyz TIFF as the RGB input; a normals PNG for a
 * depth model; a preprocessed tensor of another size; a preprocessed normals tensor for a depth model, told by its
 * three channels differing where a depth input repeats one channel three times) is one
 * {@link WeightsFormatException} naming the file and what was expected.
 */
public final class ModelInputs {
    private final int size;
    private final SecondInput second;
    private final String model;

    /** {@code model} names the model (a file) in errors; may be null. */
    public ModelInputs(int size, SecondInput second, String model) {
        this.size = size;
        this.second = second;
        this.model = model == null ? "this model" : model;
    }

    /** The input side S. */
    public int size() { return size; }

    /** How the second modality is made; null for an RGB-only model. */
    public SecondInput secondInput() { return second; }

    /** The kinds of file this class tells apart by their first bytes. */
    public enum FileKind { PNG, TIFF, NPY, OTHER }

    public static FileKind kindOf(Path f) throws IOException {
        if (Files.isDirectory(f)) throw new WeightsFormatException(f, "is a directory (expected an input file)");
        if (!Files.isRegularFile(f)) throw new WeightsFormatException(f, "no such file");
        byte[] h;
        try (InputStream in = Files.newInputStream(f)) {
            h = in.readNBytes(8);
        }
        if (h.length >= 8 && (h[0] & 0xff) == 0x89 && h[1] == 'P' && h[2] == 'N' && h[3] == 'G') return FileKind.PNG;
        if (h.length >= 4 && ((h[0] == 'I' && h[1] == 'I' && h[2] == 42 && h[3] == 0) || (h[0] == 'M' && h[1] == 'M' && h[2] == 0 && h[3] == 42))) {
            return FileKind.TIFF;
        }
        if (h.length >= 6 && (h[0] & 0xff) == 0x93 && h[1] == 'N' && h[2] == 'U' && h[3] == 'M' && h[4] == 'P' && h[5] == 'Y') return FileKind.NPY;
        return FileKind.OTHER;
    }

    /** The part's network inputs; either file may be null (a missing modality), not both. */
    public Sample load(Path rgb, Path secondFile) throws IOException {
        if (rgb == null && secondFile == null) throw new IllegalArgumentException("no input: give an RGB file, a second-modality file, or both");
        return Sample.of(rgb == null ? null : rgb(rgb), secondFile == null ? null : second(secondFile));
    }

    /** The RGB input [1,3,S,S] of a PNG (resized to S, ImageNet-normalised) or a preprocessed .npy. */
    public HostTensor rgb(Path f) throws IOException {
        return switch (kindOf(f)) {
            case PNG -> ImageInputs.rgbInput(f, size);
            case NPY -> tensor(f, "RGB");
            case TIFF -> throw new WeightsFormatException(f, "an xyz TIFF given as the RGB input (expected a PNG image or a preprocessed .npy)");
            case OTHER -> throw new WeightsFormatException(f, "not a PNG image or a preprocessed .npy (expected the RGB input)");
        };
    }

    /** The second-modality input [1,3,S,S] of a raw file of the model's kind, or a preprocessed .npy. */
    public HostTensor second(Path f) throws IOException {
        if (second == null) throw new IllegalArgumentException(model + " takes an RGB input only");
        boolean xyz = second.kind().folder().equals("xyz");
        switch (kindOf(f)) {
            case TIFF -> {
                if (!xyz) throw new WeightsFormatException(f, "an xyz TIFF, but " + model + " takes " + second.describe() + " input (a normals PNG)");
                return second.preprocess(f, size);
            }
            case PNG -> {
                if (xyz) throw new WeightsFormatException(f, "a PNG image, but " + model + " takes " + second.describe() + " input (an xyz TIFF)");
                return second.preprocess(f, size);
            }
            case NPY -> {
                HostTensor t = tensor(f, second.branch().key());
                checkKind(t, f.toString());
                return t;
            }
            default -> throw new WeightsFormatException(f, "not an xyz TIFF, a PNG image or a preprocessed .npy (expected the "
                    + second.describe() + " input)");
        }
    }

    /**
     * Checks a preprocessed second-modality tensor against the model's kind, where that can be told: a depth input
     * repeats one channel three times (spec §2.3), so a tensor whose channels differ is not one. Normals inputs have no
     * such signature, so a depth tensor given to a normals model cannot be told apart and is not refused.
     */
    public void checkKind(HostTensor t, String what) {
        if (second == null || second.kind() != SecondInput.Kind.DEPTH) return;
        int hw = size * size;
        float[] v = t.toFloat32().floats();
        for (int i = 0; i < hw; i++) {
            if (v[i] != v[hw + i] || v[i] != v[2 * hw + i]) {
                throw new IllegalArgumentException(what + ": its three channels differ, so it is not a depth input (a depth map repeated to"
                        + " 3 channels), but " + model + " takes depth input; was it a normals tensor?");
            }
        }
    }

    /** A given tensor's shape against [1,3,S,S]; one line naming {@code what} otherwise. */
    void checkShape(HostTensor t, String what) {
        long[] want = {1, 3, size, size};
        if (!Arrays.equals(t.shape(), want)) {
            throw new IllegalArgumentException(what + ": expected shape " + Arrays.toString(want) + " for " + model + " (input side "
                    + size + "), got " + Arrays.toString(t.shape()));
        }
    }

    private HostTensor tensor(Path f, String which) throws IOException {
        HostTensor t = Npy.read(f);
        if (!t.dtype().isFloating()) throw new WeightsFormatException(f, "expected float32 data for the " + which + " input, found " + t.dtype());
        long[] want = {1, 3, size, size};
        if (!Arrays.equals(t.shape(), want)) {
            throw new WeightsFormatException(f, "expected a preprocessed " + which + " input [1,3," + size + "," + size + "] for "
                    + model + " (input side " + size + "), found " + Arrays.toString(t.shape()));
        }
        HostTensor f32 = t.toFloat32();
        String bad = crd4j.tensor.Finite.describe(f32);   // a float64 value beyond float32's range becomes Inf here: caught too
        if (bad != null) throw new WeightsFormatException(f, "holds " + bad + " (expected finite values: no score is given for it)");
        return f32;
    }
}
