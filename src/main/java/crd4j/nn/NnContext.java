package crd4j.nn;

import crd4j.backend.Backend;
import crd4j.tensor.DType;

import java.util.SplittableRandom;

/**
 * What every layer needs at construction: the backend that holds its tensors, the compute dtype (FLOAT32; FLOAT64
 * for gradient checks) and the seeded generator for initial weights. Java cannot reproduce PyTorch's RNG stream
 * (§5.6), so initial values match PyTorch in distribution only; parity tests import weights instead.
 */
public record NnContext(Backend backend, DType dtype, SplittableRandom rng) {
    public NnContext(Backend backend, DType dtype, long seed) {
        this(backend, dtype, new SplittableRandom(seed));
    }

    /**
     * A context for a model whose every weight is loaded right after construction (a strict state-dict load, which
     * refuses a missing key): the layers start from zeros instead of drawing their initial values. Drawing them
     * (Box–Muller in Java) took about 10 s of the 412 M parameters of the paper preset, all of it overwritten by the
     * load (benchmarks/RESULTS.md, 2026-12-01 evening).
     */
    public static NnContext forLoading(Backend backend, DType dtype) {
        return new NnContext(backend, dtype, (SplittableRandom) null);
    }
}
