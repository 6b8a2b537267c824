package crd4j.cli;

import crd4j.data.ImageInputs;
import crd4j.data.SecondInput;
import crd4j.tensor.HostTensor;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The input options shared by {@code inspect} and {@code detect}: preprocessed tensors or raw files, preprocessed at
 * the model's input side. Either modality may be left out (few-modal scoring), not both.
 */
final class SampleInputs {
    @Option(names = "--rgb", description = "Preprocessed RGB input .npy, float32 [1,3,S,S].")
    Path rgb;

    @Option(names = "--depth", description = "Preprocessed second-modality input .npy (depth or normals), float32 [1,3,S,S].")
    Path depth;

    @Option(names = "--rgb-image", description = "Raw RGB image (PNG), resized to the model's input side S and ImageNet-normalised.")
    Path rgbImage;

    @Option(names = "--xyz", description = "Raw organized point cloud (float32 xyz TIFF, MVTec 3D-AD), turned into the model's second"
            + " input at side S: a depth map, or surface normals computed from it (normals-from-depth models).")
    Path xyz;

    @Option(names = "--normals", description = "Raw surface-normals image (PNG, Eyecandies), preprocessed like RGB at side S.")
    Path normals;

    /**
     * The network inputs, read and checked; either may be null (missing modality).
     */
    record Loaded(HostTensor rgb, HostTensor other, Path rgbFile, Path otherFile) {
        boolean complete() { return rgb != null && other != null; }

        /** The input file named first, for messages. */
        Path anyFile() { return rgbFile != null ? rgbFile : otherFile; }
    }

    /** Whether raw files were given (they are preprocessed at the model's side, so the model must be known first). */
    boolean raw() { return rgbImage != null || xyz != null || normals != null; }

    /** Whether any input option was given. */
    boolean any() { return raw() || rgb != null || depth != null; }

    /**
     * Checks the options given against each other and against {@code second} (the model's second input): at most
     * one file per modality, at least one modality (both unless {@code allowMissing}), and the raw option that names
     * the model's kind of file ({@code --xyz} for depth and normals-from-depth, {@code --normals} for normals).
     */
    void check(boolean allowMissing, SecondInput second) {
        if (rgb != null && rgbImage != null) throw new IllegalArgumentException("give at most one of --rgb (preprocessed .npy) or --rgb-image (raw PNG)");
        int seconds = (depth == null ? 0 : 1) + (xyz == null ? 0 : 1) + (normals == null ? 0 : 1);
        if (seconds > 1) throw new IllegalArgumentException("give at most one of --depth (preprocessed .npy), --xyz (raw TIFF) or --normals (raw PNG)");
        boolean hasRgb = rgb != null || rgbImage != null, hasSecond = seconds == 1;
        if (!hasRgb && !hasSecond) {
            throw new IllegalArgumentException("no input: give --rgb or --rgb-image, and/or --depth, --xyz or --normals");
        }
        if (!allowMissing && !(hasRgb && hasSecond)) {
            throw new IllegalArgumentException(hasRgb ? "give the second modality too: --depth (preprocessed .npy), --xyz (raw TIFF) or --normals (raw PNG)"
                    : "give the RGB input too: --rgb (preprocessed .npy) or --rgb-image (raw PNG)");
        }
        if (xyz != null && second.kind().folder().equals("normals")) {
            throw new IllegalArgumentException(xyz + ": an xyz TIFF, but the model's second input is " + second.describe() + " (give --normals)");
        }
        if (normals != null && second.kind() != SecondInput.Kind.NORMALS) {
            throw new IllegalArgumentException(normals + ": a normals PNG, but the model's second input is " + second.describe()
                    + " (give --xyz)");
        }
    }

    /** The RGB file given (preprocessed .npy or raw PNG), or null. */
    Path rgbFile() { return rgb != null ? rgb : rgbImage; }

    /** The second-modality file given (preprocessed .npy, xyz TIFF or normals PNG), or null. */
    Path secondFile() { return depth != null ? depth : xyz != null ? xyz : normals; }

