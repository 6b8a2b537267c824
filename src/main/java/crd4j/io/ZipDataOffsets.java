package crd4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * Where each uncompressed (STORED) member's bytes start in a zip archive, read from its central directory and local
 * headers, so that a checkpoint's tensor storages can be memory-mapped and decoded in one pass instead of being
 * streamed through {@link java.util.zip.ZipFile} in 64 KB reads (which was 40% of loading a 1.5 GB checkpoint,
 * benchmarks/RESULTS.md). {@link java.util.zip.ZipFile} stays the authority on the archive: an offset is only used
 * for a member it also lists, with the same method and sizes and a local header that names that member; anything
 * that does not agree, or that this reader does not understand, gives no offset and the caller streams the member.
 * Every offset and length read here is checked against the file's size before use.
 */
final class ZipDataOffsets {
    /** One STORED member: where its data starts and how many bytes it has. */
    record Member(long dataOffset, long size, long crc) {}

    private static final int EOCD = 0x06054b50, ZIP64_LOCATOR = 0x07064b50, ZIP64_EOCD = 0x06064b50,
            CENTRAL = 0x02014b50, LOCAL = 0x04034b50;
    private static final int MAX_ENTRIES = 1 << 20;

    private ZipDataOffsets() {}

    /** The STORED members by name; empty when the archive's directory is not one this reader understands. */
    static Map<String, Member> read(FileChannel ch) {
        try {
            return readOrThrow(ch);
        } catch (IOException | RuntimeException e) {
            return Map.of();
        }
    }

    private static Map<String, Member> readOrThrow(FileChannel ch) throws IOException {
        long len = ch.size();
        int tail = (int) Math.min(len, 22 + 65535);
        ByteBuffer end = read(ch, len - tail, tail);
        int at = -1;
        for (int i = tail - 22; i >= 0; i--) {
            if (end.getInt(i) == EOCD) {
                at = i;
                break;
            }
        }
        if (at < 0) return Map.of();
        long entries = end.getShort(at + 10) & 0xffff, cdSize = end.getInt(at + 12) & 0xffffffffL,
                cdOffset = end.getInt(at + 16) & 0xffffffffL;
        if (entries == 0xffff || cdSize == 0xffffffffL || cdOffset == 0xffffffffL) {
            long eocdPos = len - tail + at;
            if (eocdPos < 20) return Map.of();
            ByteBuffer loc = read(ch, eocdPos - 20, 20);
            if (loc.getInt(0) != ZIP64_LOCATOR) return Map.of();
            long z = loc.getLong(8);
            if (z < 0 || z > len - 56) return Map.of();
            ByteBuffer z64 = read(ch, z, 56);
            if (z64.getInt(0) != ZIP64_EOCD) return Map.of();
            entries = z64.getLong(32);
            cdSize = z64.getLong(40);
            cdOffset = z64.getLong(48);
        }
        if (entries < 0 || entries > MAX_ENTRIES || cdOffset < 0 || cdSize < 0 || cdSize > Integer.MAX_VALUE
                || cdOffset > len - cdSize) {
            return Map.of();
        }
        ByteBuffer cd = read(ch, cdOffset, (int) cdSize);
        Map<String, Member> out = new HashMap<>();
        int p = 0;
        for (long n = 0; n < entries; n++) {
            if (p > cd.limit() - 46 || cd.getInt(p) != CENTRAL) return Map.of();
            int method = cd.getShort(p + 10) & 0xffff;
            long crc = cd.getInt(p + 16) & 0xffffffffL;
            long csize = cd.getInt(p + 20) & 0xffffffffL, usize = cd.getInt(p + 24) & 0xffffffffL;
            int nameLen = cd.getShort(p + 28) & 0xffff, extraLen = cd.getShort(p + 30) & 0xffff,
                    commentLen = cd.getShort(p + 32) & 0xffff;
            long local = cd.getInt(p + 42) & 0xffffffffL;
            if (p + 46L + nameLen + extraLen + commentLen > cd.limit()) return Map.of();
            byte[] name = new byte[nameLen];
            cd.get(p + 46, name);
            // zip64 extra field: the 64-bit values of whichever of these were 0xffffffff, in this order
            int e = p + 46 + nameLen, eEnd = e + extraLen;
            while (e + 4 <= eEnd) {
                int id = cd.getShort(e) & 0xffff, sz = cd.getShort(e + 2) & 0xffff;
                if (e + 4 + sz > eEnd) return Map.of();
                if (id == 0x0001) {
                    int q = e + 4;
                    if (usize == 0xffffffffL && q + 8 <= e + 4 + sz) { usize = cd.getLong(q); q += 8; }
                    if (csize == 0xffffffffL && q + 8 <= e + 4 + sz) { csize = cd.getLong(q); q += 8; }
                    if (local == 0xffffffffL && q + 8 <= e + 4 + sz) { local = cd.getLong(q); }
                }
                e += 4 + sz;
            }
            p += 46 + nameLen + extraLen + commentLen;
            if (method != 0 || usize != csize || usize < 0 || local < 0 || local > len - 30) continue;
            ByteBuffer lh = read(ch, local, 30);
            if (lh.getInt(0) != LOCAL) return Map.of();
            int lName = lh.getShort(26) & 0xffff, lExtra = lh.getShort(28) & 0xffff;
            if (lName != nameLen || local + 30 + lName > len) continue;
            byte[] ln = new byte[lName];
            read(ch, local + 30, lName).get(0, ln);
            if (!java.util.Arrays.equals(ln, name)) continue;
            long data = local + 30 + lName + lExtra;
            if (data > len || usize > len - data) continue;
            out.put(new String(name, StandardCharsets.UTF_8), new Member(data, usize, crc));
        }
        return out;
    }

    private static ByteBuffer read(FileChannel ch, long pos, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, pos + b.position()) < 0) throw new java.io.EOFException();
        }
        return b.flip().order(ByteOrder.LITTLE_ENDIAN);
    }
}
