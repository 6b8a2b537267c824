package crd4j.data;

import crd4j.io.AtomicFiles;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * Writes an organized point cloud ({@link XyzTiff}) as a minimal baseline TIFF: little-endian, uncompressed, one
 * strip, 3 IEEE float32 samples per pixel, interleaved (PlanarConfiguration 1), PhotometricInterpretation RGB. The
 * JDK ImageIO TIFF plugin ({@link XyzTiff#read}) and python {@code tifffile.imread} read it back bit for bit.
 *
 * <p>The output depends only on the data, so equal clouds give equal bytes.
 */
public final class XyzTiffWriter {
    private static final int ENTRIES = 11;

    private XyzTiffWriter() {}

    /** The complete TIFF file. */
    public static byte[] encode(XyzTiff xyz) {
        int w = xyz.width(), h = xyz.height();
        long dataBytes = 12L * w * h;
        int ifdOffset = 8;
        int ifdSize = 2 + ENTRIES * 12 + 4;
        int bitsOffset = ifdOffset + ifdSize;        // 3 SHORTs (6 bytes), padded to 8
        int formatOffset = bitsOffset + 8;           // 3 SHORTs
        int stripOffset = formatOffset + 8;
        long total = stripOffset + dataBytes;
        if (total > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("point cloud too large for one TIFF strip: " + w + "x" + h);
        ByteBuffer b = ByteBuffer.allocate((int) total).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 'I').put((byte) 'I').putShort((short) 42).putInt(ifdOffset);
        b.putShort((short) ENTRIES);
        entry(b, 256, 4, 1, w);                      // ImageWidth, LONG
        entry(b, 257, 4, 1, h);                      // ImageLength, LONG
        entry(b, 258, 3, 3, bitsOffset);             // BitsPerSample 32,32,32
        shortEntry(b, 259, 1);                       // Compression: none
        shortEntry(b, 262, 2);                       // PhotometricInterpretation: RGB
        entry(b, 273, 4, 1, stripOffset);            // StripOffsets
        shortEntry(b, 277, 3);                       // SamplesPerPixel
        entry(b, 278, 4, 1, h);                      // RowsPerStrip: the whole image
        entry(b, 279, 4, 1, (int) dataBytes);        // StripByteCounts
        shortEntry(b, 284, 1);                       // PlanarConfiguration: chunky
        entry(b, 339, 3, 3, formatOffset);           // SampleFormat 3,3,3 (IEEE float)
        b.putInt(0);                                 // no next IFD
        b.putShort((short) 32).putShort((short) 32).putShort((short) 32).putShort((short) 0);
        b.putShort((short) 3).putShort((short) 3).putShort((short) 3).putShort((short) 0);
        b.asFloatBuffer().put(xyz.data());
        return b.array();
    }

    /** Writes the TIFF atomically ({@link AtomicFiles}). */
    public static void write(Path file, XyzTiff xyz) throws IOException {
        AtomicFiles.write(file, encode(xyz));
    }

    private static void entry(ByteBuffer b, int tag, int type, int count, int value) {
        b.putShort((short) tag).putShort((short) type).putInt(count).putInt(value);
    }

    private static void shortEntry(ByteBuffer b, int tag, int value) {
        b.putShort((short) tag).putShort((short) 3).putInt(1).putShort((short) value).putShort((short) 0);
    }
}
