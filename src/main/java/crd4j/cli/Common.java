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
            + "(faster on Ampere and newer; ~1e-3 relative error instead of float32's). Default: off.")
    boolean tf32;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
            description = "CPU backend: the thread budget. Default (0): chosen from the model's preset, at most 2 for tiny and"
                    + " small, one per core for paper. With 2 or 3 the two modalities' halves of each pass run at once on"
                    + " single-threaded operations (the same results as 1); with more, the operations themselves use the threads.")
    int threads;

    /**
     * Applies the thread count for a model of preset {@code p} (the {@link Threads} rule, or {@code --threads});
     * called by each command once it knows the preset. Returns the count in use.
     */
    int threadsFor(crd4j.model.Preset p) {
        if (threads < 0) throw new IllegalArgumentException("--threads: expected >= 0, found " + threads);
        // the CUDA backend has no CPU thread pool to size (and ND4J's natives need not load for it)
        if (cpuBackend) Threads.apply(threads > 0 ? threads : Threads.forPreset(p));
        return Threads.current();
    }

    /** Whether {@link #backend} chose the CPU (ND4J) backend. */
    private boolean cpuBackend;

    /**
     * {@link #threadsFor} for the model in {@code modelFile}, its preset read from the file's header; a file whose
     * header cannot be read is left to the command's full read, which names the problem.
     */
    void threadsForModel(java.nio.file.Path modelFile) {
        crd4j.model.Preset p;
        try {
            com.fasterxml.jackson.databind.node.ObjectNode meta = crd4j.io.ModelFile.readMeta(modelFile);
            // a training state holds the model's metadata under "model"
            if (meta.get("model") instanceof com.fasterxml.jackson.databind.node.ObjectNode m) meta = m;
            p = crd4j.model.ModelFiles.presetOf(meta);
        } catch (java.io.IOException | RuntimeException e) {
            return;
        }
        threadsFor(p);
    }

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
        cpuBackend = s.backend().getClass().getName().equals("crd4j.backend.nd4j.Nd4jBackend");
        if (cpuBackend && threads > 0) Threads.apply(threads);
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
