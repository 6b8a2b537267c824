package crd4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class SafetensorsTest {
    @TempDir static Path dir;

    @BeforeAll
    static void numpyWritesReference() {
        IoPython.assumeNumpy();
        IoPython.run("stwrite", dir);
    }

    static Map<String, HostTensor> sample() {
        Map<String, HostTensor> t = new LinkedHashMap<>();
        t.put("conv.weight", HostTensor.of(new float[] {1.25f, -2f, 3e-7f, Float.NEGATIVE_INFINITY, 0f, -0f}, 2, 3, 1, 1));
        t.put("bn.num_batches_tracked", HostTensor.of(new long[] {123456789012L}));
        t.put("stats.mu", HostTensor.of(new double[] {0.1, Math.E}, 2));
        t.put("ids", HostTensor.of(new int[] {-7, 0, 9}, 3));
        t.put("mask", HostTensor.of(new byte[] {0, (byte) 255}, 2));
        t.put("empty", HostTensor.of(new float[0], 0, 4));
        return t;
    }

    /** A file laid out by a Python writer following the published format (sorted JSON keys, numpy bytes). */
    @Test
    void readsReferenceFile() throws IOException {
        Safetensors.Contents c = Safetensors.read(dir.resolve("py.safetensors"));
        assertEquals(Map.of("format", "pt", "who", "numpy"), c.metadata());
        JsonNode ref = IoPython.json(Files.readString(dir.resolve("py_st_values.json")));
        // File order is data order, which is the writer's insertion order, not the (sorted) JSON key order.
        assertEquals(List.of("b.weight", "a.count", "c.mask", "d.double", "e.ints"), List.copyOf(c.tensors().keySet()));
        for (Iterator<Map.Entry<String, JsonNode>> it = ref.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            IoPython.assertMatches(e.getKey(), e.getValue(), c.tensors().get(e.getKey()));
        }
    }

    /** Java writes; Java reads back identical tensors and metadata; an independent Python parser agrees. */
    @Test
    void roundTripAgreesWithPythonParser(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("w.safetensors");
        Map<String, HostTensor> in = sample();
        Safetensors.write(f, in, Map.of("note", "ünïcode ✓"));
        Safetensors.Contents c = Safetensors.read(f);
        assertEquals(List.copyOf(in.keySet()), List.copyOf(c.tensors().keySet()));
        assertEquals(Map.of("note", "ünïcode ✓"), c.metadata());
        JsonNode py = IoPython.json(IoPython.run("stcheck", f));
        assertEquals("ünïcode ✓", py.get("metadata").get("note").asText());
        for (Map.Entry<String, HostTensor> e : in.entrySet()) {
            HostTensor back = c.tensors().get(e.getKey());
            assertEquals(e.getValue().dtype(), back.dtype());
            assertEquals(Arrays.toString(e.getValue().shape()), Arrays.toString(back.shape()));
            for (long i = 0; i < back.numel(); i++) assertEquals(e.getValue().getDouble(i), back.getDouble(i));
            JsonNode p = py.get("tensors").get(e.getKey());
            assertEquals(e.getValue().dtype().safetensorsName(), p.get("dtype").asText());
            IoPython.assertMatches(e.getKey(), p, e.getValue());
        }
        long header = ByteBuffer.wrap(Files.readAllBytes(f), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, header % 8, "header padded so the data section is 8-byte aligned");
    }

    @Test
    void truncatedFileIsRefusedNamingTheTensor(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("t.safetensors");
        Safetensors.write(f, sample(), null);
        byte[] b = Files.readAllBytes(f);
        Path cut = tmp.resolve("cut.safetensors");
        Files.write(cut, Arrays.copyOf(b, b.length - 10)); // inside 'mask' (2 bytes) and 'ids' (12 bytes)
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> Safetensors.read(cut));
        IoPython.assertOneLineNaming(cut, e, "truncated: tensor 'ids' needs data bytes");
        Path header = tmp.resolve("header-only.safetensors");
        Files.write(header, Arrays.copyOf(b, 20));
        IoPython.assertOneLineNaming(header, assertThrows(WeightsFormatException.class, () -> Safetensors.read(header)),
                "truncated: header of");
    }

    /** Offsets that disagree with the shape, and overlapping tensors, are refused by name. */
    @Test
    void inconsistentHeaderIsRefused(@TempDir Path tmp) throws IOException {
        Path bad = tmp.resolve("bad.safetensors");
        write(bad, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", 12);
        IoPython.assertOneLineNaming(bad, assertThrows(WeightsFormatException.class, () -> Safetensors.read(bad)),
                "tensor 'a': field 'data_offsets': expected 8 bytes for F32 [2], found [0, 12]");
        Path overlap = tmp.resolve("overlap.safetensors");
        write(overlap, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4);
        IoPython.assertOneLineNaming(overlap, assertThrows(WeightsFormatException.class, () -> Safetensors.read(overlap)),
                "tensor 'b'", "overlap");
        Path dtype = tmp.resolve("dtype.safetensors");
        write(dtype, "{\"a\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8);
        IoPython.assertOneLineNaming(dtype, assertThrows(WeightsFormatException.class, () -> Safetensors.read(dtype)),
                "tensor 'a': field 'dtype'");
    }

    private static void write(Path f, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Files.write(f, b.array());
    }

    /**
     * Found by fuzzing (target safetensors): a header whose first bytes look like UTF-32 made Jackson guess that
     * encoding and fail with a bare CharConversionException. The header is UTF-8 by definition and decoded as such.
     */
    @Test
    void headerThatLooksLikeUtf32IsRefused(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("utf32.safetensors");
        byte[] header = "{\0\0\0\0\0\0\0\0\"x\":1}".getBytes(StandardCharsets.UTF_8); // "{", 8 NULs (the fuzzer's input): UTF-32 to a guesser
        ByteBuffer b = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header);
        Files.write(f, b.array());
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> Safetensors.read(f));
        IoPython.assertOneLineNaming(f, e, "header is not valid JSON");
        Path bad = tmp.resolve("latin1.safetensors");
        byte[] latin1 = {'{', '"', (byte) 0xe9, '"', ':', '1', '}', ' '};
        b = ByteBuffer.allocate(8 + latin1.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(latin1.length).put(latin1);
        Files.write(bad, b.array());
        IoPython.assertOneLineNaming(bad, assertThrows(WeightsFormatException.class, () -> Safetensors.read(bad)),
                "header is not valid UTF-8 text");
    }
}
