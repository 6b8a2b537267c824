package crd4j.backend.nd4j;

import crd4j.backend.Tensor;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The float32 Adam step's single pass over the native buffers equals the op-by-op ND4J form bit for bit, over
 * several steps, with gradients spanning many magnitudes (incl. zeros and tiny values, where Adam's division by
 * √v + ε is most sensitive), on an odd-sized tensor.
 */
class Nd4jAdamTest {
    @Test
    void fusedFloat32StepIsBitIdenticalToTheOpByOpForm() {
        Nd4jBackend be = new Nd4jBackend();
        SplittableRandom r = new SplittableRandom(11);
        int n = 10_007;
        float[] p0 = new float[n];
        for (int i = 0; i < n; i++) p0[i] = (float) r.nextGaussian();
        Tensor pa = be.fromHost(HostTensor.of(p0, n)), pb = be.fromHost(HostTensor.of(p0.clone(), n));
        Tensor ma = be.zeros(crd4j.tensor.DType.FLOAT32, n), mb = be.zeros(crd4j.tensor.DType.FLOAT32, n);
        Tensor va = be.zeros(crd4j.tensor.DType.FLOAT32, n), vb = be.zeros(crd4j.tensor.DType.FLOAT32, n);
        double lr = 0.005;
        for (int step = 1; step <= 5; step++) {
            float[] g = new float[n];
            for (int i = 0; i < n; i++) {
                g[i] = i % 97 == 0 ? 0f : (float) (r.nextGaussian() * Math.pow(10, -r.nextInt(12)));
            }
            Tensor gt = be.fromHost(HostTensor.of(g, n));
            be.adamStep(pa, gt, ma, va, lr, 0.5, 0.999, 1e-8, step);
            be.adamStepOps(pb, gt, mb, vb, lr, 0.5, 0.999, 1e-8, step);
            lr *= 0.95;
        }
        float[][] a = {pa.toHost().floats(), ma.toHost().floats(), va.toHost().floats()};
        float[][] b = {pb.toHost().floats(), mb.toHost().floats(), vb.toHost().floats()};
        for (int k = 0; k < 3; k++) {
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToRawIntBits(b[k][i]), Float.floatToRawIntBits(a[k][i]),
                        new String[]{"p", "m", "v"}[k] + "[" + i + "]: " + a[k][i] + " vs op-by-op " + b[k][i]);
            }
        }
    }
}
