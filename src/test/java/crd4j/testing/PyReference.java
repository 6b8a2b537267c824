package crd4j.testing;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the PyTorch reference script ({@code src/test/python/crd_reference.py}) and caches what it writes under
 * {@code target/pyref/<name>}. References are generated, not committed: a cache entry is reused only while the
 * script and the arguments are unchanged (a stamp file holds their hash).
 *
 * <p>The interpreter is {@code $CRD4J_PYTHON}, else {@code python3} from Debian ({@code /usr/bin/python3}), which is
 * where {@code apt-get install python3-torch} puts PyTorch. When no interpreter with torch is found the calling test
 * is aborted (reported as skipped) with that reason; {@code .ci/run} installs the packages so CI never skips.
 */
public final class PyReference {
    public static final Path SCRIPT = Paths.get("src/test/python/crd_reference.py");
    private static final Path CACHE = Paths.get("target/pyref");

    private PyReference() {}

    public static String python() {
        String env = System.getenv("CRD4J_PYTHON");
        if (env != null && !env.isBlank()) return env;
        Path debian = Paths.get("/usr/bin/python3");
        return Files.isExecutable(debian) ? debian.toString() : "python3";
    }

    /** Aborts the calling test (skip with reason) unless python with torch is available. */
    public static void assumeTorch() {
        String why = torchProblem();
        Assumptions.assumeTrue(why == null, () -> "PyTorch reference unavailable: " + why
                + " (install python3-torch from Debian or set CRD4J_PYTHON)");
    }

    private static volatile String torchProblem;
    private static volatile boolean torchChecked;

    private static synchronized String torchProblem() {
        if (!torchChecked) {
            torchChecked = true;
            try {
                Process p = new ProcessBuilder(python(), "-c", "import torch, numpy").redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    torchProblem = python() + " cannot import torch: " + out.strip().lines().reduce((a, b) -> b).orElse("");
                }
            } catch (IOException | InterruptedException e) {
                torchProblem = python() + " not runnable: " + e.getMessage();
            }
        }
        return torchProblem;
    }

    /**
     * Runs {@code crd_reference.py <args...> --out <dir>} once and returns the directory.
     * {@code name} names the cache entry; the same name with other arguments regenerates it.
     */
    public static synchronized Path generate(String name, String... args) {
        assumeTorch();
        try {
            Path dir = CACHE.resolve(name);
            Path stamp = dir.resolve(".stamp");
            String key = hash(args);
            if (Files.isRegularFile(stamp) && Files.readString(stamp).equals(key)) return dir;
            deleteTree(dir);
            Files.createDirectories(dir);
            List<String> cmd = new ArrayList<>();
            cmd.add(python());
            cmd.add(SCRIPT.toString());
            cmd.addAll(List.of(args));
            cmd.add("--out");
            cmd.add(dir.toString());
            Path log = CACHE.resolve(name + ".log");
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(30, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException("reference script timed out: " + String.join(" ", cmd));
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException("reference script failed (" + String.join(" ", cmd) + "):\n" + Files.readString(log));
            }
            Files.writeString(stamp, key);
            return dir;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String hash(String[] args) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(Files.readAllBytes(SCRIPT));
            for (String a : args) md.update(("\0" + a).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }
}
