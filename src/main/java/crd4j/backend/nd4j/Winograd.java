package crd4j.backend.nd4j;

/**
 * Winograd's minimal filtering F(2×2, 3×3) for float32 3×3 stride-1 convolutions (Lavin and Gray, "Fast Algorithms
 * for Convolutional Neural Networks", 2016): each 2×2 block of output pixels comes from a 4×4 input tile with 16
 * multiplications per (input, output) channel pair instead of 36, so the convolution's GEMM work falls to 4/9 of
 * im2col + GEMM's. Per sample batch:
 * <ol>
 *   <li>filter transform U_e = (G g Gᵀ)_e for the 16 tile positions e (in float64, rounded once; cached per weight
 *       tensor by the backend),</li>
 *   <li>input transform V_e = (Bᵀ d B)_e of every 4×4 tile d (stride 2, zero padding outside the image),</li>
 *   <li>16 GEMMs M_e[O×T] = U_e[O×C] · V_e[C×T] over the T tiles of all samples (OpenBLAS, {@link Blas}),</li>
 *   <li>output transform Y = Aᵀ M A of each tile, cropped to the output size.</li>
 * </ol>
 * with Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], Aᵀ = [1 1 1 0; 0 1 −1 −1].
 *
 * <p>The result is the same convolution with a different float32 rounding (the transforms add and subtract inputs
 * before the products): its error against float64 is within a small factor of im2col + GEMM's, checked by
 * {@code WinogradTest} against a float64 convolution and by the float32 network parity tests against PyTorch.
 * float64 convolutions always take im2col + GEMM, the reference path.
 */
final class Winograd {
    private Winograd() {}

    /** Scratch arrays of this thread: the padded input plane, the transformed tiles, the GEMM results, the output. */
    private static final ThreadLocal<float[][]> WORK = ThreadLocal.withInitial(() -> new float[4][0]);

    private static float[] work(int slot, int len) {
        float[][] w = WORK.get();
        if (w[slot].length < len) w[slot] = new float[len];
        return w[slot];
    }

    /** Tiles per image dimension for an output of size {@code out}: ⌈out / 2⌉. */
    static int tiles(int out) { return (out + 1) / 2; }

    /**
     * U[e][o][c] (16 O×C matrices, {@link #stride}(o·c) apart) from g[o][c][3][3] (C order), computed in float64 and
     * rounded to float32 once per element.
     */
    static float[] transformFilter(float[] g, int o, int c) {
        int oc = stride(o * c);
        float[] u = new float[16 * oc];
        double[] t = new double[12];
        for (int p = 0; p < o * c; p++) {
            int b = 9 * p;
            // t = G·g (4×3): rows of g combined
            for (int j = 0; j < 3; j++) {
                double g0 = g[b + j], g1 = g[b + 3 + j], g2 = g[b + 6 + j];
                t[j] = g0;
                t[3 + j] = 0.5 * (g0 + g1 + g2);
                t[6 + j] = 0.5 * (g0 - g1 + g2);
                t[9 + j] = g2;
            }
            // u = t·Gᵀ (4×4): columns of t combined
            for (int r = 0; r < 4; r++) {
                double a0 = t[3 * r], a1 = t[3 * r + 1], a2 = t[3 * r + 2];
                u[(4 * r) * oc + p] = (float) a0;
                u[(4 * r + 1) * oc + p] = (float) (0.5 * (a0 + a1 + a2));
                u[(4 * r + 2) * oc + p] = (float) (0.5 * (a0 - a1 + a2));
                u[(4 * r + 3) * oc + p] = (float) a2;
            }
        }
        return u;
    }

    /**
     * The convolution of x [n, c, h, w] (C order, float32, starting at element 0 of {@code x}) with filters whose
     * transform is {@code u} (a native buffer laid out as {@link #transformFilter} makes it), padding {@code pad}, into
     * y [n, o, oH, oW] with oH = h + 2·pad − 2. {@code vBuf} and {@code mBuf} are native scratch buffers of at least
     * {@link #scratchLength} floats (16 matrices of c·T and o·T, T = n·⌈oH/2⌉·⌈oW/2⌉, {@link #stride} apart).
     */
    static void conv(org.nd4j.linalg.api.buffer.DataBuffer x, int n, int c, int h, int w, int pad,
                     org.nd4j.linalg.api.buffer.DataBuffer u, int o,
                     org.nd4j.linalg.api.buffer.DataBuffer vBuf, org.nd4j.linalg.api.buffer.DataBuffer mBuf,
                     org.nd4j.linalg.api.buffer.DataBuffer y) {
        int oH = h + 2 * pad - 2, oW = w + 2 * pad - 2;
        int tH = tiles(oH), tW = tiles(oW), tPer = tH * tW, t = n * tPer;
        int sv = stride(c * t), sm = stride(o * t);
        inputTransform(x, n, c, h, w, pad, tH, tW, sv, vBuf);
        for (int e = 0; e < 16; e++) {
            Blas.gemm(false, false, o, t, c, 1.0, u, (long) e * stride(o * c), c, vBuf, (long) e * sv, t,
                    0.0, mBuf, (long) e * sm, t);
        }
        outputTransform(mBuf, n, o, oH, oW, tH, tW, sm, y);
    }

    /** Floats needed in the V and M scratch buffers: 16 matrices of c·T and o·T floats each, {@link #stride} apart. */
    static long[] scratchLength(int n, int c, int o, int oH, int oW) {
        long t = (long) n * tiles(oH) * tiles(oW);
        return new long[]{16L * stride(Math.toIntExact(c * t)), 16L * stride(Math.toIntExact(o * t))};
    }

