package crd4j.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * A command's output directory that a failure never leaves half-written: files are written into a fresh hidden
 * sibling directory ({@code .<name>.partial-*}) as they are {@link #put}, and {@link #commit} moves them into place —
 * the whole directory in one rename when {@code out} does not exist yet, otherwise each file over its old version,
 * each move atomic. {@link #close} without {@code commit} deletes the staging directory and leaves {@code out}
 * untouched.
 *
 * <p>Staging file by file lets a long run (several categories of {@code crd eval}) write each part as soon as it is
 * done and free its memory, and still publish all or nothing.
 */
public final class AtomicDirectory implements AutoCloseable {
    /** Writes one file at the path it is given (inside the staging directory). */
    @FunctionalInterface
    public interface FileWriter {
        void write(Path file) throws IOException;
    }

    private final Path target;
    private final Path staging;
    private final Set<String> files = new LinkedHashSet<>();
    private boolean committed;

    private AtomicDirectory(Path target, Path staging) {
        this.target = target;
        this.staging = staging;
    }

    /** Creates the staging directory beside {@code out} (and {@code out}'s parent directories). */
    public static AtomicDirectory stage(Path out) throws IOException {
        Path abs = out.toAbsolutePath().normalize();
        if (abs.getParent() == null) throw new IOException(out + ": cannot write into the file system root");
        Files.createDirectories(abs.getParent());
        return new AtomicDirectory(abs, Files.createTempDirectory(abs.getParent(), "." + abs.getFileName() + ".partial-"));
    }

    /** Writes every file of {@code files} (path relative to {@code out} → writer), then commits; all or nothing. */
    public static void write(Path out, Map<String, ? extends FileWriter> files) throws IOException {
        try (AtomicDirectory d = stage(out)) {
            for (Map.Entry<String, ? extends FileWriter> e : files.entrySet()) d.put(e.getKey(), e.getValue());
            d.commit();
        }
    }

    /** Writes {@code relative} (a path below {@code out}, '/'-separated) into the staging directory now. */
    public void put(String relative, FileWriter writer) throws IOException {
        if (committed) throw new IllegalStateException("already committed");
        Path f = staging.resolve(relative).normalize();
        if (!f.startsWith(staging) || f.equals(staging)) {
            throw new IllegalArgumentException("output path '" + relative + "' is not below the output directory");
        }
        String key = staging.relativize(f).toString();
        if (!files.add(key)) throw new IllegalArgumentException("output file '" + relative + "' written twice");
        Files.createDirectories(f.getParent());
        writer.write(f);
    }

    /** Moves every staged file into {@code out}. */
    public void commit() throws IOException {
        if (committed) return;
        if (!Files.exists(target)) {
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
        } else {
            for (String rel : files) {
                Path dst = target.resolve(rel);
                Files.createDirectories(dst.getParent());
                Files.move(staging.resolve(rel), dst, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        committed = true;
    }

    /** Deletes what is left of the staging directory (everything, when {@link #commit} was not reached). */
    @Override
    public void close() throws IOException {
        if (!Files.exists(staging)) return;
        try (var walk = Files.walk(staging)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
