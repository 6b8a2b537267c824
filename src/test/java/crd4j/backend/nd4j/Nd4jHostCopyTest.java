package crd4j.backend.nd4j;

import crd4j.backend.Tensor;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Host ↔ native copies (bulk since 2026-12-01) keep every bit, every dtype and every shape, empty and scalar included. */
class Nd4jHostCopyTest {
    final Nd4jBackend be = new Nd4jBackend();

    @Test
    void float32RoundTripKeepsEveryBit() {
        float[] v = {1.5f, -0.0f, Float.MIN_VALUE, Float.MAX_VALUE, Float.NEGATIVE_INFINITY, Float.intBitsToFloat(0x7fc00123), 3e-39f};
        HostTensor back = be.fromHost(HostTensor.of(v, 7)).toHost();
        assertEquals(DType.FLOAT32, back.dtype());
        for (int i = 0; i < v.length; i++) assertEquals(Float.floatToRawIntBits(v[i]), Float.floatToRawIntBits(back.floats()[i]), "element " + i);
    }

    @Test
    void float64RoundTripKeepsEveryBitAndTheShape() {
        double[] v = new double[2 * 3 * 4];
        for (int i = 0; i < v.length; i++) v[i] = Math.scalb(Math.sin(i + 1), i - 12);
        v[5] = -0.0;
        Tensor t = be.fromHost(HostTensor.of(v, 2, 3, 4));
        assertArrayEquals(new long[]{2, 3, 4}, t.shape());
        HostTensor back = t.toHost();
        for (int i = 0; i < v.length; i++) assertEquals(Double.doubleToRawLongBits(v[i]), Double.doubleToRawLongBits(back.doubles()[i]), "element " + i);
    }

    @Test
    void scalarsEmptyTensorsAndIntegers() {
        assertArrayEquals(new float[]{4.25f}, be.fromHost(HostTensor.of(new float[]{4.25f})).toHost().floats());
        HostTensor empty = be.fromHost(HostTensor.of(new float[0], 0, 3)).toHost();
        assertArrayEquals(new long[]{0, 3}, empty.shape());
        assertEquals(0, empty.floats().length);
        assertArrayEquals(new long[]{7, -1, Long.MAX_VALUE}, be.fromHost(HostTensor.of(new long[]{7, -1, Long.MAX_VALUE}, 3)).toHost().longs());
        assertArrayEquals(new int[]{3, -9}, be.fromHost(HostTensor.of(new int[]{3, -9}, 2)).toHost().ints());
    }
}
