package crd4j.backend.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --device} on a machine without a usable GPU (this project's CI and development machines), run as a user
 * would: {@code java -cp … crd4j.cli.CrdCli bench --preset tiny …} in a subprocess, with the build's class path
 * (target/classpath.txt) or with every ND4J jar removed from it. Skipped where a GPU works (there --device cuda
 * succeeds; the GPU tests cover that).
 */
class DeviceSelectionTest {
    static String gpuReason;
    static List<String> fullClasspath;

    /** The jars the CUDA path needs: the app's own dependencies minus ND4J and everything only ND4J pulls in. */
    static final List<String> ND4J_FREE_PREFIXES = List.of("picocli-", "jackson-databind-", "jackson-annotations-",
            "jackson-core-", "slf4j-", "jcuda-", "jcublas-", "jcudnn-");

    @BeforeAll
    static void setUp() throws IOException {
        gpuReason = CudaBackend.unavailableReason();
        Assumptions.assumeTrue(gpuReason != null, "skipped: a usable GPU is present (these tests are for machines without one)");
        Path cp = Path.of("target/classpath.txt");
        Assumptions.assumeTrue(Files.exists(cp), "skipped: target/classpath.txt missing (written by the Maven build)");
        fullClasspath = new ArrayList<>(Arrays.asList(Files.readString(cp).trim().split(File.pathSeparator)));
    }

    static List<String> nd4jFree() {
        return fullClasspath.stream().filter(j -> ND4J_FREE_PREFIXES.stream().anyMatch(p -> Path.of(j).getFileName().toString().startsWith(p))).toList();
    }

    record Run(int code, String out, String err) {
        List<String> errLines() { return err.lines().filter(l -> !l.isBlank()).toList(); }
    }

    static Run crd(List<String> jars, String... args) throws Exception {
        List<String> cp = new ArrayList<>();
        cp.add(Path.of("target/classes").toAbsolutePath().toString());
        cp.addAll(jars);
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx2g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", String.join(File.pathSeparator, cp), "crd4j.cli.CrdCli"));
        cmd.addAll(List.of(args));
        Path err = Files.createTempFile("crd-err", ".txt");
        Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(3, TimeUnit.MINUTES), "crd did not finish");
        String e = Files.readString(err);
        Files.delete(err);
        return new Run(p.exitValue(), out, e);
    }

    static void assertOneClearLine(Run r, String... mustContain) {
        assertTrue(r.code() != 0, "exit code 0; stderr:\n" + r.err());
        List<String> lines = r.errLines();
        assertEquals(1, lines.size(), () -> "expected exactly one line on stderr, found:\n" + r.err());
        for (String s : mustContain) assertTrue(lines.get(0).contains(s), "'" + s + "' not in: " + lines.get(0));
        assertFalse(r.err().contains("\tat "), "stack trace on stderr:\n" + r.err());
        assertFalse(r.err().contains("Exception"), "exception name on stderr:\n" + r.err());
    }

    @Test
    void deviceCudaFailsWithOneLineNamingWhatIsMissing() throws Exception {
        Run r = crd(fullClasspath, "bench", "--preset", "tiny", "--runs", "1", "--warmup", "0", "--device", "cuda");
        assertEquals(1, r.code(), r.err());
        assertOneClearLine(r, "crd bench: error: --device cuda: ", gpuReason);
        assertTrue(gpuReason.matches("(?s).*(libcuda\\.so\\.1|no CUDA device|cuDNN|cuBLAS|driver).*"), gpuReason);
    }

    @Test
    void deviceAutoFallsBackToTheCpuAndSaysSo() throws Exception {
        Run r = crd(fullClasspath, "bench", "--preset", "tiny", "--runs", "1", "--warmup", "0", "--device", "auto");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\"preset\": \"tiny\""), r.out());
        assertTrue(r.err().contains("crd: device auto -> cpu (ND4J reference backend; CUDA not used: " + gpuReason + ")"), r.err());
    }

    @Test
    void withoutNd4jDeviceCudaStillGivesTheGpuReason() throws Exception {
        List<String> jars = nd4jFree();
        assertTrue(jars.stream().noneMatch(j -> j.contains("nd4j") || j.contains("javacpp") || j.contains("openblas")), jars.toString());
        Run r = crd(jars, "bench", "--preset", "tiny", "--runs", "1", "--warmup", "0", "--device", "cuda");
        assertEquals(1, r.code(), r.err());
        assertOneClearLine(r, "--device cuda: ", gpuReason);
    }

    @Test
    void withoutNd4jDeviceAutoFailsClearlyWhenThereIsNoGpu() throws Exception {
        Run r = crd(nd4jFree(), "bench", "--preset", "tiny", "--runs", "1", "--warmup", "0", "--device", "auto");
        assertEquals(1, r.code(), r.err());
        assertOneClearLine(r, "--device auto: no usable GPU (" + gpuReason + ")", "needs ND4J");
    }

    @Test
    void withoutNd4jDeviceCpuSaysNd4jIsMissing() throws Exception {
        Run r = crd(nd4jFree(), "bench", "--preset", "tiny", "--runs", "1", "--warmup", "0", "--device", "cpu");
        assertEquals(1, r.code(), r.err());
        assertOneClearLine(r, "--device cpu: the CPU backend needs ND4J");
    }
}
