package crd4j.backend.nd4j;

import crd4j.backend.Tensor;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Recycled activation buffers: reused by the next tensor of the same size, never readable through a closed tensor. */
class Nd4jBufferPoolTest {
    final Nd4jBackend be = new Nd4jBackend();

    static HostTensor random(long seed, long... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[(int) HostTensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        return HostTensor.of(v, shape);
    }

    @Test
    void aClosedConvolutionOutputIsReusedAndTheReuseComputesTheSameValues() {
        Tensor x = be.fromHost(random(1, 2, 5, 9, 9)), w = be.fromHost(random(2, 7, 5, 3, 3));
        Tensor first = be.conv2d(x, w, 1, 1);
        float[] expected = first.toHost().floats();
        var array = Nd4jBackend.arr(first);
        var buffer = array.data();
        first.close();
        // another op of the same output size overwrites the recycled buffer first, then the conv gets it back
        Tensor other = be.conv2d(be.fromHost(random(3, 2, 5, 9, 9)), w, 1, 1);
        other.close();
        Tensor again = be.conv2d(x, w, 1, 1);
        assertSame(buffer, Nd4jBackend.arr(again).data(), "the closed output's buffer is reused");
        assertSame(array, Nd4jBackend.arr(again), "an output of the same shape gets the pooled array itself (no new shape buffer)");
        assertArrayEquals(expected, again.toHost().floats(), 0f);
    }

    @Test
    void aPooledBufferServesAnotherShapeOfTheSameLength() {
        Tensor a = be.conv2d(be.fromHost(random(1, 1, 3, 4, 4)), be.fromHost(random(2, 8, 3, 1, 1)), 1, 0);   // [1, 8, 4, 4]
        var buffer = Nd4jBackend.arr(a).data();
        a.close();
        Tensor b = be.conv2d(be.fromHost(random(3, 1, 3, 8, 8)), be.fromHost(random(4, 2, 3, 1, 1)), 1, 0);   // [1, 2, 8, 8]
        assertSame(buffer, Nd4jBackend.arr(b).data());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {1, 2, 8, 8}, b.shape());
    }

    @Test
    void aPooledTensorCannotBeReadAfterClose() {
        Tensor y = be.conv2d(be.fromHost(random(1, 1, 3, 4, 4)), be.fromHost(random(2, 2, 3, 1, 1)), 1, 0);
        y.close();
        assertThrows(IllegalStateException.class, y::toHost);
        assertThrows(IllegalStateException.class, () -> be.relu(y));
    }
}
