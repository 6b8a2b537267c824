package crd4j.eval;

import java.util.List;

/**
 * Evaluation metrics of spec §9, computed exactly (no threshold sampling):
 * <ul>
 *   <li>{@link #rocAuc} = {@code sklearn.metrics.roc_auc_score}: exact Mann–Whitney AUC, ties counted ½.</li>
 *   <li>{@link #averagePrecision} = {@code sklearn.metrics.average_precision_score}:
 *       Σ (R_n − R_{n−1})·P_n over distinct thresholds in descending order.</li>
 *   <li>Pixel-level versions over the pooled pixels of many maps.</li>
 *   <li>{@link #proCurve}/{@link #auPro}: the official MVTec AU-PRO (8-connected GT regions, exact curve, float32 FPR,
 *       {@link #trapezoid} with the interpolation correction at the integration limit).</li>
 * </ul>
 * Beside them, the metrics the 2025 reference (TRD) prints (spec §16.2), named apart so they are not mixed with the
 * exact AU-PRO: {@link #sampledProCurve} (100 thresholds at positions of the sorted good-pixel scores, integrated to
 * FPR 0.3, 0.1, 0.05, 0.01) and {@link #f1Max} / {@link #pixelF1Max} (the best F1 over scikit-learn's
 * {@code precision_recall_curve}).
 *
 * <p>Scores are sorted once per call with an O(n) LSD radix sort on order-preserving 64-bit keys that carries an int
 * payload (label or region id); the pooled pixels are never copied as doubles, so ~100 maps × 65,536 pixels need
 * 24 bytes per pixel of scratch (~160 MB).
 *
 * <p>Degenerate inputs follow the formulas: AUROC is NaN with one class only (scikit-learn raises), AP is −0.0 without
 * positives (as scikit-learn 1.2), and without any GT region the PRO values are NaN and dropped by {@link #trapezoid},
 * leaving the (0,0)–(1,1) diagonal (AU-PRO@0.3 = 0.15, AU-PRO@0.01 = 0.005), as the official code does.
 * Labels must be 0 or 1; NaN scores are rejected (scikit-learn rejects them too).
 */
public final class Metrics {
    /** Integration limits used by CRD (the first is the printed one). */
    public static final double PRO_LIMIT = 0.3, PRO_LIMIT_SMALL = 0.01;
    /** The FPR limits of the threshold-sampled AU-PRO of the 2025 reference (spec §16.2), in its printed order. */
    public static final double[] SAMPLED_PRO_LIMITS = {0.3, 0.1, 0.05, 0.01};
    /** Number of thresholds of the sampled PRO curve (the reference's {@code num_thresholds}). */
    public static final int SAMPLED_PRO_THRESHOLDS = 100;

    private Metrics() {}

    // ------------------------------------------------------------------ image-level / generic binary

    /**
     * {@code roc_auc_score(labels, scores)}. Returns NaN when only one class is present (scikit-learn raises
     * {@code ValueError} there).
     */
    public static double rocAuc(double[] scores, int[] labels) {
        checkBinary(labels);
        return binary(sorted(List.of(scores), labels.clone()), false).auroc;
    }

    /** {@code average_precision_score(labels, scores)}; −0.0 when there is no positive (as scikit-learn 1.2). */
    public static double averagePrecision(double[] scores, int[] labels) {
        checkBinary(labels);
        return binary(sorted(List.of(scores), labels.clone()), false).ap;
    }

    // ------------------------------------------------------------------ pixel-level

    /** {@link #rocAuc} over all pixels of all maps pooled; {@code gts.get(i)} is the 0/1 map of {@code maps.get(i)}. */
    public static double pixelRocAuc(List<double[]> maps, List<int[]> gts) {
        int[] labels = poolLabels(maps, gts);
        checkBinary(labels);
        return binary(sorted(maps, labels), false).auroc;
    }

    /** {@link #averagePrecision} over all pixels of all maps pooled. */
    public static double pixelAveragePrecision(List<double[]> maps, List<int[]> gts) {
        int[] labels = poolLabels(maps, gts);
        checkBinary(labels);
        return binary(sorted(maps, labels), false).ap;
    }

    /** The exact PRO curve of spec §9 for row-major {@code height×width} maps and their 0/1 GT maps. */
    public static ProCurve proCurve(List<double[]> maps, List<int[]> gts, int height, int width) {
        Regions regions = regions(maps, gts, height, width);
        Sorted sorted = sorted(maps, regions.payload);
        regions.payload = null;
        return proCurve(sorted, regions);
    }

