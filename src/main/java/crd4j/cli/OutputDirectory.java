package crd4j.cli;

import crd4j.io.AtomicDirectory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Writes a command's output files so that a failure never leaves a partial result: everything goes into a fresh
 * sibling directory first, which is then moved into place (or, when the directory exists, each file is moved over
 * its old version atomically). The commands' shorthand for {@link AtomicDirectory}.
 */
final class OutputDirectory {
    interface FileWriter extends AtomicDirectory.FileWriter {}

    private OutputDirectory() {}

    /** {@code files}: path relative to {@code out} → writer. */
    static void write(Path out, Map<String, FileWriter> files) throws IOException {
        AtomicDirectory.write(out, files);
    }

    /** As {@link #write(Path, Map)}; {@code owned} (every top-level name the command can write) leaves nothing stale of a rerun. */
    static void write(Path out, Map<String, FileWriter> files, java.util.Set<String> owned) throws IOException {
        AtomicDirectory.write(out, files, owned);
    }
}
