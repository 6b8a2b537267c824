package crd4j.backend.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * benchmarks/device/run.sh, the one-call GPU script, on this machine (no GPU): every way it must stop within seconds
 * instead of spending the lent machine's minutes. Each case runs the script as the device call does, {@code bash
 * benchmarks/device/run.sh} from the repository root, with {@code CARRY} pointing at a stand-in carry and
 * {@code OUT} at a temporary folder, and checks the exit code (3), the printed reason, {@code STOPPED.txt} and
 * {@code run.log} in {@code OUT} (the log is written as the script runs), and the elapsed time.
 *
 * <p>The stand-in carry: this JDK behind a {@code jre/bin/java} wrapper that arrives without its exec bit (the
 * script must chmod it), {@code target/classes}, the JCuda, Jackson, picocli and SLF4J jars of the build (what prepare.sh carries), and empty jars for JUnit's console
 * launcher and JMH (the script stops before using them). "No cuDNN" needs a driver that works: a stand-in
 * {@code libcuda.so.1} compiled from src/test/c/libcuda_stub.c (skipped, saying why, without a C compiler).
 */
class DeviceScriptTest {
    static final Path SCRIPT = Path.of("benchmarks/device/run.sh");
    /** What "within seconds" means here: the checks take ~3 s on the 2-core development machine. */
    static final long MAX_SECONDS = 30;
    static List<String> classpath;

    @BeforeAll
    static void setUp() throws IOException {
        Assumptions.assumeTrue(CudaBackend.unavailableReason() != null,
                "skipped: a usable GPU is present (these are the script's paths for machines without one)");
        Path cp = Path.of("target/classpath.txt");
        Assumptions.assumeTrue(Files.exists(cp), "skipped: target/classpath.txt missing (written by the Maven build)");
        classpath = Arrays.asList(Files.readString(cp).trim().split(File.pathSeparator));
    }

    record Run(int code, String out, long seconds, Path outDir) {}

