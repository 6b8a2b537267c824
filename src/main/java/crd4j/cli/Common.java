package crd4j.cli;

import crd4j.backend.Backend;
import crd4j.backend.Backends;
import picocli.CommandLine.Option;

/** Options shared by every subcommand. */
final class Common {
    @Option(names = "--verbose", description = "Print stack traces with errors.")
    boolean verbose;

    @Option(names = "--device", defaultValue = "auto",
            description = "cpu | cuda | auto (default: ${DEFAULT-VALUE}: CUDA when a GPU, its driver and cuDNN load, else cpu).")
    String device;

    @Option(names = "--tf32", description = "CUDA only: allow TF32 tensor-core maths in convolutions and GEMMs "
            + "(faster on Ampere and newer; ~1e-3 relative error instead of float32's, spec §7). Default: off.")
    boolean tf32;

    @Option(names = "--threads", defaultValue = "0",
            description = "CPU backend: threads for ND4J's native ops and BLAS (default: ${DEFAULT-VALUE} = one per core;"
                    + " 1 is faster for the tiny preset).")
    int threads;

    static crd4j.tensor.DType parseDtype(String dtype) {
        return switch (dtype) {
            case "float32" -> crd4j.tensor.DType.FLOAT32;
            case "float64" -> crd4j.tensor.DType.FLOAT64;
            default -> throw new IllegalArgumentException("--dtype: expected float32 or float64, found '" + dtype + "'");
        };
    }

    /**
     * The compute backend, through the same entry point embedding code uses ({@link Backends}): the backends are
     * found with ServiceLoader, so the CUDA path runs with ND4J absent from the class path and the CPU path with
     * JCuda absent. {@code auto} says on stderr which one it chose.
     */
    Backend backend() {
        Backends.Selection s = Backends.select(device, new Backends.Options(tf32, threads));
        if (s.note() != null) note("crd: " + s.note());
        return s.backend();
    }

    /**
     * Which device {@code --device auto} chose, for stderr. With {@code --verbose} it is printed at once; otherwise
     * {@link CrdCli#run} prints it when the command succeeds, so that a failing command still prints exactly one
     * line (the error).
     */
    static volatile String deviceNote;

    private void note(String line) {
        if (verbose) System.err.println(line);
        else deviceNote = line;
    }
}
