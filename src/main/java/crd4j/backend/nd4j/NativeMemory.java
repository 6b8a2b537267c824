package crd4j.backend.nd4j;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Bulk copies between ND4J's native buffers and Java arrays, and pointers for {@link Blas}, through a few pointer
 * objects per thread whose address is set per call: no Java object per copy. ({@code DataBuffer.asNioFloat()} makes
 * a direct ByteBuffer, a float view and a JavaCPP pointer each time; with the GEMMs' per-operand pointers they were
 * half of the bytes a tiny-preset scoring call allocated, 2026-12-01 allocation profile, and every one of them is
 * garbage the next young collection must trace.) Every copy is bounds-checked against the buffer, since a wrong extent
 * would read or write outside native memory instead of throwing.
 */
final class NativeMemory {
    private NativeMemory() {}

    private static final ThreadLocal<Pointers> POINTERS = ThreadLocal.withInitial(Pointers::new);

    private static final class Pointers {
        final Floats[] f = {new Floats(), new Floats(), new Floats(), new Floats()};
        final Doubles[] d = {new Doubles(), new Doubles(), new Doubles(), new Doubles()};
    }

    /** A float pointer without a deallocator, aimed anew at each use. */
    private static final class Floats extends FloatPointer {
        Floats() { super((Pointer) null); }

        Floats at(long addr) {
            address = addr;
            position = 0;
            limit = 0;
            capacity = 0;
            return this;
        }
    }

    private static final class Doubles extends DoublePointer {
        Doubles() { super((Pointer) null); }

        Doubles at(long addr) {
            address = addr;
            position = 0;
            limit = 0;
            capacity = 0;
            return this;
        }
    }

    /** Slot 0–2 are {@link Blas}'s operands A, B, C; slot 3 is the copies'. */
    static FloatPointer floats(DataBuffer b, long off, int slot) {
        return POINTERS.get().f[slot].at(start(b, DataType.FLOAT) + 4 * off);
    }

    static DoublePointer doubles(DataBuffer b, long off, int slot) {
        return POINTERS.get().d[slot].at(start(b, DataType.DOUBLE) + 8 * off);
    }

    private static long start(DataBuffer b, DataType dt) {
        if (b.dataType() != dt || b.offset() != 0) {
            throw new IllegalArgumentException("native copy: a " + b.dataType() + " buffer at offset " + b.offset()
                    + "; " + dt + " from its first element expected");
        }
        return b.address();
    }

    private static void check(DataBuffer b, long at, int len, int off, int arrayLen) {
        if (at < 0 || len < 0 || off < 0 || at + len > b.length() || off + len > arrayLen) {
            throw new IndexOutOfBoundsException("native copy of " + len + " elements at " + at + " of a buffer of "
                    + b.length() + " / at " + off + " of an array of " + arrayLen);
        }
    }

    /** dst[off .. off+len) ← b[at .. at+len), float32. */
    static void read(DataBuffer b, long at, float[] dst, int off, int len) {
        check(b, at, len, off, dst.length);
        if (len > 0) floats(b, at, 3).get(dst, off, len);
    }

    /** b[at .. at+len) ← src[off .. off+len), float32. */
    static void write(DataBuffer b, long at, float[] src, int off, int len) {
        check(b, at, len, off, src.length);
        if (len > 0) floats(b, at, 3).put(src, off, len);
    }

    static void read(DataBuffer b, long at, double[] dst, int off, int len) {
        check(b, at, len, off, dst.length);
        if (len > 0) doubles(b, at, 3).get(dst, off, len);
    }

    static void write(DataBuffer b, long at, double[] src, int off, int len) {
        check(b, at, len, off, src.length);
        if (len > 0) doubles(b, at, 3).put(src, off, len);
    }

    /** dst[dstAt .. dstAt+len) ← src[srcAt .. srcAt+len), both float32 or both float64 (a memcpy: the same bits). */
    static void copy(DataBuffer src, long srcAt, DataBuffer dst, long dstAt, long len) {
        DataType dt = src.dataType();
        if (dst.dataType() != dt || (dt != DataType.FLOAT && dt != DataType.DOUBLE)) {
            throw new IllegalArgumentException("native copy: " + dt + " into " + dst.dataType());
        }
        if (srcAt < 0 || dstAt < 0 || len < 0 || srcAt + len > src.length() || dstAt + len > dst.length()) {
            throw new IndexOutOfBoundsException("native copy of " + len + " elements from " + srcAt + " of " + src.length()
                    + " to " + dstAt + " of " + dst.length());
        }
        if (len == 0) return;
        if (dt == DataType.FLOAT) Pointer.memcpy(floats(dst, dstAt, 0), floats(src, srcAt, 1), 4 * len);
        else Pointer.memcpy(doubles(dst, dstAt, 0), doubles(src, srcAt, 1), 8 * len);
    }
}
