package crd4j.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * A command's output directory that a failure never leaves half-written: files are written into a fresh hidden
 * sibling directory ({@code .<name>.partial-*}) as they are {@link #put}, and {@link #commit} moves them into place —
 * the whole directory in one rename when {@code out} does not exist yet (or is an empty directory), otherwise each
 * file over its old version, each move atomic. {@link #close} without {@code commit} deletes the staging directory
 * and leaves {@code out} untouched.
 *
 * <p>Staging file by file lets a long run (several categories of {@code crd eval}) write each part as soon as it is
 * done and free its memory, and still publish all or nothing.
 *
 * <p>A process killed while staging leaves its staging directory behind. Each staging directory has a sibling
 * {@code .lock} file that its owner keeps locked; the next {@link #stage} of the same {@code out} deletes every
 * staging directory of {@code out} whose lock it can take (its owner is gone) and leaves locked ones (a concurrent
 * run) alone.
 */
public final class AtomicDirectory implements AutoCloseable {
    /** A staging directory without a lock file is left alone this long (its owner may be about to create it). */
    private static final long UNLOCKED_GRACE_MS = 60_000;
    /** Nothing younger than this is removed: it may be between its creation and its owner's lock. */
    static final long MIN_AGE_MS = 2_000;

    /** Writes one file at the path it is given (inside the staging directory). */
    @FunctionalInterface
    public interface FileWriter {
        void write(Path file) throws IOException;
    }

    private final Path target;
    private final Path staging;
    private final Path lockFile;
    private final FileChannel lock;
    private final Set<String> files = new LinkedHashSet<>();
    private boolean committed;

    private AtomicDirectory(Path target, Path staging, Path lockFile, FileChannel lock) {
        this.target = target;
        this.staging = staging;
        this.lockFile = lockFile;
        this.lock = lock;
    }

    /** Creates the staging directory beside {@code out} (and {@code out}'s parent directories). */
    public static AtomicDirectory stage(Path out) throws IOException {
        Path abs = out.toAbsolutePath().normalize();
        if (abs.getParent() == null) throw new IOException(out + ": cannot write into the file system root");
        if (Files.exists(abs) && !Files.isDirectory(abs)) {
            throw new IOException(out + ": exists and is not a directory (expected an output directory)");
        }
        Path staging;
        Path lockFile;
        FileChannel lock;
        try {
            Files.createDirectories(abs.getParent());
            removeStale(abs.getParent(), abs.getFileName().toString());
            AtomicFiles.beforeCreate.accept(abs.getParent());
            staging = createStaging(abs.getParent(), "." + abs.getFileName() + ".partial-");
            lockFile = staging.resolveSibling(staging.getFileName() + ".lock");
            lock = FileChannel.open(lockFile, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw AtomicFiles.cannotWrite(out, e);
        }
        lock.lock();
        return new AtomicDirectory(abs, staging, lockFile, lock);
    }

    /**
     * A fresh staging directory with the permissions of any directory the user creates (0777 less the umask), not
     * the owner-only 0700 of {@code Files.createTempDirectory}: when {@code out} does not exist the staging
     * directory itself becomes {@code out}.
     */
    private static Path createStaging(Path parent, String prefix) throws IOException {
        java.security.SecureRandom rnd = new java.security.SecureRandom();
        for (int attempt = 0; ; attempt++) {
            Path p = parent.resolve(prefix + Long.toUnsignedString(rnd.nextLong(), 36));
            try {
                return Files.createDirectory(p);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                if (attempt > 100) throw e;
            }
        }
    }

    /** Writes every file of {@code files} (path relative to {@code out} → writer), then commits; all or nothing. */
    public static void write(Path out, Map<String, ? extends FileWriter> files) throws IOException {
        write(out, files, Set.of());
    }

    /**
     * As {@link #write(Path, Map)}, and a rerun leaves no stale output: see {@link #commit(Set)}; {@code owned} names
     * every top-level file or folder the command can write.
     */
    public static void write(Path out, Map<String, ? extends FileWriter> files, Set<String> owned) throws IOException {
        try (AtomicDirectory d = stage(out)) {
            for (Map.Entry<String, ? extends FileWriter> e : files.entrySet()) d.put(e.getKey(), e.getValue());
            d.commit(owned);
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
        try {
            Files.createDirectories(f.getParent());
            writer.write(f);
        } catch (AtomicFiles.WriteFailure | FileSystemException e) {
            // Name the file the user asked for, not its staging path.
            IOException root = e instanceof AtomicFiles.WriteFailure && e.getCause() instanceof IOException c ? c : e;
            throw AtomicFiles.cannotWrite(target.resolve(key), root);
        }
    }

    /** Creates the (possibly empty) folder {@code relative} below {@code out}, published with the files. */
    public void mkdirs(String relative) throws IOException {
        Path f = staging.resolve(relative).normalize();
        if (!f.startsWith(staging)) throw new IllegalArgumentException("output path '" + relative + "' is not below the output directory");
        try {
            Files.createDirectories(f);
        } catch (FileSystemException e) {
            throw AtomicFiles.cannotWrite(target.resolve(staging.relativize(f).toString()), e);
        }
    }

    /** Moves every staged file into {@code out}; other files in {@code out} stay (see {@link #commit(Set)}). */
    public void commit() throws IOException {
        commit(Set.of());
    }

    /**
     * Moves the staged output into {@code out} so that {@code out} holds this run's output and nothing stale of an
     * earlier one: a top-level folder written now replaces its old version whole (an earlier run's {@code maps/}
     * with other samples does not survive), and a top-level entry named in {@code owned} (what the command can
     * write) that this run did not write is removed (an old {@code report.html} after {@code --no-report}). Anything
     * else in {@code out} is the user's and stays. The old versions are moved into the staging directory first and
     * deleted with it, so a failure part way leaves every file either old or new, never partial.
     */
    public void commit(Set<String> owned) throws IOException {
        if (committed) return;
        try {
            if (Files.isDirectory(target) && isEmpty(target)) {
                try {
                    Files.delete(target); // an empty output directory is replaced whole
                } catch (DirectoryNotEmptyException raced) {
                    // something appeared in it meanwhile: fall back to moving file by file
                }
            }
            if (!Files.exists(target)) {
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            } else {
                Set<String> tops = new LinkedHashSet<>();
                for (String rel : files) tops.add(Path.of(rel).getName(0).toString());
                try (var s = Files.list(staging)) {
                    s.forEach(p -> tops.add(p.getFileName().toString()));   // folders made by mkdirs too
                }
                Path replaced = staging.resolve(REPLACED);
                for (String name : new java.util.TreeSet<>(union(owned, tops))) {
                    Path old = target.resolve(name);
                    boolean staleEntry = !tops.contains(name) || Files.isDirectory(staging.resolve(name), java.nio.file.LinkOption.NOFOLLOW_LINKS);
                    if (staleEntry && Files.exists(old, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                        Files.createDirectories(replaced);
                        Files.move(old, replaced.resolve(name), StandardCopyOption.ATOMIC_MOVE);
                    }
                }
                for (String name : tops) {
                    Path src = staging.resolve(name);
                    if (Files.isDirectory(src, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                        Files.move(src, target.resolve(name), StandardCopyOption.ATOMIC_MOVE);
                    }
                }
                for (String rel : files) {
                    Path src = staging.resolve(rel);
                    if (!Files.exists(src)) continue;   // moved with its folder
                    Path dst = target.resolve(rel);
                    Files.createDirectories(dst.getParent());
                    Files.move(src, dst, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            throw AtomicFiles.cannotWrite(target, e);
        }
        committed = true;
    }

    /** Deletes what is left of the staging directory (everything, when {@link #commit} was not reached). */
    @Override
    public void close() throws IOException {
        try {
            deleteTree(staging);
        } finally {
            try {
                Files.deleteIfExists(lockFile);
            } finally {
                lock.close();
            }
        }
    }

    /** The staging directory's folder for the old versions that a commit replaces (deleted with the staging directory). */
    private static final String REPLACED = ".crd4j-replaced";

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> u = new LinkedHashSet<>(a);
        u.addAll(b);
        return u;
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    /**
     * Deletes the staging directories of {@code name} in {@code parent} left by runs that are gone, and their lock
     * files. Best effort: anything that cannot be read, locked or deleted stays for a later run.
     */
    static int removeStale(Path parent, String name) {
        String prefix = "." + name + ".partial-";
        int removed = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(parent)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (!n.startsWith(prefix) || n.endsWith(".lock") || !Files.isDirectory(p)) continue;
                Path lockFile = p.resolveSibling(n + ".lock");
                long age = System.currentTimeMillis() - Files.getLastModifiedTime(p).toMillis();
                boolean stale;
                if (Files.exists(lockFile)) {
                    stale = age > MIN_AGE_MS && AtomicFiles.removeIfUnlocked(lockFile);
                } else {
                    stale = age > UNLOCKED_GRACE_MS;
                }
                if (stale) {
                    deleteTree(p);
                    removed++;
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // best effort
        }
        return removed;
    }
}