    static Run run(Path carry, Path out, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", SCRIPT.toString()).redirectErrorStream(true);
        pb.environment().put("CARRY", carry.toAbsolutePath().toString());
        pb.environment().put("OUT", out.toAbsolutePath().toString());
        pb.environment().putAll(env);
        long t0 = System.nanoTime();
        Process p = pb.start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "run.sh did not finish");
        return new Run(p.exitValue(), text, (System.nanoTime() - t0) / 1_000_000_000L, out);
    }

    static void assertStopped(Run r, String reason) throws IOException {
        assertEquals(3, r.code(), r.out());
        assertTrue(r.out().contains("run.sh: STOPPED after "), r.out());
        assertTrue(r.out().contains(reason), "'" + reason + "' not in:\n" + r.out());
        assertTrue(r.seconds() <= MAX_SECONDS, "took " + r.seconds() + " s:\n" + r.out());
        assertTrue(Files.readString(r.outDir().resolve("STOPPED.txt")).contains(reason));
        assertTrue(Files.readString(r.outDir().resolve("run.log")).contains(reason), "run.log lacks the reason");
        assertFalse(r.out().contains("=== JMH"), "went on to a benchmark:\n" + r.out());
    }

    /** An empty but valid jar (a zip with no entries). */
    static void emptyJar(Path p) throws IOException {
        byte[] end = new byte[22];
        end[0] = 'P'; end[1] = 'K'; end[2] = 5; end[3] = 6;
        Files.write(p, end);
    }

    static Path fakeCarry(Path root) throws IOException {
        Path c = Files.createDirectories(root.resolve("carry"));
        Path bin = Files.createDirectories(c.resolve("jre/bin"));
        Path java = bin.resolve("java");
        Files.writeString(java, "#!/bin/sh\nexec '" + Path.of(System.getProperty("java.home"), "bin", "java") + "' \"$@\"\n");
        assertFalse(Files.isExecutable(java));  // as a carry may arrive: run.sh must chmod it
        Files.createSymbolicLink(c.resolve("classes"), Path.of("target/classes").toAbsolutePath());
        Files.createDirectories(c.resolve("test-classes"));
        Files.createDirectories(c.resolve("bench-classes"));
        Path lib = Files.createDirectories(c.resolve("lib"));
        for (String j : classpath) {
            String name = Path.of(j).getFileName().toString();
            if (name.matches("(jcuda|jcublas|jcudnn|jackson-.*|picocli|slf4j-api|slf4j-simple)-.*\\.jar")) Files.copy(Path.of(j), lib.resolve(name));
        }
        emptyJar(lib.resolve("junit-platform-console-standalone-0.jar"));
        emptyJar(lib.resolve("jmh-core-0.jar"));
        return c;
    }

    @Test
    void withoutTheCarryItStopsAtOnceNamingWhatIsMissing(@TempDir Path tmp) throws Exception {
        Run r = run(tmp.resolve("no-carry"), tmp.resolve("out"), Map.of());
        assertStopped(r, "carry incomplete: " + tmp.resolve("no-carry").toAbsolutePath() + "/jre/bin/java is missing");
        assertTrue(r.out().contains("prepare.sh"), "does not say how to build the carry:\n" + r.out());
    }

    @Test
    void aCarryWithoutTheConsoleLauncherIsIncomplete(@TempDir Path tmp) throws Exception {
        Path c = fakeCarry(tmp);
        Files.delete(c.resolve("lib/junit-platform-console-standalone-0.jar"));
        assertStopped(run(c, tmp.resolve("out"), Map.of()), "no junit-platform-console-standalone jar in");
    }

    @Test
    void withoutADriverItStopsOnTheBackendsFirstLine(@TempDir Path tmp) throws Exception {
        Path c = fakeCarry(tmp);
        Run r = run(c, tmp.resolve("out"), Map.of("LD_LIBRARY_PATH", Files.createDirectories(tmp.resolve("no-libs")).toString()));
        assertStopped(r, "the CUDA backend did not start; its first line is not a CUDA description: ");
        assertStopped(r, "no CUDA driver (libcuda.so.1 not loadable)");
        assertTrue(Files.isExecutable(c.resolve("jre/bin/java")), "run.sh did not chmod the JRE's binaries");
        assertTrue(r.out().contains("=== checks (carry, JRE, CUDA backend): budget "), "no phase budget line:\n" + r.out());
        assertTrue(Files.readString(r.outDir().resolve("gpu.txt")).contains("no CUDA driver"), "gpu.txt lacks the probe's line");
    }

    static Path stubDriver(Path tmp, String... defines) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("stub-driver"));
        List<String> cmd = new java.util.ArrayList<>(List.of("cc", "-shared", "-fPIC"));
        cmd.addAll(List.of(defines));
        cmd.addAll(List.of("-o", dir.resolve("libcuda.so.1").toString(), Path.of("src/test/c/libcuda_stub.c").toString()));
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            Assumptions.abort("skipped: no C compiler (cc) to build the stand-in libcuda.so.1: " + e.getMessage());
            throw e;
        }
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(1, TimeUnit.MINUTES) && p.exitValue() == 0, "cc failed: " + log);
        return dir;
    }

    @Test
    void withADriverButNoCudnnItStopsNamingCudnn(@TempDir Path tmp) throws Exception {
        Path c = fakeCarry(tmp);
        Run r = run(c, tmp.resolve("out"), Map.of("LD_LIBRARY_PATH", stubDriver(tmp).toString()));
        assertStopped(r, "its first line is not a CUDA description: --device cuda: cuDNN 9 not loadable (libcudnn.so.9");
    }

    @Test
    void withADriverButNoDeviceItStopsNamingTheDevice(@TempDir Path tmp) throws Exception {
        Path c = fakeCarry(tmp);
        Run r = run(c, tmp.resolve("out"), Map.of("LD_LIBRARY_PATH", stubDriver(tmp, "-DSTUB_NO_DEVICE").toString()));
        assertStopped(r, "its first line is not a CUDA description: --device cuda: no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)");
    }
}
