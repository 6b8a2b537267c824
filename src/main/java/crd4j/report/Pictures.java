package crd4j.report;

import crd4j.data.Image8;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Base64;

/**
 * The images of a report panel, as {@link BufferedImage}s of the model's input side S, and their PNG data URIs.
 * Anomaly maps are drawn with viridis (piecewise linear through ten evenly spaced samples of matplotlib's table), the
 * value range {@code [lo, hi]} mapped to the whole colour map and values outside it clamped.
 */
final class Pictures {
    /** viridis at 0, 1/9, …, 1 (matplotlib's table). */
    static final int[] VIRIDIS = {0x440154, 0x482878, 0x3e4989, 0x31688e, 0x26828e, 0x1f9e89, 0x35b779, 0x6ece58, 0xb5de2b, 0xfde725};
    /** GT outline colour: magenta is not in viridis and stands out on RGB parts. */
    static final int OUTLINE = 0xff00ff;

    private Pictures() {}

    /** Colour of {@code t} ∈ [0, 1] (clamped; NaN is the lowest colour). */
    static int viridis(double t) {
        if (!(t > 0)) return VIRIDIS[0];
        if (t >= 1) return VIRIDIS[VIRIDIS.length - 1];
        double x = t * (VIRIDIS.length - 1);
        int k = (int) x;
        double f = x - k;
        int a = VIRIDIS[k], b = VIRIDIS[k + 1], rgb = 0;
        for (int sh = 16; sh >= 0; sh -= 8) {
            int ca = (a >> sh) & 0xff, cb = (b >> sh) & 0xff;
            rgb |= (int) Math.round(ca + f * (cb - ca)) << sh;
        }
        return rgb;
    }

    /** The CSS gradient of the colour map, for the scale bars of the report. */
    static String cssGradient() {
        StringBuilder sb = new StringBuilder("linear-gradient(to right");
        for (int c : VIRIDIS) sb.append(String.format(java.util.Locale.ROOT, ", #%06x", c));
        return sb.append(')').toString();
    }

    static BufferedImage rgb(Image8 im) {
        if (im.channels() != 3) throw new IllegalArgumentException("expected an RGB image");
        BufferedImage b = new BufferedImage(im.width(), im.height(), BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < im.height(); y++) {
            for (int x = 0; x < im.width(); x++) b.setRGB(x, y, (im.get(x, y, 0) << 16) | (im.get(x, y, 1) << 8) | im.get(x, y, 2));
        }
        return b;
    }

    /** {@code values} (row-major w×h) min–max scaled to 0..255 grey; a constant image is black. */
    static BufferedImage grey(float[] values, int offset, int w, int h) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < w * h; i++) {
            lo = Math.min(lo, values[offset + i]);
            hi = Math.max(hi, values[offset + i]);
        }
        BufferedImage b = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        int[] px = new int[w * h];
        for (int i = 0; i < px.length; i++) px[i] = hi > lo ? (int) Math.round(255 * (values[offset + i] - lo) / (hi - lo)) : 0;
        b.getRaster().setPixels(0, 0, w, h, px);
        return b;
    }

    /** A row-major s×s map in viridis, {@code [lo, hi]} spanning the colour map. */
    static BufferedImage map(double[] map, int s, double lo, double hi) {
        BufferedImage b = new BufferedImage(s, s, BufferedImage.TYPE_INT_RGB);
        for (int i = 0; i < s * s; i++) b.setRGB(i % s, i / s, viridis(scale(map[i], lo, hi)));
        return b;
    }

    /**
     * The map blended 50/50 over the RGB image, with the GT outline (see {@link #outline}) drawn over it in
     * {@link #OUTLINE}.
     */
    static BufferedImage overlay(Image8 rgb, double[] map, int[] gt, int s, double lo, double hi) {
        boolean[] edge = outline(gt, s);
        BufferedImage b = new BufferedImage(s, s, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                int i = y * s + x;
                if (edge[i]) {
                    b.setRGB(x, y, OUTLINE);
                    continue;
                }
                int heat = viridis(scale(map[i], lo, hi)), c = 0;
                for (int ch = 0; ch < 3; ch++) {
                    int v = (rgb.get(x, y, ch) + ((heat >> (16 - 8 * ch)) & 0xff) + 1) / 2;
                    c |= v << (16 - 8 * ch);
                }
                b.setRGB(x, y, c);
            }
        }
        return b;
    }

    /**
     * GT boundary pixels: defective pixels (gt = 1) with at least one of their four neighbours inside the image
     * good (gt = 0). A region touching the image border is therefore not outlined along the border.
     */
    static boolean[] outline(int[] gt, int s) {
        boolean[] e = new boolean[s * s];
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                int i = y * s + x;
                if (gt[i] == 0) continue;
                e[i] = (x > 0 && gt[i - 1] == 0) || (x < s - 1 && gt[i + 1] == 0)
                        || (y > 0 && gt[i - s] == 0) || (y < s - 1 && gt[i + s] == 0);
            }
        }
        return e;
    }

    static byte[] png(BufferedImage im) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (!ImageIO.write(im, "png", out)) throw new IOException("no ImageIO PNG writer");
        return out.toByteArray();
    }

    static String dataUri(BufferedImage im) throws IOException {
        return "data:image/png;base64," + Base64.getEncoder().encodeToString(png(im));
    }

    private static double scale(double v, double lo, double hi) {
        return hi > lo ? (v - lo) / (hi - lo) : 0;
    }
}
