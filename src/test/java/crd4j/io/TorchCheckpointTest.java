package crd4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import crd4j.testing.PyReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TorchCheckpointTest {
    @TempDir static Path dir;
    @TempDir static Path evil;
    private static JsonNode manifest;

    @BeforeAll
    static void torchWritesReferences() throws IOException {
        PyReference.assumeTorch();
        IoPython.run("pth", dir);
        IoPython.run("evil", evil);
        manifest = IoPython.json(Files.readString(dir.resolve("ref/manifest.json")));
    }

    /**
     * torch.save's zip format (default protocol 2, and protocol 4) and the legacy format of the same object: every
     * tensor equals what torch itself dumped as .npy (views, offsets, stride-0 expand, 0-d, empty, f16/bf16/bool
     * included), scalars come through, and an object saved twice is one Java object.
     */
    @ParameterizedTest
    @ValueSource(strings = {"zip.pth", "zip_p4.pth", "legacy.pth"})
    void everyTensorMatchesTorch(String name) throws IOException {
        Path file = dir.resolve(name);
        Map<String, Object> ckpt = TorchCheckpoint.read(file);
        assertEquals(List.of("student_rgb", "student_depth", "same_rgb", "param", "param_state", "epoch", "lr", "name",
                "neg", "big", "huge", "flags", "pair", "nested"), List.copyOf(ckpt.keySet()));
        int checked = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = manifest.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().startsWith("tv/")) continue;
            String[] path = e.getKey().split("/", 2);
            Object v = path.length == 1 ? ckpt.get(path[0]) : TorchCheckpoint.requireDict(ckpt, path[0], file).get(path[1]);
            assertInstanceOf(HostTensor.class, v, e.getKey());
            assertSameTensor(e.getKey(), Npy.read(dir.resolve("ref").resolve(e.getValue().asText())), (HostTensor) v);
            checked++;
        }
        assertEquals(2 * 21 + 2, checked);
        Map<String, Object> rgb = TorchCheckpoint.requireDict(ckpt, "student_rgb", file);
        // Key order is the state_dict's own order, as torch iterated it when dumping the references.
        List<String> torchOrder = new java.util.ArrayList<>();
        manifest.fieldNames().forEachRemaining(k -> {
            if (k.startsWith("student_rgb/")) torchOrder.add(k.substring("student_rgb/".length()));
        });
        assertEquals(torchOrder, List.copyOf(rgb.keySet()));
        HostTensor nbt = TorchCheckpoint.requireTensor(rgb, "bn.num_batches_tracked", new long[0], file);
        assertEquals(DType.INT64, nbt.dtype());
        assertEquals(7L, nbt.longs()[0]);
        assertSame(rgb, ckpt.get("same_rgb"));
        assertEquals(3L, ckpt.get("epoch"));
        assertEquals(0.001, ckpt.get("lr"));
        assertEquals("crd", ckpt.get("name"));
        assertEquals(-5L, ckpt.get("neg"));
        assertEquals(1L << 40, ckpt.get("big"));
        assertEquals(BigInteger.ONE.shiftLeft(70), ckpt.get("huge"));
        assertEquals(Arrays.asList(true, null, false), ckpt.get("flags"));
        assertEquals(List.of(1L, 2.5), ckpt.get("pair"));
        assertEquals(Map.of("a", Map.of("b", 1L)), ckpt.get("nested"));
    }

    /** torchvision-style weights: a bare state_dict with `_metadata`, legacy format. */
    @Test
    void legacyTopLevelStateDict() throws IOException {
        Path file = dir.resolve("tv_legacy.pth");
        Map<String, Object> sd = TorchCheckpoint.read(file);
        assertEquals(List.of("0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                "1.num_batches_tracked"), List.copyOf(sd.keySet()));
        for (String k : sd.keySet()) {
            assertSameTensor(k, Npy.read(dir.resolve("ref").resolve(manifest.get("tv/" + k).asText())), (HostTensor) sd.get(k));
        }
    }

    @Test
    void requireTensorNamesFileKeyAndShapes() throws IOException {
        Path file = dir.resolve("zip.pth");
        Map<String, Object> rgb = TorchCheckpoint.requireDict(TorchCheckpoint.read(file), "student_rgb", file);
        WeightsFormatException shape = assertThrows(WeightsFormatException.class,
                () -> TorchCheckpoint.requireTensor(rgb, "conv.weight", new long[] {16, 3, 3, 3}, file));
        assertEquals(file + ": key 'conv.weight': expected shape [16, 3, 3, 3], found [8, 3, 3, 3]", shape.getMessage());
        WeightsFormatException missing = assertThrows(WeightsFormatException.class,
                () -> TorchCheckpoint.requireTensor(rgb, "layer1.0.conv1.weight", null, file));
        assertEquals(file + ": key 'layer1.0.conv1.weight' missing", missing.getMessage());
    }

    /**
     * Pickles whose Python unpickling runs {@code touch pwned} (the fixture script proves that with a control run):
     * refused when the global is named, and nothing is executed.
     */
    @ParameterizedTest
    @ValueSource(strings = {"evil_zip.pth", "evil_zip_p4.pth", "evil_legacy.pth", "evil_plain.pth"})
    void maliciousPickleIsRefusedWithoutRunningIt(String name) {
        Path file = evil.resolve(name);
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> TorchCheckpoint.read(file));
        assertEquals(file + ": refusing pickle global 'posix.system' (only state_dict tensors are allowed)", e.getMessage());
        assertFalse(Files.exists(evil.resolve("pwned")), "the payload must not have run");
    }

    /** A tensor pickled with plain pickle reaches torch.storage._load_from_bytes (a torch.load of raw bytes). */
    @Test
    void storageFromBytesIsRefused() {
        Path file = evil.resolve("storage_bytes.pth");
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> TorchCheckpoint.read(file));
        IoPython.assertOneLineNaming(file, e, "refusing pickle global 'torch.storage._load_from_bytes'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"zip.pth", "legacy.pth"})
    void truncatedCheckpointIsRefused(String name, @TempDir Path tmp) throws IOException {
        byte[] whole = Files.readAllBytes(dir.resolve(name));
        Path cut = tmp.resolve("cut-" + name);
        Files.write(cut, Arrays.copyOf(whole, whole.length / 2));
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> TorchCheckpoint.read(cut));
        IoPython.assertOneLineNaming(cut, e, "truncated");
        if (name.startsWith("zip")) assertEquals(cut + ": truncated zip archive (end of central directory not found)", e.getMessage());
    }

    /** One flipped byte inside a storage entry of the zip: caught by the entry's CRC-32. */
    @Test
    void corruptedStorageBytesAreDetected(@TempDir Path tmp) throws IOException {
        byte[] b = Files.readAllBytes(dir.resolve("zip.pth"));
        int at = dataOffset(b, "zip/data/0");
        b[at + 3] ^= 0x10;
        Path bad = tmp.resolve("flipped.pth");
        Files.write(bad, b);
        IoPython.assertOneLineNaming(bad, assertThrows(WeightsFormatException.class, () -> TorchCheckpoint.read(bad)),
                "'zip/data/0' fails its CRC-32 check");
    }

    @Test
    void foreignAndEmptyFilesAreRefused(@TempDir Path tmp) throws IOException {
        Path png = tmp.resolve("image.pth");
        Files.write(png, new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'});
        assertEquals(png + ": not a PyTorch checkpoint (starts with bytes 89 50 4e 47 0d 0a 1a 0a;"
                + " expected a zip archive or a legacy pickle starting with 80)",
                assertThrows(WeightsFormatException.class, () -> TorchCheckpoint.read(png)).getMessage());
        Path text = tmp.resolve("notes.pth");
        Files.writeString(text, "these are not weights\n", StandardCharsets.UTF_8);
        IoPython.assertOneLineNaming(text, assertThrows(WeightsFormatException.class, () -> TorchCheckpoint.read(text)),
                "not a PyTorch checkpoint");
        Path empty = Files.createFile(tmp.resolve("empty.pth"));
        assertEquals(empty + ": empty file (expected a PyTorch checkpoint)",
                assertThrows(WeightsFormatException.class, () -> TorchCheckpoint.read(empty)).getMessage());
    }

    /** A protocol 2 pickle using opcodes a state_dict never needs (a set) is refused, not half-interpreted. */
    @Test
    void unsupportedOpcodeIsRefused(@TempDir Path tmp) throws IOException {
        // PROTO 4, EMPTY_SET, STOP
        Path f = tmp.resolve("set.pth");
        Files.write(f, new byte[] {(byte) 0x80, 4, (byte) 0x8f, '.'});
        IoPython.assertOneLineNaming(f, assertThrows(WeightsFormatException.class, () -> TorchCheckpoint.read(f)),
                "unsupported pickle opcode 0x8f");
    }

    /**
     * A list that contains itself, wrapped in a tuple and used as a dict key: Python refuses it (unhashable); a
     * naive reader would recurse forever hashing it. crd4j refuses every non-str, non-int key before hashing it.
     */
    @Test
    void selfContainingDictKeyIsRefused(@TempDir Path tmp) throws IOException {
        // PROTO 2, EMPTY_DICT, EMPTY_LIST, BINPUT 0, BINGET 0, APPEND, TUPLE1, NONE, SETITEM, STOP
        Path f = tmp.resolve("cycle.pth");
        Files.write(f, new byte[] {(byte) 0x80, 2, '}', ']', 'q', 0, 'h', 0, 'a', (byte) 0x85, 'N', 's', '.'});
        IoPython.assertOneLineNaming(f, assertThrows(WeightsFormatException.class, () -> TorchCheckpoint.read(f)),
                "dict key is a tuple");
    }

    /**
     * Seeded random truncations and byte changes of real torch.save files: each read either succeeds or fails with
     * a one-line WeightsFormatException; no EOF, zip, index or stack error escapes.
     */
    @ParameterizedTest
    @ValueSource(strings = {"zip.pth", "zip_p4.pth", "legacy.pth"})
    void damagedFilesFailOnlyWithWeightsFormatException(String name, @TempDir Path tmp) throws IOException {
        byte[] orig = Files.readAllBytes(dir.resolve(name));
        java.util.Random rnd = new java.util.Random(42);
        Path f = tmp.resolve("damaged-" + name);
        int refused = 0;
        for (int it = 0; it < 200; it++) {
            byte[] b;
            if (it % 4 == 0) {
                b = Arrays.copyOf(orig, rnd.nextInt(orig.length));
            } else {
                b = orig.clone();
                for (int k = 0; k < 1 + it % 3; k++) b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
            }
            Files.write(f, b);
            try {
                TorchCheckpoint.read(f);
            } catch (WeightsFormatException e) {
                IoPython.assertOneLineNaming(f, e);
                refused++;
            }
        }
        assertTrue(refused > 50, "most damaged files are refused, got " + refused);
    }

    private static void assertSameTensor(String what, HostTensor expected, HostTensor actual) {
        assertEquals(expected.dtype(), actual.dtype(), what);
        assertArrayEquals(expected.shape(), actual.shape(), what);
        switch (expected.dtype()) {
            case FLOAT32 -> assertArrayEquals(bits(expected.floats()), bits(actual.floats()), what);
            case FLOAT64 -> assertArrayEquals(expected.doubles(), actual.doubles(), what);
            case INT64 -> assertArrayEquals(expected.longs(), actual.longs(), what);
            case INT32 -> assertArrayEquals(expected.ints(), actual.ints(), what);
            case UINT8 -> assertArrayEquals(expected.bytes(), actual.bytes(), what);
        }
        assertTrue(actual.numel() >= 0);
    }

    private static int[] bits(float[] f) {
        int[] b = new int[f.length];
        for (int i = 0; i < f.length; i++) b[i] = Float.floatToIntBits(f[i]);
        return b;
    }

    /** Offset of an entry's data: its local header is 30 bytes + name + extra field (torch pads for alignment). */
    private static int dataOffset(byte[] zip, String entry) {
        byte[] name = entry.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i + 30 + name.length <= zip.length; i++) {
            if (zip[i] == 'P' && zip[i + 1] == 'K' && zip[i + 2] == 3 && zip[i + 3] == 4
                    && u16(zip, i + 26) == name.length
                    && Arrays.equals(Arrays.copyOfRange(zip, i + 30, i + 30 + name.length), name)) {
                return i + 30 + name.length + u16(zip, i + 28);
            }
        }
        throw new AssertionError("entry " + entry + " not found");
    }

    private static int u16(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8;
    }
}
