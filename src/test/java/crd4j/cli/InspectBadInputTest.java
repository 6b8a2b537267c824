package crd4j.cli;

import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.io.Npy;
import crd4j.model.Checkpoints;
import crd4j.model.CrdModel;
import crd4j.model.Modality;
import crd4j.model.ModelFiles;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import crd4j.testing.PyReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code crd inspect} with bad input. The requirement: a truncated, foreign or corrupted weights file, a missing key,
 * a wrong shape or a wrong input size gives one clear line on stderr naming the file and the key or shape expected,
 * an exit code other than 0 (2, bad input), no stack trace unless {@code --verbose}, and nothing written.
 *
 * <p>The valid files are the tiny-preset reference (b = 4, S = 64, batch 1) written by PyTorch
 * ({@code crd_reference.py network}); the broken ones are derived from them, the state-dict ones by PyTorch itself.
 * The CLI runs with its default {@code --device auto}, as a user would, and stderr is captured at
 * {@code System.err}, so every line the user would see counts.
 */
class InspectBadInputTest {
    /** A teacher key deleted for the missing-key case, and one replaced by a tensor of another shape. */
    static final String MISSING_KEY = "layer2.0.conv2.weight";
    static final String RESHAPED_KEY = "layer1.1.bn2.running_var";

    @TempDir
    static Path files;

    static Path teacher, checkpoint, rgb, depth, modelFile;

