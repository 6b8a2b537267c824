package crd4j.io;

import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * How one element type is laid out in a file, and the conversion to the {@link DType} crd4j keeps it as in memory.
 * Half-precision formats are widened to FLOAT32 and booleans become UINT8 (0/1), since HostTensor has neither.
 */
enum ElementCodec {
    F32(4, DType.FLOAT32),
    F64(8, DType.FLOAT64),
    I64(8, DType.INT64),
    I32(4, DType.INT32),
    U8(1, DType.UINT8),
    BOOL(1, DType.UINT8),
    F16(2, DType.FLOAT32),
    BF16(2, DType.FLOAT32);

    /** Bytes converted per step: big enough to amortise the per-chunk cost, small enough to stay in cache. */
    private static final int CHUNK = 1 << 16;

    final int size;
    final DType target;

    ElementCodec(int size, DType target) {
        this.size = size;
        this.target = target;
    }

    static ElementCodec of(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> F32;
            case FLOAT64 -> F64;
            case INT64 -> I64;
            case INT32 -> I32;
            case UINT8 -> U8;
        };
    }

    /** Allocates the Java array for {@code count} elements of {@link #target}. */
    Object newArray(int count) {
        return switch (target) {
            case FLOAT32 -> new float[count];
            case FLOAT64 -> new double[count];
            case INT64 -> new long[count];
            case INT32 -> new int[count];
            case UINT8 -> new byte[count];
        };
    }

    /**
     * Reads exactly {@code count} elements from {@code in} into a new array of {@link #target}'s Java type.
     *
     * @throws EOFException when the stream ends early; callers turn it into a {@link WeightsFormatException}
     */
    Object read(InputStream in, ByteOrder order, int count) throws IOException {
        Object dst = newArray(count);
        byte[] buf = new byte[(int) Math.min(CHUNK, (long) count * size)];
        int per = Math.max(1, buf.length / size);
        for (int done = 0; done < count; ) {
            int n = Math.min(per, count - done);
            int want = n * size;
            int got = in.readNBytes(buf, 0, want);
            if (got < want) {
                throw new EOFException("needed " + ((long) count * size) + " bytes, stream ended after "
                        + ((long) done * size + got));
            }
            decode(ByteBuffer.wrap(buf, 0, want).order(order), dst, done, n);
            done += n;
        }
        return dst;
    }

    /** Decodes {@code n} elements from {@code src} (its position onwards) into {@code dst[at..]}. */
    void decode(ByteBuffer src, Object dst, int at, int n) {
        switch (this) {
            case F32 -> src.asFloatBuffer().get((float[]) dst, at, n);
            case F64 -> src.asDoubleBuffer().get((double[]) dst, at, n);
            case I64 -> src.asLongBuffer().get((long[]) dst, at, n);
            case I32 -> src.asIntBuffer().get((int[]) dst, at, n);
            case U8 -> src.get((byte[]) dst, at, n);
            case BOOL -> {
                byte[] b = (byte[]) dst;
                src.get(b, at, n);
                for (int i = at; i < at + n; i++) b[i] = (byte) (b[i] != 0 ? 1 : 0);
            }
            case F16 -> {
                float[] f = (float[]) dst;
                int p = src.position();
                for (int i = 0; i < n; i++) f[at + i] = halfToFloat(src.getShort(p + 2 * i));
            }
            case BF16 -> {
                float[] f = (float[]) dst;
                int p = src.position();
                for (int i = 0; i < n; i++) f[at + i] = Float.intBitsToFloat((src.getShort(p + 2 * i) & 0xffff) << 16);
            }
        }
    }

    /** Writes the tensor's elements little-endian in C order; only the five native codecs can be written. */
    static void write(HostTensor t, OutputStream out) throws IOException {
        ElementCodec c = of(t.dtype());
        int count = Math.toIntExact(t.numel());
        if (c == U8) {
            out.write(t.bytes(), 0, count);
            return;
        }
        int per = CHUNK / c.size;
        ByteBuffer bb = ByteBuffer.allocate(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        for (int done = 0; done < count; ) {
            int n = Math.min(per, count - done);
            bb.clear();
            switch (c) {
                case F32 -> bb.asFloatBuffer().put(t.floats(), done, n);
                case F64 -> bb.asDoubleBuffer().put(t.doubles(), done, n);
                case I64 -> bb.asLongBuffer().put(t.longs(), done, n);
                case I32 -> bb.asIntBuffer().put(t.ints(), done, n);
                default -> throw new AssertionError(c);
            }
            out.write(bb.array(), 0, n * c.size);
            done += n;
        }
    }

    /** Wraps a Java array made by {@link #newArray} as a tensor. */
    static HostTensor wrap(Object array, long[] shape) {
        if (array instanceof float[] a) return HostTensor.of(a, shape);
        if (array instanceof double[] a) return HostTensor.of(a, shape);
        if (array instanceof long[] a) return HostTensor.of(a, shape);
        if (array instanceof int[] a) return HostTensor.of(a, shape);
        if (array instanceof byte[] a) return HostTensor.of(a, shape);
        throw new IllegalArgumentException(String.valueOf(array));
    }

    /** IEEE 754 binary16 to binary32, exact for every input including subnormals, infinities and NaN payloads. */
    static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        if (exp != 0) return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
        if (mant == 0) return Float.intBitsToFloat(sign);
        // Subnormal half: value = mant * 2^-24, exactly representable as a normal float.
        float v = mant * 0x1p-24f;
        return sign != 0 ? -v : v;
    }
}