    /** AU-PRO up to {@code limit} (e.g. 0.3): area under the PRO curve divided by the limit. */
    public static double auPro(List<double[]> maps, List<int[]> gts, int height, int width, double limit) {
        return proCurve(maps, gts, height, width).auPro(limit);
    }

    /** The exact image-level ROC curve of {@code scores} against 0/1 {@code labels} (see {@link RocCurve}). */
    public static RocCurve rocCurve(double[] scores, int[] labels) {
        checkBinary(labels);
        return rocCurve(sorted(List.of(scores), labels.clone()));
    }

    /**
     * The threshold-sampled PRO curve of the 2025 reference (spec §16.2): the scores of the ok pixels (outside every
     * 8-connected GT region) of all maps sorted ascending (n of them); thresholds at positions
     * {@code p = (int) linspace(0, n − 1, 100)} into them; at each, FPR = 1 − (p+1)/n and PRO = the mean over regions of
     * the fraction of the region's pixels scoring above the threshold; (1, 1) added, in increasing FPR order (so the
     * curve starts at the highest threshold). Without a GT region or without an ok pixel the curve is empty (its
     * AU-PRO is NaN; the reference divides by zero there).
     */
    public static ProCurve sampledProCurve(List<double[]> maps, List<int[]> gts, int height, int width) {
        Regions regions = regions(maps, gts, height, width);
        Sorted sorted = sorted(maps, regions.payload);
        regions.payload = null;
        return sampledProCurve(sorted, regions);
    }

    /** The area under {@link #sampledProCurve} up to {@code limit} divided by the limit; NaN for an empty curve. */
    public static double sampledAuPro(ProCurve sampled, double limit) {
        return sampled.fpr().length == 0 ? Double.NaN : sampled.auPro(limit);
    }

    /**
     * F1-max of the 2025 reference (spec §16.2): over {@code sklearn.metrics.precision_recall_curve(labels, scores)},
     * F1 = 2PR/(P + R + 1e-7) at every distinct score used as threshold (score ≥ threshold flagged; the final (P=1,
     * R=0) point dropped), the maximum. Without positives scikit-learn sets recall to 1 and precision is 0, so it is 0.
     */
    public static double f1Max(double[] scores, int[] labels) {
        checkBinary(labels);
        return f1Max(sorted(List.of(scores), labels.clone()), false);
    }

    /** {@link #f1Max} over all pixels of all maps pooled (P-F1 of the 2025 reference). */
    public static double pixelF1Max(List<double[]> maps, List<int[]> gts) {
        int[] labels = poolLabels(maps, gts);
        checkBinary(labels);
        return f1Max(sorted(maps, labels), false);
    }

    /**
     * All six numbers of spec §9 for one class. {@code maps} are the final (already smoothed, spec §8.3) anomaly maps,
     * {@code gts} the binarised GT maps (0/1) of the same size. Image scores are {@code max(map)}, image labels
     * {@code max(gt)} (spec §2.4). The pooled pixels are sorted once for P-AUROC, P-AP, the PRO curve, and the 2025
     * reference's sampled AU-PRO and P-F1 max (spec §16.2).
     */
    public static MetricSet evaluate(List<double[]> maps, List<int[]> gts, int height, int width) {
        return evaluateWithCurves(maps, gts, height, width).metrics();
    }

    /**
     * {@link #evaluate}'s numbers with the curves behind them: the image-level ROC curve and the whole PRO curve (one
     * point per distinct pixel score: 16 bytes per pooled pixel at worst, so thin it before keeping it).
     */
    public record Curves(MetricSet metrics, RocCurve imageRoc, ProCurve pro) {}

