package crd4j.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * crd4j's own model file: one self-contained safetensors file (so generic safetensors tools can still inspect it)
 * whose {@code __metadata__} carries two extra keys:
 * <ul>
 *   <li>{@code crd4j}: the caller's JSON description of the model (preset, modalities, teacher, validation
 *   statistics...), stored as compact JSON text and returned unchanged;</li>
 *   <li>{@code crd4j.sha256}: lower-case hex SHA-256 that detects corruption of the tensors, their table or that
 *   JSON.</li>
 * </ul>
 *
 * <p>Exactly what is hashed, in this order ({@code u32}/{@code u64} are little-endian unsigned integers):
 * <ol>
 *   <li>the 22 ASCII bytes {@code "crd4j-model-sha256-v1\n"};</li>
 *   <li>for each tensor in data-section order (ascending {@code data_offsets}): {@code u32} byte length and UTF-8 bytes
 *   of its name; {@code u32} length and ASCII bytes of its dtype ({@code F32}...); {@code u32} rank, then each
 *   dimension as {@code u64}; its {@code data_offsets} begin and end as {@code u64};</li>
 *   <li>{@code u64} byte length and UTF-8 bytes of the {@code crd4j} metadata value;</li>
 *   <li>the complete data section, i.e. every byte of the file after the JSON header.</li>
 * </ol>
 * The JSON header text itself is not hashed (its formatting and key order may differ between writers); its meaning is,
 * through items 2 and 3. Other {@code __metadata__} keys are not covered.
 */
public final class ModelFile {
    /** Metadata key of the caller's JSON. */
    public static final String META_KEY = "crd4j";
    /** Metadata key of the checksum. */
    public static final String SHA256_KEY = "crd4j.sha256";
    private static final byte[] DOMAIN = "crd4j-model-sha256-v1\n".getBytes(StandardCharsets.US_ASCII);
    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelFile() {}

    /** The tensors in file order and the caller's metadata object. */
    public record Contents(Map<String, HostTensor> tensors, ObjectNode meta) {}

    /** Writes the model atomically (temporary file, fsync, rename): a crash never leaves a partial model file. */
    public static void write(Path file, Map<String, HostTensor> tensors, ObjectNode meta) throws IOException {
        String metaText = JSON.writeValueAsString(java.util.Objects.requireNonNull(meta, "meta"));
        List<Safetensors.Entry> table = Safetensors.layout(tensors);
        MessageDigest md = prefixDigest(table, metaText);
        // The checksum goes in the header, before the data, so the data is encoded once just to hash it.
        try (OutputStream sink = new DigestOutputStream(OutputStream.nullOutputStream(), md)) {
            for (HostTensor t : tensors.values()) ElementCodec.write(t, sink);
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put(META_KEY, metaText);
        metadata.put(SHA256_KEY, HexFormat.of().formatHex(md.digest()));
        Safetensors.write(file, tensors, metadata);
    }

    /** Reads and verifies a model file written by {@link #write}. */
    public static Contents read(Path file) throws IOException {
        MessageDigest[] md = new MessageDigest[1];
        String[] stored = new String[2];
        Safetensors.Contents c = Safetensors.read(file, (table, metadata, data) -> {
            // Checked before any data is read: a foreign safetensors file fails fast with the clearer message.
            stored[0] = metadata.get(META_KEY);
            stored[1] = metadata.get(SHA256_KEY);
            if (stored[0] == null) {
                throw new WeightsFormatException(file, "not a crd4j model file (metadata key '" + META_KEY + "' missing)");
            }
            if (stored[1] == null) {
                throw new WeightsFormatException(file, "metadata key '" + SHA256_KEY + "' missing (file damaged or not"
                        + " written by crd4j)");
            }
            md[0] = prefixDigest(table, stored[0]);
            return new DigestInputStream(data, md[0]);
        });
        String actual = HexFormat.of().formatHex(md[0].digest());
        if (!actual.equalsIgnoreCase(stored[1])) {
            throw new WeightsFormatException(file, "checksum mismatch (file corrupted)");
        }
        JsonNode meta;
        try {
            meta = JSON.readTree(stored[0]);
        } catch (JsonProcessingException e) {
            throw new WeightsFormatException(file, "metadata key '" + META_KEY + "': expected JSON text ("
                    + e.getOriginalMessage() + ")", e);
        }
        if (meta == null || !meta.isObject()) {
            throw new WeightsFormatException(file, "metadata key '" + META_KEY + "': expected a JSON object");
        }
        return new Contents(c.tensors(), (ObjectNode) meta);
    }

    /** Ends a header-only read once the metadata is seen. */
    private static final class HeaderRead extends IOException {
        HeaderRead() { super("header read"); }
    }

    /**
     * The metadata of a model file from its header alone, without reading or verifying the tensors: for choosing
     * defaults (the thread count from the preset) before the full, checksum-verified {@link #read}.
     */
    public static ObjectNode readMeta(Path file) throws IOException {
        String[] stored = new String[1];
        try {
            Safetensors.read(file, (table, metadata, data) -> {
                stored[0] = metadata.get(META_KEY);
                throw new HeaderRead();
            });
        } catch (HeaderRead expected) {
            // the header was read
        }
        if (stored[0] == null) throw new WeightsFormatException(file, "not a crd4j model file (metadata key '" + META_KEY + "' missing)");
        try {
            JsonNode meta = JSON.readTree(stored[0]);
            if (meta == null || !meta.isObject()) throw new WeightsFormatException(file, "metadata key '" + META_KEY + "': expected a JSON object");
            return (ObjectNode) meta;
        } catch (JsonProcessingException e) {
            throw new WeightsFormatException(file, "metadata key '" + META_KEY + "': expected JSON text (" + e.getOriginalMessage() + ")", e);
        }
    }

    private static MessageDigest prefixDigest(List<Safetensors.Entry> table, String metaText) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
        md.update(DOMAIN);
        for (Safetensors.Entry e : table) {
            bytes(md, e.name().getBytes(StandardCharsets.UTF_8));
            bytes(md, e.dtype().getBytes(StandardCharsets.US_ASCII));
            u32(md, e.shape().length);
            for (long d : e.shape()) u64(md, d);
            u64(md, e.begin());
            u64(md, e.end());
        }
        byte[] meta = metaText.getBytes(StandardCharsets.UTF_8);
        u64(md, meta.length);
        md.update(meta);
        return md;
    }

    private static void bytes(MessageDigest md, byte[] b) {
        u32(md, b.length);
        md.update(b);
    }

    private static void u32(MessageDigest md, int v) {
        md.update(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
    }

    private static void u64(MessageDigest md, long v) {
        md.update(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
    }
}
