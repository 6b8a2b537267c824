package crd4j.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The committed kernel binaries: {@code /crd4j/cuda/<op>.fatbin} on the class path, listed in
 * {@code /crd4j/cuda/MANIFEST}, one line per kernel source: {@code <op>.cu <source hash> <op>.fatbin <sha256
 * of the fatbin> nvcc-<version>} (written by src/main/cuda/build.sh). The source hash is {@link #sourceSha256}: the
 * .cu together with the local headers it includes, so a change of a shared header (crd4j_kernels.h) makes every
 * kernel that includes it stale. Reading it needs no GPU and no JCuda.
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

    private static final java.util.regex.Pattern LOCAL_INCLUDE =
            java.util.regex.Pattern.compile("(?m)^[ \\t]*#include[ \\t]+\"([^\"]+)\"");

    /**
     * SHA-256 of a kernel source followed by every local header it includes ({@code #include "x.h"}, in the order
     * they appear, resolved next to the .cu; one level deep, as the headers include nothing local): what build.sh
     * records in the manifest.
     */
    public static String sourceSha256(java.nio.file.Path cu) throws IOException {
        try {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            byte[] src = java.nio.file.Files.readAllBytes(cu);
            md.update(src);
            java.util.regex.Matcher m = LOCAL_INCLUDE.matcher(new String(src, StandardCharsets.UTF_8));
            while (m.find()) md.update(java.nio.file.Files.readAllBytes(cu.resolveSibling(m.group(1))));
            return java.util.HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
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
