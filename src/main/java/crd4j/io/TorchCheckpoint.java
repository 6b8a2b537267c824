package crd4j.io;

import crd4j.io.RestrictedUnpickler.StorageRef;
import crd4j.io.RestrictedUnpickler.StorageType;
import crd4j.io.RestrictedUnpickler.TensorRef;
import crd4j.io.RestrictedUnpickler.Tuple;
import crd4j.tensor.HostTensor;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Reads PyTorch checkpoints ({@code torch.save} of a state_dict, or of a dict of state_dicts) without Python and
 * without executing anything from the file. Both container formats are supported:
 * <ul>
 *   <li>zip (the default since PyTorch 1.6): {@code <folder>/data.pkl} plus one {@code <folder>/data/<key>} entry
 *   per storage; the folder name varies, so {@code data.pkl} is found by suffix;</li>
 *   <li>legacy ({@code _use_new_zipfile_serialization=False}, used by older published weights): consecutive pickles
 *   (magic number, protocol version, system info, the object, the storage keys), then per storage an 8-byte
 *   little-endian element count and the raw bytes.</li>
 * </ul>
 * The pickle is interpreted by {@link RestrictedUnpickler}, which accepts only what a state_dict needs and refuses any
 * other global with a {@link WeightsFormatException}.
 *
 * <p>Result: a {@link LinkedHashMap} in file order. Tensors become contiguous {@link HostTensor}s (views, offsets and
 * strides resolved; float16/bfloat16 widened to FLOAT32, bool as UINT8); nested dicts become nested
 * {@code LinkedHashMap<String, Object>}; Python int → Long (BigInteger beyond 64 bits), float → Double, str → String,
 * bool → Boolean, None → null, list and tuple → List (tuples unmodifiable), bytes → byte[]. Integer dict keys
 * (optimizer state) become their decimal strings. An object referenced twice in the pickle (the same state_dict under
 * two keys) is the same Java object twice.
 */
public final class TorchCheckpoint {
    private static final BigInteger LEGACY_MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    private static final long LEGACY_PROTOCOL_VERSION = 1001;
    private static final int MAX_DEPTH = RestrictedUnpickler.MAX_DEPTH;
    /**
     * Largest {@code data.pkl} read (inflated). A state_dict's pickle is about 100 bytes per tensor (torchvision's
     * wide_resnet50_2: 36 KB; a training checkpoint with optimizer state: a few MB); far larger means a hostile or
     * foreign archive, and it is refused before it is inflated into memory.
     */
    static final int MAX_PICKLE = 32 << 20;
    /** Deflate's largest possible expansion (about 1032:1): an entry cannot inflate to more than this times its size. */
    private static final long DEFLATE_MAX_RATIO = 1032;
    /** Longest key path kept for messages; longer paths are cut (quote() shortens them further). */
    private static final int MAX_PATH = 256;

    private TorchCheckpoint() {}

    /** Reads a {@code .pth}/{@code .pt} checkpoint whose top-level object is a dict. */
    public static Map<String, Object> read(Path file) throws IOException {
        return read(file, Runtime.getRuntime().maxMemory());
    }

    /** {@link #read(Path)} with the heap the checkpoint's arrays may take given explicitly (tests use a small one). */
    static Map<String, Object> read(Path file, long heapLimit) throws IOException {
        if (Files.isDirectory(file)) throw new WeightsFormatException(file, "is a directory (expected a PyTorch checkpoint file)");
        long size = Files.size(file);
        if (size == 0) throw new WeightsFormatException(file, "empty file (expected a PyTorch checkpoint)");
        byte[] head;
        try (InputStream in = Files.newInputStream(file)) {
            head = in.readNBytes(512);
        }
        try {
            if (head.length >= 4 && head[0] == 'P' && head[1] == 'K' && (head[2] == 3 || head[2] == 5)) {
                return readZip(file, heapLimit);
            }
            if ((head[0] & 0xff) == 0x80) return readLegacy(file, size, heapLimit);
            if (head.length >= 262 && new String(head, 257, 5, StandardCharsets.ISO_8859_1).equals("ustar")) {
                throw new WeightsFormatException(file, "the tar-based checkpoint format of early PyTorch versions is not supported;"
                        + " re-save it with a current torch.save");
            }
        } catch (WeightsFormatException e) {
            throw e;
        } catch (EOFException e) {
            throw new WeightsFormatException(file, "truncated checkpoint (unexpected end of file)", e);
        } catch (ArithmeticException | IndexOutOfBoundsException | IllegalArgumentException | ClassCastException e) {
            throw new WeightsFormatException(file, "corrupt checkpoint (" + e + ")", e);
        }
        StringBuilder hex = new StringBuilder();
        for (int i = 0; i < Math.min(8, head.length); i++) hex.append(i > 0 ? " " : "").append(String.format("%02x", head[i]));
        throw new WeightsFormatException(file, "not a PyTorch checkpoint (starts with bytes " + hex
                + "; expected a zip archive or a legacy pickle starting with 80)");
    }

