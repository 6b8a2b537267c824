package crd4j.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Regression tests for the hostile checkpoints of issue 13 (findings 1, 2 and 7): each is built here, opcode by
 * opcode, and must be refused with one line naming the file, quickly, and without a JVM error.
 */
class HostileCheckpointTest {
    private static final Duration QUICK = Duration.ofSeconds(20);
    @TempDir Path tmp;

    private Path write(String name, byte[] bytes) throws IOException {
        Path f = tmp.resolve(name);
        Files.write(f, bytes);
        return f;
    }

    /** The pickle as the {@code data.pkl} of a zip checkpoint (a bare pickle is read as legacy pickle 1). */
    private Path pth(String name, byte[] pickle) throws IOException {
        return write(name, Pickles.zip(Pickles.Entry.stored("data.pkl", pickle)));
    }

    private static WeightsFormatException refused(Path f, String... fragments) {
        WeightsFormatException e = assertTimeoutPreemptively(QUICK,
                () -> assertThrows(WeightsFormatException.class, () -> TorchCheckpoint.read(f)));
        IoPython.assertOneLineNaming(f, e, fragments);
        return e;
    }

    /** {@code {dag: None}} where dag is 64 tuples each holding the previous one twice: 2^64 paths to hash. */
    private static byte[] sharedTupleDag(boolean asKey) {
        Pickles p = Pickles.proto2().op('}');
        if (!asKey) p.str("x");
        p.op('N').repeat(64, '2', 0x86); // NONE, then 64 x (DUP, TUPLE2)
        if (asKey) p.op('N');
        return p.op('s').stop().bytes();
    }

    @Test
    void dagOfSharedTuplesAsAKeyIsRefusedAtOnce() throws IOException {
        Path f = write("dag.pth", sharedTupleDag(true));
        assertEquals(135, Files.size(f), "the 135-byte pickle of the finding");
        refused(f, "legacy pickle 1", "dict key is a tuple", "str or int");
        refused(pth("dag-zip.pth", sharedTupleDag(true)), "archive/data.pkl", "dict key is a tuple");
    }

    /** As a value the same DAG is legal Python; it converts in linear time and stays shared. */
    @Test
    void dagOfSharedTuplesAsAValueLoadsInLinearTime() throws IOException {
        Path f = pth("dag-value.pth", sharedTupleDag(false));
        Map<String, Object> m = assertTimeoutPreemptively(QUICK, () -> TorchCheckpoint.read(f));
        Object t = m.get("x");
        for (int level = 0; level < 64; level++) {
            List<?> l = (List<?>) t;
            assertEquals(2, l.size());
            assertSame(l.get(0), l.get(1), "level " + level + " is one shared object");
            t = l.get(0);
        }
        assertEquals(null, t);
    }

    @Test
    void tupleNested200000DeepIsRefusedAsKeyAndAsValue() throws IOException {
        Path key = pth("deep-key.pth", Pickles.proto2().op('}', 'N').repeat(200_000, 0x85).op('N', 's').stop().bytes());
        refused(key, "tuples nested deeper than 1000 levels");
        Path value = pth("deep-value.pth", Pickles.proto2().op('}').str("x").op('N').repeat(200_000, 0x85).op('s').stop().bytes());
        refused(value, "tuples nested deeper than 1000 levels");
    }

    /** Lists and dicts nest through APPEND/SETITEM after construction; the converter bounds them. */
    @Test
    void listsAndDictsNested200000DeepAreRefused() throws IOException {
        Path lists = pth("deep-list.pth", Pickles.proto2().op('}').str("x")
                .repeat(200_000, ']').repeat(199_999, 'a').op('s').stop().bytes());
        refused(lists, "key 'x/0/0/0/0", "...': objects nested deeper than 1000 levels");
        Pickles d = Pickles.proto2().op('}').str("x");
        for (int i = 0; i < 100_000; i++) d.op('}').str("k");
        d.op('}').repeat(100_000, 's');
        Path dicts = pth("deep-dict.pth", d.op('s').stop().bytes());
        refused(dicts, "key 'x/k/k/k/k", "objects nested deeper than 1000 levels");
    }

