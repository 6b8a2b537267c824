package crd4j.cli;

import crd4j.backend.Backend;
import crd4j.backend.DeviceUnavailableException;
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
            description = "CPU backend: threads for ND4J's native ops and BLAS. Default (0): chosen from the model's preset,"
                    + " 1 for tiny and small (their operations are too small to gain from more threads), one per core for paper.")
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
     * The compute backend. Both backends are loaded by name, so that the CUDA path runs with ND4J absent from the
     * class path and the CPU path with JCuda absent. {@code auto} says on stderr which one it chose.
     */
    Backend backend() {
        switch (device) {
            case "cpu" -> {
                return cpu("--device cpu");
            }
            case "cuda" -> {
                return cuda();
            }
            case "auto" -> {
                String why;
                try {
                    Backend be = cuda();
                    note("crd: device auto -> " + be.name());
                    return be;
                } catch (DeviceUnavailableException e) {
                    why = e.getMessage().replaceFirst("^--device cuda: ", "");
                }
                Backend be = cpu("--device auto: no usable GPU (" + why + ")");
                note("crd: device auto -> cpu (ND4J reference backend; CUDA not used: " + why + ")");
                return be;
            }
            default -> throw new IllegalArgumentException("--device: expected cpu, cuda or auto, found '" + device + "'");
        }
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

    private Backend cuda() {
        return (Backend) construct("crd4j.backend.cuda.CudaBackend", "--device cuda",
                "the CUDA backend's classes (JCuda jars) are not on the class path");
    }

    private Backend cpu(String context) {
        if (tf32 && device.equals("cpu")) throw new IllegalArgumentException("--tf32 applies to the CUDA backend only");
        try {
            // Nd4jBackend itself loads without ND4J; its first op would not
            Class.forName("org.nd4j.linalg.factory.Nd4j", false, Common.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw new DeviceUnavailableException(context + ": the CPU backend needs ND4J (nd4j-native), which is not on the class path");
        }
        Backend be = (Backend) construct("crd4j.backend.nd4j.Nd4jBackend", context,
                "the CPU backend needs ND4J (nd4j-native), which is not on the class path");
        cpuBackend = true;
        return be;
    }

    private Object construct(String className, String context, String missing) {
        try {
            Class<?> c = Class.forName(className);
            if (className.endsWith("CudaBackend")) {
                return c.getMethod("open", boolean.class).invoke(null, tf32);
            }
            Object be = c.getConstructor().newInstance();
            if (threads < 0) throw new IllegalArgumentException("--threads: expected >= 0, found " + threads);
            if (threads > 0) Threads.apply(threads);
            return be;
        } catch (ClassNotFoundException | NoClassDefFoundError e) {
            throw new DeviceUnavailableException(context + ": " + missing);
        } catch (java.lang.reflect.InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof DeviceUnavailableException d) throw d;
            if (cause instanceof NoClassDefFoundError || cause instanceof UnsatisfiedLinkError
                    || cause instanceof ExceptionInInitializerError) {
                throw new DeviceUnavailableException(context + ": " + missing + " (" + cause + ")");
            }
            if (cause instanceof RuntimeException r) throw r;
            throw new IllegalStateException(cause);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot create " + className, e);
        }
    }
}
