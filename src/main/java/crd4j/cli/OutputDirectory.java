package crd4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Map;

/**
 * Writes a command's output files so that a failure never leaves a partial result: everything goes into a fresh
 * sibling directory first, which is then moved into place (or, when the directory exists, each file is moved over
 * its old version atomically).
 */
final class OutputDirectory {
    interface FileWriter {
        void write(Path file) throws IOException;
    }

    private OutputDirectory() {}

    /** {@code files}: path relative to {@code out} → writer. */
    static void write(Path out, Map<String, FileWriter> files) throws IOException {
        Path abs = out.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = Files.createTempDirectory(abs.getParent(), "." + abs.getFileName() + ".partial-");
        try {
            for (Map.Entry<String, FileWriter> e : files.entrySet()) {
                Path f = tmp.resolve(e.getKey());
                Files.createDirectories(f.getParent());
                e.getValue().write(f);
            }
            if (!Files.exists(abs)) {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
                return;
            }
            for (String rel : files.keySet()) {
                Path dst = abs.resolve(rel);
                Files.createDirectories(dst.getParent());
                Files.move(tmp.resolve(rel), dst, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            if (Files.exists(tmp)) {
                try (var walk = Files.walk(tmp)) {
                    for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
                }
            }
        }
    }
}
