package crd4j.cli;

import crd4j.backend.Backend;
import crd4j.backend.nd4j.Nd4jBackend;
import picocli.CommandLine.Option;

/** Options shared by every subcommand. */
final class Common {
    @Option(names = "--verbose", description = "Print stack traces with errors.")
    boolean verbose;

    @Option(names = "--device", defaultValue = "auto", description = "cpu | cuda | auto (default: ${DEFAULT-VALUE}).")
    String device;

    static crd4j.tensor.DType parseDtype(String dtype) {
        return switch (dtype) {
            case "float32" -> crd4j.tensor.DType.FLOAT32;
            case "float64" -> crd4j.tensor.DType.FLOAT64;
            default -> throw new IllegalArgumentException("--dtype: expected float32 or float64, found '" + dtype + "'");
        };
    }

    /** The compute backend; this build has the CPU reference backend only, so auto means cpu. */
    Backend backend() {
        switch (device) {
            case "cpu", "auto" -> {
                // only with --verbose: on bad input the error must be the one line on stderr
                if (device.equals("auto") && verbose) System.err.println("crd: device auto -> cpu (ND4J reference backend)");
                return new Nd4jBackend();
            }
            case "cuda" -> throw new IllegalArgumentException(
                    "--device cuda: this build has no CUDA backend yet (use --device cpu)");
            default -> throw new IllegalArgumentException("--device: expected cpu, cuda or auto, found '" + device + "'");
        }
    }
}
