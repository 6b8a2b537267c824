/**
 * MVTec 3D-AD / Eyecandies input pipelines (spec §2, §14), bit-exact with the Python reference:
 * {@link crd4j.data.PillowResize} (Pillow's antialiased BILINEAR for 8-bit images), {@link crd4j.data.ImageInputs}
 * (RGB / normals network input and binarised ground truth from PNG files), {@link crd4j.data.XyzTiff} (organized
 * float32 xyz TIFF) and {@link crd4j.data.DepthPreprocessing} (plane removal, closing, min-max, hole fill, Normalize) and {@link crd4j.data.NormalsFromDepth} (surface normals
 * computed from the xyz TIFF with a Sobel operator, the 2025 reference's second input).
 * {@link crd4j.data.SecondInput} is the one entry point from a raw second-modality file to a network input.
 * Depends only on the JDK (ImageIO), {@code crd4j.tensor}, {@code crd4j.io} (and its JSON metadata type) and
 * {@code crd4j.model.Modality}.
 */
package crd4j.data;