    /**
     * The tensor under {@code key}, checked against {@code expectedShape} (null accepts any shape). Messages name
     * the file and key: {@code model.pth: key 'conv1.weight': expected shape [64, 3, 7, 7], found [64, 3, 3, 3]}.
     */
    public static HostTensor requireTensor(Map<String, ?> sd, String key, long[] expectedShape, Path file)
            throws WeightsFormatException {
        Object v = sd.get(key);
        if (v == null) {
            throw new WeightsFormatException(file, "key " + WeightsFormatException.quote(key) + " missing"
                    + (sd.containsKey(key) ? " (it is None)" : ""));
        }
        if (!(v instanceof HostTensor t)) {
            throw new WeightsFormatException(file, "key " + WeightsFormatException.quote(key)
                    + ": expected a tensor, found " + typeName(v));
        }
        if (expectedShape != null && !Arrays.equals(expectedShape, t.shape())) {
            throw new WeightsFormatException(file, "key " + WeightsFormatException.quote(key) + ": expected shape "
                    + Arrays.toString(expectedShape) + ", found " + Arrays.toString(t.shape()));
        }
        return t;
    }

    /** The nested dict under {@code key}, such as {@code student_rgb} in a reference CRD checkpoint. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> requireDict(Map<String, ?> sd, String key, Path file) throws WeightsFormatException {
        Object v = sd.get(key);
        if (v == null) throw new WeightsFormatException(file, "key " + WeightsFormatException.quote(key) + " missing");
        if (!(v instanceof Map)) {
            throw new WeightsFormatException(file, "key " + WeightsFormatException.quote(key)
                    + ": expected a dict, found " + typeName(v));
        }
        return (Map<String, Object>) v;
    }

    // ------------------------------------------------------------------------------------------------ zip format

    private static Map<String, Object> readZip(Path file, long heapLimit) throws IOException {
        ZipFile zip;
        try {
            zip = new ZipFile(file.toFile());
        } catch (ZipException e) {
            String m = String.valueOf(e.getMessage());
            throw new WeightsFormatException(file, m.contains("END header")
                    ? "truncated zip archive (end of central directory not found)"
                    : "corrupt zip archive (" + m + ")", e);
        }
        try (zip; FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            String pkl = null;
            for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
                String name = en.nextElement().getName();
                if (name.equals("data.pkl") || name.endsWith("/data.pkl")) {
                    if (pkl != null) {
                        throw new WeightsFormatException(file, "archive holds more than one data.pkl ("
                                + WeightsFormatException.quote(pkl) + " and " + WeightsFormatException.quote(name)
                                + "); a TorchScript archive is not a state_dict checkpoint");
                    }
                    pkl = name;
                }
            }
            if (pkl == null) {
                throw new WeightsFormatException(file, "zip archive has no data.pkl entry; not a torch.save checkpoint");
            }
            String prefix = pkl.substring(0, pkl.length() - "data.pkl".length());
            ZipEntry order = zip.getEntry(prefix + "byteorder");
            if (order != null) {
                String bo = new String(entryBytes(file, zip, order, 16), StandardCharsets.US_ASCII).strip();
                if (!bo.equals("little")) {
                    throw new WeightsFormatException(file, "entry " + WeightsFormatException.quote(order.getName())
                            + ": expected 'little', found " + WeightsFormatException.quote(bo)
                            + " (big-endian checkpoints are not supported)");
                }
            }
            byte[] pickle = entryBytes(file, zip, zip.getEntry(pkl), MAX_PICKLE);
            Map<String, StorageRef> refs = new HashMap<>();
            PickleInput in = new PickleInput(new ByteArrayInputStream(pickle), 0);
            Object root = new RestrictedUnpickler(file, pkl, in, pid -> storageRef(file, pid, refs, false)).load();
            if (in.position() != pickle.length) {
                throw new WeightsFormatException(file, pkl + ": " + (pickle.length - in.position())
                        + " unexpected bytes after the pickle's STOP opcode");
            }
            Map<String, Object> arrays = new HashMap<>();
            HeapBudget budget = new HeapBudget(file, heapLimit);
            Map<String, ZipDataOffsets.Member> offsets = ZipDataOffsets.read(channel);
            StorageSource source = ref -> {
                Object a = arrays.get(ref.key());
                if (a == null) {
                    String name = prefix + "data/" + ref.key();
                    ZipEntry e = zip.getEntry(name);
                    if (e == null) {
                        throw new WeightsFormatException(file, "storage entry " + WeightsFormatException.quote(name)
                                + " missing from the archive");
                    }
                    a = readStorage(file, zip, e, ref, budget, channel, offsets.get(name));
                    arrays.put(ref.key(), a);
                }
                return a;
            };
            return new Converter(file, source, budget).top(root);
        }
    }

    private static Object readStorage(Path file, ZipFile zip, ZipEntry e, StorageRef ref, HeapBudget budget,
                                      FileChannel channel, ZipDataOffsets.Member at) throws IOException {
        long bytes = Math.multiplyExact(ref.numel(), ref.type().codec.size);
        if (e.getSize() >= 0 && e.getSize() != bytes) {
            throw new WeightsFormatException(file, "storage entry " + WeightsFormatException.quote(e.getName())
                    + ": expected " + bytes + " bytes (" + ref.numel() + " x " + ref.type().className + "), found "
                    + e.getSize());
        }
        if (ref.numel() > Integer.MAX_VALUE - 8) {
            throw new WeightsFormatException(file, "storage " + WeightsFormatException.quote(ref.key()) + " of "
                    + ref.numel() + " elements is too large");
        }
        // torch stores members uncompressed, so the bytes must really be in the file; checked before allocating.
        long fileSize = Files.size(file);
        if (e.getMethod() == ZipEntry.STORED && e.getCompressedSize() > fileSize) {
            throw new WeightsFormatException(file, "storage entry " + WeightsFormatException.quote(e.getName())
                    + ": truncated (" + e.getSize() + " bytes declared, file has " + fileSize + ")");
        }
        // A compressed entry (not what torch writes, but a re-packed archive may have them) cannot inflate to more
        // than deflate's maximum ratio allows; a storage claiming more is refused before its array is allocated.
        long packed = e.getCompressedSize() >= 0 ? e.getCompressedSize() : fileSize;
        if (e.getMethod() != ZipEntry.STORED && bytes > Math.min(packed, fileSize) * DEFLATE_MAX_RATIO + 64) {
            throw new WeightsFormatException(file, "storage entry " + WeightsFormatException.quote(e.getName())
                    + ": the pickle declares " + bytes + " bytes (" + ref.numel() + " x " + ref.type().className
                    + "), more than " + packed + " compressed bytes can inflate to");
        }
        budget.claim(ref.type().codec, ref.numel(), "storage " + WeightsFormatException.quote(ref.key()));
        if (at != null && e.getMethod() == ZipEntry.STORED && at.size() == bytes && e.getSize() == bytes
                && at.crc() == e.getCrc() && bytes <= Integer.MAX_VALUE) {
            // Memory-mapped: one CRC pass and one decoding copy straight from the page cache (see ZipDataOffsets).
            try {
                java.nio.MappedByteBuffer m = channel.map(FileChannel.MapMode.READ_ONLY, at.dataOffset(), bytes);
                CRC32 crc = new CRC32();
                crc.update(m.duplicate());
                if (crc.getValue() != e.getCrc()) checkCrc(file, e, crc);
                Object a = ref.type().codec.newArray((int) ref.numel());
                ref.type().codec.decode(m.order(ByteOrder.LITTLE_ENDIAN), a, 0, (int) ref.numel());
                return a;
            } catch (OutOfMemoryError x) {
                throw budget.outOfMemory("storage " + WeightsFormatException.quote(ref.key()), bytes);
            }
        }
        CRC32 crc = new CRC32();
        try (InputStream raw = zip.getInputStream(e);
             InputStream in = new java.util.zip.CheckedInputStream(raw, crc)) {
            Object a = ref.type().codec.read(in, ByteOrder.LITTLE_ENDIAN, (int) ref.numel());
            // The inflated data is bounded by what the pickle says the storage holds: one byte more is an error, and
            // nothing past that byte is inflated.
            if (in.read() >= 0) {
                throw new WeightsFormatException(file, "storage entry " + WeightsFormatException.quote(e.getName())
                        + ": holds more than the " + bytes + " bytes its storage declares (" + ref.numel() + " x "
                        + ref.type().className + ")");
            }
            checkCrc(file, e, crc);
            return a;
        } catch (OutOfMemoryError x) {
            throw budget.outOfMemory("storage " + WeightsFormatException.quote(ref.key()), bytes);
        } catch (EOFException | ZipException x) {
            throw new WeightsFormatException(file, "storage entry " + WeightsFormatException.quote(e.getName())
                    + ": truncated or corrupt (" + reason(x) + ")", x);
        }
    }

    private static byte[] entryBytes(Path file, ZipFile zip, ZipEntry e, int max) throws IOException {
        if (e.getSize() > max) {
            throw new WeightsFormatException(file, "entry " + WeightsFormatException.quote(e.getName()) + " is too large ("
                    + e.getSize() + " bytes, at most " + max + " expected)");
        }
        CRC32 crc = new CRC32();
        try (InputStream in = new java.util.zip.CheckedInputStream(zip.getInputStream(e), crc)) {
            // One byte past the limit is enough to know the size field lied; nothing more is inflated.
            byte[] b = in.readNBytes(max + 1);
            if (b.length > max) {
                throw new WeightsFormatException(file, "entry " + WeightsFormatException.quote(e.getName())
                        + " inflates to more than " + max + " bytes (expected at most " + max + ")");
            }
            if (e.getSize() >= 0 && b.length != e.getSize()) {
                throw new WeightsFormatException(file, "entry " + WeightsFormatException.quote(e.getName())
                        + ": truncated (expected " + e.getSize() + " bytes, found " + b.length + ")");
            }
            checkCrc(file, e, crc);
            return b;
        } catch (EOFException | ZipException x) {
            throw new WeightsFormatException(file, "entry " + WeightsFormatException.quote(e.getName())
                    + ": truncated or corrupt (" + reason(x) + ")", x);
        }
    }

    private static void checkCrc(Path file, ZipEntry e, CRC32 crc) throws WeightsFormatException {
        // torch writes its members uncompressed, and Java does not verify CRCs of stored entries on its own.
        if (e.getCrc() != -1 && e.getCrc() != crc.getValue()) {
            throw new WeightsFormatException(file, "entry " + WeightsFormatException.quote(e.getName())
                    + " fails its CRC-32 check (file corrupted)");
        }
    }

    // --------------------------------------------------------------------------------------------- legacy format

    private static Map<String, Object> readLegacy(Path file, long fileSize, long heapLimit) throws IOException {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            PickleInput in = new PickleInput(raw, 0);
            Object magic = new RestrictedUnpickler(file, "legacy pickle 1 (magic number)", in, null).load();
            if (!(magic instanceof BigInteger b && b.equals(LEGACY_MAGIC))) {
                throw new WeightsFormatException(file, "legacy checkpoint: expected magic number 0x"
                        + LEGACY_MAGIC.toString(16) + ", found " + describeScalar(magic)
                        + " (a plain pickle, not written by torch.save?)");
            }
            Object version = new RestrictedUnpickler(file, "legacy pickle 2 (protocol version)", in, null).load();
            if (!(version instanceof Long v && v == LEGACY_PROTOCOL_VERSION)) {
                throw new WeightsFormatException(file, "legacy checkpoint: expected protocol version "
                        + LEGACY_PROTOCOL_VERSION + ", found " + describeScalar(version));
            }
            Object sysInfo = new RestrictedUnpickler(file, "legacy pickle 3 (system info)", in, null).load();
            if (sysInfo instanceof Map<?, ?> m && Boolean.FALSE.equals(m.get("little_endian"))) {
                throw new WeightsFormatException(file, "legacy checkpoint: 'little_endian' is False"
                        + " (big-endian checkpoints are not supported)");
            }
            Map<String, StorageRef> refs = new HashMap<>();
            Object root = new RestrictedUnpickler(file, "legacy pickle 4 (the saved object)", in,
                    pid -> storageRef(file, pid, refs, true)).load();
            Object keysObj = new RestrictedUnpickler(file, "legacy pickle 5 (storage keys)", in, null).load();
            if (!(keysObj instanceof List<?> keys)) {
                throw new WeightsFormatException(file, "legacy checkpoint: expected a list of storage keys, found "
                        + RestrictedUnpickler.describe(keysObj));
            }
            Map<String, Object> arrays = new HashMap<>();
            HeapBudget budget = new HeapBudget(file, heapLimit);
            InputStream data = in.stream();
            for (Object k : keys) {
                if (!(k instanceof String key) || !refs.containsKey(k)) {
                    throw new WeightsFormatException(file, "legacy checkpoint: storage key " + describeScalar(k)
                            + " is not used by any tensor");
                }
                StorageRef ref = refs.get(key);
                long at = in.position();
                byte[] nb = data.readNBytes(8);
                if (nb.length < 8) throw truncatedStorage(file, key, at, fileSize);
                long count = 0;
                for (int i = 0; i < 8; i++) count |= (long) (nb[i] & 0xff) << (8 * i);
                if (count != ref.numel()) {
                    throw new WeightsFormatException(file, "legacy storage " + WeightsFormatException.quote(key)
                            + ": expected " + ref.numel() + " elements, found a count of " + count + " at byte " + at);
                }
                if (count > Integer.MAX_VALUE - 8) {
                    throw new WeightsFormatException(file, "storage " + WeightsFormatException.quote(key) + " of "
                            + count + " elements is too large");
                }
                // Checked before allocating, so a lying count cannot demand gigabytes from a small file.
                if (count * ref.type().codec.size > fileSize - in.position()) throw truncatedStorage(file, key, at, fileSize);
                String what = "storage " + WeightsFormatException.quote(key);
                budget.claim(ref.type().codec, count, what);
                try {
                    arrays.put(key, ref.type().codec.read(data, ByteOrder.LITTLE_ENDIAN, (int) count));
                } catch (EOFException e) {
                    throw truncatedStorage(file, key, at, fileSize);
                } catch (OutOfMemoryError e) {
                    throw budget.outOfMemory(what, count * ref.type().codec.target.bytes());
                }
            }
            for (String key : refs.keySet()) {
                if (!arrays.containsKey(key)) {
                    throw new WeightsFormatException(file, "legacy checkpoint: storage " + WeightsFormatException.quote(key)
                            + " is used by a tensor but not listed in the storage keys");
                }
            }
            if (in.position() != fileSize) {
                throw new WeightsFormatException(file, "legacy checkpoint: " + (fileSize - in.position())
                        + " unexpected bytes after the last storage");
            }
            return new Converter(file, ref -> arrays.get(ref.key()), budget).top(root);
        }
    }

    private static WeightsFormatException truncatedStorage(Path file, String key, long at, long fileSize) {
        return new WeightsFormatException(file, "truncated: legacy storage " + WeightsFormatException.quote(key)
                + " starting at byte " + at + " runs past the end of the file (" + fileSize + " bytes)");
    }

    // ------------------------------------------------------------------------------------------ persistent ids

    /** Interprets {@code ('storage', storage_class, key, location, numel[, view_metadata])}. */
    private static StorageRef storageRef(Path file, Object pid, Map<String, StorageRef> refs, boolean legacy)
            throws WeightsFormatException {
        if (!(pid instanceof Tuple t) || t.size() < 5 || t.size() > 6 || !"storage".equals(t.get(0))) {
            throw new WeightsFormatException(file, "persistent id " + describeScalar(pid)
                    + " is not a ('storage', type, key, location, numel) tuple");
        }
        if (!(t.get(1) instanceof RestrictedUnpickler.Global g) || g.storage() == null) {
            throw new WeightsFormatException(file, "persistent id: expected a torch.*Storage class, found "
                    + RestrictedUnpickler.describe(t.get(1)));
        }
        if (!(t.get(2) instanceof String key) || !(t.get(3) instanceof String) || !(t.get(4) instanceof Long numel)
                || numel < 0) {
            throw new WeightsFormatException(file, "persistent id " + describeScalar(pid)
                    + ": expected (str key, str location, int numel)");
        }
        StorageType type = g.storage();
        StorageRef root = refs.get(key);
        if (root == null) {
            root = new StorageRef(key, type, numel, 0, numel);
            refs.put(key, root);
        } else if (root.type() != type || root.numel() != numel) {
            throw new WeightsFormatException(file, "storage " + WeightsFormatException.quote(key) + " is declared twice as "
                    + root.type().className + "[" + root.numel() + "] and " + type.className + "[" + numel + "]");
        }
        Object view = t.size() == 6 ? t.get(5) : null;
        if (view == null) return root;
        // Legacy view storages: (view_key, offset, size) within the root, in elements.
        if (!legacy || !(view instanceof Tuple v) || v.size() != 3 || !(v.get(0) instanceof String)
                || !(v.get(1) instanceof Long off) || !(v.get(2) instanceof Long len)
                || off < 0 || len < 0 || off + len > numel) {
            throw new WeightsFormatException(file, "storage " + WeightsFormatException.quote(key)
                    + ": invalid view metadata " + describeScalar(view));
        }
        return new StorageRef(key, type, numel, off, len);
    }

