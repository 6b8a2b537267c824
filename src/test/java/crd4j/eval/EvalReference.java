package crd4j.eval;

import crd4j.testing.PyReference;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

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
        PyReference.assumeModules("python3-scipy python3-sklearn", "numpy", "scipy.ndimage", "sklearn.metrics");
    }

    /** Runs the script with {@code args} (plus {@code --out}) unless cached, and opens the result. */
    static EvalReference generate(String name, String... args) {
        return generate(SCRIPT, name, args);
    }

    /** As {@link #generate(String, String...)} for another script writing the same format (cached under its own name). */
    static EvalReference generate(Path script, String name, String... args) {
        assumeScipy();
        Path dir = PyReference.generate(script, CACHE.resolve(name), args);
        try {
            return new EvalReference(dir);
        } catch (java.io.IOException e) {
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

}
