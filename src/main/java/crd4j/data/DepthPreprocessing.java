package crd4j.data;

import crd4j.io.WeightsFormatException;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The depth network input made from an organized xyz TIFF (spec §2.3, §10 item 2).
 *
 * <ol>
 *   <li>OpenCV {@code INTER_NEAREST} resize to 256×256 of all 3 channels. OpenCV takes source index
 *       {@code min(floor(dst·(1/(256/W))), W−1)}: the reciprocal of the rounded inverse scale, which is <em>not</em>
 *       always {@code floor(dst·W/256)} (it differs e.g. for W = 422, 442, 782, 786, 792); this class uses OpenCV's
 *       form.</li>
 *   <li>Background plane through the means of the valid points of the three corner 3×3 patches (top-left p1,
 *       top-right p2, bottom-left p3): {@code n = (p3−p1)×(p2−p1)}, {@code d = n·p3}; foreground where
 *       {@code |n·xyz − d|/‖n‖ > 0.005} and the point is not missing. All in float64.</li>
 *   <li>Morphological closing, 3×3 box, 3 iterations: a 7×7 max filter then a 7×7 min filter, windows clipped at the
 *       border (equal to {@code cv2.morphologyEx(MORPH_CLOSE, iterations=3)}).</li>
 *   <li>{@code z·fg}; min-max of the nonzero values to [0.1, 0.9]; missing/background stay 0.</li>
 *   <li>Two hole-fill iterations: each zero pixel becomes (3×3 sum)/(count of positive neighbours + 1e-12), zero
 *       padding.</li>
 *   <li>float32, repeated to 3 channels, ImageNet Normalize in float32 → [1,3,256,256].</li>
 * </ol>
 *
 * <p><b>Invalid clouds</b> (a choice, the reference would silently produce NaN or crash inside numpy): a cloud with a
 * NaN or infinite coordinate, a cloud without any valid point after resizing, one whose foreground is empty (also the
 * case for a degenerate corner plane, e.g. all corner patches missing) and one whose foreground depth is constant are
 * refused with a {@link WeightsFormatException} naming the file.
 */
public final class DepthPreprocessing {
    public static final int SIZE = ImageInputs.SIZE;
    static final double THRESHOLD = 0.005;

    private DepthPreprocessing() {}

    /** Depth network input [1,3,256,256] float32 from an xyz TIFF. */
    public static HostTensor depthInput(Path xyzTiff) throws IOException {
        return depthInput(XyzTiff.read(xyzTiff), xyzTiff);
    }

    /**
     * Depth network input [1,3,size,size] float32 from an xyz TIFF: §2.3 with 256 replaced by {@code size} (the
     * nearest resize goes straight to {@code size}; corner patches, closing and hole filling are unchanged). Used by
     * the smaller presets.
     */
    public static HostTensor depthInput(Path xyzTiff, int size) throws IOException {
        return normalize(depthMap(XyzTiff.read(xyzTiff), xyzTiff, size), size);
    }

    /** Depth network input [1,3,256,256] float32; {@code file} only names the source in errors. */
    public static HostTensor depthInput(XyzTiff xyz, Path file) throws WeightsFormatException {
        return normalize(depthMap(xyz, file));
    }

    /** Steps 1–5: the float64 [256×256] depth map before normalisation (row-major). */
    public static double[] depthMap(XyzTiff xyz, Path file) throws WeightsFormatException {
        return depthMap(xyz, file, SIZE);
    }

