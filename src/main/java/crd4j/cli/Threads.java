package crd4j.cli;

import crd4j.model.Preset;

/**
 * How many CPU threads every command gives the CPU backend: {@code --threads N} when given, otherwise one rule from
 * the model's preset — at most 2 for {@code tiny} and {@code small}, one per core for {@code paper} (and a custom
 * size). With a budget of 2 or 3 the backend runs the two halves of each pass (teacher per modality, student branch
 * per modality) at once, each with single-threaded operations (Nd4jBackend.setThreads), which gives the same bits as 1
 * thread; above that ND4J's operations themselves get the threads. Measured on the 2-core development machine
 * (benchmarks/RESULTS.md, 2026-12-01, quiet): tiny training 13.0–13.6 samples/s at 1 thread, 13.2–16.7 at 2; paper
 * inference 2.27–2.41 s at 2 threads against 4.7–4.9 s with the library's own two-thread operations. The small
 * presets' operations are too small to gain from many library threads (1.7× slower at 2 library threads on
 * 2026-11-25), hence their cap of 2.
 *
 * <p>The setting is process-wide (ND4J's environment); {@link #current} is what was last applied, so {@code bench}
 * reports the count actually in use.
 */
final class Threads {
    private Threads() {}

    private static volatile int current = Runtime.getRuntime().availableProcessors();

    /** The rule: at most 2 for tiny and small, one per core otherwise. */
    static int forPreset(Preset p) {
        int cores = Runtime.getRuntime().availableProcessors();
        return p.name().equals("tiny") || p.name().equals("small") ? Math.min(2, cores) : cores;
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