    /** {@link #evaluate} plus its image-level ROC and PRO curves, from the same single sort of the pooled pixels. */
    public static Curves evaluateWithCurves(List<double[]> maps, List<int[]> gts, int height, int width) {
        checkSizes(maps, gts);
        int m = maps.size();
        double[] imgScores = new double[m];
        int[] imgLabels = new int[m];
        for (int i = 0; i < m; i++) {
            double mx = Double.NEGATIVE_INFINITY;
            for (double v : maps.get(i)) {
                if (Double.isNaN(v)) throw new IllegalArgumentException("NaN in anomaly map " + i);
                mx = Math.max(mx, v);
            }
            imgScores[i] = mx;
            int lab = 0;
            for (int g : gts.get(i)) lab = Math.max(lab, g);
            imgLabels[i] = lab;
        }
        Sorted imgSorted = sorted(List.of(imgScores), imgLabels);
        Binary img = binary(imgSorted, false);
        RocCurve roc = rocCurve(imgSorted);
        Regions regions = regions(maps, gts, height, width);
        Sorted px = sorted(maps, regions.payload);
        regions.payload = null;   // now owned (permuted) by px
        Binary pix = binary(px, true);
        ProCurve curve = proCurve(px, regions);
        ProCurve sampled = sampledProCurve(px, regions);
        double[] sp = new double[SAMPLED_PRO_LIMITS.length];
        for (int k = 0; k < sp.length; k++) sp[k] = sampledAuPro(sampled, SAMPLED_PRO_LIMITS[k]);
        return new Curves(new MetricSet(img.auroc, img.ap, pix.auroc, pix.ap, curve.auPro(PRO_LIMIT), curve.auPro(PRO_LIMIT_SMALL),
                sp[0], sp[1], sp[2], sp[3], f1Max(imgSorted, false), f1Max(px, true)), roc, curve);
    }

    // ------------------------------------------------------------------ MVTec trapezoid

    /**
     * MVTec {@code trapezoid(x, y, x_max)} (spec §9): drops non-finite points; if {@code xMax} is not one of the x
     * values, interpolates y at {@code xMax} between points {@code ins−1} and {@code ins} with
     * {@code ins = bisect_right(x, xMax)} and adds {@code ½(y_interp + y[ins−1])(xMax − x[ins−1])}; sums the trapezoids
     * of the points with {@code x ≤ xMax}. {@code xMax} NaN means no limit.
     */
    public static double trapezoid(double[] x, double[] y, double xMax) {
        if (x.length != y.length) throw new IllegalArgumentException("x and y lengths differ");
        int n = 0;
        double[] xs = new double[x.length], ys = new double[y.length];
        for (int i = 0; i < x.length; i++) {
            if (Double.isFinite(x[i]) && Double.isFinite(y[i])) {
                xs[n] = x[i];
                ys[n] = y[i];
                n++;
            }
        }
        double correction = 0.0;
        if (!Double.isNaN(xMax)) {
            boolean present = false;
            for (int i = 0; i < n; i++) present |= xs[i] == xMax;
            if (!present) {
                int lo = 0, hi = n;           // bisect_right
                while (lo < hi) {
                    int mid = (lo + hi) >>> 1;
                    if (xMax < xs[mid]) hi = mid; else lo = mid + 1;
                }
                int ins = lo;
                if (!(ins > 0 && ins < n)) {
                    throw new IllegalArgumentException("x_max " + xMax + " outside the curve's x range");
                }
                double yInterp = ys[ins - 1] + ((ys[ins] - ys[ins - 1]) * (xMax - xs[ins - 1]) / (xs[ins] - xs[ins - 1]));
                correction = 0.5 * (yInterp + ys[ins - 1]) * (xMax - xs[ins - 1]);
            }
            int k = 0;
            for (int i = 0; i < n; i++) {
                if (xs[i] <= xMax) {
                    xs[k] = xs[i];
                    ys[k] = ys[i];
                    k++;
                }
            }
            n = k;
        }
        if (n < 2) return correction;
        double[] terms = new double[n - 1];
        for (int i = 1; i < n; i++) terms[i - 1] = 0.5 * (ys[i] + ys[i - 1]) * (xs[i] - xs[i - 1]);
        return GaussianFilter.numpyPairwiseSum(terms, 0, terms.length) + correction;
    }

    // ------------------------------------------------------------------ internals

    private record Binary(double auroc, double ap) {}

    /** Scores sorted ascending by order-preserving key, with the payload permuted alongside. */
    private record Sorted(long[] keys, int[] payload) {}

    /** Per-pixel region ids (−1 = ok pixel), per-region sizes and PRO increments 1/|region|. */
    private static final class Regions {
        int[] payload;
        int[] size;
        double[] inverseSize;
        int count;
        long okPixels;
    }

    private static void checkSizes(List<double[]> maps, List<int[]> gts) {
        if (maps.size() != gts.size()) {
            throw new IllegalArgumentException(maps.size() + " maps but " + gts.size() + " GT maps");
        }
        for (int i = 0; i < maps.size(); i++) {
            if (maps.get(i).length != gts.get(i).length) {
                throw new IllegalArgumentException("map " + i + " has " + maps.get(i).length + " pixels, its GT "
                        + gts.get(i).length);
            }
        }
    }

