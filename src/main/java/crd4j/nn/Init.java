package crd4j.nn;

import crd4j.tensor.HostTensor;

import java.util.SplittableRandom;

/** PyTorch's initialisers as used by the reference (§5.6), drawn from a seeded Java generator. */
public final class Init {
    private Init() {}

    /** kaiming_normal_(mode='fan_out', nonlinearity='relu') for a conv weight [C_out, C_in, k, k]: N(0, 2/(C_out·k²)). */
    public static HostTensor kaimingNormalFanOut(SplittableRandom rng, long cOut, long cIn, long k) {
        if (rng == null) return HostTensor.zeros(crd4j.tensor.DType.FLOAT32, cOut, cIn, k, k);   // NnContext.forLoading
        double std = Math.sqrt(2.0 / (cOut * k * k));
        float[] w = new float[Math.toIntExact(cOut * cIn * k * k)];
        for (int i = 0; i < w.length; i++) w[i] = (float) (gaussian(rng) * std);
        return HostTensor.of(w, cOut, cIn, k, k);
    }

    /**
     * ConvTranspose2d's default init, kaiming_uniform_(a=√5) = U(−1/√fan_in, 1/√fan_in), where PyTorch computes
     * fan_in from the weight layout [C_in, C_out, 2, 2] as C_out·4 (§5.6, §10.8).
     */
    public static HostTensor deconvDefault(SplittableRandom rng, long cIn, long cOut) {
        if (rng == null) return HostTensor.zeros(crd4j.tensor.DType.FLOAT32, cIn, cOut, 2, 2);   // NnContext.forLoading
        double bound = 1.0 / Math.sqrt(cOut * 4.0);
        float[] w = new float[Math.toIntExact(cIn * cOut * 4)];
        for (int i = 0; i < w.length; i++) w[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        return HostTensor.of(w, cIn, cOut, 2, 2);
    }

    public static HostTensor filled(long n, float value) {
        float[] a = new float[Math.toIntExact(n)];
        java.util.Arrays.fill(a, value);
        return HostTensor.of(a, n);
    }

    static double gaussian(SplittableRandom rng) {
        // Box–Muller; SplittableRandom has no nextGaussian on Java 17
        double u1 = 1.0 - rng.nextDouble(), u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
