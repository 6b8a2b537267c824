package crd4j.report;

import crd4j.eval.MetricSet;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Small HTML helpers shared by the category and summary reports. */
final class Html {
    /**
     * The twelve metric columns: the six of spec §9 in the paper's order, then the six the 2025 reference prints (§16.2),
     * in {@link MetricSet#values()} order.
     */
    static final List<String> HEADERS;
    static {
        List<String> h = new java.util.ArrayList<>(MetricSet.PAPER_HEADERS);
        h.addAll(MetricSet.TRD_HEADERS);
        HEADERS = List.copyOf(h);
    }

    static final String STYLE = """
            body { font-family: sans-serif; margin: 1.5em; color: #222; }
            table { border-collapse: collapse; margin: 0.5em 0 1em; }
            th, td { border: 1px solid #ccc; padding: 3px 9px; }
            td.num { text-align: right; font-variant-numeric: tabular-nums; }
            tr.mean td { font-weight: bold; border-top: 2px solid #888; }
            th.group { background: #f4f4f4; font-weight: normal; font-size: 13px; }
            .legend { font-size: 13px; color: #444; }
            table.info th { text-align: left; background: #f4f4f4; }
            figure { display: inline-block; margin: 0 6px 6px 0; vertical-align: top; }
            figcaption { font-size: 12px; color: #444; max-width: 480px; }
            .panel { border-top: 1px solid #ddd; padding-top: 4px; margin-top: 8px; }
            .panel h3 { font-size: 14px; margin: 4px 0; }
            .panel img { width: 192px; height: 192px; image-rendering: pixelated; }
            .wrong { color: #b00; }
            .bar { display: inline-block; width: 160px; height: 10px; vertical-align: middle; }
            """;

    private Html() {}

    static double[] values(MetricSet m) {
        return m.values();
    }

    /** A fraction as a percentage with one decimal, like the paper ("91.2"); NaN is "n/a". */
    static String pct(double v) {
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.1f", 100 * v);
    }

    static String percent(double v) {
        return Double.isNaN(v) ? "n/a" : pct(v) + "%";
    }

    /** One metrics row: the label cell (already HTML) then twelve percentage cells with the fraction as title. */
    static void row(StringBuilder sb, String cls, String labelHtml, MetricSet m) {
        sb.append("<tr").append(cls == null ? "" : " class=\"" + cls + "\"").append("><td>").append(labelHtml).append("</td>");
        for (double v : values(m)) {
            sb.append("<td class=\"num\" title=\"").append(v).append("\">").append(pct(v)).append("</td>");
        }
        sb.append("</tr>\n");
    }

    /** Two header rows: the column groups (the paper's metrics, the 2025 reference's), then the metric names. */
    static void header(StringBuilder sb, String first) {
        sb.append("<tr><th rowspan=\"2\">").append(escape(first)).append("</th><th class=\"group\" colspan=\"")
                .append(MetricSet.PAPER_HEADERS.size()).append("\">as in the paper (exact AU-PRO)</th><th class=\"group\" colspan=\"")
                .append(MetricSet.TRD_HEADERS.size()).append("\">as the 2025 reference (TRD) prints them</th></tr>\n<tr>");
        for (String h : HEADERS) sb.append("<th>").append(h).append("</th>");
        sb.append("</tr>\n");
    }

    /** The legend paragraph under a metrics table: what the 2025 reference's columns are. */
    static void legend(StringBuilder sb) {
        sb.append("<p class=\"legend\">").append(escape(MetricSet.TRD_LEGEND)).append("</p>\n");
    }

    static void head(StringBuilder sb, String title) {
        sb.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>").append(escape(title))
                .append("</title>\n<style>\n").append(STYLE).append("</style>\n</head>\n<body>\n");
    }

    static void info(StringBuilder sb, Map<String, String> rows) {
        sb.append("<table class=\"info\">\n");
        for (Map.Entry<String, String> e : rows.entrySet()) {
            sb.append("<tr><th>").append(escape(e.getKey())).append("</th><td>").append(escape(e.getValue())).append("</td></tr>\n");
        }
        sb.append("</table>\n");
    }

    static String escape(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '&' -> sb.append("&amp;");
                case '"' -> sb.append("&quot;");
                case '\'' -> sb.append("&#39;");
                default -> sb.append(c);
            }
        }
        return sb.toString();
    }
}
