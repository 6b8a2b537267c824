package crd4j.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The committed kernel binaries: {@code /crd4j/cuda/<op>.fatbin} on the class path, listed in
 * {@code /crd4j/cuda/MANIFEST}, one line per kernel source: {@code <op>.cu <sha256 of the .cu> <op>.fatbin <sha256
 * of the fatbin> nvcc-<version>} (written by src/main/cuda/build.sh). Reading it needs no GPU and no JCuda.
 */
public final class KernelManifest {
    public static final String RESOURCE_DIR = "/crd4j/cuda/";

    public record Entry(String source, String sourceSha256, String binary, String binarySha256, String compiler) {}

    private KernelManifest() {}

    /** Entries by source file name (e.g. {@code "adam.cu"}). */
    public static Map<String, Entry> read() {
        try (InputStream in = KernelManifest.class.getResourceAsStream(RESOURCE_DIR + "MANIFEST")) {
            if (in == null) throw new IllegalStateException("kernel manifest " + RESOURCE_DIR + "MANIFEST is not on the class path");
            Map<String, Entry> m = new LinkedHashMap<>();
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (line.isBlank() || line.startsWith("#")) continue;
                String[] f = line.trim().split(" +");
                if (f.length != 5) throw new IllegalStateException("bad kernel manifest line: " + line);
                m.put(f[0], new Entry(f[0], f[1], f[2], f[3], f[4]));
            }
            return m;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The bytes of {@code <op>.fatbin}. */
    public static byte[] binary(String op) {
        try (InputStream in = KernelManifest.class.getResourceAsStream(RESOURCE_DIR + op + ".fatbin")) {
            if (in == null) throw new IllegalStateException("kernel binary " + RESOURCE_DIR + op + ".fatbin is not on the class path");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
