package crd4j.data;

import crd4j.io.WeightsFormatException;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Surface normals computed from the xyz TIFF, the second-branch input of the 2025 reference (spec §16.1), as a network
 * input [1,3,S,S] float32.
 *
 * <ol>
 *   <li>The TIFF at its full resolution (no resize first, unlike the depth input).</li>
 *   <li>Foreground: the corner-plane distance mask and the 3×3 × 3 closing of {@link DepthPreprocessing}, computed on
 *       the full-resolution cloud.</li>
 *   <li>{@code z·fg}; min-max of the nonzero values to [0, 1] (no 0.8/0.1 scaling); background and holes 0; two
 *       hole-fill iterations ({@link DepthPreprocessing#fillHoles}).</li>
 *   <li>{@code cv2.Sobel(z, CV_64F, 1, 0, ksize=k)} and {@code (0, 1)}: OpenCV's separable kernels (ksize 1 is
 *       [−1 0 1] without smoothing), BORDER_REFLECT_101, scale 1, in float64 (row pass then column pass, summed in
 *       OpenCV's order).</li>
 *   <li>{@code n = (−dz/dx, −dz/dy, 1) / (‖n‖ + 1e-8)}, {@code img = (n + 1)/2}, times the foreground mask.</li>
 *   <li>{@code cv2.resize(img, (S, S), INTER_LINEAR)} in float64: half-pixel centres, no antialiasing, float32 tap
 *       weights as OpenCV computes them; an exact 2× downscale is OpenCV's INTER_AREA 2×2 mean, as OpenCV switches to
 *       it there.</li>
 *   <li>float32, ImageNet Normalize (float32, subtract then divide).</li>
 * </ol>
 *
 * <p><b>Bad input</b> ({@link WeightsFormatException} naming the file): a side shorter than the Sobel kernel (or than
 * the 3×3 corner patches), a non-finite coordinate, a cloud without a valid point, one whose foreground is empty
 * (all background: nothing lies off the corner plane) and one whose foreground depth is constant. A kernel size other
 * than 1, 3, 5 or 7 is an {@link IllegalArgumentException} naming the {@code --sobel-k} option.
 */
public final class NormalsFromDepth {
    /** The Sobel kernel sizes OpenCV's {@code Sobel} accepts for this use (ksize −1, Scharr, is not one). */
    public static final int[] KERNEL_SIZES = {1, 3, 5, 7};
    /** The reference's default kernel size for classes without their own. */
    public static final int DEFAULT_K = 5;

    private NormalsFromDepth() {}

    /**
     * The reference's per-class Sobel kernel size (TRD's MVTec 3D-AD driver): cookie 3; dowel, foam, tire 7; every other
     * class (including ones it does not know) 5.
     */
    public static int defaultSobelK(String category) {
        return switch (category.toLowerCase(Locale.ROOT)) {
            case "cookie" -> 3;
            case "dowel", "foam", "tire" -> 7;
            default -> DEFAULT_K;
        };
    }

    /** Throws unless {@code k} is 1, 3, 5 or 7; returns {@code k}. */
    public static int checkSobelK(int k) {
        for (int v : KERNEL_SIZES) if (v == k) return k;
        throw new IllegalArgumentException("--sobel-k: expected 1, 3, 5 or 7 (the Sobel kernel size), found " + k);
    }

    /** The normals network input [1,3,size,size] float32 from an xyz TIFF with Sobel kernel size {@code k}. */
    public static HostTensor normalsInput(Path xyzTiff, int k, int size) throws IOException {
        checkSobelK(k);
        return normalsInput(XyzTiff.read(xyzTiff), xyzTiff, k, size);
    }

    /** As {@link #normalsInput(Path, int, int)} for a cloud already read; {@code file} names it in errors. */
    public static HostTensor normalsInput(XyzTiff xyz, Path file, int k, int size) throws WeightsFormatException {
        return normalize(resized(xyz, file, k, size), size);
    }

    /** Steps 1–6 before the float32 cast: the resized normals image, float64 interleaved [size][size][3]. */
    public static double[] resized(XyzTiff xyz, Path file, int k, int size) throws WeightsFormatException {
        if (size < 1) throw new IllegalArgumentException("input side must be >= 1, found " + size);
        double[] img = normalsImage(xyz, file, k);
        return resizeLinear(img, xyz.width(), xyz.height(), 3, size, size);
    }

    /** The foreground mask and the filled [0,1] depth of steps 1–3, full resolution, row-major float64. */
    public record Depth(double[] foreground, double[] z) {}

    /** Steps 1–3. */
    public static Depth depth(XyzTiff xyz, Path file, int k) throws WeightsFormatException {
        checkSobelK(k);
        int w = xyz.width(), h = xyz.height(), n = w * h;
        int min = Math.max(3, k);
        if (w < min || h < min) {
            throw new WeightsFormatException(file, "xyz point cloud is " + w + "x" + h + ", too small for the Sobel kernel"
                    + " size " + k + " (--sobel-k) and the 3x3 corner patches: both sides must be at least " + min);
        }
        DepthPreprocessing.checkFinite(xyz, file);
        float[] d = xyz.data();
        boolean any = false;
        for (int i = 0; i < n && !any; i++) any = d[3 * i + 2] != 0f;
        if (!any) throw new WeightsFormatException(file, "xyz point cloud has no valid point (every z is 0)");
        double[] fg = DepthPreprocessing.close(DepthPreprocessing.foreground(d, w, h), w, h, 3);
        double[] z = new double[n];
        double zmin = Double.POSITIVE_INFINITY, zmax = Double.NEGATIVE_INFINITY;
        boolean anyFg = false;
        for (int i = 0; i < n; i++) {
            z[i] = (double) d[3 * i + 2] * fg[i];
            if (z[i] != 0) {
                anyFg = true;
                zmin = Math.min(zmin, z[i]);
            }
            zmax = Math.max(zmax, z[i]);
        }
        if (!anyFg) {
            throw new WeightsFormatException(file, "xyz point cloud has no foreground (all background): no valid point lies more than "
                    + DepthPreprocessing.THRESHOLD + " from the plane through the corner patches");
        }
        if (zmax == zmin) {
            throw new WeightsFormatException(file, "xyz point cloud foreground has constant depth " + zmax + "; cannot normalise it");
        }
        for (int i = 0; i < n; i++) {
            boolean zero = z[i] == 0;
            z[i] = (z[i] - zmin) / (zmax - zmin) * (zero ? 0.0 : 1.0);
        }
        z = DepthPreprocessing.fillHoles(DepthPreprocessing.fillHoles(z, w, h), w, h);
        return new Depth(fg, z);
    }

    /** Steps 1–5: the masked normals image {@code (n+1)/2·fg}, full resolution, float64 interleaved [H][W][3]. */
    public static double[] normalsImage(XyzTiff xyz, Path file, int k) throws WeightsFormatException {
        int w = xyz.width(), h = xyz.height();
        Depth dep = depth(xyz, file, k);
        double[] dzdx = sobel(dep.z(), w, h, k, true);
        double[] dzdy = sobel(dep.z(), w, h, k, false);
        double[] img = new double[3 * w * h];
        for (int i = 0; i < w * h; i++) {
            double nx = -dzdx[i], ny = -dzdy[i], nz = 1.0;
            double norm = Math.sqrt(nx * nx + ny * ny + nz * nz) + 1e-8;   // np.linalg.norm over the channel axis
            double m = dep.foreground()[i];
            img[3 * i] = (nx / norm + 1) / 2 * m;
            img[3 * i + 1] = (ny / norm + 1) / 2 * m;
            img[3 * i + 2] = (nz / norm + 1) / 2 * m;
        }
        return img;
    }

    // ------------------------------------------------------------------------------------------------ Sobel

    /**
     * OpenCV's {@code getSobelKernels(dx, dy, ksize)} for one axis: order 0 is the binomial smoothing kernel of length
     * {@code ksize}, order 1 the derivative kernel (ksize 1 means [−1 0 1] for the derivative axis and [1] for the other).
     */
    static double[] sobelKernel(int ksize, int order) {
        if (ksize == 1 && order > 0) ksize = 3;
        double[] ker = new double[ksize + 1];
        if (ksize == 1) return new double[]{1};
        ker[0] = 1;
        for (int i = 0; i < ksize - order - 1; i++) {          // binomial smoothing
            double old = ker[0];
            for (int j = 1; j <= ksize; j++) {
                double nv = ker[j] + ker[j - 1];
                ker[j - 1] = old;
                old = nv;
            }
        }
        for (int i = 0; i < order; i++) {                      // differencing
            double old = -ker[0];
            for (int j = 1; j <= ksize; j++) {
                double nv = ker[j - 1] - ker[j];
                ker[j - 1] = old;
                old = nv;
            }
        }
        return java.util.Arrays.copyOf(ker, ksize);
    }

    /** OpenCV BORDER_REFLECT_101 index ({@code gfedcb|abcdefgh|gfedcba}). */
    static int reflect101(int p, int len) {
        if (len == 1) return 0;
        while (p < 0 || p >= len) {
            if (p < 0) p = -p;
            else p = 2 * len - p - 2;
        }
        return p;
    }

    /**
     * {@code cv2.Sobel(z, CV_64F, 1, 0, ksize=k)} ({@code xDerivative}) or {@code (0, 1)}, BORDER_REFLECT_101: the row
     * kernel summed left to right, then the column kernel summed as OpenCV's symmetric/antisymmetric column filter does
     * (centre tap, then the pairs {@code ±i} from the centre outwards).
     */
    public static double[] sobel(double[] z, int width, int height, int k, boolean xDerivative) {
        checkSobelK(k);
        double[] kx = sobelKernel(k, xDerivative ? 1 : 0);
        double[] ky = sobelKernel(k, xDerivative ? 0 : 1);
        int rx = kx.length / 2, ry = ky.length / 2;
        double[] rows = new double[width * height];
        int[] xi = new int[width + 2 * rx];
        for (int i = 0; i < xi.length; i++) xi[i] = reflect101(i - rx, width);
        for (int y = 0; y < height; y++) {
            int base = y * width;
            for (int x = 0; x < width; x++) {
                double s = kx[0] * z[base + xi[x]];
                for (int t = 1; t < kx.length; t++) s += kx[t] * z[base + xi[x + t]];
                rows[base + x] = s;
            }
        }
        boolean symmetric = ky[0] == ky[ky.length - 1];
        double[] out = new double[width * height];
        int[] yi = new int[height + 2 * ry];
        for (int i = 0; i < yi.length; i++) yi[i] = reflect101(i - ry, height);
        for (int y = 0; y < height; y++) {
            int c = y + ry;   // centre row in yi
            for (int x = 0; x < width; x++) {
                double s;
                if (symmetric) {
                    s = ky[ry] * rows[yi[c] * width + x];
                    for (int t = 1; t <= ry; t++) s += ky[ry + t] * (rows[yi[c + t] * width + x] + rows[yi[c - t] * width + x]);
                } else {
                    s = 0;
                    for (int t = 1; t <= ry; t++) s += ky[ry + t] * (rows[yi[c + t] * width + x] - rows[yi[c - t] * width + x]);
                }
                out[y * width + x] = s;
            }
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------------ resize

    /**
     * {@code cv2.resize(img, (outW, outH), interpolation=INTER_LINEAR)} of an interleaved float64 image with
     * {@code channels} channels: source coordinate {@code (d + 0.5)·in/out − 0.5} computed in double and cast to float,
     * tap weights {@code 1 − f} and {@code f} in float32, clamped at the borders; horizontal pass then vertical pass in
     * float64. When both axes shrink by exactly 2, OpenCV uses INTER_AREA instead: the mean of each 2×2 block
     * (row-major sum × 0.25).
     */
    public static double[] resizeLinear(double[] src, int width, int height, int channels, int outW, int outH) {
        double scaleX = (double) width / outW, scaleY = (double) height / outH;
        double invX = (double) outW / width, invY = (double) outH / height;
        if (1.0 / invX == 2.0 && 1.0 / invY == 2.0) return resizeArea2(src, width, channels, outW, outH);
        int[] x0 = new int[outW];
        float[] ax = new float[outW];
        taps(width, outW, scaleX, x0, ax);
        int[] y0 = new int[outH];
        float[] ay = new float[outH];
        taps(height, outH, scaleY, y0, ay);
        double[] hor = new double[height * outW * channels];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < outW; x++) {
                int s0 = (y * width + x0[x]) * channels;
                int s1 = (y * width + Math.min(x0[x] + 1, width - 1)) * channels;
                double a0 = 1f - ax[x], a1 = ax[x];
                for (int c = 0; c < channels; c++) {
                    hor[(y * outW + x) * channels + c] = ax[x] == 0f && x0[x] == width - 1 ? src[s0 + c]
                            : src[s0 + c] * a0 + src[s1 + c] * a1;
                }
            }
        }
        double[] out = new double[outH * outW * channels];
        int rowLen = outW * channels;
        for (int y = 0; y < outH; y++) {
            int r0 = y0[y] * rowLen, r1 = Math.min(y0[y] + 1, height - 1) * rowLen;
            double b0 = 1f - ay[y], b1 = ay[y];
            for (int i = 0; i < rowLen; i++) out[y * rowLen + i] = hor[r0 + i] * b0 + hor[r1 + i] * b1;
        }
        return out;
    }

    /** OpenCV's linear tap positions and float32 weights for one axis (left index, weight of the right neighbour). */
    private static void taps(int in, int out, double scale, int[] idx, float[] frac) {
        for (int d = 0; d < out; d++) {
            float f = (float) ((d + 0.5) * scale - 0.5);
            int s = (int) Math.floor(f);
            f -= s;
            if (s < 0) {
                f = 0;
                s = 0;
            }
            if (s >= in - 1) {
                f = 0;
                s = in - 1;
            }
            idx[d] = s;
            frac[d] = f;
        }
    }

    /** OpenCV's fast INTER_AREA for an exact 2× shrink: (a + b + c + d)·0.25 over each 2×2 block, row-major. */
    private static double[] resizeArea2(double[] src, int width, int channels, int outW, int outH) {
        double[] out = new double[outW * outH * channels];
        double quarter = 0.25f;
        for (int y = 0; y < outH; y++) {
            for (int x = 0; x < outW; x++) {
                for (int c = 0; c < channels; c++) {
                    int a = ((2 * y) * width + 2 * x) * channels + c, b = ((2 * y + 1) * width + 2 * x) * channels + c;
                    double s = 0;
                    s += src[a];
                    s += src[a + channels];
                    s += src[b];
                    s += src[b + channels];
                    out[(y * outW + x) * channels + c] = s * quarter;
                }
            }
        }
        return out;
    }

    /** float32 cast of an interleaved [S][S][3] image, transposed to [1,3,S,S], ImageNet Normalize in float32. */
    static HostTensor normalize(double[] img, int size) {
        int hw = size * size;
        float[] out = new float[3 * hw];
        for (int c = 0; c < 3; c++) {
            float m = ImageInputs.MEAN[c], s = ImageInputs.STD[c];
            for (int i = 0; i < hw; i++) out[c * hw + i] = ((float) img[3 * i + c] - m) / s;
        }
        return HostTensor.of(out, 1, 3, size, size);
    }
}
