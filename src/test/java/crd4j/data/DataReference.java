package crd4j.data;

import crd4j.testing.PyReference;

import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Runs {@code src/test/python/data_reference.py} (numpy, Pillow, tifffile, OpenCV) once and caches its output under
 * {@code target/pyref/data}, keyed by the script's hash. Tests are skipped, with the reason, when the interpreter
 * lacks one of those modules.
 */
final class DataReference {
    static final Path SCRIPT = Paths.get("src/test/python/data_reference.py");
    static final Path DIR = Paths.get("target/pyref/data");
    private DataReference() {}

    /** Generates (once) and returns the reference directory; skips the test with the reason if modules are missing. */
    static Path dir() {
        PyReference.assumeModules("python3-numpy python3-pil python3-tifffile python3-opencv", "numpy", "PIL", "tifffile", "cv2");
        return PyReference.generate(SCRIPT, DIR);
    }
}
