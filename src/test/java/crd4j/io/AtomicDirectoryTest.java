package crd4j.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** {@link AtomicDirectory}: all files or none, and no staging directory left behind either way. */
class AtomicDirectoryTest {
    @TempDir
    Path tmp;

    private List<String> siblings() throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void failureAfterSomeFilesLeavesNothing() throws IOException {
        Path out = tmp.resolve("out");
        try (AtomicDirectory d = AtomicDirectory.stage(out)) {
            d.put("a/one.txt", f -> Files.writeString(f, "1"));
            assertThrows(IOException.class, () -> d.put("two.txt", f -> { throw new IOException("disk full"); }));
        }
        assertFalse(Files.exists(out));
        assertEquals(List.of(), siblings());
    }

    @Test
    void commitIntoAnExistingDirectoryReplacesOnlyItsOwnFiles() throws IOException {
        Path out = tmp.resolve("out");
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "old");
        Files.writeString(out.resolve("metrics.json"), "old");
        Map<String, AtomicDirectory.FileWriter> files = new LinkedHashMap<>();
        files.put("metrics.json", f -> Files.writeString(f, "new"));
        files.put("c/report.html", f -> Files.writeString(f, "<html>"));
        AtomicDirectory.write(out, files);
        assertEquals("old", Files.readString(out.resolve("keep.txt")));
        assertEquals("new", Files.readString(out.resolve("metrics.json")));
        assertEquals("<html>", Files.readString(out.resolve("c/report.html")));
        assertEquals(List.of("out"), siblings());
    }

    @Test
    void pathsMustStayBelowTheDirectory() throws IOException {
        try (AtomicDirectory d = AtomicDirectory.stage(tmp.resolve("out"))) {
            assertThrows(IllegalArgumentException.class, () -> d.put("../escape.txt", f -> Files.writeString(f, "x")));
            d.put("x.txt", f -> Files.writeString(f, "x"));
            assertThrows(IllegalArgumentException.class, () -> d.put("./x.txt", f -> Files.writeString(f, "y")));
        }
        assertEquals(List.of(), siblings());
    }
}
