package crd4j.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A command's output directory after a rerun holds that run's output and nothing stale of the earlier one, keeps the
 * user's own files, and has the permissions the umask gives any new folder (issue 12).
 */
class OutputReplacementTest {
    static AtomicDirectory.FileWriter text(String s) {
        return f -> AtomicFiles.write(f, s.getBytes(StandardCharsets.UTF_8));
    }

    static final Set<String> OWNED = Set.of("metrics.json", "report.html", "maps");

    @Test
    void aRerunReplacesWrittenFoldersWholeAndRemovesOwnedEntriesItDidNotWrite(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        Map<String, AtomicDirectory.FileWriter> first = new LinkedHashMap<>();
        first.put("metrics.json", text("1"));
        first.put("report.html", text("<html>1"));
        first.put("maps/good/000.npy", text("a"));
        first.put("maps/crack/001.npy", text("b"));
        AtomicDirectory.write(out, first, OWNED);
        Files.writeString(out.resolve("notes.txt"), "mine");

        Map<String, AtomicDirectory.FileWriter> second = new LinkedHashMap<>();
        second.put("metrics.json", text("2"));
        second.put("maps/good/002.npy", text("c"));
        AtomicDirectory.write(out, second, OWNED);

        assertEquals("2", Files.readString(out.resolve("metrics.json")));
        assertFalse(Files.exists(out.resolve("report.html")), "owned and not written this time: removed");
        assertTrue(Files.exists(out.resolve("maps/good/002.npy")));
        assertFalse(Files.exists(out.resolve("maps/good/000.npy")), "a folder written now replaces its old version whole");
        assertFalse(Files.exists(out.resolve("maps/crack")));
        assertEquals("mine", Files.readString(out.resolve("notes.txt")), "not the command's: kept");
        try (var s = Files.list(tmp)) {
            assertEquals(List.of("out"), s.map(p -> p.getFileName().toString()).toList(), "no staging folder or lock left");
        }
    }

    @Test
    void withoutOwnedNamesOtherFilesStayAsBefore(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        AtomicDirectory.write(out, Map.of("a.txt", text("1"), "b.txt", text("1")));
        AtomicDirectory.write(out, Map.of("a.txt", text("2")));
        assertEquals("2", Files.readString(out.resolve("a.txt")));
        assertEquals("1", Files.readString(out.resolve("b.txt")));
    }

    @Test
    void aNewOutputFolderHasTheUmasksPermissionsNotTheTempDirs(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        AtomicDirectory.write(out, Map.of("sub/f.txt", text("x")));
        Path plain = Files.createDirectory(tmp.resolve("plain"));
        String want = PosixFilePermissions.toString(Files.getPosixFilePermissions(plain));
        assertEquals(want, PosixFilePermissions.toString(Files.getPosixFilePermissions(out)));
        assertEquals(want, PosixFilePermissions.toString(Files.getPosixFilePermissions(out.resolve("sub"))));
    }
}
