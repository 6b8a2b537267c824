package crd4j.io;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * Whole-file replacement that never leaves a half-written file under the target name: a crash, a full disk or an
 * exception in the writer leaves either the old file or the new one, never a mix.
 *
 * <p>The content goes to a hidden temporary file {@code .<name>.<12 hex digits>.tmp} in the target's own directory
 * (so the final rename stays on one file system and can be atomic), is forced to disk, and is then renamed over the
 * target. On failure the temporary file is deleted and the target is untouched. A write that fails in the file system
 * (a full disk, a read-only folder) is reported as {@code <target>: cannot write (<reason>); the previous file is
 * unchanged}.
 *
 * <p>A process killed during a write cannot delete its temporary file. The writer holds an exclusive lock on it for
 * as long as it lives, so the next write to the same target removes every temporary file of that target whose lock
 * it can take (its writer is gone) and leaves those still locked (a concurrent writer) alone.
 */
public final class AtomicFiles {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final int BUFFER = 1 << 16;

    /**
     * Test seam: the channel the content is written through, given the locked temporary file's channel (identity in
     * production). Tests substitute a channel on {@code /dev/full} to get the kernel's real ENOSPC.
     */
    static volatile IOFunction<FileChannel, FileChannel> dataChannel = ch -> ch;
    /** Test seam: runs before the temporary file is created (tests throw a read-only file system error). */
    static volatile IOConsumer<Path> beforeCreate = dir -> {};

    private AtomicFiles() {}

    /** Like {@link java.util.function.Consumer}, but allowed to throw {@link IOException}. */
    @FunctionalInterface
    public interface IOConsumer<T> {
        void accept(T value) throws IOException;
    }

    /** Like {@link java.util.function.Function}, but allowed to throw {@link IOException}. */
    @FunctionalInterface
    interface IOFunction<T, R> {
        R apply(T value) throws IOException;
    }

