package crd4j.eval;

import crd4j.testing.PyReference;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code src/test/python/eval_reference.py} (NumPy, SciPy, scikit-learn) once per argument set and caches its
 * output under {@code target/pyref-eval/<name>} (reused while the script and arguments are unchanged), then reads the
 * raw arrays and scalars it wrote.
 */
final class EvalReference {
    static final Path SCRIPT = Paths.get("src/test/python/eval_reference.py");
    private static final Path CACHE = Paths.get("target/pyref-eval");

    private final Path dir;
    private final Map<String, String> scalars = new HashMap<>();

    private EvalReference(Path dir) throws IOException {
        this.dir = dir;
        for (String line : Files.readAllLines(dir.resolve("scalars.txt"))) {
            if (line.isBlank()) continue;
            int sp = line.indexOf(' ');
            scalars.put(line.substring(0, sp), line.substring(sp + 1).trim());
        }
    }

    /** Skips the calling test unless the interpreter can import scipy and sklearn. */
    static void assumeScipy() {
        String why = scipyProblem();
        Assumptions.assumeTrue(why == null, () -> "SciPy/scikit-learn reference unavailable: " + why
                + " (install python3-scipy and python3-sklearn from Debian or set CRD4J_PYTHON)");
    }

    private static String scipyProblem;
    private static boolean scipyChecked;

    private static synchronized String scipyProblem() {
        if (!scipyChecked) {
            scipyChecked = true;
            try {
                Process p = new ProcessBuilder(PyReference.python(), "-c", "import numpy, scipy.ndimage, sklearn.metrics")
                        .redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    scipyProblem = PyReference.python() + " cannot import scipy/sklearn: "
                            + out.strip().lines().reduce((a, b) -> b).orElse("");
                }
            } catch (IOException | InterruptedException e) {
                scipyProblem = PyReference.python() + " not runnable: " + e.getMessage();
            }
        }
        return scipyProblem;
    }

    /** Runs the script with {@code args} (plus {@code --out}) unless cached, and opens the result. */
    static synchronized EvalReference generate(String name, String... args) {
        assumeScipy();
        try {
            Path out = CACHE.resolve(name);
            Path stamp = out.resolve(".stamp");
            String key = hash(args);
            if (!(Files.isRegularFile(stamp) && Files.readString(stamp).equals(key))) {
                deleteTree(out);
                Files.createDirectories(out);
                List<String> cmd = new ArrayList<>();
                cmd.add(PyReference.python());
                cmd.add(SCRIPT.toString());
                cmd.addAll(List.of(args));
                cmd.add("--out");
                cmd.add(out.toString());
                Path log = CACHE.resolve(name + ".log");
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
                if (!p.waitFor(10, TimeUnit.MINUTES)) {
                    p.destroyForcibly();
                    throw new IllegalStateException("reference script timed out: " + String.join(" ", cmd));
                }
                if (p.exitValue() != 0) {
                    throw new IllegalStateException("reference script failed (" + String.join(" ", cmd) + "):\n"
                            + Files.readString(log));
                }
                Files.writeString(stamp, key);
            }
            return new EvalReference(out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    double scalar(String key) {
        String v = scalars.get(key);
        if (v == null) throw new IllegalArgumentException("no scalar " + key + " in " + dir);
        return switch (v) {
            case "nan" -> Double.NaN;
            case "inf" -> Double.POSITIVE_INFINITY;
            case "-inf" -> Double.NEGATIVE_INFINITY;
            default -> Double.parseDouble(v);
        };
    }

    int integer(String key) {
        return Integer.parseInt(scalars.get(key));
    }

    double[] f64(String name) {
        ByteBuffer b = bytes(name + ".f64");
        double[] a = new double[b.remaining() / 8];
        b.asDoubleBuffer().get(a);
        return a;
    }

    int[] i32(String name) {
        ByteBuffer b = bytes(name + ".i32");
        int[] a = new int[b.remaining() / 4];
        b.asIntBuffer().get(a);
        return a;
    }

    private ByteBuffer bytes(String file) {
        try {
            return ByteBuffer.wrap(Files.readAllBytes(dir.resolve(file))).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Splits a concatenated (m, h·w) array into m maps. */
    static List<double[]> split(double[] all, int m) {
        int n = all.length / m;
        List<double[]> out = new ArrayList<>(m);
        for (int i = 0; i < m; i++) out.add(java.util.Arrays.copyOfRange(all, i * n, (i + 1) * n));
        return out;
    }

    static List<int[]> split(int[] all, int m) {
        int n = all.length / m;
        List<int[]> out = new ArrayList<>(m);
        for (int i = 0; i < m; i++) out.add(java.util.Arrays.copyOfRange(all, i * n, (i + 1) * n));
        return out;
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

    private static void deleteTree(Path d) throws IOException {
        if (!Files.exists(d)) return;
        try (var walk = Files.walk(d)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }
}
