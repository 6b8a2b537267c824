package crd4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.data.TinyMvtec;
import crd4j.io.ModelFile;
import crd4j.model.FusionSemantics;
import crd4j.model.Preset;
import crd4j.tensor.HostTensor;
import crd4j.train.TrainingRun;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Training faults (issue 13 item 5, issue 12 item 5): every input and the output path checked before the first epoch;
 * an existing model refused without --resume or --force; SIGTERM stops after a consistent checkpoint and the resumed
 * run ends bit-identical to an uninterrupted one; a damaged or mismatched training state is refused in one line; a
 * NaN/Inf loss stops at once, naming the epoch and the branch, and leaves the last good checkpoint untouched.
 */
class TrainFaultTest {
    @TempDir
    static Path data;

    @BeforeAll
    static void make() throws Exception {
        TinyMvtec.write(data, "cat");
    }

    private static List<String> args(Path root, Path out, int epochs, String... extra) {
        List<String> a = new ArrayList<>(List.of("train", "--data", root.toString(), "--category", "cat", "--preset", "tiny",
                "--teacher", "random", "--epochs", String.valueOf(epochs), "--batch", "2", "--seed", "5", "--progress", "lines",
                "--out", out.toString()));
        a.addAll(Arrays.asList(extra));
        return a;
    }

    private record Run(int rc, String err) {}

    private static Run run(List<String> args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int rc;
        try {
            rc = CrdCli.run(args.toArray(String[]::new));
        } finally {
            System.setErr(old);
        }
        return new Run(rc, err.toString(StandardCharsets.UTF_8));
    }

    /** The one "crd train: error:" line of a failed run. */
    private static String errorLine(Run r) {
        List<String> lines = r.err().lines().filter(l -> l.startsWith("crd train: error:")).toList();
        assertEquals(1, lines.size(), r.err());
        return lines.get(0);
    }

