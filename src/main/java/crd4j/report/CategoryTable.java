package crd4j.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.eval.MetricSet;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The paper-style table of several categories: one row per category and a mean row, for the fused detector and for
 * each branch alone. The mean of a metric is the plain arithmetic mean over the categories that have that detector
 * (a NaN in one category, e.g. an AUROC without defective samples, makes the mean NaN rather than hiding it).
 *
 * <p>Outputs: {@code metrics.json} {@code {"categories": {"<c>": {"fused": {...}, "rgb": {...}, "depth": {...}}, ...},
 * "mean": {"fused": {...}, ...}}} (fractions, keys as in a single category's metrics.json), {@code summary.md}
 * (Markdown tables in percent), {@code report.html} (the same tables, linking each category's own report) and the
 * fused table as text for the terminal.
 */
public final class CategoryTable {
    private final List<Evaluation.Summary> rows;
    private final Map<String, MetricSet> mean = new LinkedHashMap<>();

    public CategoryTable(List<Evaluation.Summary> rows) {
        if (rows.isEmpty()) throw new IllegalArgumentException("no categories");
        this.rows = List.copyOf(rows);
        Set<String> dets = new LinkedHashSet<>();
        for (Evaluation.Summary r : rows) dets.addAll(r.metrics().keySet());
        for (String d : dets) {
            double[] sum = new double[Html.HEADERS.size()];
            int n = 0;
            for (Evaluation.Summary r : rows) {
                MetricSet m = r.metrics().get(d);
                if (m == null) continue;
                double[] v = Html.values(m);
                for (int k = 0; k < sum.length; k++) sum[k] += v[k];
                n++;
            }
            for (int k = 0; k < sum.length; k++) sum[k] /= n;
            mean.put(d, MetricSet.of(sum));
        }
    }

    public List<Evaluation.Summary> rows() { return rows; }

    /** Per detector (fused, rgb, then the second modalities in order of appearance). */
    public Map<String, MetricSet> mean() { return java.util.Collections.unmodifiableMap(mean); }

    public byte[] metricsJson() {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        ObjectNode cats = root.putObject("categories");
        for (Evaluation.Summary r : rows) {
            ObjectNode c = cats.putObject(r.category());
            for (Map.Entry<String, MetricSet> e : r.metrics().entrySet()) Evaluation.metricsNode(c.putObject(e.getKey()), e.getValue());
        }
        ObjectNode m = root.putObject("mean");
        for (Map.Entry<String, MetricSet> e : mean.entrySet()) Evaluation.metricsNode(m.putObject(e.getKey()), e.getValue());
        try {
            return json.writerWithDefaultPrettyPrinter().writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The fused table as fixed-width text (percent, one decimal): the paper's six metrics, then a second block with the
     * six the 2025 reference prints (kept apart so the two AU-PRO definitions are not read as one).
     */
    public String text() {
        int w = "category".length();
        for (Evaluation.Summary r : rows) w = Math.max(w, r.category().length());
        StringBuilder sb = new StringBuilder("fused detector, percent:\n");
        block(sb, w, MetricSet.PAPER_HEADERS, false);
        sb.append("fused detector, percent, ").append(MetricSet.TRD_LEGEND_SHORT).append('\n');
        block(sb, w, MetricSet.TRD_HEADERS, true);
        return sb.toString();
    }

    private void block(StringBuilder sb, int w, List<String> headers, boolean trd) {
        StringBuilder fmt = new StringBuilder("%-" + w + "s");
        for (String h : headers) fmt.append(" %").append(Math.max(8, h.length())).append('s');
        fmt.append("%n");
        Object[] head = new Object[headers.size() + 1];
        head[0] = "category";
        for (int k = 0; k < headers.size(); k++) head[k + 1] = headers.get(k);
        sb.append(String.format(Locale.ROOT, fmt.toString(), head));
        for (Evaluation.Summary r : rows) textRow(sb, fmt.toString(), r.category(), r.metrics().get(Evaluation.FUSED), trd);
        textRow(sb, fmt.toString(), "mean", mean.get(Evaluation.FUSED), trd);
    }

    private static void textRow(StringBuilder sb, String fmt, String label, MetricSet m, boolean trd) {
        double[] v = trd ? m.trdValues() : m.paperValues();
        Object[] a = new Object[v.length + 1];
        a[0] = label;
        for (int k = 0; k < v.length; k++) a[k + 1] = Html.pct(v[k]);
        sb.append(String.format(Locale.ROOT, fmt, a));
    }

    public String markdown() {
        StringBuilder sb = new StringBuilder("# crd eval: ").append(rows.size()).append(" categories\n\n");
        sb.append("Metrics in percent (one decimal, as in the paper); metrics.json has the fractions. ")
                .append("The mean row is the arithmetic mean over the categories. The first six columns are the paper's; ")
                .append(MetricSet.TRD_LEGEND).append("\n\n");
        for (String d : mean.keySet()) {
            sb.append("## ").append(title(d)).append("\n\n| category | ").append(String.join(" | ", Html.HEADERS)).append(" |\n|---|");
            sb.append("---:|".repeat(Html.HEADERS.size())).append('\n');
            for (Evaluation.Summary r : rows) {
                MetricSet m = r.metrics().get(d);
                if (m != null) mdRow(sb, md(r.category()), m);
            }
            mdRow(sb, "**mean**", mean.get(d));
            sb.append('\n');
        }
        sb.append("## Models\n\n| category | model | teacher | preset | test good | test defective |\n|---|---|---|---|---:|---:|\n");
        for (Evaluation.Summary r : rows) {
            sb.append("| ").append(md(r.category())).append(" | ").append(md(r.model().name())).append(" | ")
                    .append(md(r.model().teacher())).append(" | ").append(md(r.preset())).append(" | ").append(r.good()).append(" | ").append(r.defective()).append(" |\n");
        }
        return sb.toString();
    }

    /** Text for a Markdown table cell. */
    private static String md(String s) {
        return s.replace("|", "\\|").replace("\n", " ");
    }

    private static void mdRow(StringBuilder sb, String label, MetricSet m) {
        sb.append("| ").append(label).append(" |");
        for (double v : Html.values(m)) sb.append(' ').append(Html.pct(v)).append(" |");
        sb.append('\n');
    }

    /** {@code linkReports}: each category name links to {@code <category>/report.html}. */
    public String html(boolean linkReports) {
        StringBuilder sb = new StringBuilder();
        Html.head(sb, "crd eval: " + rows.size() + " categories");
        sb.append("<h1>CRD evaluation: ").append(rows.size()).append(" categories</h1>\n");
        sb.append("<p>Metrics in percent with one decimal, as in the paper; each cell's title (hover) is the "
                + "fraction, and metrics.json has all of them. The mean row is the arithmetic mean over the categories.</p>\n");
        Html.legend(sb);
        for (String d : mean.keySet()) {
            sb.append("<h2>").append(Html.escape(title(d))).append("</h2>\n<table class=\"metrics\" id=\"")
                    .append(Html.escape(d)).append("\">\n");
            Html.header(sb, "category");
            for (Evaluation.Summary r : rows) {
                MetricSet m = r.metrics().get(d);
                if (m == null) continue;
                String c = Html.escape(r.category());
                Html.row(sb, null, linkReports ? "<a href=\"" + c + "/report.html\">" + c + "</a>" : c, m);
            }
            Html.row(sb, "mean", "mean", mean.get(d));
            sb.append("</table>\n");
        }
        sb.append("<h2>Models</h2>\n<table class=\"info\">\n<tr><th>category</th><th>model</th><th>teacher</th><th>preset</th>"
                + "<th>test good</th><th>test defective</th></tr>\n");
        for (Evaluation.Summary r : rows) {
            sb.append("<tr><td>").append(Html.escape(r.category())).append("</td><td>").append(Html.escape(r.model().name()))
                    .append("</td><td>").append(Html.escape(r.model().teacher())).append("</td><td>").append(Html.escape(r.preset()))
                    .append("</td><td class=\"num\">").append(r.good()).append("</td><td class=\"num\">").append(r.defective())
                    .append("</td></tr>\n");
        }
        sb.append("</table>\n</body>\n</html>\n");
        return sb.toString();
    }

    private static String title(String detector) {
        return detector.equals(Evaluation.FUSED) ? "fused (CRD)" : detector + " branch alone";
    }

    /** The categories in order. */
    public List<String> categories() {
        List<String> c = new ArrayList<>();
        for (Evaluation.Summary r : rows) c.add(r.category());
        return c;
    }
}
