package crd4j.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.tensor.HostTensor;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
 * {@code {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}} and the raw
 * little-endian tensor data, offsets relative to the start of the data section.
 *
 * <p>Reading validates strictly, as the reference implementation does: known dtypes, sizes that match the shape,
 * tensors that tile the data section exactly (no gaps, overlaps or trailing bytes), no duplicate JSON keys. Readable
 * dtypes are F32, F64, I64, I32, U8, plus F16/BF16 (widened to FLOAT32) and BOOL (UINT8). Writes use the five native
 * dtypes and go through {@link AtomicFiles}.
 */
public final class Safetensors {
    /** Same limit as the reference implementation: a larger header is certainly not a real file. */
    private static final long MAX_HEADER = 100L << 20;
    static final String METADATA_KEY = "__metadata__";
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private Safetensors() {}

    /**
     * @param tensors tensors in file order (the order of their data)
     * @param metadata the {@code __metadata__} strings; empty when the file has none
     */
    public record Contents(Map<String, HostTensor> tensors, Map<String, String> metadata) {}

    /** One row of the header's tensor table; offsets are relative to the start of the data section. */
    record Entry(String name, String dtype, long[] shape, long begin, long end) {}

    /** Lets {@link ModelFile} see the table before the data and observe the data bytes as they are read. */
    interface DataHook {
        InputStream wrap(List<Entry> table, Map<String, String> metadata, InputStream data) throws IOException;
    }

    /** Reads every tensor and the metadata. */
    public static Contents read(Path file) throws IOException {
        return read(file, null);
    }

    /** Writes {@code tensors} (in map order) and {@code metadata} (may be null or empty) atomically. */
    public static void write(Path file, Map<String, HostTensor> tensors, Map<String, String> metadata) throws IOException {
        List<Entry> table = layout(tensors);
        byte[] header = header(table, metadata);
        AtomicFiles.write(file, out -> {
            writeLE64(out, header.length);
            out.write(header);
            for (HostTensor t : tensors.values()) ElementCodec.write(t, out);
        });
    }

    /** The table {@link #write} produces: tensors back to back in map order. */
    static List<Entry> layout(Map<String, HostTensor> tensors) {
        List<Entry> table = new ArrayList<>(tensors.size());
        long at = 0;
        for (Map.Entry<String, HostTensor> e : tensors.entrySet()) {
            String name = e.getKey();
            if (name == null || name.isEmpty() || name.equals(METADATA_KEY)) {
                throw new IllegalArgumentException("invalid safetensors tensor name: " + WeightsFormatException.quote(name));
            }
            HostTensor t = e.getValue();
            long bytes = Math.multiplyExact(t.numel(), (long) t.dtype().bytes());
            table.add(new Entry(name, t.dtype().safetensorsName(), t.shape(), at, at + bytes));
            at += bytes;
        }
        return table;
    }