    @Test
    void aMillionEmptyListsStopAtTheValueBound() throws IOException {
        Path f = pth("flood.pth", Pickles.proto2().repeat((int) RestrictedUnpickler.MAX_VALUES + 1, ']').stop().bytes());
        refused(f, "more than " + RestrictedUnpickler.MAX_VALUES + " values");
        Path marks = pth("marks.pth", Pickles.proto2().repeat((int) RestrictedUnpickler.MAX_VALUES + 1, '(').stop().bytes());
        refused(marks, "more than " + RestrictedUnpickler.MAX_VALUES + " values, marks and memo entries");
    }

    @Test
    void unbalancedMarkSaysWhichMarkIsOpen() throws IOException {
        // PROTO 2, EMPTY_DICT, MARK (at byte 3), STOP
        Path f = pth("mark.pth", Pickles.proto2().op('}', '(').stop().bytes());
        refused(f, "unclosed MARK", "MARK opcode at byte 3", "damaged or not written by torch.save");
    }

    // ------------------------------------------------------------------------------------------- zip archives

    private static byte[] oneTensorPickle(int numel) {
        return Pickles.proto2().op('}').str("w").floatTensor("0", numel).op('s').stop().bytes();
    }

    /** A valid zip checkpoint with one 4-element tensor loads (the builder is right). */
    @Test
    void theBuilderMakesALoadableCheckpoint() throws IOException {
        byte[] data = new byte[16];
        data[3] = 0x3f; data[2] = (byte) 0x80; // 1.0f little-endian in element 0
        Path f = write("ok.pth", Pickles.zip(Pickles.Entry.stored("data.pkl", oneTensorPickle(4)),
                Pickles.Entry.stored("data/0", data)));
        crd4j.tensor.HostTensor t = TorchCheckpoint.requireTensor(TorchCheckpoint.read(f), "w", new long[] {4}, f);
        assertArrayEquals(new float[] {1, 0, 0, 0}, t.floats());
    }

