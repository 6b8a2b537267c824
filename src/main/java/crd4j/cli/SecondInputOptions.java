package crd4j.cli;

import crd4j.data.NormalsFromDepth;
import crd4j.data.SecondInput;
import picocli.CommandLine.Option;

/**
 * {@code --second} and {@code --sobel-k}, the same options for every command that chooses the second modality
 * ({@code train}, {@code eval}, {@code demo}). Training uses them to choose the input; scoring uses the model file's
 * recorded input and checks them against it.
 */
final class SecondInputOptions {
    @Option(names = "--second", paramLabel = "KIND",
            description = "Second modality: depth (depth map from the xyz TIFF) | normals (Eyecandies' normals PNG) | "
                    + "normals-from-depth (surface normals computed from the xyz TIFF with a Sobel operator, as the 2025 "
                    + "reference does). train/demo default: from the data (xyz TIFFs: the recipe's choice, depth for "
                    + "paper-2024; normals PNGs: normals). eval: the model's (checked if given).")
    String second;

    @Option(names = "--sobel-k", paramLabel = "K",
            description = "Sobel kernel size for normals-from-depth: 1, 3, 5 or 7 (default: the reference's per-class k: "
                    + "cookie 3; dowel, foam, tire 7; any other class 5). eval: the model's (checked if given).")
    Integer sobelK;

    /** The {@code --second} kind, or null when not given. */
    SecondInput.Kind kind() {
        return second == null ? null : SecondInput.Kind.parse(second, "--second");
    }

    /** The {@code --sobel-k} value checked, or null when not given. */
    Integer sobelK() {
        if (sobelK != null) NormalsFromDepth.checkSobelK(sobelK);
        if (sobelK != null && second != null && kind() != SecondInput.Kind.NORMALS_FROM_DEPTH) {
            throw new IllegalArgumentException("--sobel-k applies only to --second normals-from-depth (found --second " + second + ")");
        }
        return sobelK;
    }

    /** What scoring was asked to use (null parts: the model's). */
    SecondInput.Choice choice() {
        return new SecondInput.Choice(kind(), sobelK());
    }
}
