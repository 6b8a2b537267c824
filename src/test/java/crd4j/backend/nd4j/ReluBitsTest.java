package crd4j.backend.nd4j;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The branch-free ReLU of the one-pass epilogue gives exactly the bits of t &lt; 0 ? 0 : t (ND4J's), and the
 * branch-free step of ReLU's backward pass exactly t &gt; 0 ? 1 : 0: on every
 * boundary of the bit ranges (±0, the smallest subnormals, ±MAX, ±∞, NaNs of both signs and payloads) and on four
 * million random bit patterns.
 */
class ReluBitsTest {
    private static void check(int bits) {
        float t = Float.intBitsToFloat(bits);
        float[] v = {t};
        Nd4jBackend.reluInPlace(v, 1);
        float expect = t < 0f ? 0f : t;
        assertEquals(t > 0 ? 1f : 0f, Nd4jBackend.positiveAsOne(t), 0f, "step of bits 0x" + Integer.toHexString(bits));
        assertEquals(Integer.toHexString(Float.floatToRawIntBits(expect)), Integer.toHexString(Float.floatToRawIntBits(v[0])),
                "relu of bits 0x" + Integer.toHexString(bits));
    }

    @Test
    void sameBitsAsTheComparison() {
        int[] edges = {0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00800000, 0x80800000,
                0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7F800001, 0xFF800001, 0x7FC00000, 0xFFC00000,
                0x7FFFFFFF, 0xFFFFFFFF, 0x3F800000, 0xBF800000};
        for (int e : edges) for (int d = -2; d <= 2; d++) check(e + d);
        SplittableRandom r = new SplittableRandom(17);
        for (int i = 0; i < 4_000_000; i++) check(r.nextInt());
        float[] many = new float[1000];
        for (int i = 0; i < many.length; i++) many[i] = (float) (r.nextDouble() * 2 - 1);
        float[] copy = many.clone();
        Nd4jBackend.reluInPlace(many, 600);   // only the first 600
        for (int i = 0; i < many.length; i++) assertEquals(i < 600 ? (copy[i] < 0f ? 0f : copy[i]) : copy[i], many[i], 0f);
    }
}
