package crd4j.backend.nd4j;

import crd4j.backend.Tensor;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The allocation-free native copies: round trips at offsets, channel concatenation built on them equal to ND4J's
 * concat bit for bit (both dtypes, several samples, parts of different widths), and extents outside a buffer or an
 * array refused before any memory is touched.
 */
class NativeMemoryTest {
    @Test
    void readsAndWritesAtOffsets() {
        INDArray a = Nd4j.create(DataType.FLOAT, 10);
        NativeMemory.write(a.data(), 3, new float[]{9, 1, 2, 3, 9}, 1, 3);
        assertArrayEquals(new float[]{0, 0, 0, 1, 2, 3, 0, 0, 0, 0}, a.data().asFloat(), 0f);
        float[] back = new float[4];
        NativeMemory.read(a.data(), 4, back, 1, 3);
        assertArrayEquals(new float[]{0, 2, 3, 0}, back, 0f);
        INDArray d = Nd4j.create(DataType.DOUBLE, 4);
        NativeMemory.write(d.data(), 0, new double[]{-0.0, Double.NaN, 1e-310, 7}, 0, 4);
        double[] dv = new double[4];
        NativeMemory.read(d.data(), 0, dv, 0, 4);
        assertEquals(Double.doubleToRawLongBits(-0.0), Double.doubleToRawLongBits(dv[0]));
        assertEquals(Double.doubleToRawLongBits(Double.NaN), Double.doubleToRawLongBits(dv[1]));
        assertEquals(1e-310, dv[2], 0.0);
    }

    @Test
    void concatenationIsNd4jsBitForBit() {
        Nd4jBackend be = new Nd4jBackend();
        for (DataType dt : new DataType[]{DataType.FLOAT, DataType.DOUBLE}) {
            INDArray p = Nd4j.randn(dt, 3, 2, 4, 5), q = Nd4j.randn(dt, 3, 5, 4, 5), r = Nd4j.randn(dt, 3, 1, 4, 5);
            Tensor out = be.concatChannels(List.of(new Nd4jBackend.Nd4jTensor(p), new Nd4jBackend.Nd4jTensor(q),
                    new Nd4jBackend.Nd4jTensor(r)));
            INDArray expect = Nd4j.concat(1, p, q, r);
            INDArray got = ((Nd4jBackend.Nd4jTensor) out).array();
            assertArrayEquals(expect.shape(), got.shape());
            assertArrayEquals(expect.data().asDouble(), java.util.Arrays.copyOf(got.data().asDouble(), (int) expect.length()), 0.0);
        }
    }

    @Test
    void extentsOutsideABufferOrArrayAreRefused() {
        INDArray a = Nd4j.create(DataType.FLOAT, 8), b = Nd4j.create(DataType.FLOAT, 8);
        assertThrows(IndexOutOfBoundsException.class, () -> NativeMemory.read(a.data(), 6, new float[4], 0, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> NativeMemory.write(a.data(), 0, new float[4], 2, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> NativeMemory.copy(a.data(), 0, b.data(), 5, 4));
        assertThrows(IllegalArgumentException.class, () -> NativeMemory.read(Nd4j.create(DataType.DOUBLE, 8).data(), 0, new float[4], 0, 4));
        assertThrows(IllegalArgumentException.class, () -> NativeMemory.copy(a.data(), 0, Nd4j.create(DataType.DOUBLE, 8).data(), 0, 4));
    }
}
