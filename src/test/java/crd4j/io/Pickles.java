package crd4j.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Builds small pickles and zip checkpoints opcode by opcode, for tests that need exactly the hostile structure a
 * finding describes (torch.save cannot write them).
 */
public final class Pickles {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** Starts with PROTO 2. */
    public static Pickles proto2() {
        Pickles p = new Pickles();
        p.out.write(0x80);
        p.out.write(2);
        return p;
    }

    public Pickles op(int... ops) {
        for (int o : ops) out.write(o);
        return this;
    }

    public Pickles repeat(int times, int... ops) {
        for (int i = 0; i < times; i++) op(ops);
        return this;
    }

    /** SHORT_BINUNICODE (protocol 4 opcode, accepted at any protocol). */
    public Pickles str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > 255) throw new IllegalArgumentException(s);
        out.write(0x8c);
        out.write(b.length);
        out.write(b, 0, b.length);
        return this;
    }

    public Pickles int1(int v) { return op('K', v); }

    public Pickles int4(int v) { return op('J', v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24); }

    public Pickles global(String module, String name) {
        out.write('c');
        byte[] b = (module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII);
        out.write(b, 0, b.length);
        return this;
    }

    /**
     * A persistent id for a float storage and a 1-D tensor over all of it:
     * {@code _rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), 0, (numel,), (1,), False, {})}.
     */
    public Pickles floatTensor(String key, int numel) {
        global("torch._utils", "_rebuild_tensor_v2");
        op('(');
        op('(').str("storage").global("torch", "FloatStorage").str(key).str("cpu").int4(numel).op('t', 'Q');
        int1(0).int4(numel).op(0x85).int1(1).op(0x85).op(0x89, '}');
        return op('t', 'R');
    }

    public Pickles stop() { return op('.'); }

    public byte[] bytes() { return out.toByteArray(); }

    /** One entry of a zip checkpoint: its name under {@code archive/} and its bytes (or a generator of them). */
    public record Entry(String name, byte[] data, boolean deflate, long generatedZeros) {
        public static Entry stored(String name, byte[] data) { return new Entry(name, data, false, 0); }

        public static Entry deflated(String name, byte[] data) { return new Entry(name, data, true, 0); }

        /** {@code zeros} zero bytes, deflated, streamed (never held in memory). */
        public static Entry zeros(String name, long zeros) { return new Entry(name, null, true, zeros); }
    }

    /** A zip checkpoint {@code archive/<name>...} as torch lays it out (STORED unless an entry says otherwise). */
    public static byte[] zip(Entry... entries) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(bos)) {
            for (Entry e : entries) {
                ZipEntry ze = new ZipEntry("archive/" + e.name());
                if (e.deflate()) {
                    ze.setMethod(ZipEntry.DEFLATED);
                } else {
                    ze.setMethod(ZipEntry.STORED);
                    ze.setSize(e.data().length);
                    CRC32 crc = new CRC32();
                    crc.update(e.data());
                    ze.setCrc(crc.getValue());
                }
                z.putNextEntry(ze);
                if (e.data() != null) {
                    z.write(e.data());
                } else {
                    writeZeros(z, e.generatedZeros());
                }
                z.closeEntry();
            }
        }
        return bos.toByteArray();
    }

    private static void writeZeros(OutputStream z, long n) throws IOException {
        byte[] chunk = new byte[1 << 16];
        for (long done = 0; done < n; ) {
            int k = (int) Math.min(chunk.length, n - done);
            z.write(chunk, 0, k);
            done += k;
        }
    }

    /**
     * Rewrites the uncompressed size recorded for {@code entry} in the central directory (what {@link
     * java.util.zip.ZipFile} believes), leaving the data alone: a lying archive.
     */
    public static byte[] lieAboutSize(byte[] zip, String entry, long size) {
        byte[] name = ("archive/" + entry).getBytes(StandardCharsets.US_ASCII);
        byte[] z = zip.clone();
        for (int i = 0; i + 46 + name.length <= z.length; i++) {
            if (z[i] == 'P' && z[i + 1] == 'K' && z[i + 2] == 1 && z[i + 3] == 2
                    && u16(z, i + 28) == name.length
                    && Arrays.equals(Arrays.copyOfRange(z, i + 46, i + 46 + name.length), name)) {
                for (int k = 0; k < 4; k++) z[i + 24 + k] = (byte) (size >>> (8 * k));
                return z;
            }
        }
        throw new AssertionError("central directory entry " + entry + " not found");
    }

    private static int u16(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8;
    }
}
