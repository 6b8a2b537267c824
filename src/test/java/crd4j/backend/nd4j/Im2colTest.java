package crd4j.backend.nd4j;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.convolution.Convolution;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * crd4j's column matrix (bulk row copies) holds exactly ND4J's im2col op's values — every kernel size, stride and
 * padding the network uses plus odd sizes, for the first and a later sample of a batch, in float32 and float64 —
 * so the convolutions built on it are unchanged to the bit.
 */
class Im2colTest {
    @ParameterizedTest(name = "c{0} h{1} w{2} k{3} s{4} p{5}")
    @CsvSource({
            "3, 17, 17, 7, 2, 3",   // the stem convolution, odd size
            "4, 8, 8, 3, 1, 1",
            "5, 9, 7, 3, 2, 1",     // a stride-2 block, odd and non-square
            "2, 4, 4, 3, 1, 1",
            "3, 6, 5, 1, 2, 0",
            "2, 3, 3, 3, 1, 2",     // padding wider than the image's remainder
            "1, 1, 1, 3, 1, 1"})
    void sameValuesAsNd4jIm2col(int c, int h, int w, int k, int s, int p) {
        for (DataType dt : new DataType[]{DataType.FLOAT, DataType.DOUBLE}) {
            INDArray x = Nd4j.rand(dt, 3, c, h, w).subi(0.5);
            long oH = (h + 2L * p - k) / s + 1, oW = (w + 2L * p - k) / s + 1;
            for (long i : new long[]{0, 2}) {
                INDArray ref = Nd4j.create(dt, 1, c, k, k, oH, oW);
                Convolution.im2col(x.get(NDArrayIndex.interval(i, i + 1), NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.all()),
                        k, k, s, s, p, p, 1, 1, false, ref);
                INDArray col = Nd4j.valueArrayOf(new long[]{(long) c * k * k, oH * oW}, 99.0, dt); // stale contents must be overwritten
                Nd4jBackend.im2col(x, i, k, s, p, oH, oW, col);
                assertArrayEquals(ref.reshape(c * k * k * oH * oW).toDoubleVector(), col.reshape(c * k * k * oH * oW).toDoubleVector(), 0.0,
                        dt + " sample " + i);
            }
        }
    }
}
