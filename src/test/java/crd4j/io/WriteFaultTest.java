package crd4j.io;

import crd4j.data.ImageInputs;
import crd4j.data.XyzTiff;
import crd4j.data.synth.SyntheticRgbd;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Writes that hit a full disk or a read-only folder, and writes killed half way (issue 13, items 4 and 7).
 *
 * <p>How the faults are made: a small tmpfs needs privileges, so ENOSPC comes from the kernel itself through the
 * {@link AtomicFiles#dataChannel} seam, which sends the content to {@code /dev/full} (every write fails with ENOSPC)
 * while the temporary file sits in the target's folder as usual. A read-only folder cannot be made as root (root
 * writes anyway), so {@link AtomicFiles#beforeCreate} throws what the file system would ("Read-only file system").
 * Kills are real: a child JVM starts a write, holds it open, and is killed with SIGKILL.
 */
class WriteFaultTest {
    private static final Path DEV_FULL = Path.of("/dev/full");
    @TempDir Path dir;

    @AfterEach
    void restoreSeams() {
        AtomicFiles.dataChannel = ch -> ch;
        AtomicFiles.beforeCreate = d -> {};
    }

    private List<String> listing(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static void diskFull() {
        Assumptions.assumeTrue(Files.isWritable(DEV_FULL), "/dev/full is not available on this machine");
        AtomicFiles.dataChannel = ch -> FileChannel.open(DEV_FULL, StandardOpenOption.WRITE);
    }

    private static void readOnlyFolder() {
        AtomicFiles.beforeCreate = d -> { throw new FileSystemException(d.toString(), null, "Read-only file system"); };
    }

    private static HostTensor big() {
        return HostTensor.of(new float[100_000], 100_000);
    }

    @Test
    void fullDiskNamesTheFileAndKeepsThePreviousOne() throws IOException {
        Path npy = dir.resolve("map.npy");
        Npy.write(npy, HostTensor.of(new float[] {1, 2}, 2));
        diskFull();
        IOException e = assertThrows(IOException.class, () -> Npy.write(npy, big()));
        assertEquals(npy + ": cannot write (No space left on device); the previous file is unchanged", e.getMessage());
        Path model = dir.resolve("m.crd4j");
        e = assertThrows(IOException.class, () -> Safetensors.write(model, Map.of("w", big()), null));
        assertEquals(model + ": cannot write (No space left on device); nothing was written", e.getMessage());
        restoreSeams();
        assertArrayEquals(new float[] {1, 2}, Npy.read(npy).floats(), "the previous file is intact");
        assertEquals(List.of("map.npy"), listing(dir), "no temporary file is left");
    }

    @Test
    void readOnlyFolderNamesTheFile() throws IOException {
        Path npy = dir.resolve("map.npy");
        Files.writeString(npy, "old");
        readOnlyFolder();
        IOException e = assertThrows(IOException.class, () -> Npy.write(npy, big()));
        assertEquals(npy + ": cannot write (Read-only file system); the previous file is unchanged", e.getMessage());
        assertEquals("old", Files.readString(npy));
        assertEquals(List.of("map.npy"), listing(dir));
    }

    /** An output folder (detect, eval) on a full disk: the file the user would have got is named, nothing is left. */
    @Test
    void fullDiskWhileStagingAnOutputFolder() throws IOException {
        Path out = dir.resolve("out");
        diskFull();
        IOException e = assertThrows(IOException.class, () -> AtomicDirectory.write(out,
                Map.of("maps/a.npy", f -> Npy.write(f, big()))));
        assertEquals(out.resolve("maps/a.npy") + ": cannot write (No space left on device); nothing was written", e.getMessage());
        assertEquals(List.of(), listing(dir), "no output folder, no staging folder, no lock file");
        readOnlyFolder();
        e = assertThrows(IOException.class, () -> AtomicDirectory.stage(out));
        assertEquals(out + ": cannot write (Read-only file system); nothing was written", e.getMessage());
        assertEquals(List.of(), listing(dir));
    }

    /** synth on a full disk (the finding: a partial dataset that a rerun then refused as non-empty). */
    @Test
    void synthOnAFullDiskLeavesNothing() throws IOException {
        Path out = dir.resolve("data");
        SyntheticRgbd.Options o = new SyntheticRgbd.Options(List.of("puck"), 1, 64, 2, 1, 1, 1);
        diskFull();
        IOException e = assertThrows(IOException.class, () -> SyntheticRgbd.generate(out, o));
        assertTrue(e.getMessage().startsWith(out.resolve("puck/train/good/rgb/000.png") + ": cannot write (No space left on device)"),
                e.getMessage());
        assertEquals(List.of(), listing(dir));
        restoreSeams();
        SyntheticRgbd.Summary s = SyntheticRgbd.generate(out, o); // the rerun works: nothing was left in the way
        assertEquals(2 + 1 + 1 + 5, s.samples());
        assertEquals(List.of("data"), listing(dir));
        assertEquals(List.of("test", "train", "validation"), listing(out.resolve("puck")));
    }

    @Test
    void aDirectoryWhereAFileIsExpectedIsNamed() throws IOException {
        Path d = Files.createDirectory(dir.resolve("weights.pth"));
        for (Reader r : List.<Reader>of(TorchCheckpoint::read, Npy::read, Safetensors::read, ModelFile::read,
                XyzTiff::read, ImageInputs::read)) {
            WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> r.read(d));
            assertTrue(e.getMessage().startsWith(d + ": is a directory (expected a"), e.getMessage());
        }
        IOException e = assertThrows(IOException.class, () -> Npy.write(d, big()));
        assertEquals(d + ": is a directory (expected a file name to write)", e.getMessage());
    }

    interface Reader { void read(Path f) throws IOException; }

    // ------------------------------------------------------------------------------------------ killed writes

    /** A child JVM that starts a write, prints "writing" and waits to be killed. */
    public static final class HangingWriter {
        public static void main(String[] args) throws Exception {
            Path target = Path.of(args[1]);
            if (args[0].equals("file")) {
                AtomicFiles.write(target, out -> {
                    out.write(new byte[200_000]);
                    out.flush();
                    hang();
                });
            } else {
                AtomicDirectory d = AtomicDirectory.stage(target);
                d.put("a.npy", f -> Npy.write(f, HostTensor.of(new float[] {1}, 1)));
                hang();
            }
        }

        private static void hang() throws IOException {
            System.out.println("writing");
            System.out.flush();
            try {
                Thread.sleep(120_000);
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
        }
    }

    /** Starts a {@link HangingWriter}, waits until it is writing, kills it with SIGKILL. */
    private static void killedWhileWriting(String kind, Path target) throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx64m",
                "-cp", System.getProperty("java.class.path"), HangingWriter.class.getName(), kind, target.toString())
                .redirectErrorStream(true).start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line = r.readLine();
            assertEquals("writing", line, "child writer started");
            p.destroyForcibly(); // SIGKILL on Linux: no finally block, no shutdown hook runs
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        }
    }

    /** Pretends {@code f} was left a while ago (fresh leftovers are spared for 2 s, see AtomicDirectory.MIN_AGE_MS). */
    private static void age(Path f) throws IOException {
        Files.setLastModifiedTime(f, FileTime.fromMillis(System.currentTimeMillis() - 60_000));
    }

    @Test
    void theNextWriteRemovesTheTempFileOfAKilledWrite() throws Exception {
        Path target = dir.resolve("m.crd4j");
        Files.writeString(target, "previous");
        killedWhileWriting("file", target);
        List<String> left = listing(dir);
        assertEquals(2, left.size(), "the killed write left its temporary file: " + left);
        Path stale = dir.resolve(left.get(0).startsWith(".") ? left.get(0) : left.get(1));
        assertEquals(200_000, Files.size(stale));
        age(stale);
        // A live write's temp file (locked, here by this JVM) of the same target is left alone.
        Path live = dir.resolve(".m.crd4j.0123456789ab.tmp");
        try (FileChannel ch = FileChannel.open(live, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
             FileLock ignored = ch.lock()) {
            age(live);
            AtomicFiles.write(target, "new".getBytes(StandardCharsets.US_ASCII));
            assertEquals(List.of(".m.crd4j.0123456789ab.tmp", "m.crd4j"), listing(dir));
        }
        assertEquals("new", Files.readString(target));
        age(live);
        AtomicFiles.write(target, "newer".getBytes(StandardCharsets.US_ASCII));
        assertEquals(List.of("m.crd4j"), listing(dir), "once its writer is gone, it goes too");
    }

    @Test
    void theNextRunRemovesTheStagingFolderOfAKilledRun() throws Exception {
        Path out = dir.resolve("out");
        killedWhileWriting("dir", out);
        List<String> left = listing(dir);
        assertEquals(2, left.size(), "staging folder and its lock file: " + left);
        for (String n : left) {
            assertTrue(n.startsWith(".out.partial-"), n);
            age(dir.resolve(n));
        }
        AtomicDirectory.write(out, Map.of("b.npy", f -> Npy.write(f, HostTensor.of(new float[] {2}, 1))));
        assertEquals(List.of("out"), listing(dir));
        assertEquals(List.of("b.npy"), listing(out));
    }
}
