package crd4j.cli;

import crd4j.data.DepthPreprocessing;
import crd4j.data.ImageInputs;
import crd4j.model.Modality;
import crd4j.tensor.HostTensor;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

/** The input options shared by {@code inspect} and {@code detect}: preprocessed tensors or raw files (spec §2). */
final class SampleInputs {
    @Option(names = "--rgb", description = "Preprocessed RGB input .npy, float32 [1,3,S,S].")
    Path rgb;

    @Option(names = "--depth", description = "Preprocessed depth input .npy, float32 [1,3,S,S].")
    Path depth;

    @Option(names = "--rgb-image", description = "Raw RGB image (PNG), preprocessed as spec §2.2 to [1,3,256,256].")
    Path rgbImage;

    @Option(names = "--xyz", description = "Raw organized point cloud (float32 xyz TIFF, MVTec 3D-AD), preprocessed to the depth input (§2.3).")
    Path xyz;

    @Option(names = "--normals", description = "Raw surface-normals image (PNG, Eyecandies §14), preprocessed like RGB.")
    Path normals;

    /** Both network inputs, read and checked; {@code second} tells which modality the second one is. */
    record Loaded(HostTensor rgb, HostTensor other, Modality second, Path rgbFile) {}

    Loaded load() throws IOException {
        if ((rgb == null) == (rgbImage == null)) {
            throw new IllegalArgumentException("give exactly one of --rgb (preprocessed .npy) or --rgb-image (raw PNG)");
        }
        if ((depth == null ? 0 : 1) + (xyz == null ? 0 : 1) + (normals == null ? 0 : 1) != 1) {
            throw new IllegalArgumentException("give exactly one of --depth (preprocessed .npy), --xyz (raw TIFF) or --normals (raw PNG)");
        }
        HostTensor x = rgb != null ? readInput(rgb) : ImageInputs.rgbInput(rgbImage);
        HostTensor y = depth != null ? readInput(depth)
                : xyz != null ? DepthPreprocessing.depthInput(xyz) : ImageInputs.normalsInput(normals);
        Path xFile = rgb != null ? rgb : rgbImage, yFile = depth != null ? depth : xyz != null ? xyz : normals;
        if (!Arrays.equals(x.shape(), y.shape())) {
            throw new IllegalArgumentException(yFile + ": shape " + Arrays.toString(y.shape()) + " differs from "
                    + xFile + " " + Arrays.toString(x.shape()));
        }
        return new Loaded(x, y, normals != null ? Modality.NORMALS : Modality.DEPTH, xFile);
    }

    static HostTensor readInput(Path f) throws IOException {
        HostTensor t = crd4j.io.Npy.read(f);
        long[] s = t.shape();
        if (s.length != 4 || s[0] < 1 || s[1] != 3 || s[2] != s[3] || s[2] % 32 != 0 || s[2] < 64) {
            throw new crd4j.io.WeightsFormatException(f, "expected a preprocessed input of shape [1, 3, S, S] with S a multiple of 32"
                    + " (256 for the paper preset), found " + Arrays.toString(s));
        }
        if (!t.dtype().isFloating()) throw new crd4j.io.WeightsFormatException(f, "expected float32 data, found " + t.dtype());
        return t.toFloat32();
    }
}
