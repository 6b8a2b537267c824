package crd4j.cli;

import crd4j.model.Preset;

/**
 * How many CPU threads every command gives ND4J's native ops and its BLAS: {@code --threads N} when given, otherwise
 * one rule from the model's preset — 1 for {@code tiny} and {@code small}, one per core for {@code paper} (and a
 * custom size). The small presets' operations are too small to amortise OpenMP's start-up and synchronisation:
 * {@code crd train} of the tiny preset, 1 epoch, on the 2-core development machine took 37–42 s with 1 thread and
 * 183–280 s with 2 (interleaved, load average 8–9; 1.7x slower on the quiet machine; benchmarks/RESULTS.md), while
 * the paper preset keeps ND4J's default of one per core for its large GEMMs (not measured against one thread on a
 * quiet machine yet). {@code small} was not measured and follows {@code tiny}.
 * Each count is deterministic, but two counts do not train bit-identical models (the BLAS sums in another order).
 *
 * <p>The setting is process-wide (ND4J's environment); {@link #current} is what was last applied, so {@code bench}
 * reports the count actually in use.
 */
final class Threads {
    private Threads() {}

    private static volatile int current = Runtime.getRuntime().availableProcessors();

    /** The rule: 1 for tiny and small, one per core otherwise. */
    static int forPreset(Preset p) {
        return p.name().equals("tiny") || p.name().equals("small") ? 1 : Runtime.getRuntime().availableProcessors();
    }

    /** The thread count in use (ND4J's default, one per core, until a command sets it). */
    static int current() { return current; }

    /** Sets ND4J's thread count when the CPU backend is on the class path; the CUDA backend ignores it. */
    static void apply(int n) {
        if (n < 1) throw new IllegalArgumentException("--threads: expected >= 1, found " + n);
        try {
            Class.forName("crd4j.backend.nd4j.Nd4jBackend").getMethod("setThreads", int.class).invoke(null, n);
            current = n;
        } catch (ClassNotFoundException | NoClassDefFoundError e) {
            // no CPU backend: nothing to set
        } catch (java.lang.reflect.InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot set the CPU backend's thread count", e);
        }
    }
}
