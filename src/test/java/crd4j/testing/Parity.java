package crd4j.testing;

import crd4j.backend.Tensor;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Relative L2 error ‖actual − expected‖ / ‖expected‖, asserted against a stated tolerance, and recorded in
 * {@code target/parity/errors.tsv} so docs/PARITY.md can quote measured numbers.
 */
public final class Parity {
    /** Per layer / op forward, float32 (brief: ≤ 1e-5). */
    public static final double LAYER = 1e-5;
    /** Through the whole network, and for gradients (brief: ≤ 1e-4). */
    public static final double NETWORK = 1e-4;

    private Parity() {}

    public static double relL2(HostTensor actual, HostTensor expected) {
        assertArrayEquals(expected.shape(), actual.shape(), "shape");
        double num = 0, den = 0;
        for (long i = 0; i < expected.numel(); i++) {
            double e = expected.getDouble(i), a = actual.getDouble(i);
            num += (a - e) * (a - e);
            den += e * e;
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    public static double assertClose(String what, Tensor actual, HostTensor expected, double tol) {
        return assertClose(what, actual.toHost(), expected, tol);
    }

    public static double assertClose(String what, HostTensor actual, HostTensor expected, double tol) {
        double e = relL2(actual, expected);
        record(what, e, tol);
        assertTrue(Double.isFinite(e) && e <= tol, what + ": relative L2 error " + e + " > " + tol);
        return e;
    }

    public static synchronized void record(String what, double err, double tol) {
        try {
            Path f = Paths.get("target/parity/errors.tsv");
            Files.createDirectories(f.getParent());
            Files.writeString(f, String.format("%s\t%.3e\t%.0e%n", what, err, tol), StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
