package crd4j.data;

import crd4j.testing.PyReference;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code src/test/python/data_reference.py} (numpy, Pillow, tifffile, OpenCV) once and caches its output under
 * {@code target/pyref/data}, keyed by the script's hash. Tests are skipped, with the reason, when the interpreter
 * lacks one of those modules.
 */
final class DataReference {
    static final Path SCRIPT = Paths.get("src/test/python/data_reference.py");
    static final Path DIR = Paths.get("target/pyref/data");
    private static String problem;
    private static boolean ready;

    private DataReference() {}

    static synchronized Path dir() {
        if (!ready) {
            ready = true;
            problem = generate();
        }
        Assumptions.assumeTrue(problem == null, () -> problem);
        return DIR;
    }

    private static String generate() {
        String py = PyReference.python();
        try {
            Process check = new ProcessBuilder(py, "-c", "import numpy, PIL, tifffile, cv2").redirectErrorStream(true).start();
            String out = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!check.waitFor(60, TimeUnit.SECONDS) || check.exitValue() != 0) {
                return "data reference unavailable: " + py + " cannot import numpy, PIL, tifffile and cv2 ("
                        + out.strip().lines().reduce((a, b) -> b).orElse("") + "); install python3-numpy python3-pil "
                        + "python3-tifffile python3-opencv or set CRD4J_PYTHON";
            }
            String key = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(SCRIPT)));
            Path stamp = DIR.resolve(".stamp");
            if (Files.isRegularFile(stamp) && Files.readString(stamp).equals(key)) return null;
            if (Files.exists(DIR)) {
                try (var walk = Files.walk(DIR)) {
                    for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
                }
            }
            Files.createDirectories(DIR);
            Path log = DIR.resolveSibling("data.log");
            Process p = new ProcessBuilder(py, SCRIPT.toString(), "--out", DIR.toString())
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException("data_reference.py timed out");
            }
            if (p.exitValue() != 0) throw new IllegalStateException("data_reference.py failed:\n" + Files.readString(log));
            Files.writeString(stamp, key);
            return null;
        } catch (IOException | java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