    private static byte[] header(List<Entry> table, Map<String, String> metadata) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode md = root.putObject(METADATA_KEY);
            metadata.forEach((k, v) -> md.put(k, v));
        }
        for (Entry e : table) {
            ObjectNode t = root.putObject(e.name());
            t.put("dtype", e.dtype());
            ArrayNode shape = t.putArray("shape");
            for (long d : e.shape()) shape.add(d);
            t.putArray("data_offsets").add(e.begin()).add(e.end());
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        // Space padding to a multiple of 8 keeps the data section 8-byte aligned for readers that map the file.
        int padded = (json.length + 7) & ~7;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    static Contents read(Path file, DataHook hook) throws IOException {
        if (Files.isDirectory(file)) {
            throw new WeightsFormatException(file, "is a directory (expected a " + (hook == null ? "safetensors" : "crd4j model")
                    + " file)");
        }
        long size = Files.size(file);
        if (size == 0) throw new WeightsFormatException(file, "empty file (expected safetensors)");
        if (size < 8) throw new WeightsFormatException(file, "truncated: " + size + " bytes, too short for a safetensors header");
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            byte[] lb = in.readNBytes(8);
            long n = 0;
            for (int i = 0; i < 8; i++) n |= (long) (lb[i] & 0xff) << (8 * i);
            if (n < 2 || n > MAX_HEADER) {
                throw new WeightsFormatException(file, "header length " + Long.toUnsignedString(n)
                        + " is implausible (not a safetensors file?)");
            }
            if (8 + n > size) {
                throw new WeightsFormatException(file, "truncated: header of " + n + " bytes runs past the end of the file ("
                        + size + " bytes)");
            }
            byte[] hb = in.readNBytes((int) n);
            if (hb.length < n) throw new WeightsFormatException(file, "truncated safetensors header");
            if (hb[0] != '{') throw new WeightsFormatException(file, "header does not start with '{' (not a safetensors file?)");
            // The format's header is UTF-8 JSON. Decoded here, strictly: given bytes, Jackson would guess the encoding
            // (UTF-16/32 from the first bytes) and fail with a bare CharConversionException (found by fuzzing).
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(hb)).toString();
            } catch (CharacterCodingException e) {
                throw new WeightsFormatException(file, "header is not valid UTF-8 text", e);
            }
            JsonNode root;
            try {
                root = JSON.readTree(text);
            } catch (JsonProcessingException e) {
                throw new WeightsFormatException(file, "header is not valid JSON (" + e.getOriginalMessage() + ")", e);
            }
            if (root == null || !root.isObject()) throw new WeightsFormatException(file, "header is not a JSON object");
            long dataLen = size - 8 - n;
            Map<String, String> metadata = new LinkedHashMap<>();
            List<Entry> table = new ArrayList<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                if (f.getKey().equals(METADATA_KEY)) {
                    parseMetadata(file, f.getValue(), metadata);
                } else {
                    table.add(parseEntry(file, f.getKey(), f.getValue()));
                }
            }
            // File order is data order; zero-length tensors keep their header order (the sort is stable).
            table.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
            long expect = 0;
            for (Entry e : table) {
                if (e.begin() != expect) {
                    throw new WeightsFormatException(file, "tensor " + WeightsFormatException.quote(e.name())
                            + ": data_offsets [" + e.begin() + ", " + e.end() + "] " + (e.begin() < expect ? "overlap" : "leave a gap after")
                            + " the previous tensor (expected it to begin at " + expect + ")");
                }
                if (e.end() > dataLen) {
                    throw new WeightsFormatException(file, "truncated: tensor " + WeightsFormatException.quote(e.name())
                            + " needs data bytes [" + e.begin() + ", " + e.end() + ") but the data section has only "
                            + dataLen + " bytes");
                }
                expect = e.end();
            }
            if (expect != dataLen) {
                throw new WeightsFormatException(file, (dataLen - expect) + " unexpected bytes after the last tensor's data");
            }
            InputStream data = hook == null ? in : hook.wrap(Collections.unmodifiableList(table), metadata, in);
            Map<String, HostTensor> tensors = new LinkedHashMap<>();
            for (Entry e : table) {
                ElementCodec c = codec(e.dtype());
                try {
                    Object arr = c.read(data, ByteOrder.LITTLE_ENDIAN, (int) ((e.end() - e.begin()) / c.size));
                    tensors.put(e.name(), ElementCodec.wrap(arr, e.shape()));
                } catch (EOFException x) {
                    // The size was checked up front, so this means the file shrank while being read.
                    throw new WeightsFormatException(file, "truncated: tensor " + WeightsFormatException.quote(e.name())
                            + " data ends early", x);
                }
            }
            return new Contents(tensors, metadata);
        }
    }

    private static void parseMetadata(Path file, JsonNode md, Map<String, String> out) throws WeightsFormatException {
        if (!md.isObject()) throw new WeightsFormatException(file, "'" + METADATA_KEY + "': expected an object of strings");
        for (Iterator<Map.Entry<String, JsonNode>> it = md.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> m = it.next();
            if (!m.getValue().isTextual()) {
                throw new WeightsFormatException(file, "'" + METADATA_KEY + "' key " + WeightsFormatException.quote(m.getKey())
                        + ": expected a string value, found " + m.getValue().getNodeType().toString().toLowerCase());
            }
            out.put(m.getKey(), m.getValue().textValue());
        }
    }

    private static Entry parseEntry(Path file, String name, JsonNode t) throws WeightsFormatException {
        String q = "tensor " + WeightsFormatException.quote(name);
        if (!t.isObject()) throw new WeightsFormatException(file, q + ": expected an object with dtype, shape, data_offsets");
        JsonNode dt = t.get("dtype");
        if (dt == null || !dt.isTextual() || codec(dt.textValue()) == null) {
            throw new WeightsFormatException(file, q + ": field 'dtype': expected one of F32, F64, I64, I32, U8, F16, BF16,"
                    + " BOOL, found " + (dt == null ? "nothing" : dt.toString()));
        }
        long[] shape = longs(file, q, "shape", t.get("shape"), -1);
        long[] off = longs(file, q, "data_offsets", t.get("data_offsets"), 2);
        if (off[0] > off[1]) {
            throw new WeightsFormatException(file, q + ": field 'data_offsets': begin " + off[0] + " is after end " + off[1]);
        }
        ElementCodec c = codec(dt.textValue());
        long bytes;
        try {
            bytes = Math.multiplyExact(HostTensor.numel(shape), (long) c.size);
        } catch (ArithmeticException e) {
            throw new WeightsFormatException(file, q + ": field 'shape': " + Arrays.toString(shape) + " is too large", e);
        }
        if (off[1] - off[0] != bytes) {
            throw new WeightsFormatException(file, q + ": field 'data_offsets': expected " + bytes + " bytes for "
                    + dt.textValue() + " " + Arrays.toString(shape) + ", found [" + off[0] + ", " + off[1] + "] ("
                    + (off[1] - off[0]) + " bytes)");
        }
        if (bytes / c.size > Integer.MAX_VALUE - 8) {
            throw new WeightsFormatException(file, q + ": " + (bytes / c.size) + " elements is too large for one tensor");
        }
        return new Entry(name, dt.textValue(), shape, off[0], off[1]);
    }

    private static long[] longs(Path file, String q, String field, JsonNode a, int len) throws WeightsFormatException {
        if (a == null || !a.isArray() || (len >= 0 && a.size() != len)) {
            throw new WeightsFormatException(file, q + ": field '" + field + "': expected "
                    + (len >= 0 ? "an array of " + len + " integers" : "an array of integers")
                    + ", found " + (a == null ? "nothing" : a.toString()));
        }
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = a.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw new WeightsFormatException(file, q + ": field '" + field + "': expected non-negative integers, found "
                        + a);
            }
            out[i] = v.longValue();
        }
        return out;
    }

    static ElementCodec codec(String dtype) {
        return switch (dtype) {
            case "F32" -> ElementCodec.F32;
            case "F64" -> ElementCodec.F64;
            case "I64" -> ElementCodec.I64;
            case "I32" -> ElementCodec.I32;
            case "U8" -> ElementCodec.U8;
            case "F16" -> ElementCodec.F16;
            case "BF16" -> ElementCodec.BF16;
            case "BOOL" -> ElementCodec.BOOL;
            default -> null;
        };
    }

    private static void writeLE64(OutputStream out, long v) throws IOException {
        for (int i = 0; i < 8; i++) out.write((int) (v >>> (8 * i)));
    }

    static byte[] utf8(String s) { return s.getBytes(StandardCharsets.UTF_8); }
}
