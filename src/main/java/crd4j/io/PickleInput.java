package crd4j.io;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/**
 * A byte source that knows its position, shared by the unpickler and the legacy checkpoint reader: the legacy format
 * puts raw storage bytes right after the pickles, so the pickle reader must consume exactly its own bytes.
 */
final class PickleInput {
    private final InputStream in;
    private long position;

    PickleInput(InputStream in, long start) {
        this.in = in;
        this.position = start;
    }

    long position() { return position; }

    InputStream stream() {
        // Callers that read raw data through the stream report positions themselves; keep ours honest anyway.
        return new InputStream() {
            @Override public int read() throws IOException {
                int b = in.read();
                if (b >= 0) position++;
                return b;
            }

            @Override public int read(byte[] b, int off, int len) throws IOException {
                int n = in.read(b, off, len);
                if (n > 0) position += n;
                return n;
            }
        };
    }

    int u8() throws IOException {
        int b = in.read();
        if (b < 0) throw new EOFException("end of data at byte " + position);
        position++;
        return b;
    }

    /** Little-endian unsigned integer of {@code n} ≤ 8 bytes (an 8-byte value may come back negative). */
    long uLE(int n) throws IOException {
        long v = 0;
        for (int i = 0; i < n; i++) v |= (long) u8() << (8 * i);
        return v;
    }

    byte[] bytes(long n) throws IOException {
        if (n < 0 || n > Integer.MAX_VALUE - 8) throw new IOException("length " + n + " out of range");
        // readNBytes grows its buffer as data arrives, so a lying length field cannot force a huge allocation.
        byte[] b = in.readNBytes((int) n);
        position += b.length;
        if (b.length < n) throw new EOFException("needed " + n + " bytes at byte " + (position - b.length) + ", got " + b.length);
        return b;
    }

    /** Reads through the next '\n' (excluded); refuses lines longer than {@code max} bytes. */
    byte[] line(int max) throws IOException {
        byte[] buf = new byte[64];
        int n = 0;
        while (true) {
            int b = u8();
            if (b == '\n') return java.util.Arrays.copyOf(buf, n);
            if (n == max) throw new IOException("line longer than " + max + " bytes at byte " + position);
            if (n == buf.length) buf = java.util.Arrays.copyOf(buf, buf.length * 2);
            buf[n++] = (byte) b;
        }
    }
}