    private static int[] poolLabels(List<double[]> maps, List<int[]> gts) {
        checkSizes(maps, gts);
        long total0 = 0;
        for (int[] g : gts) total0 += g.length;
        if (total0 > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("too many pixels: " + total0);
        int total = 0;
        for (int[] g : gts) total += g.length;
        int[] all = new int[total];
        int off = 0;
        for (int[] g : gts) {
            System.arraycopy(g, 0, all, off, g.length);
            off += g.length;
        }
        return all;
    }

    private static Regions regions(List<double[]> maps, List<int[]> gts, int height, int width) {
        checkSizes(maps, gts);
        if (height <= 0 || width <= 0) throw new IllegalArgumentException("bad map size " + height + "x" + width);
        long total0 = 0;
        for (int[] g : gts) {
            if (g.length != height * width) {
                throw new IllegalArgumentException("GT map has " + g.length + " pixels, expected " + height + "*" + width);
            }
            total0 += g.length;
        }
        if (total0 > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("too many pixels: " + total0);
        int total = (int) total0;
        Regions r = new Regions();
        r.payload = new int[total];
        int[] labels = new int[height * width];
        int[] sizes = new int[16];
        double[] inv = new double[16];
        int[] regionSize = new int[16];
        int off = 0, count = 0;
        long ok = 0;
        for (int[] g : gts) {
            checkBinary(g);
            int n = ConnectedComponents.label(g, height, width, labels);
            if (sizes.length < n + 1) sizes = new int[n + 1];
            java.util.Arrays.fill(sizes, 0, n + 1, 0);
            for (int v : labels) sizes[v]++;
            if (inv.length < count + n) {
                inv = java.util.Arrays.copyOf(inv, Math.max(2 * inv.length, count + n));
                regionSize = java.util.Arrays.copyOf(regionSize, inv.length);
            }
            for (int k = 1; k <= n; k++) {
                inv[count + k - 1] = 1.0 / sizes[k];
                regionSize[count + k - 1] = sizes[k];
            }
            for (int p = 0; p < labels.length; p++) {
                int l = labels[p];
                if (l == 0) {
                    r.payload[off + p] = -1;
                    ok++;
                } else {
                    r.payload[off + p] = count + l - 1;
                }
            }
            count += n;
            off += labels.length;
        }
        r.inverseSize = inv;
        r.size = regionSize;
        r.count = count;
        r.okPixels = ok;
        return r;
    }

    private static void checkBinary(int[] labels) {
        for (int v : labels) {
            if (v != 0 && v != 1) throw new IllegalArgumentException("labels must be 0 or 1, got " + v);
        }
    }

    /**
     * Sort keys of the concatenated score arrays, sorted ascending, with {@code payload} (one entry per score, taken
     * over and permuted in place) alongside. Scratch: 24 bytes per score including the result.
     */
    private static Sorted sorted(List<double[]> scores, int[] payload) {
        long total = 0;
        for (double[] a : scores) total += a.length;
        if (total != payload.length) {
            throw new IllegalArgumentException(total + " scores but " + payload.length + " labels");
        }
        long[] keys = new long[payload.length];
        int off = 0;
        for (double[] a : scores) {
            for (int i = 0; i < a.length; i++) {
                double s = a[i];
                if (Double.isNaN(s)) throw new IllegalArgumentException("NaN score at index " + (off + i));
                keys[off + i] = key(s);
            }
            off += a.length;
        }
        radixSort(keys, payload);
        return new Sorted(keys, payload);
    }

    /** Order-preserving map of a non-NaN double to a long compared as unsigned; −0.0 and 0.0 map to the same key. */
    static long key(double d) {
        long bits = Double.doubleToRawLongBits(d + 0.0);
        return bits < 0 ? ~bits : bits | Long.MIN_VALUE;
    }

    /** LSD radix sort, 16-bit digits, ascending unsigned keys; stable; payload permuted alongside. */
    static void radixSort(long[] keys, int[] payload) {
        int n = keys.length;
        if (n < 2) return;
        long[] k2 = new long[n];
        int[] p2 = new int[n];
        int[] count = new int[1 << 16];
        long[] srcK = keys, dstK = k2;
        int[] srcP = payload, dstP = p2;
        for (int shift = 0; shift < 64; shift += 16) {
            java.util.Arrays.fill(count, 0);
            for (int i = 0; i < n; i++) count[(int) ((srcK[i] >>> shift) & 0xFFFF)]++;
            int d0 = (int) ((srcK[0] >>> shift) & 0xFFFF);
            if (count[d0] == n) continue;  // all keys share this digit
            int sum = 0;
            for (int d = 0; d < count.length; d++) {
                int c = count[d];
                count[d] = sum;
                sum += c;
            }
            for (int i = 0; i < n; i++) {
                int pos = count[(int) ((srcK[i] >>> shift) & 0xFFFF)]++;
                dstK[pos] = srcK[i];
                dstP[pos] = srcP[i];
            }
            long[] tk = srcK; srcK = dstK; dstK = tk;
            int[] tp = srcP; srcP = dstP; dstP = tp;
        }
        if (srcK != keys) {
            System.arraycopy(srcK, 0, keys, 0, n);
            System.arraycopy(srcP, 0, payload, 0, n);
        }
    }

    /** AUROC and AP in one descending pass over the sorted scores, one step per distinct score. */
    private static Binary binary(Sorted s, boolean regionPayload) {
        long[] keys = s.keys;
        int[] pay = s.payload;
        int n = keys.length;
        // positive: label 1, or region id >= 0; negative: label 0 or region id -1
        long pos = 0;
        for (int i = 0; i < n; i++) if (isPositive(pay[i], regionPayload)) pos++;
        long neg = n - pos;
        long tp = 0, fp = 0;
        long twiceArea = 0;   // 2 · Σ fp_block · (tp_above + tp_block / 2), exact Mann–Whitney count
        double ap = 0.0, comp = 0.0;  // Neumaier-compensated sum
        int i = n - 1;
        while (i >= 0) {
            long k = keys[i];
            long tpB = 0, fpB = 0;
            int j = i;
            while (j >= 0 && keys[j] == k) {
                if (isPositive(pay[j], regionPayload)) tpB++; else fpB++;
                j--;
            }
            twiceArea += fpB * (2 * tp + tpB);
            long prevTp = tp;
            tp += tpB;
            fp += fpB;
            if (tpB > 0 && pos > 0) {
                double term = ((double) tp / pos - (double) prevTp / pos) * ((double) tp / (double) (tp + fp));
                double t = ap + term;
                comp += Math.abs(ap) >= Math.abs(term) ? (ap - t) + term : (term - t) + ap;
                ap = t;
            }
            i = j;
        }
        double auroc = (pos == 0 || neg == 0) ? Double.NaN : (double) twiceArea / (2.0 * (double) pos * (double) neg);
        double apv = pos == 0 ? -0.0 : ap + comp;
        return new Binary(auroc, apv);
    }

    /** ROC points in one descending pass, one per distinct score, after a leading (0, 0) at threshold +∞. */
    private static RocCurve rocCurve(Sorted s) {
        long[] keys = s.keys;
        int[] pay = s.payload;
        int n = keys.length;
        long pos = 0;
        for (int v : pay) if (v == 1) pos++;
        long neg = n - pos;
        int groups = 0;
        for (int i = 0; i < n; i++) if (i == n - 1 || keys[i] != keys[i + 1]) groups++;
        double[] fpr = new double[groups + 1], tpr = new double[groups + 1], thr = new double[groups + 1];
        thr[0] = Double.POSITIVE_INFINITY;
        long tp = 0, fp = 0;
        int g = 1;
        for (int i = n - 1; i >= 0; i--) {
            if (pay[i] == 1) tp++; else fp++;
            if (i == 0 || keys[i - 1] != keys[i]) {
                fpr[g] = (double) fp / neg;   // NaN without negatives, as scikit-learn
                tpr[g] = (double) tp / pos;
                thr[g] = unkey(keys[i]);
                g++;
            }
        }
        if (neg == 0) fpr[0] = Double.NaN;
        if (pos == 0) tpr[0] = Double.NaN;
        return new RocCurve(fpr, tpr, thr);
    }

    /** Inverse of {@link #key} (−0.0 comes back as 0.0). */
    static double unkey(long k) {
        long bits = k < 0 ? k & Long.MAX_VALUE : ~k;
        return Double.longBitsToDouble(bits);
    }

    /** Labels are 0/1 (1 positive); region payloads are −1 (ok pixel) or a region id ≥ 0 (positive). */
    private static boolean isPositive(int v, boolean regionPayload) {
        return regionPayload ? v >= 0 : v == 1;
    }

    private static ProCurve proCurve(Sorted s, Regions r) {
        long[] keys = s.keys;
        int[] pay = s.payload;
        int n = keys.length;
        int groups = 0;
        for (int i = 0; i < n; i++) if (i == n - 1 || keys[i] != keys[i + 1]) groups++;
        double[] fpr = new double[groups + 2];
        double[] pro = new double[groups + 2];
        float okF = (float) r.okPixels;
        double regions = r.count;
        long cumFp = 0;
        double cumPro = 0.0;
        int g = 1;
        for (int i = n - 1; i >= 0; i--) {
            int p = pay[i];
            if (p < 0) cumFp++; else cumPro += r.inverseSize[p];
            if (i == 0 || keys[i - 1] != keys[i]) {
                float f = (float) cumFp / okF;
                double q = cumPro / regions;
                fpr[g] = f > 1f ? 1.0 : f;
                pro[g] = q > 1.0 ? 1.0 : q;
                g++;
            }
        }
        fpr[0] = 0.0;
        pro[0] = 0.0;
        fpr[groups + 1] = 1.0;
        pro[groups + 1] = 1.0;
        return new ProCurve(fpr, pro);
    }
    /**
     * §16.2's sampled PRO curve from the sorted pooled pixels: the ok-pixel scores are the payload −1 entries in
     * ascending order; one ascending pass counts, per region, the pixels scoring ≤ each threshold; PRO at a threshold
     * is Σ over regions, in region order, of (1 − count/size), divided by the number of regions (the reference's
     * order of operations).
     */
    private static ProCurve sampledProCurve(Sorted s, Regions r) {
        long[] keys = s.keys;
        int[] pay = s.payload;
        long nOk = r.okPixels;
        if (nOk == 0 || r.count == 0) return new ProCurve(new double[0], new double[0]);
        int t = SAMPLED_PRO_THRESHOLDS;
        long[] pos = new long[t];
        double step = (double) (nOk - 1) / (t - 1);            // numpy.linspace(0, n-1, 100), cast to int
        for (int i = 0; i < t - 1; i++) pos[i] = (long) (i * step);
        pos[t - 1] = nOk - 1;
        long[] thr = new long[t];                               // sort keys of okSorted[pos[i]]
        long okSeen = 0;
        int next = 0;
        for (int i = 0; i < keys.length && next < t; i++) {
            if (pay[i] >= 0) continue;
            while (next < t && pos[next] == okSeen) thr[next++] = keys[i];
            okSeen++;
        }
        int[] below = new int[r.count];
        double[] fpr = new double[t + 1], pro = new double[t + 1];
        int i = 0;
        for (int j = 0; j < t; j++) {
            long k = thr[j];
            while (i < keys.length && Long.compareUnsigned(keys[i], k) <= 0) {
                if (pay[i] >= 0) below[pay[i]]++;
                i++;
            }
            double sum = 0.0;
            for (int c = 0; c < r.count; c++) sum += 1.0 - (double) below[c] / r.size[c];
            // reversed: threshold j goes to index t - j - 1; index t is the leading (1, 1) of the reference
            fpr[t - 1 - j] = 1.0 - (double) (pos[j] + 1) / nOk;
            pro[t - 1 - j] = sum / r.count;
        }
        fpr[t] = 1.0;
        pro[t] = 1.0;
        return new ProCurve(fpr, pro);
    }

    /** F1-max over the distinct thresholds of one descending pass (see {@link #f1Max(double[], int[])}). */
    private static double f1Max(Sorted s, boolean regionPayload) {
        long[] keys = s.keys;
        int[] pay = s.payload;
        int n = keys.length;
        long pos = 0;
        for (int i = 0; i < n; i++) if (isPositive(pay[i], regionPayload)) pos++;
        long tp = 0, fp = 0;
        double best = Double.NEGATIVE_INFINITY;
        for (int i = n - 1; i >= 0; i--) {
            if (isPositive(pay[i], regionPayload)) tp++; else fp++;
            if (i == 0 || keys[i - 1] != keys[i]) {
                double p = (double) tp / (double) (tp + fp);
                double rc = pos == 0 ? 1.0 : (double) tp / (double) pos;
                double f1 = 2 * p * rc / (p + rc + 1e-7);
                if (f1 > best || Double.isNaN(f1)) best = f1;
            }
        }
        return n == 0 ? Double.NaN : best;
    }
}