    @BeforeAll
    static void makeFiles() throws Exception {
        Path ref = PyReference.generate("network-tiny-b1", "network", "--base", "4", "--size", "64", "--batch", "1",
                "--ref-dtype", "float64");
        teacher = ref.resolve("teacher.pth");
        checkpoint = ref.resolve("checkpoint.pth");
        rgb = ref.resolve("rgb.npy");
        depth = ref.resolve("depth.npy");

        byte[] teacherBytes = Files.readAllBytes(teacher);
        Files.write(files.resolve("teacher_truncated.pth"), Arrays.copyOf(teacherBytes, teacherBytes.length / 2));
        Files.writeString(files.resolve("notes.pth"), "These are not weights.\nJust a text file with a .pth name.\n");
        Files.write(files.resolve("empty.pth"), new byte[0]);

        python("""
                import sys, torch
                teacher, checkpoint, out, missing, reshaped = sys.argv[1:6]
                sd = torch.load(teacher, map_location="cpu")
                a = sd.copy()
                del a[missing]
                torch.save(a, out + "/teacher_missing_key.pth")
                b = sd.copy()
                b[reshaped] = torch.ones(b[reshaped].shape[0] + 1, dtype=b[reshaped].dtype)
                torch.save(b, out + "/teacher_wrong_shape.pth")
                c = torch.load(checkpoint, map_location="cpu")
                del c["student_depth"]
                torch.save(c, out + "/checkpoint_no_depth.pth")
                """, teacher.toString(), checkpoint.toString(), files.toString(), MISSING_KEY, RESHAPED_KEY);

        Npy.write(files.resolve("rgb_60.npy"), HostTensor.of(new float[3 * 60 * 60], 1, 3, 60, 60));
        Npy.write(files.resolve("rgb_1ch.npy"), HostTensor.of(new float[64 * 64], 1, 1, 64, 64));
        Npy.write(files.resolve("depth_96.npy"), HostTensor.of(new float[3 * 96 * 96], 1, 3, 96, 96));
        Npy.write(files.resolve("rgb_96.npy"), HostTensor.of(new float[3 * 96 * 96], 1, 3, 96, 96));

        // A valid crd4j model file (random tiny model), and a copy with one byte of the tensor data flipped.
        modelFile = files.resolve("model.crd4j");
        ModelFiles.save(new CrdModel(new NnContext(new Nd4jBackend(), DType.FLOAT32, 0), Preset.TINY, Modality.DEPTH),
                modelFile, "test", null);
        byte[] model = Files.readAllBytes(modelFile);
        long headerLength = ByteBuffer.wrap(model, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        int dataStart = Math.toIntExact(8 + headerLength);
        model[dataStart + (model.length - dataStart) / 2] ^= 0x10;
        Files.write(files.resolve("model_flipped.crd4j"), model);
    }

    // ------------------------------------------------------------------------------------------ weights files

    @Test
    void truncatedTeacher(@TempDir Path run) {
        Result r = inspect(run, "--teacher", f("teacher_truncated.pth"), "--checkpoint", checkpoint, "--rgb", rgb, "--depth", depth);
        assertOneCleanError(r, run, "teacher_truncated.pth");
    }

    @Test
    void foreignTeacher(@TempDir Path run) {
        Result r = inspect(run, "--teacher", f("notes.pth"), "--checkpoint", checkpoint, "--rgb", rgb, "--depth", depth);
        assertOneCleanError(r, run, "notes.pth");
    }

    @Test
    void emptyTeacher(@TempDir Path run) {
        Result r = inspect(run, "--teacher", f("empty.pth"), "--checkpoint", checkpoint, "--rgb", rgb, "--depth", depth);
        assertOneCleanError(r, run, "empty.pth");
    }

    @Test
    void missingTeacherFile(@TempDir Path run) {
        Result r = inspect(run, "--teacher", f("no_such_teacher.pth"), "--checkpoint", checkpoint, "--rgb", rgb, "--depth", depth);
        assertOneCleanError(r, run, "no_such_teacher.pth", "no such file");
    }

    @Test
    void checkpointAsTeacher(@TempDir Path run) {
        // a real .pth, but a dict of state dicts rather than the torchvision state dict
        Result r = inspect(run, "--teacher", checkpoint, "--checkpoint", checkpoint, "--rgb", rgb, "--depth", depth);
        assertOneCleanError(r, run, "checkpoint.pth");
    }

    @Test
    void teacherWithMissingKey(@TempDir Path run) throws IOException {
        Result r = inspect(run, "--teacher", f("teacher_missing_key.pth"), "--checkpoint", checkpoint, "--rgb", rgb, "--depth", depth);
        assertOneCleanError(r, run, "teacher_missing_key.pth", "'" + MISSING_KEY + "'", Arrays.toString(referenceShape(MISSING_KEY)));
    }

    @Test
    void teacherWithWrongShape(@TempDir Path run) throws IOException {
        long[] expected = referenceShape(RESHAPED_KEY);
        long[] found = expected.clone();
        found[0]++;
        Result r = inspect(run, "--teacher", f("teacher_wrong_shape.pth"), "--checkpoint", checkpoint, "--rgb", rgb, "--depth", depth);
        assertOneCleanError(r, run, "teacher_wrong_shape.pth", "'" + RESHAPED_KEY + "'", Arrays.toString(expected), Arrays.toString(found));
    }

    @Test
    void checkpointWithoutStudentDepth(@TempDir Path run) {
        Result r = inspect(run, "--teacher", teacher, "--checkpoint", f("checkpoint_no_depth.pth"), "--rgb", rgb, "--depth", depth);
        assertOneCleanError(r, run, "checkpoint_no_depth.pth", "'student_depth'");
    }

    @Test
    void modelFileWithOneFlippedByte(@TempDir Path run) {
        Result r = inspect(run, "--checkpoint", f("model_flipped.crd4j"), "--rgb", rgb, "--depth", depth);
        assertOneCleanError(r, run, "model_flipped.crd4j", "checksum");
    }

    // ------------------------------------------------------------------------------------------------- inputs

    @Test
    void rgbOfWrongSize(@TempDir Path run) {
        Result r = inspect(run, "--teacher", teacher, "--checkpoint", checkpoint, "--rgb", f("rgb_60.npy"), "--depth", depth);
        assertOneCleanError(r, run, "rgb_60.npy", "[1, 3, S, S]", "[1, 3, 60, 60]");
    }

    @Test
    void rgbWithOneChannel(@TempDir Path run) {
        Result r = inspect(run, "--teacher", teacher, "--checkpoint", checkpoint, "--rgb", f("rgb_1ch.npy"), "--depth", depth);
        assertOneCleanError(r, run, "rgb_1ch.npy", "[1, 3, S, S]", "[1, 1, 64, 64]");
    }

    @Test
    void rgbAndDepthOfDifferentSizes(@TempDir Path run) {
        Result r = inspect(run, "--teacher", teacher, "--checkpoint", checkpoint, "--rgb", rgb, "--depth", f("depth_96.npy"));
        assertOneCleanError(r, run, "depth_96.npy", "rgb.npy", "[1, 3, 96, 96]", "[1, 3, 64, 64]");
    }

    @Test
    void inputSizeOtherThanTheModelFiles(@TempDir Path run) {
        Result r = inspect(run, "--checkpoint", modelFile, "--rgb", f("rgb_96.npy"), "--depth", f("depth_96.npy"));
        assertOneCleanError(r, run, "rgb_96.npy", "model.crd4j", "[1,3,64,64]", "[1, 3, 96, 96]");
    }

    // ------------------------------------------------------------------------------------------------ options

    /** No usable GPU is an environment failure, not bad input: exit code 1, still one line naming what is missing. */
    @Test
    void cudaDeviceWithoutAGpu(@TempDir Path run) {
        String why = crd4j.backend.cuda.CudaBackend.unavailableReason();
        org.junit.jupiter.api.Assumptions.assumeTrue(why != null, "skipped: a usable GPU is present");
        Result r = inspect(run, "--teacher", teacher, "--checkpoint", checkpoint, "--rgb", rgb, "--depth", depth, "--device", "cuda");
        assertOneCleanError(r, run, 1, "--device cuda", why);
    }

    @Test
    void float16Dtype(@TempDir Path run) {
        Result r = inspect(run, "--teacher", teacher, "--checkpoint", checkpoint, "--rgb", rgb, "--depth", depth, "--dtype", "float16");
        assertOneCleanError(r, run, "--dtype", "float16", "float32", "float64");
    }

    // ---------------------------------------------------------------------------------------------- --verbose

    @Test
    void verboseAddsTheStackTrace(@TempDir Path run) {
        Result r = inspect(run, "--teacher", f("teacher_truncated.pth"), "--checkpoint", checkpoint, "--rgb", rgb, "--depth", depth,
                "--verbose");
        assertEquals(2, r.code(), r.err());
        List<String> lines = nonBlankLines(r.err());
        String error = lines.stream().filter(l -> l.startsWith("crd inspect: error: ")).findFirst().orElseThrow(
                () -> new AssertionError("no error line in:\n" + r.err()));
        assertTrue(error.contains("teacher_truncated.pth"), error);
        assertTrue(r.err().contains("Exception"), r.err());
        assertTrue(r.err().contains("\tat crd4j."), r.err());
        assertNothingWritten(run);
    }

    // ------------------------------------------------------------------------------------------- valid inputs

    @Test
    void validInputsWriteTheThirtySixArraysAndASecondRunReplacesThem(@TempDir Path run) throws IOException {
        Result first = inspect(run, "--teacher", teacher, "--checkpoint", checkpoint, "--rgb", rgb, "--depth", depth);
        assertEquals(0, first.code(), first.err());
        Path out = run.resolve("out");
        assertEquals(expectedOutputs(), listFiles(out));
        assertEquals(List.of("out"), List.of(names(run)), "only DIR itself in its parent (no partial directories)");
        assertArrayEquals(new long[]{64, 64}, Npy.read(out.resolve("depth/map.npy")).shape());

        Path map = out.resolve("rgb/map.npy");
        byte[] written = Files.readAllBytes(map);
        Files.write(map, new byte[]{1, 2, 3});
        Result second = inspect(run, "--teacher", teacher, "--checkpoint", checkpoint, "--rgb", rgb, "--depth", depth);
        assertEquals(0, second.code(), second.err());
        assertEquals(expectedOutputs(), listFiles(out));
        assertArrayEquals(written, Files.readAllBytes(map), "the second run replaced the damaged file");
        assertEquals(List.of("out"), List.of(names(run)));
    }

    /** The 36 outputs of Inspection (its javadoc): inputs, teacher features, and 14 arrays per branch. */
    static TreeSet<String> expectedOutputs() {
        TreeSet<String> s = new TreeSet<>(List.of("input_rgb.npy", "input_depth.npy"));
        for (String m : List.of("rgb", "depth")) {
            for (int k = 1; k <= 3; k++) {
                s.add("teacher_" + m + "_" + k + ".npy");
                for (String part : List.of("bp", "ibp", "raw", "fused")) s.add(m + "/" + part + "_" + k + ".npy");
            }
            s.add(m + "/ocbe.npy");
            s.add(m + "/map.npy");
        }
        assertEquals(36, s.size());
        return s;
    }

    // ----------------------------------------------------------------------------------------------- helpers

    record Result(int code, String out, String err) {}

    /** Runs {@code crd inspect ARGS --out RUN/out} with System.out and System.err captured. */
    static Result inspect(Path run, Object... args) {
        List<String> argv = new ArrayList<>(List.of("inspect"));
        for (Object a : args) argv.add(a.toString());
        argv.add("--out");
        argv.add(run.resolve("out").toString());
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = CrdCli.run(argv.toArray(String[]::new));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Exit code 2, exactly one line on stderr, that line naming everything in {@code mustName}, and no output. */
    static void assertOneCleanError(Result r, Path run, String... mustName) {
        assertOneCleanError(r, run, 2, mustName);
    }

    static void assertOneCleanError(Result r, Path run, int code, String... mustName) {
        assertEquals(code, r.code(), () -> "exit code; stderr:\n" + r.err());
        List<String> lines = nonBlankLines(r.err());
        assertEquals(1, lines.size(), () -> "expected exactly one line on stderr, found:\n" + r.err());
        String line = lines.get(0);
        assertTrue(line.startsWith("crd inspect: error: "), line);
        for (String s : mustName) assertTrue(line.contains(s), () -> "'" + s + "' not named in: " + line);
        assertFalse(line.contains("Exception"), line);
        assertFalse(r.err().contains("at crd4j."), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
        assertEquals("", r.out(), "nothing on stdout");
        assertNothingWritten(run);
    }

    static void assertNothingWritten(Path run) {
        assertFalse(Files.exists(run.resolve("out")), "--out directory was created");
        assertEquals(0, names(run).length, () -> "files left next to --out: " + Arrays.toString(names(run)));
    }

    static List<String> nonBlankLines(String s) {
        return s.lines().filter(l -> !l.isBlank()).toList();
    }

    static String[] names(Path dir) {
        try (var list = Files.list(dir)) {
            return list.map(p -> p.getFileName().toString()).sorted().toArray(String[]::new);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static TreeSet<String> listFiles(Path dir) throws IOException {
        try (var walk = Files.walk(dir)) {
            TreeSet<String> s = new TreeSet<>();
            walk.filter(Files::isRegularFile).forEach(p -> s.add(dir.relativize(p).toString().replace('\\', '/')));
            return s;
        }
    }

    static Path f(String name) {
        return files.resolve(name);
    }

    /** The shape the key has in the PyTorch-written teacher, i.e. the shape the model expects. */
    static long[] referenceShape(String key) throws IOException {
        Map<String, HostTensor> sd = Checkpoints.readTeacher(teacher);
        assertTrue(sd.containsKey(key), key);
        long[] s = sd.get(key).shape();
        assertNotEquals(0, s.length);
        return s;
    }

    static void python(String script, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(PyReference.python(), "-c", script));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IllegalStateException("python failed:\n" + log);
    }
}
