package crd4j.backend.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The committed kernel binaries match their sources (no GPU needed). src/main/cuda/build.sh recompiles a .cu whose
 * hash (the .cu with the local headers it includes, {@link KernelManifest#sourceSha256}) differs from
 * src/main/resources/crd4j/cuda/MANIFEST when nvcc is on PATH; on a machine without nvcc a changed .cu or header
 * would otherwise ship with a stale binary, which this test catches. It also checks every typed kernel handle of
 * the launcher classes against the sources, and the block size shared by the .cu files and the Java launchers.
 */
class KernelBuildCheckTest {
    static final Path SOURCES = Path.of("src/main/cuda");
    static final Path BINARIES = Path.of("src/main/resources/crd4j/cuda");

    static String sha256(Path p) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    static List<Path> sources() throws IOException {
        try (Stream<Path> s = Files.list(SOURCES)) {
            return s.filter(p -> p.toString().endsWith(".cu")).sorted().toList();
        }
    }

    @Test
    void everyKernelSourceHasAnUpToDateBinaryInTheManifest() throws IOException {
        Map<String, KernelManifest.Entry> manifest = KernelManifest.read();
        List<String> problems = new ArrayList<>();
        for (Path cu : sources()) {
            String name = cu.getFileName().toString();
            KernelManifest.Entry e = manifest.get(name);
            if (e == null) {
                problems.add(name + ": not in the manifest (run src/main/cuda/build.sh where nvcc is installed)");
                continue;
            }
            String now = KernelManifest.sourceSha256(cu);
            if (!e.sourceSha256().equals(now)) {
                problems.add(name + ": it or a header it includes changed since its binary was built (manifest "
                        + e.sourceSha256().substring(0, 12) + "…, source " + now.substring(0, 12)
                        + "…); rebuild with src/main/cuda/build.sh and commit the .fatbin");
            }
            Path bin = BINARIES.resolve(e.binary());
            if (!Files.exists(bin)) problems.add(name + ": binary " + bin + " missing");
            else if (!e.binarySha256().equals(sha256(bin))) problems.add(bin + ": does not match the SHA-256 in the manifest");
        }
        for (String listed : manifest.keySet()) {
            if (!Files.exists(SOURCES.resolve(listed))) problems.add(listed + ": in the manifest but its source is gone");
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    static Map<String, TreeSet<String>> definedKernels() throws IOException {
        Map<String, TreeSet<String>> defined = new java.util.HashMap<>();
        Pattern global = Pattern.compile("__global__\\s+void\\s+(\\w+)\\s*\\(");
        for (Path cu : sources()) {
            String text = Files.readString(cu, StandardCharsets.UTF_8);
            int externC = text.indexOf("extern \"C\"");
            assertTrue(externC >= 0, cu + " has no extern \"C\" block");
            Matcher m = global.matcher(text.substring(externC));
            TreeSet<String> names = new TreeSet<>();
            while (m.find()) names.add(m.group(1));
            defined.put(cu.getFileName().toString().replace(".cu", ""), names);
        }
        return defined;
    }

    /**
     * The backend launches kernels only through typed handles (Kernel constants of the launcher classes, one
     * KernelFamily per .cu): every handle names an extern "C" __global__ of its .cu (else cuModuleGetFunction fails
     * on a GPU), every .cu has its launcher family, and every kernel a .cu defines has a handle.
     */
    @Test
    void everyKernelHandleExistsInItsSourceAndEverySourceKernelHasAHandle() throws IOException {
        Map<String, TreeSet<String>> defined = definedKernels();
        List<String> problems = new ArrayList<>();
        TreeSet<String> families = new TreeSet<>();
        int handles = 0;
        for (KernelFamily f : CudaKernels.families()) {
            assertTrue(families.add(f.module()), "two launcher families for " + f);
            TreeSet<String> declared = new TreeSet<>();
            for (Kernel k : f.kernels()) {
                handles++;
                declared.add(k.name());
                if (!defined.getOrDefault(f.module(), new TreeSet<>()).contains(k.name())) problems.add(k + ": no such kernel in the source");
            }
            for (String d : defined.getOrDefault(f.module(), new TreeSet<>())) {
                if (!declared.contains(d)) problems.add(f + ": kernel " + d + " has no handle in its launcher class");
            }
        }
        assertEquals(defined.keySet(), families, "one launcher family per .cu");
        assertTrue(handles > 50, "only " + handles + " kernel handles");
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    /** The block size: THREADS in crd4j_kernels.h, included by every .cu, equals the launchers' CudaKernels.THREADS. */
    @Test
    void theSharedHeaderHoldsTheLaunchersBlockSize() throws IOException {
        String header = Files.readString(SOURCES.resolve("crd4j_kernels.h"), StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("(?m)^#define THREADS (\\d+)$").matcher(header);
        assertTrue(m.find(), "crd4j_kernels.h does not define THREADS");
        assertEquals(CudaKernels.THREADS, Integer.parseInt(m.group(1)));
        for (Path cu : sources()) {
            String text = Files.readString(cu, StandardCharsets.UTF_8);
            assertTrue(text.contains("#include \"crd4j_kernels.h\""), cu + " does not include crd4j_kernels.h");
            assertFalse(text.matches("(?s).*#define\\s+THREADS\\b.*"), cu + " defines its own THREADS");
        }
    }

    /** A header change changes the source hash of every .cu that includes it (and only of those). */
    @Test
    void theSourceHashCoversIncludedHeaders(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("h.h"), "#define N 1\n");
        Files.writeString(dir.resolve("a.cu"), "#include \"h.h\"\nextern \"C\" __global__ void k() {}\n");
        Files.writeString(dir.resolve("b.cu"), "extern \"C\" __global__ void k() {}\n");
        String a = KernelManifest.sourceSha256(dir.resolve("a.cu")), b = KernelManifest.sourceSha256(dir.resolve("b.cu"));
        assertEquals(sha256(dir.resolve("b.cu")), b, "without headers the hash is the file's own");
        Files.writeString(dir.resolve("h.h"), "#define N 2\n");
        assertNotEquals(a, KernelManifest.sourceSha256(dir.resolve("a.cu")));
        assertEquals(b, KernelManifest.sourceSha256(dir.resolve("b.cu")));
    }

    /**
     * With nvcc on PATH and -Dcrd4j.verifyKernelRebuild=true: recompiling every .cu with build.sh's flags gives the
     * committed bytes (nvcc's output is deterministic for the same version and flags). Skipped otherwise, saying why.
     */
    @Test
    void recompilationReproducesTheCommittedBinaries() throws Exception {
        Assumptions.assumeTrue(Boolean.getBoolean("crd4j.verifyKernelRebuild"),
                "skipped: set -Dcrd4j.verifyKernelRebuild=true to recompile the kernels (takes ~15 s)");
        Assumptions.assumeTrue(run(List.of("nvcc", "--version"), Path.of(".")).startsWith("0"), "skipped: nvcc is not on PATH");
        String version = run(List.of("nvcc", "--version"), Path.of("."));
        Map<String, KernelManifest.Entry> manifest = KernelManifest.read();
        String flags = run(List.of("bash", "src/main/cuda/build.sh", "--flags"), Path.of(".")).substring(2).trim();
        Path tmp = Files.createTempDirectory("crd4j-kernels");
        for (Path cu : sources()) {
            KernelManifest.Entry e = manifest.get(cu.getFileName().toString());
            Assumptions.assumeTrue(version.contains(e.compiler().replace("nvcc-", "")),
                    "skipped: the binaries were built by " + e.compiler() + ", this nvcc differs");
            List<String> cmd = new ArrayList<>(List.of("nvcc"));
            cmd.addAll(List.of(flags.split(" ")));
            cmd.addAll(List.of("-o", tmp.resolve(e.binary()).toString(), cu.getFileName().toString()));
            String out = run(cmd, SOURCES);
            if (!out.startsWith("0")) fail("nvcc failed for " + cu + ": " + out);
            assertEquals(e.binarySha256(), sha256(tmp.resolve(e.binary())), cu + " recompiles to different bytes");
        }
    }

    /** Exit code, a newline, then stdout+stderr. */
    static String run(List<String> cmd, Path dir) throws Exception {
        try {
            Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(5, TimeUnit.MINUTES);
            return p.exitValue() + "\n" + out;
        } catch (IOException e) {
            return "127\n" + e.getMessage();
        }
    }
}
