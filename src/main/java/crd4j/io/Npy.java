package crd4j.io;

import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * NumPy {@code .npy} files (format versions 1.0, 2.0 and 3.0), the exchange format with the Python reference.
 *
 * <p>Readable dtypes: {@code <f4 <f8 <i8 <i4 |u1} (their big-endian forms too), {@code <f2} (widened to FLOAT32) and
 * {@code |b1} (read as UINT8 0/1). Only C-order arrays are accepted: a Fortran-order file would silently transpose
 * weights if read as C order, so it is refused. Writing produces version 1.0 (2.0 for huge headers) files that
 * {@code numpy.load} reads, through {@link AtomicFiles}.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final int ALIGN = 64;
    private static final long MAX_HEADER = 1 << 20;

    private Npy() {}

    /** Reads a whole {@code .npy} file into a C-order tensor. */
    public static HostTensor read(Path file) throws IOException {
        if (Files.isDirectory(file)) throw new WeightsFormatException(file, "is a directory (expected a NumPy .npy file)");
        long fileSize = Files.size(file);
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            Header h = readHeader(file, in, fileSize);
            long need = h.count * h.codec.size;
            long have = fileSize - h.dataStart;
            if (have < need) {
                throw new WeightsFormatException(file, "truncated: shape " + Arrays.toString(h.shape) + " of '"
                        + h.descr + "' needs " + need + " data bytes, file has " + have);
            }
            if (have > need) {
                throw new WeightsFormatException(file, (have - need) + " unexpected bytes after the array data (shape "
                        + Arrays.toString(h.shape) + " of '" + h.descr + "' needs " + need + ")");
            }
            if (h.count > Integer.MAX_VALUE - 8) {
                throw new WeightsFormatException(file, "array of " + h.count + " elements is too large for one tensor");
            }
            Object data = h.codec.read(in, h.order, (int) h.count);
            return ElementCodec.wrap(data, h.shape);
        } catch (EOFException e) {
            throw new WeightsFormatException(file, "truncated array data", e);
        }
    }

    /** Writes {@code t} as a version 1.0 (or 2.0 when the header needs it) C-order {@code .npy} file, atomically. */
    public static void write(Path file, HostTensor t) throws IOException {
        byte[] header = header(t.dtype(), t.shape());
        AtomicFiles.write(file, out -> {
            out.write(header);
            ElementCodec.write(t, out);
        });
    }

    private static byte[] header(DType dtype, long[] shape) {
        StringBuilder dict = new StringBuilder("{'descr': '").append(dtype.numpyDescr())
                .append("', 'fortran_order': False, 'shape': (");
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) dict.append(", ");
            dict.append(shape[i]);
        }
        if (shape.length == 1) dict.append(',');
        dict.append("), }");
        byte[] text = dict.toString().getBytes(StandardCharsets.ISO_8859_1);
        int major = text.length + 1 + 10 > 0xffff ? 2 : 1;
        int prefix = MAGIC.length + 2 + (major == 1 ? 2 : 4);
        // numpy pads the dict with spaces and ends it with '\n' so the data starts on a 64-byte boundary.
        int total = ((prefix + text.length + 1 + ALIGN - 1) / ALIGN) * ALIGN;
        int hlen = total - prefix;
        byte[] out = new byte[total];
        System.arraycopy(MAGIC, 0, out, 0, MAGIC.length);
        out[6] = (byte) major;
        out[7] = 0;
        if (major == 1) {
            out[8] = (byte) hlen;
            out[9] = (byte) (hlen >>> 8);
        } else {
            for (int i = 0; i < 4; i++) out[8 + i] = (byte) (hlen >>> (8 * i));
        }
        Arrays.fill(out, prefix, total, (byte) ' ');
        System.arraycopy(text, 0, out, prefix, text.length);
        out[total - 1] = '\n';
        return out;
    }

    private record Header(String descr, ElementCodec codec, ByteOrder order, long[] shape, long count, long dataStart) {}

    private static Header readHeader(Path file, InputStream in, long fileSize) throws IOException {
        if (fileSize == 0) throw new WeightsFormatException(file, "empty file (expected a NumPy .npy array)");
        byte[] pre = in.readNBytes(8);
        if (pre.length < MAGIC.length || !Arrays.equals(Arrays.copyOf(pre, MAGIC.length), MAGIC)) {
            throw new WeightsFormatException(file, "not a NumPy .npy file (magic \\x93NUMPY missing)");
        }
        if (pre.length < 8) throw new WeightsFormatException(file, "truncated .npy header");
        int major = pre[6] & 0xff;
        int minor = pre[7] & 0xff;
        if (major < 1 || major > 3 || minor != 0) {
            throw new WeightsFormatException(file, "unsupported .npy format version " + major + "." + minor
                    + " (expected 1.0, 2.0 or 3.0)");
        }
        int lenBytes = major == 1 ? 2 : 4;
        byte[] lb = in.readNBytes(lenBytes);
        if (lb.length < lenBytes) throw new WeightsFormatException(file, "truncated .npy header");
        long hlen = 0;
        for (int i = 0; i < lenBytes; i++) hlen |= (long) (lb[i] & 0xff) << (8 * i);
        // numpy's own header is a dict of three fields padded to 64 bytes (numpy.load refuses more than 10,000 bytes
        // unless told otherwise); 1 MB is generous and keeps a lying length from becoming a large allocation.
        if (hlen > MAX_HEADER) {
            throw new WeightsFormatException(file, "header length " + hlen + " is implausible (at most " + MAX_HEADER
                    + " bytes expected; not a .npy file?)");
        }
        long dataStart = 8 + lenBytes + hlen;
        if (dataStart > fileSize) {
            throw new WeightsFormatException(file, "truncated: header length " + hlen + " runs past the end of the file");
        }
        byte[] hb = in.readNBytes((int) hlen);
        if (hb.length < hlen) throw new WeightsFormatException(file, "truncated .npy header");
        String text = new String(hb, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Map<String, Object> dict = new HeaderParser(file, text).parseDict();
        for (String k : dict.keySet()) {
            if (!k.equals("descr") && !k.equals("fortran_order") && !k.equals("shape")) {
                throw new WeightsFormatException(file, "header key " + WeightsFormatException.quote(k)
                        + " not expected (expected only 'descr', 'fortran_order', 'shape')");
            }
        }
        Object descr = dict.get("descr");
        Object fortran = dict.get("fortran_order");
        Object shapeObj = dict.get("shape");
        if (!(descr instanceof String d)) {
            throw new WeightsFormatException(file, "header field 'descr': expected a dtype string such as '<f4'"
                    + (descr instanceof List ? ", found a structured dtype" : ", found " + descr));
        }
        if (!(fortran instanceof Boolean f)) {
            throw new WeightsFormatException(file, "header field 'fortran_order': expected True or False, found " + fortran);
        }
        if (f) {
            throw new WeightsFormatException(file, "header field 'fortran_order': expected False (C order), found True;"
                    + " save with numpy.ascontiguousarray(a)");
        }
        if (!(shapeObj instanceof long[] shape)) {
            throw new WeightsFormatException(file, "header field 'shape': expected a tuple of integers, found " + shapeObj);
        }
        long count;
        try {
            count = HostTensor.numel(shape);
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new WeightsFormatException(file, "header field 'shape': invalid shape " + Arrays.toString(shape), e);
        }
        ByteOrder order = d.startsWith(">") ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        String body = d.length() == 3 && "<>|".indexOf(d.charAt(0)) >= 0 ? d.substring(1) : "";
        ElementCodec codec = switch (body) {
            case "f4" -> ElementCodec.F32;
            case "f8" -> ElementCodec.F64;
            case "i8" -> ElementCodec.I64;
            case "i4" -> ElementCodec.I32;
            case "u1" -> ElementCodec.U8;
            case "b1" -> ElementCodec.BOOL;
            case "f2" -> ElementCodec.F16;
            default -> null;
        };
        // Multi-byte types need an explicit byte order; numpy writes '|' for one-byte types but '<'/'>' are harmless.
        if (codec == null || (codec.size > 1 && d.startsWith("|"))) {
            throw new WeightsFormatException(file, "header field 'descr': unsupported dtype " + WeightsFormatException.quote(d)
                    + " (expected '<f4', '<f8', '<i8', '<i4', '|u1', '<f2' or '|b1')");
        }
        if (Math.multiplyHigh(count, codec.size) != 0) {
            throw new WeightsFormatException(file, "header field 'shape': " + Arrays.toString(shape) + " is too large");
        }
        return new Header(d, codec, order, shape, count, dataStart);
    }

    /**
     * Parses the Python dict literal numpy writes as the header. Only the literal forms numpy emits are accepted:
     * quoted strings, True/False, and tuples of integers (with an optional Python 2 'L' suffix).
     */
    private static final class HeaderParser {
        private final Path file;
        private final String s;
        private int i;

        HeaderParser(Path file, String s) {
            this.file = file;
            this.s = s;
        }

        Map<String, Object> parseDict() throws WeightsFormatException {
            Map<String, Object> out = new LinkedHashMap<>();
            expect('{');
            while (true) {
                skipWs();
                if (peek() == '}') { i++; break; }
                String key = parseString();
                expect(':');
                if (out.put(key, parseValue()) != null) {
                    throw fail("duplicate key " + WeightsFormatException.quote(key));
                }
                skipWs();
                char c = next();
                if (c == '}') break;
                if (c != ',') throw fail("expected ',' or '}'");
            }
            skipWs();
            if (i != s.length()) throw fail("unexpected text after the dict");
            return out;
        }

        private Object parseValue() throws WeightsFormatException {
            skipWs();
            char c = peek();
            if (c == '\'' || c == '"') return parseString();
            if (c == '(') return parseTuple();
            if (c == '[') return List.of(); // structured dtype descriptor, reported by the caller
            if (s.startsWith("True", i)) { i += 4; return Boolean.TRUE; }
            if (s.startsWith("False", i)) { i += 5; return Boolean.FALSE; }
            throw fail("unexpected value");
        }

        private long[] parseTuple() throws WeightsFormatException {
            expect('(');
            List<Long> dims = new ArrayList<>();
            while (true) {
                skipWs();
                if (peek() == ')') { i++; break; }
                int start = i;
                while (i < s.length() && Character.isDigit(s.charAt(i))) i++;
                if (start == i) throw fail("expected a non-negative integer in the shape tuple");
                try {
                    dims.add(Long.parseLong(s.substring(start, i)));
                } catch (NumberFormatException e) {
                    throw fail("shape dimension out of range");
                }
                if (i < s.length() && s.charAt(i) == 'L') i++;
                skipWs();
                char c = next();
                if (c == ')') break;
                if (c != ',') throw fail("expected ',' or ')' in the shape tuple");
            }
            return dims.stream().mapToLong(Long::longValue).toArray();
        }

        private String parseString() throws WeightsFormatException {
            skipWs();
            char q = next();
            if (q != '\'' && q != '"') throw fail("expected a quoted string");
            int end = s.indexOf(q, i);
            if (end < 0) throw fail("unterminated string");
            String v = s.substring(i, end);
            i = end + 1;
            return v;
        }

        private void expect(char c) throws WeightsFormatException {
            skipWs();
            if (next() != c) throw fail("expected '" + c + "'");
        }

        private char peek() throws WeightsFormatException {
            if (i >= s.length()) throw fail("header ends early");
            return s.charAt(i);
        }

        private char next() throws WeightsFormatException {
            char c = peek();
            i++;
            return c;
        }

        private void skipWs() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }

        private WeightsFormatException fail(String what) {
            return new WeightsFormatException(file, "malformed .npy header at character " + i + ": " + what
                    + " (header " + WeightsFormatException.quote(s.strip()) + ")");
        }
    }
}
