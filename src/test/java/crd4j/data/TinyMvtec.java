package crd4j.data;

import crd4j.testing.PyReference;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Writes the tiny MVTec 3D-AD-style category of {@code src/test/python/tiny_mvtec.py} (numpy, PIL, tifffile). */
public final class TinyMvtec {
    private TinyMvtec() {}

    public static void write(Path root, String category) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(PyReference.python(), Path.of("src/test/python/tiny_mvtec.py").toAbsolutePath().toString(),
                root.toString(), category).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException("tiny_mvtec.py failed: " + out);
    }
}
