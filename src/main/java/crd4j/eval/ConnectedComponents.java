package crd4j.eval;

/**
 * 8-connected component labelling of a binary 2-D map, numbered like
 * {@code scipy.ndimage.label(map, structure=np.ones((3, 3)))}: background 0, components 1..n in the raster order of
 * their first pixel. Breadth-first flood fill with an explicit int queue (no recursion).
 */
public final class ConnectedComponents {
    private ConnectedComponents() {}

    /**
     * Labels the non-zero pixels of {@code binary} (row-major {@code height×width}) into {@code labels} (same size,
     * overwritten) and returns the number of components.
     */
    public static int label(int[] binary, int height, int width, int[] labels) {
        int n = height * width;
        if (binary.length != n || labels.length != n) {
            throw new IllegalArgumentException("arrays must have length " + height + "*" + width);
        }
        java.util.Arrays.fill(labels, 0);
        int[] queue = null;
        int count = 0;
        for (int start = 0; start < n; start++) {
            if (binary[start] == 0 || labels[start] != 0) continue;
            if (queue == null) queue = new int[n];
            int id = ++count;
            labels[start] = id;
            int head = 0, tail = 0;
            queue[tail++] = start;
            while (head < tail) {
                int p = queue[head++];
                int y = p / width, x = p - y * width;
                int y0 = Math.max(0, y - 1), y1 = Math.min(height - 1, y + 1);
                int x0 = Math.max(0, x - 1), x1 = Math.min(width - 1, x + 1);
                for (int yy = y0; yy <= y1; yy++) {
                    int row = yy * width;
                    for (int xx = x0; xx <= x1; xx++) {
                        int q = row + xx;
                        if (binary[q] != 0 && labels[q] == 0) {
                            labels[q] = id;
                            queue[tail++] = q;
                        }
                    }
                }
            }
        }
        return count;
    }

    /** Convenience: returns a new label array. */
    public static int[] label(int[] binary, int height, int width) {
        int[] labels = new int[height * width];
        label(binary, height, width, labels);
        return labels;
    }
}
