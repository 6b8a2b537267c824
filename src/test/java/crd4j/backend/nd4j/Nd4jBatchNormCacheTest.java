package crd4j.backend.nd4j;

import crd4j.backend.Tensor;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The eval-mode batch-norm coefficients cached on γ's tensor are recomputed whenever γ, β or the running statistics
 * change: after every in-place op of the backend that writes them and when a different tensor is passed. Each check
 * compares with the same batch norm on fresh copies of the parameters (which have no cache), bit for bit.
 */
class Nd4jBatchNormCacheTest {
    final Nd4jBackend be = new Nd4jBackend();
    final SplittableRandom r = new SplittableRandom(4);

    Tensor random(double lo, double hi, long... shape) {
        float[] v = new float[(int) HostTensor.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return be.fromHost(HostTensor.of(v, shape));
    }

    final Tensor x = random(-2, 2, 2, 4, 3, 3);
    final Tensor gamma = random(-1, 1, 4), beta = random(-1, 1, 4), mean = random(-1, 1, 4), var = random(0.1, 2, 4);

    /** BN(x) with the live (cached) parameters equals BN(x) with fresh copies of them. */
    float[] assertMatchesFresh(String when) {
        float[] cached = be.batchNormEval(x, gamma, beta, mean, var, 1e-5).toHost().floats();
        float[] fresh = be.batchNormEval(x, be.copy(gamma), be.copy(beta), be.copy(mean), be.copy(var), 1e-5).toHost().floats();
        assertArrayEquals(fresh, cached, 0f, when);
        Tensor y = be.copy(x);
        be.batchNormEvalInPlace(y, gamma, beta, mean, var, 1e-5, null, false);
        assertArrayEquals(fresh, y.toHost().floats(), 0f, when + " (in place)");
        return cached;
    }

    @Test
    void adamStepOnGammaOrBetaInvalidatesTheCache() {
        float[] before = assertMatchesFresh("first use");
        be.adamStep(gamma, random(-1, 1, 4), be.zeros(gamma.dtype(), 4), be.zeros(gamma.dtype(), 4), 0.1, 0.5, 0.999, 1e-8, 1);
        float[] after = assertMatchesFresh("after an Adam step on gamma");
        assertFalse(java.util.Arrays.equals(before, after), "the step changed gamma, so the output changes");
        be.adamStep(beta, random(-1, 1, 4), be.zeros(beta.dtype(), 4), be.zeros(beta.dtype(), 4), 0.1, 0.5, 0.999, 1e-8, 1);
        assertMatchesFresh("after an Adam step on beta");
    }

    @Test
    void trainModeStatisticsUpdateAndInPlaceAddInvalidateTheCache() {
        assertMatchesFresh("first use");
        be.batchNormTrain(random(-3, 3, 2, 4, 3, 3), gamma, beta, mean, var, 0.1, 1e-5);
        assertMatchesFresh("after train-mode batch norm updated the running statistics");
        be.addInPlace(beta, random(-1, 1, 4));
        assertMatchesFresh("after beta += …");
    }

    @Test
    void anotherTensorOrEpsIsNotServedFromTheCache() {
        assertMatchesFresh("first use");
        float[] other = be.batchNormEval(x, gamma, beta, mean, random(0.1, 2, 4), 1e-5).toHost().floats();
        float[] plain = be.batchNormEval(x, gamma, beta, mean, var, 1e-5).toHost().floats();
        assertFalse(java.util.Arrays.equals(other, plain), "a different running_var gives a different result");
        assertMatchesFresh("after use with another running_var");
        float[] eps = be.batchNormEval(x, gamma, beta, mean, var, 0.5).toHost().floats();
        assertFalse(java.util.Arrays.equals(eps, plain), "another eps gives another result");
    }
}