    // ------------------------------------------------------------------------------ conversion to Java values

    @FunctionalInterface
    private interface StorageSource {
        Object array(StorageRef ref) throws IOException;
    }

    /** Turns the unpickled object graph into the public representation, keeping shared objects shared. */
    private static final class Converter {
        private final Path file;
        private final StorageSource storages;
        private final HeapBudget budget;
        private final IdentityHashMap<Object, Object> done = new IdentityHashMap<>();
        private final IdentityHashMap<Object, Boolean> inProgress = new IdentityHashMap<>();
        /** Storage arrays already handed to a tensor as its own (see materialise). */
        private final java.util.Set<Object> handedOut = java.util.Collections.newSetFromMap(new IdentityHashMap<>());

        Converter(Path file, StorageSource storages, HeapBudget budget) {
            this.file = file;
            this.storages = storages;
            this.budget = budget;
        }

        @SuppressWarnings("unchecked")
        Map<String, Object> top(Object root) throws IOException {
            if (!(root instanceof Map)) {
                throw new WeightsFormatException(file, "top-level object is " + RestrictedUnpickler.describe(root)
                        + ", expected a dict (a state_dict or a dict of state_dicts)");
            }
            return (Map<String, Object>) convert(root, "", 0);
        }

        private Object convert(Object v, String path, int depth) throws IOException {
            if (v == null || v instanceof String || v instanceof Long || v instanceof Double || v instanceof Boolean
                    || v instanceof BigInteger || v instanceof byte[]) {
                return v;
            }
            if (depth > MAX_DEPTH) {
                throw new WeightsFormatException(file, "key " + WeightsFormatException.quote(path) + ": objects nested deeper than "
                        + MAX_DEPTH + " levels");
            }
            Object known = done.get(v);
            if (known != null) return known;
            if (v instanceof Map<?, ?> m) {
                LinkedHashMap<String, Object> out = new LinkedHashMap<>();
                done.put(v, out);
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    String k = key(e.getKey(), path);
                    out.put(k, convert(e.getValue(), join(path, k), depth + 1));
                }
                return out;
            }
            if (v instanceof ArrayList<?> l) {
                List<Object> out = new ArrayList<>(l.size());
                done.put(v, out);
                for (int i = 0; i < l.size(); i++) out.add(convert(l.get(i), join(path, String.valueOf(i)), depth + 1));
                return out;
            }
            if (v instanceof Tuple t) {
                if (inProgress.put(v, Boolean.TRUE) != null) {
                    throw new WeightsFormatException(file, "key " + WeightsFormatException.quote(path) + ": recursive tuple");
                }
                List<Object> items = new ArrayList<>(t.size());
                for (int i = 0; i < t.size(); i++) items.add(convert(t.get(i), join(path, String.valueOf(i)), depth + 1));
                List<Object> out = Collections.unmodifiableList(items);
                inProgress.remove(v);
                done.put(v, out);
                return out;
            }
            if (v instanceof TensorRef t) {
                HostTensor out = materialise(t, path);
                done.put(v, out);
                return out;
            }
            if (v instanceof StorageRef s) {
                // A bare storage (not wrapped in a tensor): expose it as the 1-D tensor of its elements.
                HostTensor out = materialise(new TensorRef(s, 0, new long[] {s.viewNumel()}, new long[] {1}), path);
                done.put(v, out);
                return out;
            }
            throw new WeightsFormatException(file, "key " + WeightsFormatException.quote(path) + ": value is "
                    + RestrictedUnpickler.describe(v) + ", which a state_dict never holds");
        }