    /**
     * Reads the inputs; raw files are preprocessed at side {@code size}, the second one as {@code second} says (the
     * model's recorded second input: depth, normals, or normals computed from depth). With {@code allowMissing} either
     * modality may be absent (not both).
     */
    Loaded load(int size, boolean allowMissing, SecondInput second) throws IOException {
        check(allowMissing, second);
        HostTensor x = rgb != null ? given(rgb) : rgbImage != null ? ImageInputs.rgbInput(rgbImage, size) : null;
        Path raw = xyz != null ? xyz : normals;
        HostTensor y = depth != null ? given(depth) : raw != null ? second.preprocess(raw, size) : null;
        Path xFile = rgb != null ? rgb : rgbImage, yFile = depth != null ? depth : raw;
        if (x != null && y != null && !Arrays.equals(x.shape(), y.shape())) {
            throw new IllegalArgumentException(yFile + ": shape " + Arrays.toString(y.shape()) + " differs from "
                    + xFile + " " + Arrays.toString(x.shape()));
        }
        return new Loaded(x, y, xFile, yFile);
    }

    /**
     * The second input when no model file records it (a reference .pth, or preprocessing only): {@code --normals}
     * gives normals; an xyz TIFF gives {@code --second} (default depth) with {@code --sobel-k} (default 5, the
     * reference's k for classes without their own).
     */
    SecondInput secondWithoutModel(SecondInputOptions options) {
        if (normals != null) {
            if (options.kind() != null && options.kind() != SecondInput.Kind.NORMALS) {
                throw new IllegalArgumentException("--second " + options.kind().key() + ": --normals gives a normals PNG");
            }
            return SecondInput.NORMALS;
        }
        SecondInput.Kind k = options.kind() == null ? SecondInput.Kind.DEPTH : options.kind();
        return SecondInput.of(k, options.sobelK(), "");
    }

    /** The preset side of preprocessed inputs (for a model built from a teacher .pth), or 256 for raw files alone. */
    int sizeOfGivenTensors() throws IOException {
        Path f = rgb != null ? rgb : depth;
        return f == null ? ImageInputs.SIZE : (int) given(f).dim(2);
    }

    /** Checks loaded inputs against a model's input side S. */
    static void checkAgainst(Loaded in, int size, String modelName) {
        for (HostTensor t : new HostTensor[]{in.rgb(), in.other()}) {
            if (t != null && t.dim(2) != size) {
                throw new IllegalArgumentException((t == in.rgb() ? in.rgbFile() : in.otherFile()) + ": expected input [1,3," + size + ","
                        + size + "] for " + modelName + ", found " + Arrays.toString(t.shape()));
            }
        }
    }

    /** Preprocessed inputs already read (sizeOfGivenTensors reads one before load does). */
    private final java.util.Map<Path, HostTensor> read = new java.util.HashMap<>();

    private HostTensor given(Path f) throws IOException {
        HostTensor t = read.get(f);
        if (t == null) read.put(f, t = readInput(f));
        return t;
    }

    static HostTensor readInput(Path f) throws IOException {
        HostTensor t = crd4j.io.Npy.read(f);
        long[] s = t.shape();
        if (s.length != 4 || s[0] < 1 || s[1] != 3 || s[2] != s[3] || s[2] % 32 != 0 || s[2] < 64) {
            throw new crd4j.io.WeightsFormatException(f, "expected a preprocessed input of shape [1, 3, S, S] with S a multiple of 32"
                    + " (256 for the paper preset), found " + Arrays.toString(s));
        }
        if (!t.dtype().isFloating()) throw new crd4j.io.WeightsFormatException(f, "expected float32 data, found " + t.dtype());
        HostTensor f32 = t.toFloat32();
        String bad = crd4j.tensor.Finite.describe(f32);   // a float64 value beyond float32's range becomes Inf here: caught too
        if (bad != null) throw new crd4j.io.WeightsFormatException(f, "holds " + bad + " (expected finite values: no score is given for it)");
        return f32;
    }
}
