package crd4j.data;

/**
 * Pillow's antialiased BILINEAR resize ({@code Image.resize(size, Image.BILINEAR)}) for 8-bit images, bit-exact
 * (spec §2.2, §10 item 1).
 *
 * <p>Per axis, with {@code scale = in/out}, {@code filterscale = max(scale, 1)} and {@code support = filterscale}, the
 * output sample {@code xx} is a triangle-filter weighted sum over input samples {@code [xmin, xmin + n)} around
 * {@code center = (xx + 0.5)·scale}. The normalised weights are turned into 22-bit fixed point
 * ({@code (int)(±0.5 + w·2^22)}), the sum is accumulated in int from {@code 1 << 21}, shifted right by 22 and clipped to
 * 0..255. The horizontal pass runs first and is rounded to uint8 before the vertical pass; a pass whose size does not
 * change is skipped, as in Pillow.
 *
 * <p>Images are interleaved (HWC) byte arrays with 1 (L) or 3 (RGB) channels; bytes are read as unsigned.
 */
public final class PillowResize {
    static final int PRECISION_BITS = 22;

    private PillowResize() {}

    /** Fixed-point coefficients of one axis: for output {@code i}, taps {@code start[i] .. start[i]+count[i]-1}. */
    static final class Coeffs {
        final int[] start;
        final int[] count;
        final int ksize;
        final int[] k;   // [out * ksize]

        Coeffs(int[] start, int[] count, int ksize, int[] k) {
            this.start = start;
            this.count = count;
            this.ksize = ksize;
            this.k = k;
        }
    }

    static Coeffs coeffs(int inSize, int outSize) {
        double scale = (double) inSize / outSize;
        double filterscale = Math.max(scale, 1.0);
        double support = filterscale * 1.0;   // bilinear filter support is 1
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int[] start = new int[outSize];
        int[] count = new int[outSize];
        int[] k = new int[outSize * ksize];
        double[] w = new double[ksize];
        double ss = 1.0 / filterscale;
        for (int xx = 0; xx < outSize; xx++) {
            double center = (xx + 0.5) * scale;
            int xmin = (int) (center - support + 0.5);
            if (xmin < 0) xmin = 0;
            int xmax = (int) (center + support + 0.5);
            if (xmax > inSize) xmax = inSize;
            xmax -= xmin;
            double ww = 0.0;
            for (int x = 0; x < xmax; x++) {
                double t = Math.abs((x + xmin - center + 0.5) * ss);
                double v = t < 1.0 ? 1.0 - t : 0.0;
                w[x] = v;
                ww += v;
            }
            for (int x = 0; x < xmax; x++) {
                double v = ww != 0.0 ? w[x] / ww : w[x];
                k[xx * ksize + x] = v < 0 ? (int) (-0.5 + v * (1 << PRECISION_BITS))
                        : (int) (0.5 + v * (1 << PRECISION_BITS));
            }
            start[xx] = xmin;
            count[xx] = xmax;
        }
        return new Coeffs(start, count, ksize, k);
    }

    private static int clip8(int acc) {
        int v = acc >> PRECISION_BITS;
        return v < 0 ? 0 : Math.min(v, 255);
    }

    /**
     * Resizes an interleaved {@code height×width×channels} uint8 image to {@code outHeight×outWidth}.
     *
     * @return a new interleaved {@code outHeight×outWidth×channels} array (a copy when the size is unchanged)
     */
    public static byte[] resize(byte[] src, int width, int height, int channels, int outWidth, int outHeight) {
        if (width <= 0 || height <= 0 || outWidth <= 0 || outHeight <= 0 || channels <= 0) {
            throw new IllegalArgumentException("bad sizes: " + width + "x" + height + "x" + channels + " -> "
                    + outWidth + "x" + outHeight);
        }
        if (src.length != (long) width * height * channels) {
            throw new IllegalArgumentException("image of " + width + "x" + height + "x" + channels + " needs "
                    + (long) width * height * channels + " bytes, got " + src.length);
        }
        byte[] cur = src;
        int w = width;
        if (outWidth != width) {
            cur = horizontal(cur, w, height, channels, outWidth);
            w = outWidth;
        }
        if (outHeight != height) {
            cur = vertical(cur, w, height, channels, outHeight);
        }
        return cur == src ? src.clone() : cur;
    }

    private static byte[] horizontal(byte[] src, int width, int height, int c, int outWidth) {
        Coeffs cf = coeffs(width, outWidth);
        byte[] out = new byte[outWidth * height * c];
        for (int y = 0; y < height; y++) {
            int row = y * width * c;
            int orow = y * outWidth * c;
            for (int xx = 0; xx < outWidth; xx++) {
                int xmin = cf.start[xx], n = cf.count[xx], kb = xx * cf.ksize;
                for (int ch = 0; ch < c; ch++) {
                    int acc = 1 << (PRECISION_BITS - 1);
                    for (int x = 0; x < n; x++) {
                        acc += (src[row + (x + xmin) * c + ch] & 0xff) * cf.k[kb + x];
                    }
                    out[orow + xx * c + ch] = (byte) clip8(acc);
                }
            }
        }
        return out;
    }

    private static byte[] vertical(byte[] src, int width, int height, int c, int outHeight) {
        Coeffs cf = coeffs(height, outHeight);
        int stride = width * c;
        byte[] out = new byte[outHeight * stride];
        for (int yy = 0; yy < outHeight; yy++) {
            int ymin = cf.start[yy], n = cf.count[yy], kb = yy * cf.ksize;
            int orow = yy * stride;
            for (int i = 0; i < stride; i++) {
                int acc = 1 << (PRECISION_BITS - 1);
                for (int y = 0; y < n; y++) {
                    acc += (src[(y + ymin) * stride + i] & 0xff) * cf.k[kb + y];
                }
                out[orow + i] = (byte) clip8(acc);
            }
        }
        return out;
    }
}
