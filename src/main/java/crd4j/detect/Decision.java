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
 * (input width / S, input height / S) for the input image's pixels.
 *
 * @param normalizedScore the image score divided by the image threshold: 1.0 is the threshold, above it rejects
 * @param mask            row-major S×S, 1 where the map reaches the pixel threshold, else 0
 */
public record Decision(Thresholds thresholds, boolean anomalous, double normalizedScore, int[] mask, int size, List<Region> regions) {
    /**
     * One connected defect region: its bounding box (top-left {@code x}, {@code y}; {@code width}, {@code height}, in
     * map pixels), its area in map pixels and the highest and mean fused-map value over its pixels.
     */
    public record Region(int x, int y, int width, int height, int area, double peak, double mean) {}

    public Decision {
        regions = Collections.unmodifiableList(new ArrayList<>(regions));
    }

    /** The decision for a part with image score {@code score} and fused map {@code map} (row-major size×size). */
    public static Decision of(Thresholds t, double score, double[] map, int size) {
        int n = size * size;
        if (map.length != n) throw new IllegalArgumentException("map has " + map.length + " values, expected " + size + "×" + size);
        int[] mask = new int[n];
        for (int i = 0; i < n; i++) mask[i] = map[i] >= t.pixel() ? 1 : 0;
        int[] labels = new int[n];
        int count = ConnectedComponents.label(mask, size, size, labels);
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
        List<Region> regions = new ArrayList<>();
        for (int l = 0; l < count; l++) {
            regions.add(new Region(x0[l], y0[l], x1[l] - x0[l] + 1, y1[l] - y0[l] + 1, area[l], peak[l], sum[l] / area[l]));
        }
        return new Decision(t, score >= t.image(), score / t.image(), mask, size, regions);
    }

    /** The number of mask pixels. */
    public int maskArea() {
        int a = 0;
        for (int v : mask) a += v;
        return a;
    }
}