        private String key(Object k, String path) throws WeightsFormatException {
            if (k instanceof String s) return s;
            if (k instanceof Long || k instanceof BigInteger) return k.toString();
            throw new WeightsFormatException(file, "dict " + WeightsFormatException.quote(path) + " has a key that is "
                    + RestrictedUnpickler.describe(k) + " (expected str or int keys)");
        }

        private HostTensor materialise(TensorRef t, String path) throws IOException {
            StorageRef s = t.storage();
            long[] size = t.size();
            long[] stride = t.stride();
            String where = "key " + WeightsFormatException.quote(path);
            long n;
            long last;
            try {
                n = HostTensor.numel(size);
                last = t.offset();
                for (int i = 0; i < size.length; i++) {
                    if (stride[i] < 0) throw new ArithmeticException("negative stride");
                    if (size[i] > 0) last = Math.addExact(last, Math.multiplyExact(size[i] - 1, stride[i]));
                }
            } catch (ArithmeticException | IllegalArgumentException e) {
                throw new WeightsFormatException(file, where + ": invalid size " + Arrays.toString(size) + " / stride "
                        + Arrays.toString(stride), e);
            }
            if (n > Integer.MAX_VALUE - 8) {
                throw new WeightsFormatException(file, where + ": tensor of " + n + " elements is too large");
            }
            if (n > 0 && (t.offset() < 0 || last >= s.viewNumel())) {
                throw new WeightsFormatException(file, where + ": size " + Arrays.toString(size) + ", stride "
                        + Arrays.toString(stride) + " and offset " + t.offset() + " reach element " + last
                        + " of a storage holding " + s.viewNumel());
            }
            Object src = storages.array(s);
            if (src == null) {
                throw new WeightsFormatException(file, where + ": storage " + WeightsFormatException.quote(s.key()) + " missing");
            }
            // The first tensor that is exactly its whole storage, contiguous from element 0, takes the storage's
            // array itself (no second copy of the weights: loading a 1.5 GB checkpoint allocated and copied 3 GB);
            // every other tensor is a copy. No two tensors share an array, and all copies are made before the
            // result is returned, so a caller that writes into one tensor changes no other.
            if (n > 0 && t.offset() == 0 && s.viewOffset() == 0
                    && n == java.lang.reflect.Array.getLength(src) && contiguous(size, stride) && handedOut.add(src)) {
                return ElementCodec.wrap(src, size);
            }
            // Every other tensor is a copy, so many tensors viewing one large storage multiply its memory: counted too.
            budget.claim(s.type().codec, n, where);
            Object dst;
            try {
                dst = s.type().codec.newArray((int) n);
            } catch (OutOfMemoryError x) {
                throw budget.outOfMemory(where, n * s.type().codec.target.bytes());
            }
            if (n > 0) gather(src, (int) (s.viewOffset() + t.offset()), size, stride, dst);
            return ElementCodec.wrap(dst, size);
        }
    }

    /** True when size/stride describe a C-order contiguous layout (dimensions of size 1 may have any stride). */
    static boolean contiguous(long[] size, long[] stride) {
        long expect = 1;
        for (int i = size.length - 1; i >= 0; i--) {
            if (size[i] != 1 && stride[i] != expect) return false;
            expect *= size[i];
        }
        return true;
    }

    /** Copies a strided view of {@code src} into {@code dst} in C order. Bounds were checked by the caller. */
    static void gather(Object src, int offset, long[] size, long[] stride, Object dst) {
        int rank = size.length;
        int n = java.lang.reflect.Array.getLength(dst);
        boolean contiguous = true;
        long expect = 1;
        for (int i = rank - 1; i >= 0; i--) {
            if (size[i] != 1 && stride[i] != expect) contiguous = false;
            expect *= size[i];
        }
        if (contiguous) {
            System.arraycopy(src, offset, dst, 0, n);
            return;
        }
        int inner = (int) size[rank - 1];
        int innerStride = (int) stride[rank - 1];
        int[] idx = new int[rank];
        long base = offset;
        for (int out = 0; out < n; out += inner) {
            copyRow(src, (int) base, innerStride, dst, out, inner);
            // Odometer over the outer dimensions, updating the source position incrementally.
            for (int d = rank - 2; d >= 0; d--) {
                if (++idx[d] < size[d]) {
                    base += stride[d];
                    break;
                }
                base -= stride[d] * (size[d] - 1);
                idx[d] = 0;
            }
        }
    }

    private static void copyRow(Object src, int from, int step, Object dst, int to, int len) {
        if (step == 1) {
            System.arraycopy(src, from, dst, to, len);
            return;
        }
        if (src instanceof float[] s) { float[] d = (float[]) dst; for (int i = 0; i < len; i++) d[to + i] = s[from + i * step]; }
        else if (src instanceof double[] s) { double[] d = (double[]) dst; for (int i = 0; i < len; i++) d[to + i] = s[from + i * step]; }
        else if (src instanceof long[] s) { long[] d = (long[]) dst; for (int i = 0; i < len; i++) d[to + i] = s[from + i * step]; }
        else if (src instanceof int[] s) { int[] d = (int[]) dst; for (int i = 0; i < len; i++) d[to + i] = s[from + i * step]; }
        else { byte[] s = (byte[]) src; byte[] d = (byte[]) dst; for (int i = 0; i < len; i++) d[to + i] = s[from + i * step]; }
    }

    private static String reason(Throwable t) {
        return t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    }

    private static String join(String path, String k) {
        // Paths only name things in messages. Cut, they cannot grow with depth × key length (1000 nested dicts with
        // 1 KB keys would otherwise keep 500 MB of path strings alive on the recursion stack).
        if (path.length() >= MAX_PATH) return path;
        String p = path.isEmpty() ? k : path + "/" + k;
        return p.length() > MAX_PATH ? p.substring(0, MAX_PATH - 3) + "..." : p;
    }

    /**
     * The heap a checkpoint's arrays may take: their total (storages plus the tensors copied out of them) is checked
     * against the JVM's maximum heap before each array is allocated, so a file that declares more than fits is refused
     * in one line instead of ending in OutOfMemoryError; an allocation that fails anyway is reported the same way.
     */
    private static final class HeapBudget {
        private final Path file;
        private final long limit;
        private long used;

        HeapBudget(Path file, long limit) {
            this.file = file;
            this.limit = limit;
        }

        void claim(ElementCodec codec, long count, String what) throws WeightsFormatException {
            long bytes = count * codec.target.bytes(); // count < 2^31 and bytes() <= 8: no overflow
            if (bytes > limit - used) throw tooLarge(what, bytes);
            used += bytes;
        }

        WeightsFormatException outOfMemory(String what, long bytes) {
            return tooLarge(what, bytes);
        }

        private WeightsFormatException tooLarge(String what, long bytes) {
            return new WeightsFormatException(file, what + " needs " + mb(bytes) + " of memory, and with the " + mb(used)
                    + " already read the checkpoint does not fit in this JVM's " + mb(limit) + " heap (raise -Xmx)");
        }

        private static String mb(long bytes) {
            return String.format(java.util.Locale.ROOT, "%.1f MB", bytes / 1048576.0);
        }
    }

    private static String describeScalar(Object o) {
        if (o instanceof String s) return WeightsFormatException.quote(s);
        if (o instanceof Long || o instanceof BigInteger || o instanceof Boolean || o instanceof Double) return o.toString();
        return RestrictedUnpickler.describe(o);
    }

    private static String typeName(Object v) {
        if (v instanceof Map) return "a dict";
        if (v instanceof List) return "a list";
        return RestrictedUnpickler.describe(v);
    }
}
