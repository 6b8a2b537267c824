package crd4j.cli;

import crd4j.data.TinyMvtec;
import crd4j.io.ModelFile;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A training run killed with SIGKILL (no shutdown hooks, no finally blocks) at several moments, including in the
 * middle of writing its checkpoint files: after every kill the model file and the training state are either absent or
 * complete and checksum-valid, {@code --resume} loses at most the epoch in progress, and the run that was killed and
 * resumed three times ends with the same weights as an uninterrupted run.
 */
class TrainKillResumeTest {
    private static final int EPOCHS = 5;

    private static List<String> trainArgs(Path root, Path out, boolean resume) {
        List<String> a = new ArrayList<>(List.of("train", "--data", root.toString(), "--category", "cat", "--preset", "tiny",
                "--teacher", "random", "--epochs", String.valueOf(EPOCHS), "--batch", "2", "--seed", "5", "--progress", "lines",
                "--out", out.toString()));
        if (resume) a.add("--resume");
        return a;
    }

    /** A JVM running the CLI with this build's classes and runtime dependencies. */
    private static ProcessBuilder cli(List<String> args) throws Exception {
        String cp = Path.of("target/classes").toAbsolutePath() + java.io.File.pathSeparator
                + Files.readString(Path.of("target/classpath.txt")).trim();
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx2g", "-Dorg.bytedeco.javacpp.maxbytes=3g", "-cp", cp, "crd4j.cli.CrdCli"));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", "1");
        return pb;
    }

    /**
     * Starts a (resumed) run and kills it {@code delayMs} after it reports the end of epoch {@code afterEpoch}
     * (the checkpoint of the next epoch is then being computed or written). Returns the output seen.
     */
    private static String runAndKill(List<String> args, int afterEpoch, long delayMs) throws Exception {
        Process p = cli(args).start();
        StringBuilder seen = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                seen.append(line).append('\n');
                if (line.startsWith("epoch " + afterEpoch + "/")) {
                    Thread.sleep(delayMs);
                    p.destroyForcibly();   // SIGKILL
                    break;
                }
            }
        }
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "killed JVM did not exit");
        assertFalse(seen.indexOf("Exception") >= 0, seen.toString());
        return seen.toString();
    }

    /** Both files must be complete and valid (checksums verified by ModelFile.read); returns the state's epoch. */
    private static int checkIntact(Path out, int atLeast) throws Exception {
        Path state = out.resolveSibling(out.getFileName() + ".train-state");
        assertTrue(Files.isRegularFile(out), "model file missing after kill");
        ModelFile.read(out);
        int epoch = ModelFile.read(state).meta().path("epoch").asInt();
        assertTrue(epoch >= atLeast, "training state at epoch " + epoch + ", expected >= " + atLeast + " (lost more than the current epoch)");
        try (var s = Files.list(out.getParent())) {
            // a killed atomic write may leave its temporary file behind, but never a partial file under the real name
            for (Path f : s.toList()) {
                String n = f.getFileName().toString();
                if (n.equals(out.getFileName().toString()) || n.equals(state.getFileName().toString())) ModelFile.read(f);
            }
        }
        return epoch;
    }

    @Test
    void killedAtAnyMomentResumesToTheSameWeights(@TempDir Path tmp) throws Exception {
        Path root = tmp.resolve("data");
        TinyMvtec.write(root, "cat");
        Path straight = tmp.resolve("straight/m.crd4j"), killed = tmp.resolve("killed/m.crd4j");
        Files.createDirectories(straight.getParent());
        Files.createDirectories(killed.getParent());

        Process s = cli(trainArgs(root, straight, false)).start();
        String sOut = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(s.waitFor(300, TimeUnit.SECONDS));
        assertEquals(0, s.exitValue(), sOut);

        // kill 1: right after epoch 1 is reported (epoch 2 training); kill 2: a few ms into the run after epoch 2,
        // which lands in the epoch-3 step or in its checkpoint writes depending on speed; kill 3: immediately after
        // epoch 4's line, i.e. while nothing or the final statistics are being computed
        runAndKill(trainArgs(root, killed, false), 1, 0);
        int e1 = checkIntact(killed, 1);
        runAndKill(trainArgs(root, killed, true), e1 + 1, 15);
        int e2 = checkIntact(killed, e1 + 1);
        runAndKill(trainArgs(root, killed, true), 4, 0);
        int e3 = checkIntact(killed, Math.max(e2, 4));
        assertTrue(e3 >= 4);

        Process r = cli(trainArgs(root, killed, true)).start();
        String rOut = new String(r.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(r.waitFor(300, TimeUnit.SECONDS));
        assertEquals(0, r.exitValue(), rOut);
        assertTrue(rOut.contains("resuming"), rOut);

        Map<String, HostTensor> a = ModelFile.read(straight).tensors(), b = ModelFile.read(killed).tensors();
        assertEquals(a.keySet(), b.keySet());
        double num = 0, den = 0;
        for (String k : a.keySet()) {
            HostTensor x = a.get(k), y = b.get(k);
            assertArrayEquals(x.shape(), y.shape(), k);
            for (long i = 0; i < x.numel(); i++) {
                double d = x.getDouble(i) - y.getDouble(i);
                num += d * d;
                den += x.getDouble(i) * x.getDouble(i);
            }
        }
        double rel = Math.sqrt(num / den);
        System.err.println("killed 3x and resumed vs straight: relative L2 " + rel + " (state epochs after kills " + e1 + ", " + e2 + ", " + e3 + ")");
        assertTrue(rel < 1e-6, "resumed run differs from the straight run by relative L2 " + rel);
    }

    @Test
    void resumeWithoutStateSaysWhichFileIsMissing(@TempDir Path tmp) throws Exception {
        Path root = tmp.resolve("data");
        TinyMvtec.write(root, "cat");
        var err = new java.io.ByteArrayOutputStream();
        var old = System.err;
        System.setErr(new java.io.PrintStream(err, true, StandardCharsets.UTF_8));
        int rc;
        try {
            rc = CrdCli.run(trainArgs(root, tmp.resolve("none.crd4j"), true).toArray(String[]::new));
        } finally {
            System.setErr(old);
        }
        assertEquals(2, rc);
        String text = err.toString(StandardCharsets.UTF_8).trim();
        assertEquals(1, text.lines().count(), text);
        assertTrue(text.contains("none.crd4j.train-state") && text.contains("missing"), text);
    }
}
