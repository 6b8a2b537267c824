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
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The committed kernel binaries match their sources (no GPU needed). src/main/cuda/build.sh recompiles a .cu whose
 * hash differs from src/main/resources/crd4j/cuda/MANIFEST when nvcc is on PATH; on a machine without nvcc a
 * changed .cu would otherwise ship with a stale binary, which this test catches.
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
            if (!e.sourceSha256().equals(sha256(cu))) {
                problems.add(name + ": changed since its binary was built (manifest " + e.sourceSha256().substring(0, 12)
                        + "…, source " + sha256(cu).substring(0, 12) + "…); rebuild with src/main/cuda/build.sh and commit the .fatbin");
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

    /** Every kernel name the backend launches is an extern "C" __global__ of the .cu it names (else cuModuleGetFunction fails on a GPU). */
    @Test
    void everyLaunchedKernelExistsInItsSource() throws IOException {
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
        String backend = Files.readString(Path.of("src/main/java/crd4j/backend/cuda/CudaBackend.java"), StandardCharsets.UTF_8);
        // kernels.launch("op", "name" + sfx(x), …) or kernels.launch("op", "name", …); elementwise("name" + sfx(…), …)
        Pattern launch = Pattern.compile("(?:kernels\\.launch\\(\"(\\w+)\",\\s*|elementwise\\()\"(\\w+)\"(\\s*\\+\\s*(?:sfx\\([^)]*\\)|x))?");
        Matcher m = launch.matcher(backend);
        int checked = 0;
        List<String> missing = new ArrayList<>();
        while (m.find()) {
            String op = m.group(1) == null ? "elementwise" : m.group(1);
            List<String> names = m.group(3) == null ? List.of(m.group(2)) : List.of(m.group(2) + "_f32", m.group(2) + "_f64");
            for (String n : names) {
                checked++;
                if (!defined.getOrDefault(op, new TreeSet<>()).contains(n)) missing.add(op + ".cu: " + n);
            }
        }
        assertTrue(checked > 30, "found only " + checked + " launches: the pattern no longer matches CudaBackend");
        assertTrue(missing.isEmpty(), "launched but not defined: " + missing);
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
