package crd4j.backend.nd4j;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Blas#gemm} on raw buffers gives the same bits as {@code Nd4j.gemm} on the same operands (the convolutions
 * switched from one to the other, and the float32 results must not move), for both dtypes, every transpose
 * combination, operands that start inside their buffers and accumulation (beta 1); an extent outside a buffer is
 * refused before anything is called.
 */
class BlasTest {
    @Test
    void sameBitsAsNd4jGemm() {
        Nd4j.getRandom().setSeed(11);
        long[][] shapes = {{16, 256, 36}, {64, 1024, 576}, {7, 13, 5}, {3, 4096, 27}, {1, 1, 1}};
        for (DataType dt : new DataType[] {DataType.FLOAT, DataType.DOUBLE}) {
            for (long[] s : shapes) {
                for (int t = 0; t < 4; t++) {
                    boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                    long m = s[0], n = s[1], k = s[2];
                    // operands in the middle of larger buffers: sample 1 of a [3, rows, cols] array
                    INDArray a3 = Nd4j.randn(dt, 3, ta ? k : m, ta ? m : k), b3 = Nd4j.randn(dt, 3, tb ? n : k, tb ? k : n);
                    INDArray c0 = Nd4j.randn(dt, m, n);
                    for (double beta : new double[] {0.0, 1.0}) {
                        INDArray a = a3.get(NDArrayIndex.point(1), NDArrayIndex.all(), NDArrayIndex.all()).dup('c');
                        INDArray b = b3.get(NDArrayIndex.point(1), NDArrayIndex.all(), NDArrayIndex.all()).dup('c');
                        INDArray expect = c0.dup('c');
                        Nd4j.gemm(a, b, expect, ta, tb, 1.0, beta);
                        INDArray got = c0.dup('c');
                        Blas.gemm(ta, tb, m, n, k, 1.0, a3.data(), a.length(), ta ? m : k, b3.data(), b.length(), tb ? k : n,
                                beta, got.data(), 0, n);
                        String what = dt + " " + m + "x" + n + "x" + k + " ta=" + ta + " tb=" + tb + " beta=" + beta;
                        if (dt == DataType.FLOAT) assertArrayEquals(expect.data().asFloat(), got.data().asFloat(), 0f, what);
                        else assertArrayEquals(expect.data().asDouble(), got.data().asDouble(), 0.0, what);
                    }
                }
            }
        }
    }

    @Test
    void extentsOutsideABufferAreRefused() {
        INDArray a = Nd4j.create(DataType.FLOAT, 4, 4), b = Nd4j.create(DataType.FLOAT, 4, 4), c = Nd4j.create(DataType.FLOAT, 4, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Blas.gemm(false, false, 4, 4, 4, 1, a.data(), 1, 4, b.data(), 0, 4, 0, c.data(), 0, 4));
        assertTrue(e.getMessage().contains("operand A"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> Blas.gemm(false, false, 4, 5, 4, 1, a.data(), 0, 4, b.data(), 0, 4, 0, c.data(), 0, 4));
        assertThrows(IllegalArgumentException.class,
                () -> Blas.gemm(false, false, 4, 4, 4, 1, a.data(), 0, 4, b.data(), 0, 4, 0, Nd4j.create(DataType.DOUBLE, 4, 4).data(), 0, 4));
    }
}
