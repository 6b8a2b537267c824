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
        assumeModules("python3-torch python3-numpy", "torch", "numpy");
    }

    private static final java.util.Map<String, String> PROBLEMS = new java.util.HashMap<>();

    /**
     * Aborts the calling test (reported as skipped, with the reason) unless the interpreter imports every module;
     * {@code debianPackages} names what to install. The answer is cached per module list.
     */
    public static synchronized void assumeModules(String debianPackages, String... modules) {
        String list = String.join(", ", modules);
        String why = PROBLEMS.computeIfAbsent(list, k -> importProblem(modules));
        Assumptions.assumeTrue(why.isEmpty(), () -> "Python reference unavailable: " + why
                + " (install " + debianPackages + " from Debian or set CRD4J_PYTHON)");
    }

    private static String importProblem(String[] modules) {
        try {
            Process p = new ProcessBuilder(python(), "-c", "import " + String.join(", ", modules)).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                return python() + " cannot import " + String.join(", ", modules) + ": "
                        + out.strip().lines().reduce((a, b) -> b).orElse("");
            }
            return "";
        } catch (IOException e) {
            return python() + " not runnable: " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /**
     * Runs {@code crd_reference.py <args...> --out <dir>} once and returns the directory.
     * {@code name} names the cache entry; the same name with other arguments regenerates it.
     */
    public static Path generate(String name, String... args) {
        assumeTorch();
        return generate(SCRIPT, CACHE.resolve(name), args);
    }

    /**
     * Runs {@code <script> <args...> --out <dir>} unless {@code dir} already holds the output of this script text
     * with these arguments (a stamp file holds their hash), and returns {@code dir}. The log goes to
     * {@code <dir>.log}. The caller checks the interpreter's modules first ({@link #assumeModules}).
     */
    public static synchronized Path generate(Path script, Path dir, String... args) {
        try {
            Path stamp = dir.resolve(".stamp");
            String key = hash(script, args);
            if (Files.isRegularFile(stamp) && Files.readString(stamp).equals(key)) return dir;
            deleteTree(dir);
            Files.createDirectories(dir);
            List<String> cmd = new ArrayList<>();
            cmd.add(python());
            cmd.add(script.toString());
            cmd.addAll(List.of(args));
            cmd.add("--out");
            cmd.add(dir.toString());
            Path log = dir.resolveSibling(dir.getFileName() + ".log");
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

    private static String hash(Path script, String[] args) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(Files.readAllBytes(script));
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
