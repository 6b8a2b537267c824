package crd4j.tensor;

/**
 * The fail-closed check: where a floating-point tensor holds NaN or ±Inf. Inputs, weights, maps and scores with such
 * a value are an error in crd4j, never a clean-looking result (a NaN score compares false against any threshold, so
 * a part would be accepted).
 */
public final class Finite {
    private Finite() {}

    /** Index of the first NaN or infinite element, or −1 (always −1 for integer tensors). */
    public static long firstNonFinite(HostTensor t) {
        if (t.dtype() == DType.FLOAT32) {
            float[] v = t.floats();
            for (int i = 0; i < v.length; i++) if (!Float.isFinite(v[i])) return i;
        } else if (t.dtype() == DType.FLOAT64) {
            double[] v = t.doubles();
            for (int i = 0; i < v.length; i++) if (!Double.isFinite(v[i])) return i;
        }
        return -1;
    }

    /** "NaN at element i" / "Inf at element i" / "-Inf at element i" for the first non-finite element, or null. */
    public static String describe(HostTensor t) {
        long i = firstNonFinite(t);
        if (i < 0) return null;
        double v = t.getDouble(i);
        return (Double.isNaN(v) ? "NaN" : v > 0 ? "Inf" : "-Inf") + " at element " + i;
    }
}
