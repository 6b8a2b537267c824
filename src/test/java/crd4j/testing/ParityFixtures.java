package crd4j.testing;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The PyTorch fixtures of the backend parity suite (OpsParityTest, NetworkParityTest, TrainingStepParityTest), named
 * in one place so that the tests and the GPU machine's script (benchmarks/device/run.sh, which runs {@link #main}
 * in the background while it benchmarks) generate the same cache entries under {@code target/pyref/}.
 */
public final class ParityFixtures {
    private ParityFixtures() {}

    /** crd_reference.py {@code ops}: every backend op, float32, odd shapes. */
    public static Path ops() {
        return PyReference.generate("ops", "ops").resolve("ops");
    }

    /** crd_reference.py {@code network}: tiny preset (base 4, S=64), float32 weights evaluated in float64 and float32. */
    public static Path networkTiny(int batch) {
        return PyReference.generate("network-tiny-b" + batch, "network", "--base", "4", "--size", "64",
                "--batch", Integer.toString(batch), "--ref-dtype", "float64");
    }

    /** crd_reference.py {@code train-step}: two iterations, batch 2, in float64 (exact) or float32 (PyTorch's own). */
    public static Path trainStep(String semantics, boolean float64) {
        String s = semantics.toLowerCase(Locale.ROOT);
        return float64
                ? PyReference.generate("train-f64-" + s, "train-step", "--steps", "2", "--batch", "2", "--semantics", s, "--dtype", "float64")
                : PyReference.generate("train-f32-" + s, "train-step", "--steps", "2", "--batch", "2", "--semantics", s);
    }

    /** Generates every fixture of the suite (reusing cached ones); prints one line each; exit 1 if one fails. */
    public static void main(String[] args) {
        record Job(String name, Runnable run) {}
        List<Job> jobs = List.of(new Job("ops", ParityFixtures::ops),
                new Job("network tiny b1", () -> networkTiny(1)), new Job("network tiny b2", () -> networkTiny(2)),
                new Job("train-step float64 detached", () -> trainStep("detached", true)),
                new Job("train-step float64 joint", () -> trainStep("joint", true)),
                new Job("train-step float32 detached", () -> trainStep("detached", false)),
                new Job("train-step float32 joint", () -> trainStep("joint", false)));
        int failed = 0;
        for (Job j : jobs) {
            long t0 = System.nanoTime();
            try {
                j.run().run();
                System.out.printf(Locale.ROOT, "fixture %s: ready (%.1f s)%n", j.name(), (System.nanoTime() - t0) / 1e9);
            } catch (RuntimeException e) {
                failed++;
                System.out.println("fixture " + j.name() + ": FAILED: " + String.valueOf(e.getMessage()).lines().findFirst().orElse(e.toString()));
            }
        }
        System.out.println(failed == 0 ? "fixtures: all ready" : "fixtures: " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }
}
