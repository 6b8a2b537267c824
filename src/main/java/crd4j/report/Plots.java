package crd4j.report;

import crd4j.eval.ProCurve;
import crd4j.eval.RocCurve;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The report's two charts, drawn with Java2D: the image-level ROC curve (FPR and TPR 0..1) and the PRO curve up to
 * FPR 0.3 (spec §9), one line per detector, the area in the legend.
 */
final class Plots {
    static final int WIDTH = 480, HEIGHT = 400;
    private static final int LEFT = 56, RIGHT = 16, TOP = 30, BOTTOM = 48;
    /** fused, RGB, second modality: black, red, blue. */
    private static final Color[] COLOURS = {new Color(0x111111), new Color(0xd62728), new Color(0x1f77b4)};

    /** One line: its name, points, and the legend's value. */
    record Line(String name, double[] x, double[] y, String value) {}

    private Plots() {}

    static BufferedImage roc(List<String> names, List<RocCurve> curves, List<Double> auroc) {
        List<Line> lines = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            lines.add(new Line(names.get(i), curves.get(i).fpr(), curves.get(i).tpr(), "AUROC " + Html.percent(auroc.get(i))));
        }
        return chart("Image-level ROC", "false positive rate", "true positive rate", 1.0, 0.2, lines, true);
    }

    static BufferedImage pro(List<String> names, List<ProCurve> curves, List<Double> auPro, double limit) {
        List<Line> lines = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            lines.add(new Line(names.get(i), curves.get(i).fpr(), curves.get(i).pro(),
                    "AU-PRO@" + fmt(limit) + " " + Html.percent(auPro.get(i))));
        }
        return chart("PRO curve", "false positive rate", "per-region overlap", limit, limit / 6, lines, false);
    }

    /**
     * A copy of {@code c} for drawing up to {@code limit}: the points with FPR ≤ limit, thinned so that consecutive
     * points differ by at least 1/2000 of the x range or 1/1000 in PRO (far below a pixel), and the curve's value at
     * {@code limit} interpolated linearly as {@code Metrics.trapezoid} does. At most ~3000 points, whatever the number
     * of pooled pixels.
     */
    static ProCurve thin(ProCurve c, double limit) {
        double[] x = c.fpr(), y = c.pro();
        double dx = limit / 2000, dy = 1.0 / 1000;
        List<double[]> kept = new ArrayList<>();
        int last = -1, n = x.length;
        for (int i = 0; i < n && x[i] <= limit; i++) {
            if (!Double.isFinite(x[i]) || !Double.isFinite(y[i])) continue;
            boolean lastInside = i + 1 >= n || x[i + 1] > limit;
            if (last < 0 || lastInside || x[i] - x[last] >= dx || Math.abs(y[i] - y[last]) >= dy) {
                kept.add(new double[]{x[i], y[i]});
                last = i;
            }
        }
        if (last >= 0 && x[last] < limit && last + 1 < n && Double.isFinite(y[last + 1])) {
            double yi = y[last] + (y[last + 1] - y[last]) * (limit - x[last]) / (x[last + 1] - x[last]);
            kept.add(new double[]{limit, yi});
        }
        double[] fx = new double[kept.size()], fy = new double[kept.size()];
        for (int i = 0; i < fx.length; i++) {
            fx[i] = kept.get(i)[0];
            fy[i] = kept.get(i)[1];
        }
        return new ProCurve(fx, fy);
    }

    private static BufferedImage chart(String title, String xLabel, String yLabel, double xMax, double xTick,
                                       List<Line> lines, boolean diagonal) {
        BufferedImage im = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = im.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, HEIGHT);
            int pw = WIDTH - LEFT - RIGHT, ph = HEIGHT - TOP - BOTTOM;
            // grid
            g.setStroke(new BasicStroke(1f));
            g.setColor(new Color(0xe4e4e4));
            int xTicks = (int) Math.round(xMax / xTick);
            for (int k = 0; k <= xTicks; k++) {
                double px = LEFT + pw * (k * xTick / xMax);
                g.draw(new java.awt.geom.Line2D.Double(px, TOP, px, TOP + ph));
            }
            for (int k = 0; k <= 5; k++) {
                double py = TOP + ph * (1 - k * 0.2);
                g.draw(new java.awt.geom.Line2D.Double(LEFT, py, LEFT + pw, py));
            }
            if (diagonal) {
                g.setColor(new Color(0xaaaaaa));
                g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[]{4f, 4f}, 0f));
                g.draw(new java.awt.geom.Line2D.Double(LEFT, TOP + ph, LEFT + pw, TOP));
            }
            g.setColor(Color.DARK_GRAY);
            g.setStroke(new BasicStroke(1f));
            g.drawRect(LEFT, TOP, pw, ph);
            // curves, the first (fused) last so that it is on top
            for (int li = lines.size() - 1; li >= 0; li--) {
                Line l = lines.get(li);
                Path2D.Double path = new Path2D.Double();
                boolean started = false;
                for (int i = 0; i < l.x().length; i++) {
                    double x = l.x()[i], y = l.y()[i];
                    if (!Double.isFinite(x) || !Double.isFinite(y) || x > xMax) continue;
                    double px = LEFT + pw * (x / xMax), py = TOP + ph * (1 - y);
                    if (started) path.lineTo(px, py); else path.moveTo(px, py);
                    started = true;
                }
                g.setColor(COLOURS[li % COLOURS.length]);
                g.setStroke(new BasicStroke(li == 0 ? 2.5f : 1.6f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
                g.draw(path);
            }
            text(g, title, xLabel, yLabel, xMax, xTick, xTicks, lines, pw, ph);
        } finally {
            g.dispose();
        }
        return im;
    }

    /**
     * Titles, tick labels and legend. A JRE without any font cannot draw text (it throws an Error from its font
     * configuration); the chart is then left without text, since the report states the same numbers beside it.
     */
    private static void text(Graphics2D g, String title, String xLabel, String yLabel, double xMax, double xTick, int xTicks,
                             List<Line> lines, int pw, int ph) {
        try {
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
            g.drawString(title, LEFT, TOP - 10);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            var fm = g.getFontMetrics();
            for (int k = 0; k <= xTicks; k++) {
                String s = fmt(k * xTick);
                int px = (int) Math.round(LEFT + pw * (k * xTick / xMax));
                g.drawString(s, px - fm.stringWidth(s) / 2, TOP + ph + 15);
            }
            for (int k = 0; k <= 5; k++) {
                String s = fmt(k * 0.2);
                int py = (int) Math.round(TOP + ph * (1 - k * 0.2));
                g.drawString(s, LEFT - 6 - fm.stringWidth(s), py + 4);
            }
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            fm = g.getFontMetrics();
            g.drawString(xLabel, LEFT + (pw - fm.stringWidth(xLabel)) / 2, HEIGHT - 10);
            var rotated = g.getTransform();
            g.rotate(-Math.PI / 2);
            g.drawString(yLabel, -(TOP + (ph + fm.stringWidth(yLabel)) / 2), 14);
            g.setTransform(rotated);
            // legend, lower right
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            fm = g.getFontMetrics();
            int w = 0;
            for (Line l : lines) w = Math.max(w, fm.stringWidth(l.name() + "  " + l.value()));
            int lh = fm.getHeight(), bw = w + 34, bh = lh * lines.size() + 8;
            int bx = LEFT + pw - bw - 8, by = TOP + ph - bh - 8;
            g.setColor(new Color(255, 255, 255, 230));
            g.fillRect(bx, by, bw, bh);
            g.setColor(Color.GRAY);
            g.drawRect(bx, by, bw, bh);
            for (int i = 0; i < lines.size(); i++) {
                int y = by + 4 + lh * i + lh / 2;
                g.setColor(COLOURS[i % COLOURS.length]);
                g.setStroke(new BasicStroke(i == 0 ? 2.5f : 1.6f));
                g.drawLine(bx + 6, y, bx + 24, y);
                g.setColor(Color.BLACK);
                g.drawString(lines.get(i).name() + "  " + lines.get(i).value(), bx + 30, y + fm.getAscent() / 2 - 1);
            }
        } catch (InternalError | LinkageError | NullPointerException noFonts) {
            // see above: charts without text
        }
    }

    private static String fmt(double v) {
        String s = String.format(Locale.ROOT, "%.2f", v);
        return s.endsWith("0") && s.contains(".") ? s.substring(0, s.length() - 1) : s;
    }
}