    /**
     * The distance between consecutive transformed matrices: their length plus 16 floats (64 bytes), so that the 16
     * streams the transforms write and read at once do not all fall into the same cache sets (matrix lengths are
     * often multiples of 4 KB, and an L1 cache has 8 ways).
     */
    static int stride(int len) { return len + 16; }

    private static void inputTransform(org.nd4j.linalg.api.buffer.DataBuffer x, int n, int c, int h, int w, int pad,
                                       int tH, int tW, int ct, org.nd4j.linalg.api.buffer.DataBuffer vBuf) {
        int plane = h * w, tPer = tH * tW, t = n * tPer;
        int pH = 2 * tH + 2, pW = 2 * tW + 2;           // the padded plane covering every tile: pH ≥ h + 2·pad
        float[] src = work(0, plane), p = work(1, pH * pW);
        float[] v = work(2, 16 * ct);
        java.util.Arrays.fill(p, 0, pH * pW, 0f);
        for (int s = 0; s < n; s++) {
            for (int ch = 0; ch < c; ch++) {
                NativeMemory.read(x, (long) (s * c + ch) * plane, src, 0, plane);
                for (int r = 0; r < h; r++) System.arraycopy(src, r * w, p, (r + pad) * pW + pad, w);
                int out = ch * t + s * tPer;
                for (int ty = 0; ty < tH; ty++) {
                    int row = 2 * ty * pW;
                    for (int tx = 0; tx < tW; tx++, out++) {
                        int q = row + 2 * tx;
                        float d00 = p[q], d01 = p[q + 1], d02 = p[q + 2], d03 = p[q + 3];
                        q += pW;
                        float d10 = p[q], d11 = p[q + 1], d12 = p[q + 2], d13 = p[q + 3];
                        q += pW;
                        float d20 = p[q], d21 = p[q + 1], d22 = p[q + 2], d23 = p[q + 3];
                        q += pW;
                        float d30 = p[q], d31 = p[q + 1], d32 = p[q + 2], d33 = p[q + 3];
                        // Bᵀ·d (rows)
                        float a0 = d00 - d20, a1 = d01 - d21, a2 = d02 - d22, a3 = d03 - d23;
                        float b0 = d10 + d20, b1 = d11 + d21, b2 = d12 + d22, b3 = d13 + d23;
                        float e0 = d20 - d10, e1 = d21 - d11, e2 = d22 - d12, e3 = d23 - d13;
                        float f0 = d10 - d30, f1 = d11 - d31, f2 = d12 - d32, f3 = d13 - d33;
                        // (Bᵀ·d)·B (columns)
                        v[out] = a0 - a2;
                        v[ct + out] = a1 + a2;
                        v[2 * ct + out] = a2 - a1;
                        v[3 * ct + out] = a1 - a3;
                        v[4 * ct + out] = b0 - b2;
                        v[5 * ct + out] = b1 + b2;
                        v[6 * ct + out] = b2 - b1;
                        v[7 * ct + out] = b1 - b3;
                        v[8 * ct + out] = e0 - e2;
                        v[9 * ct + out] = e1 + e2;
                        v[10 * ct + out] = e2 - e1;
                        v[11 * ct + out] = e1 - e3;
                        v[12 * ct + out] = f0 - f2;
                        v[13 * ct + out] = f1 + f2;
                        v[14 * ct + out] = f2 - f1;
                        v[15 * ct + out] = f1 - f3;
                    }
                }
            }
        }
        NativeMemory.write(vBuf, 0, v, 0, 16 * ct);
    }

    private static void outputTransform(org.nd4j.linalg.api.buffer.DataBuffer mBuf, int n, int o, int oH, int oW,
                                        int tH, int tW, int ot, org.nd4j.linalg.api.buffer.DataBuffer y) {
        int tPer = tH * tW, t = n * tPer, plane = oH * oW;
        float[] m = work(2, 16 * ot), out = work(3, n * o * plane);
        NativeMemory.read(mBuf, 0, m, 0, 16 * ot);
        for (int s = 0; s < n; s++) {
            for (int oc = 0; oc < o; oc++) {
                int in = oc * t + s * tPer, base = (s * o + oc) * plane;
                for (int ty = 0; ty < tH; ty++) {
                    int y0 = 2 * ty;
                    for (int tx = 0; tx < tW; tx++, in++) {
                        // Aᵀ·M (rows): s = m0 + m1 + m2, d = m1 − m2 − m3
                        float s0 = m[in] + m[4 * ot + in] + m[8 * ot + in];
                        float s1 = m[ot + in] + m[5 * ot + in] + m[9 * ot + in];
                        float s2 = m[2 * ot + in] + m[6 * ot + in] + m[10 * ot + in];
                        float s3 = m[3 * ot + in] + m[7 * ot + in] + m[11 * ot + in];
                        float q0 = m[4 * ot + in] - m[8 * ot + in] - m[12 * ot + in];
                        float q1 = m[5 * ot + in] - m[9 * ot + in] - m[13 * ot + in];
                        float q2 = m[6 * ot + in] - m[10 * ot + in] - m[14 * ot + in];
                        float q3 = m[7 * ot + in] - m[11 * ot + in] - m[15 * ot + in];
                        int x0 = 2 * tx, at = base + y0 * oW + x0;
                        boolean right = x0 + 1 < oW, below = y0 + 1 < oH;
                        out[at] = s0 + s1 + s2;
                        if (right) out[at + 1] = s1 - s2 - s3;
                        if (below) {
                            out[at + oW] = q0 + q1 + q2;
                            if (right) out[at + oW + 1] = q1 - q2 - q3;
                        }
                    }
                }
            }
        }
        NativeMemory.write(y, 0, out, 0, n * o * plane);
    }
}
