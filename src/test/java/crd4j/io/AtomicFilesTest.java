package crd4j.io;

import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class AtomicFilesTest {

    private static List<Path> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(Path::getFileName).sorted().toList();
        }
    }

    @Test
    void replacesTargetAndLeavesNoTemporaryFile(@TempDir Path dir) throws IOException {
        Path target = dir.resolve("a.npy");
        Files.writeString(target, "old");
        Npy.write(target, HostTensor.of(new float[] {1, 2}, 2));
        assertArrayEquals(new float[] {1, 2}, Npy.read(target).floats());
        AtomicFiles.write(target, out -> {
            out.write("new".getBytes(StandardCharsets.US_ASCII));
            out.close(); // closing early is allowed
        });
        assertEquals("new", Files.readString(target));
        assertEquals(List.of(Path.of("a.npy")), listing(dir));
    }

    /** The writer fails half way: the previous file is intact and the temporary file is gone. */
    @Test
    void failingWriterDoesNotClobberTarget(@TempDir Path dir) throws IOException {
        Path target = dir.resolve("model.crd4j");
        Files.writeString(target, "previous good model");
        IOException boom = new IOException("disk full (simulated)");
        IOException thrown = assertThrows(IOException.class, () -> AtomicFiles.write(target, out -> {
            out.write(new byte[100_000]);
            throw boom;
        }));
        assertSame(boom, thrown);
        assertEquals("previous good model", Files.readString(target));
        assertEquals(List.of(Path.of("model.crd4j")), listing(dir));
        RuntimeException bug = new IllegalStateException("bug in the writer");
        assertSame(bug, assertThrows(IllegalStateException.class, () -> AtomicFiles.write(target, out -> { throw bug; })));
        assertEquals(List.of(Path.of("model.crd4j")), listing(dir));
    }
}