    private static Path copyData(Path tmp) throws Exception {
        Path root = tmp.resolve("data");
        try (var w = Files.walk(data)) {
            for (Path p : w.toList()) {
                Path t = root.resolve(data.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
        return root;
    }

    private static void assertBitIdentical(Path a, Path b) throws Exception {
        Map<String, HostTensor> x = ModelFile.read(a).tensors(), y = ModelFile.read(b).tensors();
        assertEquals(x.keySet(), y.keySet());
        for (String k : x.keySet()) {
            HostTensor p = x.get(k), q = y.get(k);
            assertArrayEquals(p.shape(), q.shape(), k);
            for (long i = 0; i < p.numel(); i++) {
                assertEquals(Double.doubleToRawLongBits(p.getDouble(i)), Double.doubleToRawLongBits(q.getDouble(i)),
                        () -> "tensor " + k + " differs from the uninterrupted run");
            }
        }
        assertEquals(ModelFile.read(a).meta().get("stats"), ModelFile.read(b).meta().get("stats"));
    }

    @Test
    void aBadValidationFileIsNamedBeforeTheFirstEpoch(@TempDir Path tmp) throws Exception {
        Path root = copyData(tmp);
        Path bad = root.resolve("cat/validation/good/rgb/001.png");
        byte[] png = Files.readAllBytes(bad);
        Files.write(bad, Arrays.copyOf(png, png.length / 2));   // truncated
        Path out = tmp.resolve("m.crd4j");
        Run r = run(args(root, out, 2));
        assertEquals(2, r.rc(), r.err());
        String line = errorLine(r);
        assertTrue(line.contains(bad.toString()), line);
        assertFalse(r.err().contains("epoch 1/"), "an epoch ran before the bad file was found:\n" + r.err());
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(TrainingRun.statePath(out)));
    }

    @Test
    void aBadTrainingFileIsNamedBeforeTheFirstEpoch(@TempDir Path tmp) throws Exception {
        Path root = copyData(tmp);
        Path bad = root.resolve("cat/train/good/xyz/003.tiff");
        Files.write(bad, new byte[]{'I', 'I', 42, 0, 1, 2});
        Path out = tmp.resolve("m.crd4j");
        Run r = run(args(root, out, 2));
        assertEquals(2, r.rc(), r.err());
        assertTrue(errorLine(r).contains(bad.toString()), r.err());
        assertFalse(r.err().contains("epoch 1/"), r.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void theOutputPathIsCheckedBeforeAnyWork(@TempDir Path tmp) throws Exception {
        Path missing = tmp.resolve("no/such/folder/m.crd4j");
        Run r = run(args(data, missing, 1));
        assertEquals(2, r.rc());
        assertTrue(errorLine(r).contains("does not exist"), r.err());
        assertFalse(r.err().contains("checked"), "inputs were read before the output path was checked:\n" + r.err());

        Path dir = Files.createDirectories(tmp.resolve("adir"));
        r = run(args(data, dir, 1));
        assertEquals(2, r.rc());
        assertTrue(errorLine(r).contains("is a folder"), r.err());

        Path existing = tmp.resolve("old.crd4j");
        Files.writeString(existing, "an earlier model");
        r = run(args(data, existing, 1));
        assertEquals(2, r.rc());
        String line = errorLine(r);
        assertTrue(line.contains("already exists") && line.contains("--force") && line.contains("--resume"), line);
        assertEquals("an earlier model", Files.readString(existing), "refused, yet the file was touched");

        r = run(args(data, existing, 1, "--force"));
        assertEquals(0, r.rc(), r.err());
        ModelFile.read(existing);   // replaced by a complete model
    }

    @Test
    void aDamagedOrMismatchedTrainingStateIsRefused(@TempDir Path tmp) throws Exception {
        Path root = copyData(tmp);
        Path out = tmp.resolve("m.crd4j"), state = TrainingRun.statePath(out);
        assertEquals(0, run(args(root, out, 1)).rc());
        byte[] good = Files.readAllBytes(state);

        // a flipped byte: the checksum
        byte[] bad = good.clone();
        bad[bad.length - 100] ^= 0x55;
        Files.write(state, bad);
        Run r = run(args(root, out, 2, "--resume"));
        assertEquals(2, r.rc());
        assertTrue(errorLine(r).contains(state.toString()), r.err());
        Files.write(state, good);

        // another preset
        List<String> small = args(root, out, 2, "--resume");
        small.set(small.indexOf("tiny"), "small");
        r = run(small);
        assertEquals(2, r.rc());
        assertTrue(errorLine(r).contains("preset 'tiny'"), r.err());

        // another --batch
        List<String> batch = args(root, out, 2, "--resume");
        batch.set(batch.indexOf("--batch") + 1, "3");
        r = run(batch);
        assertEquals(2, r.rc());
        assertTrue(errorLine(r).contains("--batch 2"), r.err());

        // another crd4j version
        ModelFile.Contents c = ModelFile.read(state);
        ObjectNode meta = c.meta().deepCopy();
        meta.put("crd4j_version", "0.0-other");
        ModelFile.write(state, c.tensors(), meta);
        r = run(args(root, out, 2, "--resume"));
        assertEquals(2, r.rc());
        assertTrue(errorLine(r).contains("crd4j 0.0-other"), r.err());
        // a state from before versions were recorded
        meta.remove("crd4j_version");
        meta.remove("state_version");
        ModelFile.write(state, c.tensors(), meta);
        r = run(args(root, out, 2, "--resume"));
        assertEquals(2, r.rc());
        assertTrue(errorLine(r).contains("older crd4j"), r.err());
        Files.write(state, good);

        // other data: one more training sample
        Path train = root.resolve("cat/train/good");
        Files.copy(train.resolve("rgb/000.png"), train.resolve("rgb/900.png"));
        Files.copy(train.resolve("xyz/000.tiff"), train.resolve("xyz/900.tiff"));
        r = run(args(root, out, 2, "--resume"));
        assertEquals(2, r.rc());
        String line = errorLine(r);
        assertTrue(line.contains("other data") && line.contains("5 training") && line.contains("6 training"), line);
        assertArrayEquals(good, Files.readAllBytes(state), "a refused resume changed the training state");
    }

    @Test
    void aDivergingRunStopsAtOnceAndKeepsTheLastGoodCheckpoint(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("m.crd4j"), state = TrainingRun.statePath(out);
        // from the first epoch: nothing is written
        Run r = run(args(data, out, 5, "--lr", "1e30"));
        assertEquals(1, r.rc(), r.err());
        String line = errorLine(r);
        assertTrue(line.contains("diverged") && line.contains("epoch 1,") && (line.contains("rgb branch") || line.contains("depth branch")
                || line.contains("tensor '")), line);
        assertTrue(line.contains("nothing was saved"), line);
        assertFalse(r.err().contains("epoch 2/"), "training went on after the divergence:\n" + r.err());
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(state));

        // after a good epoch: the state of that epoch survives untouched (the learning rate is made huge in it)
        assertEquals(0, run(args(data, out, 1)).rc());
        ModelFile.Contents c = ModelFile.read(state);
        ObjectNode meta = c.meta().deepCopy();
        meta.put("lr_rgb", 1e30);
        meta.put("lr_other", 1e30);
        ModelFile.write(state, c.tensors(), meta);
        byte[] stateBytes = Files.readAllBytes(state), modelBytes = Files.readAllBytes(out);
        r = run(args(data, out, 3, "--resume"));
        assertEquals(1, r.rc(), r.err());
        line = errorLine(r);
        assertTrue(line.contains("diverged") && line.contains("epoch 2"), line);
        assertTrue(line.contains("last good checkpoint") && line.contains("epoch 1"), line);
        assertArrayEquals(stateBytes, Files.readAllBytes(state), "the last good training state was replaced");
        assertArrayEquals(modelBytes, Files.readAllBytes(out), "the last good model file was replaced");
    }

    /**
     * A stop request between two steps (what SIGTERM sets), in process: the state records the step within the epoch,
     * and the resumed run ends with the same bits as a run that was never stopped.
     */
    @Test
    void aRunStoppedMidEpochResumesBitIdentically(@TempDir Path tmp) throws Exception {
        Path straight = tmp.resolve("a.crd4j"), stopped = tmp.resolve("b.crd4j");
        var be = new Nd4jBackend();
        TrainingRun.run(be, config(straight, false), TrainingRun.Listener.NONE);
        AtomicInteger polls = new AtomicInteger();
        // 5 samples, batch 2: 2 steps per epoch; the 4th poll comes before the second step of epoch 2
        TrainingRun.Stopped s = assertThrows(TrainingRun.Stopped.class,
                () -> TrainingRun.run(be, config(stopped, false), TrainingRun.Listener.NONE, () -> polls.incrementAndGet() >= 4));
        assertTrue(s.getMessage().contains("epoch 2 of 3 (after step 1 of 2)") && s.getMessage().contains("--resume"), s.getMessage());
        var meta = ModelFile.read(TrainingRun.statePath(stopped)).meta();
        assertEquals(1, meta.path("epoch").asInt());
        assertEquals(1, meta.path("step").asInt());
        TrainingRun.run(be, config(stopped, true), TrainingRun.Listener.NONE);
        assertBitIdentical(straight, stopped);
    }

    private static TrainingRun.Config config(Path out, boolean resume) {
        return new TrainingRun.Config(data, "cat", "random", resume ? null : Preset.byName("tiny"), 3, 2, 0.005, 5,
                FusionSemantics.DETACHED, false, out, resume);
    }

    /** A JVM running the CLI with this build's classes (as TrainKillResumeTest). */
    private static ProcessBuilder cli(List<String> args) throws Exception {
        String cp = Path.of("target/classes").toAbsolutePath() + java.io.File.pathSeparator
                + Files.readString(Path.of("target/classpath.txt")).trim();
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "-Dorg.bytedeco.javacpp.maxbytes=2g", "-cp", cp, "crd4j.cli.CrdCli"));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", "1");
        return pb;
    }

    /** Runs the CLI in its own JVM (one native thread, as every run of this comparison) to the end. */
    private static String runToEnd(List<String> args) throws Exception {
        Process p = cli(args).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    void sigtermWritesACheckpointSaysHowToResumeAndTheResumedRunIsBitIdentical(@TempDir Path tmp) throws Exception {
        int epochs = 4;
        Path straight = tmp.resolve("straight.crd4j"), killed = tmp.resolve("killed.crd4j");
        runToEnd(args(data, straight, epochs));

        Process p = cli(args(data, killed, epochs)).start();
        StringBuilder seen = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            boolean sent = false;
            while ((line = r.readLine()) != null) {
                seen.append(line).append('\n');
                if (!sent && line.contains("epoch 1/")) {
                    p.toHandle().destroy();   // SIGTERM on Linux (Process.destroy would also close our end of its output)
                    sent = true;
                }
            }
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the JVM did not exit after SIGTERM");
        String out = seen.toString();
        assertEquals(143, p.exitValue(), out);   // 128 + SIGTERM: the JVM ends as the signal asks, after the checkpoint
        assertTrue(out.contains("stopped on request") && out.contains("--resume"), out);
        assertFalse(out.contains("Exception"), out);
        var meta = ModelFile.read(TrainingRun.statePath(killed)).meta();
        assertTrue(meta.path("epoch").asInt() >= 1 && meta.path("epoch").asInt() < epochs, meta.toString());
        ModelFile.read(killed);

        String resumed = runToEnd(args(data, killed, epochs, "--resume"));
        assertTrue(resumed.contains("resuming"), resumed);
        System.err.println("SIGTERM: " + out.lines().filter(l -> l.contains("stopped")).findFirst().orElse("")
                + " / " + resumed.lines().filter(l -> l.contains("resuming")).findFirst().orElse(""));
        assertBitIdentical(straight, killed);
    }
}
