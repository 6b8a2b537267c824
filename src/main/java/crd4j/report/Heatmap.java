package crd4j.report;

import crd4j.data.Image8;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Locale;

/**
 * The picture {@code crd detect} writes beside a part's scores: the fused anomaly map upsampled to the input image's
 * resolution and blended over the image, on a colour scale that is the same for every part of a model, so a good part
 * looks cool and a bad one hot (no per-image stretch).
 *
 * <p>Scale: centred on the pixel threshold p (green-yellow, the mask's edge), from p − m (blue) to p + m (red) with m
 * the larger of p and the image threshold: 0 to 2p for the thresholds training stores (p = image threshold), and a
 * valid scale for a calibrated p that is lower or negative. Without thresholds a fixed 0..{@value #UNCALIBRATED_TOP}
 * (a fused map is a sum of per-branch z-scores, so 8 is four standard deviations per branch of a two-branch model). Values outside the scale are clipped. Upsampling is bilinear with pixel centres
 * aligned (PyTorch's {@code align_corners=False}, OpenCV's INTER_LINEAR). A caption at the top gives the score and the
 * decision; a colour bar at the bottom marks the threshold.
 */
public final class Heatmap {
    /** The top of the colour scale of a model without thresholds. */
    public static final double UNCALIBRATED_TOP = 8.0;

    private Heatmap() {}

    /**
     * @param background the input image (RGB, any size; the heatmap gets its size)
     * @param map        the fused map, row-major {@code size×size}
     * @param thresholds the model's thresholds, or null when none are stored
     * @param caption    the text written on the image (lines separated by '\n')
     */
    public static BufferedImage render(Image8 background, double[] map, int size, crd4j.detect.Thresholds thresholds, String caption) {
        int w = background.width(), h = background.height();
        double lo, top;
        if (thresholds == null) {
            lo = 0;
            top = UNCALIBRATED_TOP;
        } else {
            double p = thresholds.pixel(), m = Math.max(p, thresholds.image());
            lo = p - m;
            top = p + m;
        }
        double[] up = upsample(map, size, size, w, h);
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double t = Math.max(0, Math.min(1, (up[y * w + x] - lo) / (top - lo)));
                double[] heat = jet(t);
                int rgb = 0;
                for (int c = 0; c < 3; c++) {
                    double v = background.get(x, y, background.channels() == 3 ? c : 0) / 255.0;
                    rgb = (rgb << 8) | (int) Math.round(255 * Math.min(1, Math.max(0, 0.5 * v + 0.5 * heat[c])));
                }
                img.setRGB(x, y, rgb);
            }
        }
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            drawCaption(g, caption, w, h);
            // colour bar along the bottom, with the threshold marked
            int barH = Math.max(3, h / 40), y0 = h - barH;
            for (int x = 0; x < w; x++) {
                double[] c = jet(w == 1 ? 0 : x / (double) (w - 1));
                g.setColor(new Color((float) c[0], (float) c[1], (float) c[2]));
                g.drawLine(x, y0, x, h - 1);
            }
            if (thresholds != null) {
                g.setColor(Color.WHITE);
                g.setStroke(new BasicStroke(Math.max(1, barH / 3f)));
                g.drawLine(w / 2, y0 - barH, w / 2, h - 1);
            }
        } finally {
            g.dispose();
        }
        return img;
    }

    /**
     * Writes the caption in the top-left corner. A JVM without usable fonts (a minimal container without fontconfig)
     * cannot draw text; the picture is then written without it, since score.json holds the same numbers.
     */
    private static void drawCaption(Graphics2D g, String caption, int w, int h) {
        try {
            // one line per caption line, the font as large as fits the width (at most 1/16 of the side, at least 7 px)
            String[] lines = caption.split("\n");
            int fontPx = Math.max(7, Math.min(w, h) / 16);
            FontMetrics fm;
            while (true) {
                g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, fontPx));
                fm = g.getFontMetrics();
                int widest = 0;
                for (String l : lines) widest = Math.max(widest, fm.stringWidth(l));
                if (widest + 4 <= w || fontPx <= 7) break;
                fontPx--;
            }
            int pad = Math.max(2, fontPx / 4), widest = 0;
            for (String l : lines) widest = Math.max(widest, fm.stringWidth(l));
            g.setColor(new Color(0, 0, 0, 170));
            g.fillRect(0, 0, Math.min(w, widest + 2 * pad), lines.length * fm.getHeight() + pad);
            g.setColor(Color.WHITE);
            for (int i = 0; i < lines.length; i++) g.drawString(lines[i], pad, i * fm.getHeight() + fm.getAscent() + pad / 2);
        } catch (RuntimeException | Error e) {
            if (e instanceof VirtualMachineError v) throw v;
            // no fonts: no caption
        }
    }

    /** The caption (lines separated by '\n'): decision, score and normalised score, or the note that no threshold is stored. */
    public static String caption(double score, Double normalizedScore, Boolean anomalous, String noThreshold) {
        if (anomalous == null) return String.format(Locale.ROOT, "score %.3f%n%s", score, noThreshold).replace("\r", "");
        return String.format(Locale.ROOT, "%s%nscore %.3f = %.2f x threshold", anomalous ? "REJECT" : "ACCEPT", score, normalizedScore)
                .replace("\r", "");
    }

    public static byte[] png(BufferedImage img) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ImageIO.write(img, "png", bytes);
        return bytes.toByteArray();
    }

    /** A binary mask (row-major, 1 = defect) as an 8-bit greyscale PNG, 255 for mask pixels. */
    public static byte[] maskPng(int[] mask, int width, int height) throws IOException {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_BYTE_GRAY);
        byte[] px = ((java.awt.image.DataBufferByte) img.getRaster().getDataBuffer()).getData();
        for (int i = 0; i < mask.length; i++) px[i] = (byte) (mask[i] != 0 ? 255 : 0);
        return png(img);
    }

    /**
     * Bilinear resize of a row-major {@code sw×sh} map to {@code dw×dh} with pixel centres aligned
     * ({@code align_corners=False}): source coordinate {@code (x + 0.5)·sw/dw − 0.5}, clamped to the border.
     */
    public static double[] upsample(double[] src, int sw, int sh, int dw, int dh) {
        double[] out = new double[dw * dh];
        double sx = (double) sw / dw, sy = (double) sh / dh;
        for (int y = 0; y < dh; y++) {
            double fy = Math.max(0, (y + 0.5) * sy - 0.5);
            int y0 = Math.min((int) fy, sh - 1), y1 = Math.min(y0 + 1, sh - 1);
            double ly = fy - y0;
            for (int x = 0; x < dw; x++) {
                double fx = Math.max(0, (x + 0.5) * sx - 0.5);
                int x0 = Math.min((int) fx, sw - 1), x1 = Math.min(x0 + 1, sw - 1);
                double lx = fx - x0;
                double a = src[y0 * sw + x0], b = src[y0 * sw + x1], c = src[y1 * sw + x0], d = src[y1 * sw + x1];
                out[y * dw + x] = (1 - ly) * ((1 - lx) * a + lx * b) + ly * ((1 - lx) * c + lx * d);
            }
        }
        return out;
    }

    /** The jet colour of {@code t} in [0, 1]: blue, cyan, green-yellow (0.5), orange, red. */
    static double[] jet(double t) {
        return new double[]{clamp(1.5 - Math.abs(4 * t - 3)), clamp(1.5 - Math.abs(4 * t - 2)), clamp(1.5 - Math.abs(4 * t - 1))};
    }

    private static double clamp(double v) { return Math.min(1, Math.max(0, v)); }
}