    /**
     * A 4 MB memory-mapped storage gives every element in its place, and one flipped byte anywhere in it is the CRC
     * error naming the member.
     */
    @Test
    void largeMappedStoragesKeepEveryValueAndAreCrcChecked() throws IOException {
        int numel = (1 << 20) + 3;
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * numel).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < numel; i++) b.putFloat(i * 0.5f - 7);
        byte[] data = b.array();
        byte[] zip = Pickles.zip(Pickles.Entry.stored("data.pkl", oneTensorPickle(numel)), Pickles.Entry.stored("data/0", data));
        Path f = write("large.pth", zip);
        float[] got = TorchCheckpoint.requireTensor(TorchCheckpoint.read(f), "w", new long[] {numel}, f).floats();
        for (int i = 0; i < numel; i++) {
            if (got[i] != i * 0.5f - 7) throw new AssertionError("element " + i + ": " + got[i]);
        }
        int start = indexOf(zip, java.util.Arrays.copyOf(data, 64));
        assertTrue(start > 0, "the storage's bytes are in the archive uncompressed");
        for (int at : new int[] {7, 4 * numel - 9}) {   // near the start and near the end
            byte[] bad = zip.clone();
            bad[start + at] ^= 0x10;
            refused(write("flipped" + at + ".pth", bad), "archive/data/0", "fails its CRC-32 check");
        }
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }

    /** The central directory says 16 bytes, the deflated data inflates to 64 MB: reading stops one byte past 16. */
    @Test
    void storageThatInflatesPastItsDeclaredSizeIsRefused() throws IOException {
        byte[] zip = Pickles.zip(Pickles.Entry.stored("data.pkl", oneTensorPickle(4)), Pickles.Entry.zeros("data/0", 64L << 20));
        Path f = write("inflate.pth", Pickles.lieAboutSize(zip, "data/0", 16));
        refused(f, "storage entry 'archive/data/0'", "holds more than the 16 bytes its storage declares");
    }

    /** The pickle and the central directory agree on 1.2 GB, but 5 KB of deflated data cannot inflate to that. */
    @Test
    void storageLargerThanItsCompressedBytesCanHoldIsRefusedBeforeAllocating() throws IOException {
        int numel = 300_000_000;
        byte[] zip = Pickles.zip(Pickles.Entry.stored("data.pkl", oneTensorPickle(numel)), Pickles.Entry.zeros("data/0", 4L << 20));
        Path f = write("ratio.pth", Pickles.lieAboutSize(zip, "data/0", 4L * numel));
        refused(f, "storage entry 'archive/data/0'", "declares 1200000000 bytes", "compressed bytes can inflate to");
    }

    /**
     * 1.2 GB of zeros in a 1.2 MB file (the finding's case) is physically possible, so the limit is the heap: a
     * checkpoint whose arrays need more than the JVM may use is refused before the array is allocated. Scaled down
     * here (64 MB of zeros, a 32 MB heap limit) to keep the test light.
     */
    @Test
    void storageBeyondTheHeapIsRefusedBeforeAllocating() throws IOException {
        int numel = 16 << 20;
        Path f = write("heap.pth", Pickles.zip(Pickles.Entry.stored("data.pkl", oneTensorPickle(numel)),
                Pickles.Entry.zeros("data/0", 4L * numel)));
        WeightsFormatException e = assertTimeoutPreemptively(QUICK,
                () -> assertThrows(WeightsFormatException.class, () -> TorchCheckpoint.read(f, 32L << 20)));
        IoPython.assertOneLineNaming(f, e, "storage '0' needs 64.0 MB of memory", "32.0 MB heap (raise -Xmx)");
        // With room for storage and tensor copy it loads: the bound is the heap, not a guess.
        assertEquals(numel, ((crd4j.tensor.HostTensor) TorchCheckpoint.read(f, 160L << 20).get("w")).numel());
    }

    /**
     * Many tensors viewing one storage: the first takes the storage's array as its own, every other one gets a copy,
     * and the copies count against the same heap bound (4 MB storage + w0 free + 15 copies = 64 MB: w16 is refused).
     */
    @Test
    void manyViewsOfOneStorageCountAgainstTheHeap() throws IOException {
        int numel = 1 << 20;
        Pickles p = Pickles.proto2().op('}');
        for (int i = 0; i < 100; i++) p.str("w" + i).floatTensor("0", numel).op('s');
        Path f = write("views.pth", Pickles.zip(Pickles.Entry.stored("data.pkl", p.stop().bytes()),
                Pickles.Entry.zeros("data/0", 4L * numel)));
        WeightsFormatException e = assertTimeoutPreemptively(QUICK,
                () -> assertThrows(WeightsFormatException.class, () -> TorchCheckpoint.read(f, 64L << 20)));
        IoPython.assertOneLineNaming(f, e, "key 'w16' needs 4.0 MB", "does not fit");
    }

    /** Two tensors that view the same whole storage get arrays of their own: writing one leaves the other as read. */
    @Test
    void tensorsSharingAStorageDoNotShareAnArray() throws IOException {
        int numel = 1000;
        Pickles p = Pickles.proto2().op('}');
        for (String k : new String[]{"a", "b"}) p.str(k).floatTensor("0", numel).op('s');
        Path f = write("shared.pth", Pickles.zip(Pickles.Entry.stored("data.pkl", p.stop().bytes()),
                Pickles.Entry.zeros("data/0", 4L * numel)));
        var sd = TorchCheckpoint.read(f);
        float[] a = ((crd4j.tensor.HostTensor) sd.get("a")).floats(), b = ((crd4j.tensor.HostTensor) sd.get("b")).floats();
        assertEquals(numel, a.length);
        assertEquals(numel, b.length);
        assertTrue(a != b, "each tensor owns its array");
        a[0] = 1f;
        assertEquals(0f, b[0]);
    }

    /** A data.pkl larger than any state_dict's pickle is refused: by its declared size, and if that lies, once read. */
    @Test
    void hugeDeflatedPickleIsRefusedWithoutInflatingIt() throws IOException {
        long big = TorchCheckpoint.MAX_PICKLE + 1L;
        byte[] zip = Pickles.zip(Pickles.Entry.zeros("data.pkl", big));
        Path honest = write("pkl.pth", zip);
        refused(honest, "entry 'archive/data.pkl' is too large (" + big + " bytes");
        Path lying = write("pkl-lie.pth", Pickles.lieAboutSize(zip, "data.pkl", 100));
        refused(lying, "entry 'archive/data.pkl' inflates to more than " + TorchCheckpoint.MAX_PICKLE + " bytes");
    }
}