    /**
     * Replaces {@code target} with what {@code body} writes. The stream handed to {@code body} is buffered; closing it
     * is allowed but not needed. Any exception from {@code body} itself is rethrown unchanged after the temporary
     * file is removed; a failure of the file system (writing, forcing, renaming) becomes one {@link IOException}
     * naming {@code target}.
     */
    public static void write(Path target, IOConsumer<? super OutputStream> body) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir == null) throw new IOException(target + ": has no parent directory");
        if (Files.isDirectory(abs)) throw new IOException(target + ": is a directory (expected a file name to write)");
        String name = abs.getFileName().toString();
        removeStaleTemps(dir, name);
        Path tmp = null;
        boolean done = false;
        FileChannel ch = null;
        try {
            try {
                beforeCreate.accept(dir);
                for (int attempt = 0; ch == null; attempt++) {
                    byte[] r = new byte[6];
                    RANDOM.nextBytes(r);
                    Path t = dir.resolve("." + name + "." + HexFormat.of().formatHex(r) + ".tmp");
                    try {
                        // Not Files.createTempFile: that creates owner-only (0600) files, and the result should get the
                        // usual permissions of a new file in that directory.
                        ch = FileChannel.open(t, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                        tmp = t;
                    } catch (FileAlreadyExistsException e) {
                        if (attempt >= 10) throw e;
                    }
                }
                ch.lock(); // released when ch closes, after the rename: ownership for removeStaleTemps
            } catch (IOException e) {
                throw cannotWrite(target, e);
            }
            FileChannel data;
            try {
                data = dataChannel.apply(ch);
            } catch (IOException e) {
                throw cannotWrite(target, e);
            }
            try {
                OutputStream out = new BufferedOutputStream(new FsErrors(Channels.newOutputStream(data), target), BUFFER);
                body.accept(new FilterOutputStream(out) {
                    // The body may close its stream out of habit; the data must still be flushed and forced below.
                    @Override public void close() throws IOException { out.flush(); }
                    @Override public void write(byte[] b, int off, int len) throws IOException { out.write(b, off, len); }
                });
                out.flush();
                try {
                    data.force(true);
                } catch (IOException e) {
                    throw cannotWrite(target, e);
                }
            } finally {
                // ch itself stays open (and locked) until the rename is done
                if (data != ch) data.close();
            }
            try {
                try {
                    Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    // Some file systems (certain network mounts) cannot rename atomically; a plain replace is the best left.
                    Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
                }
            } catch (IOException e) {
                throw cannotWrite(target, e);
            }
            done = true;
            syncDirectory(dir);
        } finally {
            if (ch != null) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // the lock goes with the channel either way
                }
            }
            if (!done && tmp != null) Files.deleteIfExists(tmp);
        }
    }

    /** Replaces {@code target} with {@code bytes}. */
    public static void write(Path target, byte[] bytes) throws IOException {
        write(target, out -> out.write(bytes));
    }

    /** An error of the file system while writing {@code target}, marked so that it is not wrapped twice. */
    static final class WriteFailure extends IOException {
        private static final long serialVersionUID = 1L;

        WriteFailure(String message, Throwable cause) { super(message, cause); }
    }

    /** {@code <target>: cannot write (<reason>); the previous file is unchanged}. */
    static IOException cannotWrite(Path target, IOException e) {
        if (e instanceof WriteFailure) return e;
        String reason;
        if (e instanceof java.nio.file.AccessDeniedException) reason = "permission denied";
        else if (e instanceof java.nio.file.NoSuchFileException n && n.getReason() == null) reason = "no such file or directory: " + n.getFile();
        else if (e instanceof FileSystemException f) reason = f.getReason() != null ? f.getReason() : f.getMessage();
        else reason = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        return new WriteFailure(target + ": cannot write (" + reason + ")" + (Files.exists(target)
                ? "; the previous file is unchanged" : "; nothing was written"), e);
    }

    /** Turns the channel's bare errors ("No space left on device") into {@link #cannotWrite} naming the target. */
    private static final class FsErrors extends FilterOutputStream {
        private final Path target;

        FsErrors(OutputStream out, Path target) {
            super(out);
            this.target = target;
        }

        @Override public void write(int b) throws IOException {
            try { out.write(b); } catch (IOException e) { throw cannotWrite(target, e); }
        }

        @Override public void write(byte[] b, int off, int len) throws IOException {
            try { out.write(b, off, len); } catch (IOException e) { throw cannotWrite(target, e); }
        }

        @Override public void flush() throws IOException {
            try { out.flush(); } catch (IOException e) { throw cannotWrite(target, e); }
        }
    }

    /**
     * Deletes {@code .<name>.<12 hex>.tmp} files in {@code dir} whose writer is gone (their lock can be taken).
     * Best effort: a file that cannot be opened, locked or deleted is left for a later write.
     */
    static int removeStaleTemps(Path dir, String name) {
        Pattern p = Pattern.compile("\\." + Pattern.quote(name) + "\\.[0-9a-f]{12}\\.tmp");
        int removed = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "." + globQuote(name) + ".*.tmp")) {
            for (Path f : ds) {
                if (!p.matcher(f.getFileName().toString()).matches() || !Files.isRegularFile(f)) continue;
                // Younger files may be between their creation and their writer's lock.
                if (System.currentTimeMillis() - Files.getLastModifiedTime(f).toMillis() <= AtomicDirectory.MIN_AGE_MS) continue;
                if (removeIfUnlocked(f)) removed++;
            }
        } catch (IOException | RuntimeException ignored) {
            // no listing, no cleanup: the write itself reports any real problem with the directory
        }
        return removed;
    }

    /** Deletes {@code f} while holding its lock, if the lock can be taken. */
    static boolean removeIfUnlocked(Path f) {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException inThisJvm) {
                return false; // a live write of this process
            }
            if (lock == null) return false; // a live write of another process
            Files.deleteIfExists(f);
            return true;
        } catch (IOException ignored) {
            return false;
        }
    }

    private static String globQuote(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if ("*?[]{}\\".indexOf(c) >= 0) b.append('\\');
            b.append(c);
        }
        return b.toString();
    }

    private static void syncDirectory(Path dir) {
        // Makes the rename itself durable on Linux; other systems may refuse to open a directory, which only weakens
        // durability after a power cut, not atomicity.
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // best effort
        }
    }
}