    /** Steps 1–5 at side {@code size} instead of 256 (row-major float64 [size×size]). */
    public static double[] depthMap(XyzTiff xyz, Path file, int size) throws WeightsFormatException {
        final int SIZE = size;
        checkFinite(xyz, file);
        float[] r = resizeNearest(xyz.data(), xyz.width(), xyz.height(), SIZE, SIZE);
        int n = SIZE * SIZE;
        boolean any = false;
        for (int i = 0; i < n && !any; i++) any = r[3 * i + 2] != 0f;
        if (!any) throw new WeightsFormatException(file, "xyz point cloud has no valid point (every z is 0 after resizing to " + SIZE + "x" + SIZE + ")");
        double[] fg = foreground(r, SIZE, SIZE);
        double[] closed = close(fg, SIZE, SIZE, 3);
        double[] z = new double[n];
        double zmin = Double.POSITIVE_INFINITY, zmax = Double.NEGATIVE_INFINITY;
        boolean anyFg = false;
        for (int i = 0; i < n; i++) {
            z[i] = (double) r[3 * i + 2] * closed[i];
            if (z[i] != 0) {
                anyFg = true;
                zmin = Math.min(zmin, z[i]);
            }
            zmax = Math.max(zmax, z[i]);
        }
        if (!anyFg) {
            throw new WeightsFormatException(file, "xyz point cloud has no foreground: no valid point lies more than "
                    + THRESHOLD + " from the plane through the corner patches");
        }
        if (zmax == zmin) {
            throw new WeightsFormatException(file, "xyz point cloud foreground has constant depth " + zmax + "; cannot normalise it");
        }
        for (int i = 0; i < n; i++) {
            boolean zero = z[i] == 0;
            double v = (z[i] - zmin) / (zmax - zmin) * 0.8 + 0.1;
            z[i] = v * (zero ? 0.0 : 1.0);
        }
        z = fillHoles(z, SIZE, SIZE);
        return fillHoles(z, SIZE, SIZE);
    }

    static void checkFinite(XyzTiff xyz, Path file) throws WeightsFormatException {
        float[] d = xyz.data();
        for (int i = 0; i < d.length; i++) {
            if (!Float.isFinite(d[i])) {
                int p = i / 3;
                throw new WeightsFormatException(file, "xyz point cloud has a non-finite value (" + d[i] + ") at row "
                        + p / xyz.width() + ", column " + p % xyz.width() + ", channel " + "xyz".charAt(i % 3)
                        + "; missing points must be (0,0,0)");
            }
        }
    }

    /** OpenCV INTER_NEAREST resize of an interleaved {@code H×W×3} float image. */
    public static float[] resizeNearest(float[] src, int width, int height, int outWidth, int outHeight) {
        int[] xs = nearestIndex(width, outWidth);
        int[] ys = nearestIndex(height, outHeight);
        float[] out = new float[3 * outWidth * outHeight];
        for (int y = 0; y < outHeight; y++) {
            for (int x = 0; x < outWidth; x++) {
                int s = 3 * (ys[y] * width + xs[x]);
                int o = 3 * (y * outWidth + x);
                out[o] = src[s];
                out[o + 1] = src[s + 1];
                out[o + 2] = src[s + 2];
            }
        }
        return out;
    }

    /** OpenCV {@code resizeNN} source indices: {@code min(floor(d·(1/(out/in))), in−1)}. */
    static int[] nearestIndex(int in, int out) {
        double ifx = 1.0 / ((double) out / in);
        int[] idx = new int[out];
        for (int d = 0; d < out; d++) {
            idx[d] = Math.min((int) Math.floor(d * ifx), in - 1);
        }
        return idx;
    }

    /** Mean over the valid (z ≠ 0) points of a 3×3 patch with top-left (x0, y0); 0 when none is valid. */
    static double[] cornerMean(float[] xyz, int width, int x0, int y0) {
        double sx = 0, sy = 0, sz = 0;
        int count = 0;
        for (int y = y0; y < y0 + 3; y++) {
            for (int x = x0; x < x0 + 3; x++) {
                int i = 3 * (y * width + x);
                sx += xyz[i];
                sy += xyz[i + 1];
                sz += xyz[i + 2];
                if (xyz[i + 2] != 0f) count++;
            }
        }
        double den = Math.max(count, 1e-12);
        return new double[]{sx / den, sy / den, sz / den};
    }

