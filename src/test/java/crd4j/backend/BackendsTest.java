package crd4j.backend;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Backends}, the entry point embedding code and the CLI open backends with, on a machine without a usable
 * GPU (this project's CI and development machines; skipped where CUDA opens, the CUDA parity cases cover that).
 */
class BackendsTest {
    static String gpuReason;

    @BeforeAll
    static void noGpu() {
        gpuReason = Backends.unavailableReason("cuda");
        Assumptions.assumeTrue(gpuReason != null, "skipped: a usable GPU is present (these tests are for machines without one)");
    }

    @Test
    void bothProvidersAreFoundThroughServiceLoaderInAutosOrder() {
        assertEquals(List.of("cuda", "cpu"), Backends.available());
    }

    @Test
    void cpuOpensTheNd4jReferenceBackend() {
        try (Backend be = Backends.open("cpu")) {
            assertEquals("crd4j.backend.nd4j.Nd4jBackend", be.getClass().getName());
        }
        assertNull(Backends.unavailableReason("CPU"), "device names are case-insensitive");
    }

    @Test
    void cudaWithoutAGpuIsOneLineNamingWhatIsMissing() {
        DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class, () -> Backends.open("cuda"));
        assertEquals("--device cuda: " + gpuReason, e.getMessage());
        assertEquals(1, e.getMessage().lines().count());
        assertTrue(gpuReason.matches("(?s).*(libcuda\\.so\\.1|no CUDA device|cuDNN|driver|JCuda).*"), gpuReason);
    }

    @Test
    void autoFallsBackToTheCpuAndSaysWhy() {
        Backends.Selection s = Backends.select("auto", Backends.Options.DEFAULT);
        try (Backend be = s.backend()) {
            assertEquals("crd4j.backend.nd4j.Nd4jBackend", be.getClass().getName());
            assertEquals("device auto -> cpu (ND4J reference backend; CUDA not used: " + gpuReason + ")", s.note());
        }
        assertNull(Backends.select("cpu", Backends.Options.DEFAULT).note(), "an explicit choice needs no note");
    }

    @Test
    void badNamesAndOptionsAreOneClearError() {
        assertEquals("--device: expected cpu, cuda or auto, found 'tpu'",
                assertThrows(IllegalArgumentException.class, () -> Backends.open("tpu")).getMessage());
        assertEquals("--tf32 applies to the CUDA backend only",
                assertThrows(IllegalArgumentException.class, () -> Backends.open("cpu", new Backends.Options(true, 0))).getMessage());
        assertEquals("--threads: expected >= 0, found -2",
                assertThrows(IllegalArgumentException.class, () -> Backends.open("cpu", new Backends.Options(false, -2))).getMessage());
    }

    /** The auto choice is logged at INFO through SLF4J (here slf4j-simple on stderr), and the probe's exit codes. */
    @Test
    void theAutoChoiceIsLoggedAtInfoAndTheProbeSaysWhatItOpened() throws Exception {
        Path cpFile = Path.of("target/classpath.txt");
        Assumptions.assumeTrue(Files.exists(cpFile), "skipped: target/classpath.txt missing (written by the Maven build)");
        String cp = Path.of("target/classes").toAbsolutePath() + File.pathSeparator + Files.readString(cpFile).trim();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        for (String device : List.of("auto", "cuda")) {
            Process p = new ProcessBuilder(java, "-Xmx1g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=info", "-cp", cp,
                    "crd4j.backend.Backends", device).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(2, TimeUnit.MINUTES));
            if (device.equals("auto")) {
                assertEquals(0, p.exitValue(), err);
                assertTrue(out.startsWith("# "), out);
                assertTrue(err.contains("INFO crd4j.backend.Backends - device auto -> cpu (ND4J reference backend; CUDA not used: "
                        + gpuReason + ")"), err);
            } else {
                assertEquals(3, p.exitValue(), out + err);
                assertEquals("--device cuda: " + gpuReason, out.strip());
            }
        }
    }
}
