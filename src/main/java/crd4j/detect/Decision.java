package crd4j.detect;

import crd4j.eval.ConnectedComponents;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The accept/reject decision for one scored part under a model's {@link Thresholds}: the part is anomalous when its
 * image score reaches the image threshold; the defect mask holds the pixels of the fused map that reach the pixel
 * threshold; the defect regions are the mask's 8-connected components ({@link ConnectedComponents}, numbered like
 * {@code scipy.ndimage.label} with a 3×3 structure: in the raster order of their first pixel).
 *
 * <p>Mask and regions are in map pixels (the model's input side S, the map's row-major layout); scale by
 * (input width / S, input height / S) for the input image's pixels. They are computed when first asked for (an
 * evaluation keeps many results and needs neither), from the map the decision was made on.
 */
public final class Decision {
    /**
     * One connected defect region: its bounding box (top-left {@code x}, {@code y}; {@code width}, {@code height}, in
     * map pixels), its area in map pixels and the highest and mean fused-map value over its pixels.
     */
    public record Region(int x, int y, int width, int height, int area, double peak, double mean) {}

    private final Thresholds thresholds;
    private final double score;
    private final double[] map;
    private final int size;
    private int[] mask;
    private List<Region> regions;

    private Decision(Thresholds t, double score, double[] map, int size) {
        this.thresholds = t;
        this.score = score;
        this.map = map;
        this.size = size;
    }

    /** The decision for a part with image score {@code score} and fused map {@code map} (row-major size×size). */
    public static Decision of(Thresholds t, double score, double[] map, int size) {
        if (map.length != size * size) throw new IllegalArgumentException("map has " + map.length + " values, expected " + size + "×" + size);
        return new Decision(t, score, map, size);
    }

    public Thresholds thresholds() { return thresholds; }

    /** Whether the part is rejected: its score reaches the image threshold. */
    public boolean anomalous() { return score >= thresholds.image(); }

    /** The image score divided by the image threshold: 1.0 is the threshold, at or above it rejects. */
    public double normalizedScore() { return score / thresholds.image(); }

    /** The map side S. */
    public int size() { return size; }

    /** Row-major S×S, 1 where the map reaches the pixel threshold, else 0 (a copy). */
    public int[] mask() { return computed().clone(); }

    /** The mask's connected components, in label order. */
    public synchronized List<Region> regions() {
        computed();
        return regions;
    }

    /** The number of mask pixels. */
    public int maskArea() {
        int a = 0;
        for (int v : computed()) a += v;
        return a;
    }

    private synchronized int[] computed() {
        if (mask != null) return mask;
        int n = size * size;
        int[] m = new int[n];
        for (int i = 0; i < n; i++) m[i] = map[i] >= thresholds.pixel() ? 1 : 0;
        int[] labels = new int[n];
        int count = ConnectedComponents.label(m, size, size, labels);
        int[] x0 = new int[count], y0 = new int[count], x1 = new int[count], y1 = new int[count], area = new int[count];
        double[] peak = new double[count], sum = new double[count];
        java.util.Arrays.fill(x0, Integer.MAX_VALUE);
        java.util.Arrays.fill(y0, Integer.MAX_VALUE);
        java.util.Arrays.fill(x1, -1);
        java.util.Arrays.fill(y1, -1);
        java.util.Arrays.fill(peak, Double.NEGATIVE_INFINITY);
        for (int i = 0; i < n; i++) {
            int l = labels[i] - 1;
            if (l < 0) continue;
            int y = i / size, x = i - y * size;
            x0[l] = Math.min(x0[l], x);
            y0[l] = Math.min(y0[l], y);
            x1[l] = Math.max(x1[l], x);
            y1[l] = Math.max(y1[l], y);
            area[l]++;
            peak[l] = Math.max(peak[l], map[i]);
            sum[l] += map[i];
        }
        List<Region> r = new ArrayList<>();
        for (int l = 0; l < count; l++) {
            r.add(new Region(x0[l], y0[l], x1[l] - x0[l] + 1, y1[l] - y0[l] + 1, area[l], peak[l], sum[l] / area[l]));
        }
        regions = Collections.unmodifiableList(r);
        mask = m;
        return m;
    }
}