    /** Foreground (1.0/0.0) of a resized interleaved xyz image: off the corner plane by more than 0.005 and valid. */
    public static double[] foreground(float[] xyz, int width, int height) {
        double[] p1 = cornerMean(xyz, width, 0, 0);
        double[] p2 = cornerMean(xyz, width, width - 3, 0);
        double[] p3 = cornerMean(xyz, width, 0, height - 3);
        double ax = p3[0] - p1[0], ay = p3[1] - p1[1], az = p3[2] - p1[2];
        double bx = p2[0] - p1[0], by = p2[1] - p1[1], bz = p2[2] - p1[2];
        double nx = ay * bz - az * by, ny = az * bx - ax * bz, nz = ax * by - ay * bx;
        double d = nx * p3[0] + ny * p3[1] + nz * p3[2];
        double norm = Math.sqrt(nx * nx + ny * ny + nz * nz);
        double[] fg = new double[width * height];
        for (int i = 0; i < fg.length; i++) {
            double dist = Math.abs(nx * xyz[3 * i] + ny * xyz[3 * i + 1] + nz * xyz[3 * i + 2] - d) / norm;
            fg[i] = dist > THRESHOLD && xyz[3 * i + 2] != 0f ? 1.0 : 0.0;
        }
        return fg;
    }

    /**
     * Morphological closing with a 3×3 box repeated {@code iterations} times: a (2k+1)×(2k+1) max filter then min filter
     * with windows clipped at the border (out-of-image pixels are ignored).
     */
    public static double[] close(double[] img, int width, int height, int iterations) {
        return boxFilter(boxFilter(img, width, height, iterations, true), width, height, iterations, false);
    }

    private static double[] boxFilter(double[] img, int width, int height, int r, boolean max) {
        double[] tmp = new double[img.length];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                double v = max ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
                for (int xx = Math.max(0, x - r); xx <= Math.min(width - 1, x + r); xx++) {
                    double s = img[y * width + xx];
                    v = max ? Math.max(v, s) : Math.min(v, s);
                }
                tmp[y * width + x] = v;
            }
        }
        double[] out = new double[img.length];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                double v = max ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
                for (int yy = Math.max(0, y - r); yy <= Math.min(height - 1, y + r); yy++) {
                    double s = tmp[yy * width + x];
                    v = max ? Math.max(v, s) : Math.min(v, s);
                }
                out[y * width + x] = v;
            }
        }
        return out;
    }

    /**
     * One hole-fill iteration (float64): each zero pixel becomes the sum of its 3×3 neighbourhood divided by (the
     * number of positive values in it + 1e-12); zero padding; nonzero pixels are unchanged. The sum runs in row-major
     * window order.
     */
    public static double[] fillHoles(double[] img, int width, int height) {
        double[] out = img.clone();
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                if (img[y * width + x] != 0) continue;
                double s = 0;
                double c = 0;
                for (int dy = -1; dy <= 1; dy++) {
                    for (int dx = -1; dx <= 1; dx++) {
                        int yy = y + dy, xx = x + dx;
                        double v = yy >= 0 && yy < height && xx >= 0 && xx < width ? img[yy * width + xx] : 0.0;
                        s = s + v;
                        if (v > 0) c += 1;
                    }
                }
                out[y * width + x] = s / (c + 1e-12);
            }
        }
        return out;
    }

    /** float32 cast, repeat to 3 channels, ImageNet Normalize (float32) → [1,3,H,W]. */
    static HostTensor normalize(double[] depth) {
        return normalize(depth, SIZE);
    }

    static HostTensor normalize(double[] depth, int size) {
        int hw = depth.length;
        float[] out = new float[3 * hw];
        for (int c = 0; c < 3; c++) {
            float m = ImageInputs.MEAN[c], s = ImageInputs.STD[c];
            for (int i = 0; i < hw; i++) {
                out[c * hw + i] = ((float) depth[i] - m) / s;
            }
        }
        return HostTensor.of(out, 1, 3, size, size);
    }
}
