package crd4j.eval;

/**
 * 2-D Gaussian smoothing with the semantics of {@code scipy.ndimage.gaussian_filter} (SciPy 1.10) on a float64 map:
 * separable, axis 0 (rows of the column direction) first, then axis 1; border mode {@code 'reflect'} (half-sample
 * symmetric, {@code …c b a | a b c d | d c b a…}, repeated for lines shorter than the kernel radius).
 *
 * <p>The 1-D kernel is {@code exp(-0.5/σ² · x²)} for {@code x ∈ [-r, r]}, {@code r = (int)(truncate·σ + 0.5)},
 * normalised to sum 1. Each output sample is {@code in[0]·w0 + Σ_{j=1..r} (in[+j] + in[−j])·w_j}, summed in that order,
 * as SciPy does for symmetric kernels (spec §8.3). Maps are row-major {@code double[height*width]}.
 */
public final class GaussianFilter {
    /** σ used by CRD (spec §8.3). */
    public static final double CRD_SIGMA = 4.0;
    /** SciPy's default truncate. */
    public static final double DEFAULT_TRUNCATE = 4.0;

    private GaussianFilter() {}

    /** {@code gaussian_filter(map, sigma=4, mode='reflect', truncate=4.0)}. */
    public static double[] apply(double[] map, int height, int width) {
        return apply(map, height, width, CRD_SIGMA, DEFAULT_TRUNCATE);
    }

    /** {@code gaussian_filter(map, sigma, mode='reflect', truncate)}; returns a new array, the input is unchanged. */
    public static double[] apply(double[] map, int height, int width, double sigma, double truncate) {
        if (height <= 0 || width <= 0) throw new IllegalArgumentException("map size must be positive: " + height + "x" + width);
        if (map.length != height * width) {
            throw new IllegalArgumentException("map length " + map.length + " != " + height + "*" + width);
        }
        if (!(sigma > 0) || !(truncate >= 0) || Double.isInfinite(sigma) || Double.isInfinite(truncate)) {
            throw new IllegalArgumentException("sigma must be > 0 and truncate >= 0: sigma=" + sigma + ", truncate=" + truncate);
        }
        double[] w = sigma == CRD_SIGMA && truncate == DEFAULT_TRUNCATE ? CRD_KERNEL : kernel(sigma, truncate);
        double[] out = new double[map.length];
        int r = w.length / 2;
        double[] tmp = scratch(0, map.length);
        // axis 0: along columns (stride = width)
        double[] line = scratch(1, Math.max(height, width) + 2 * r);
        for (int c = 0; c < width; c++) {
            for (int i = 0; i < height + 2 * r; i++) line[i] = map[reflect(i - r, height) * width + c];
            for (int i = 0; i < height; i++) tmp[i * width + c] = correlate(line, i + r, w, r);
        }
        // axis 1: along rows
        for (int row = 0; row < height; row++) {
            int base = row * width;
            for (int i = 0; i < width + 2 * r; i++) line[i] = tmp[base + reflect(i - r, width)];
            for (int i = 0; i < width; i++) out[base + i] = correlate(line, i + r, w, r);
        }
        return out;
    }

    /** The kernel of σ = 4, truncate 4 (every anomaly map's), made once. */
    private static final double[] CRD_KERNEL = kernel(CRD_SIGMA, DEFAULT_TRUNCATE);

    /** Per-thread, grow-only work rows (the first pass's output, one padded line): scoring allocates only its result. */
    private static final ThreadLocal<double[][]> SCRATCH = ThreadLocal.withInitial(() -> new double[2][0]);

    private static double[] scratch(int slot, int len) {
        double[][] t = SCRATCH.get();
        if (t[slot].length < len) t[slot] = new double[len];
        return t[slot];
    }

    /**
     * The normalised 1-D kernel of length {@code 2r+1}, {@code r = (int)(truncate·σ + 0.5)}: weights
     * {@code exp((-0.5/σ²)·x²)} divided by their sum (summed the way NumPy's pairwise sum does for short arrays).
     */
    public static double[] kernel(double sigma, double truncate) {
        int r = (int) (truncate * sigma + 0.5);
        double sigma2 = sigma * sigma;
        double a = -0.5 / sigma2;
        double[] phi = new double[2 * r + 1];
        for (int i = 0; i < phi.length; i++) {
            long x = i - r;
            phi[i] = StrictMath.exp(a * (double) (x * x));   // fdlibm: the same bits on every JVM
        }
        double sum = numpyPairwiseSum(phi, 0, phi.length);
        for (int i = 0; i < phi.length; i++) phi[i] = phi[i] / sum;
        return phi;
    }

    /** Half-sample symmetric index into a line of length n, periodic with period 2n. */
    static int reflect(int i, int n) {
        int period = 2 * n;
        int m = i % period;
        if (m < 0) m += period;
        return m < n ? m : period - 1 - m;
    }

    private static double correlate(double[] line, int centre, double[] w, int r) {
        double acc = line[centre] * w[r];
        for (int j = 1; j <= r; j++) acc += (line[centre + j] + line[centre - j]) * w[r + j];
        return acc;
    }

    /** NumPy's pairwise summation (blocks of 128, eight interleaved accumulators). */
    static double numpyPairwiseSum(double[] a, int from, int n) {
        if (n < 8) {
            double res = 0.0;
            for (int i = 0; i < n; i++) res += a[from + i];
            return res;
        } else if (n <= 128) {
            double[] r = new double[8];
            for (int k = 0; k < 8; k++) r[k] = a[from + k];
            int i;
            for (i = 8; i < n - (n % 8); i += 8) {
                for (int k = 0; k < 8; k++) r[k] += a[from + i + k];
            }
            double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for (; i < n; i++) res += a[from + i];
            return res;
        } else {
            int n2 = n / 2;
            n2 -= n2 % 8;
            return numpyPairwiseSum(a, from, n2) + numpyPairwiseSum(a, from + n2, n - n2);
        }
    }
}
