package crd4j.data;

import crd4j.io.WeightsFormatException;

import javax.imageio.ImageReader;
import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Checks an image's declared size before it is decoded, so a tiny file that claims a huge image is refused in one
 * line instead of making the decoder allocate gigabytes. Two bounds:
 * <ul>
 *   <li>at most {@link #MAX_PIXELS} pixels (8192 × 8192; MVTec 3D-AD images are 800 × 800 and smaller), which keeps
 *   the decoded float32 xyz data under 1 GB;</li>
 *   <li>at most {@link #MAX_PIXELS_PER_BYTE} pixels per byte of the file: deflate (PNG, and TIFF's usual
 *   compressions) cannot expand by more than about 1032:1, and a pixel is at least one bit, so a file claiming more
 *   pixels than 1032 × 8 × its length cannot hold them.</li>
 * </ul>
 */
final class ImageLimits {
    static final long MAX_PIXELS = 8192L * 8192L;
    static final long MAX_PIXELS_PER_BYTE = 1032L * 8;

    private ImageLimits() {}

    /** Reads the first image's width and height from {@code reader} (its header only) and checks them. */
    static void check(Path file, ImageReader reader, long fileLength) throws IOException {
        long w = reader.getWidth(0);
        long h = reader.getHeight(0);
        if (w <= 0 || h <= 0) throw new WeightsFormatException(file, "declares an image of " + w + " x " + h + " pixels");
        long pixels = w * h;
        if (pixels > MAX_PIXELS) {
            throw new WeightsFormatException(file, "declares an image of " + w + " x " + h + " pixels; at most "
                    + MAX_PIXELS + " pixels (8192 x 8192) are read");
        }
        if (pixels > MAX_PIXELS_PER_BYTE * fileLength) {
            throw new WeightsFormatException(file, "declares an image of " + w + " x " + h + " pixels, more than a file of "
                    + fileLength + " bytes can hold (truncated or damaged header)");
        }
    }

    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    /**
     * For a PNG file: walks its chunks and checks each one's length against the file and its CRC-32, and that IHDR
     * comes first, at least one IDAT follows and IEND closes it. ImageIO's PNG reader decodes a file cut inside its
     * image data without complaint (the missing rows come out black); Pillow, the reference, refuses a truncated PNG
     * and a chunk with a bad CRC, and so does this. Files that are not PNGs are left to their decoder.
     */
    static void checkPngStructure(Path file) throws IOException {
        try (java.io.InputStream raw = java.nio.file.Files.newInputStream(file);
             java.io.DataInputStream in = new java.io.DataInputStream(new java.io.BufferedInputStream(raw, 1 << 16))) {
            byte[] sig = in.readNBytes(8);
            if (!java.util.Arrays.equals(sig, PNG_SIGNATURE)) return;
            long left = java.nio.file.Files.size(file) - 8;
            boolean first = true, idat = false;
            byte[] buf = new byte[1 << 16];
            while (true) {
                if (left < 12) throw new WeightsFormatException(file, "PNG ends early (truncated: no IEND chunk)");
                long len = in.readInt() & 0xffffffffL;
                byte[] type = in.readNBytes(4);
                String name = new String(type, java.nio.charset.StandardCharsets.ISO_8859_1);
                left -= 12;
                if (len > left) {
                    throw new WeightsFormatException(file, "PNG ends early (truncated inside its " + printable(name)
                            + " chunk: " + len + " bytes declared, " + left + " left)");
                }
                if (first && !name.equals("IHDR")) throw new WeightsFormatException(file, "PNG does not start with an IHDR chunk");
                first = false;
                java.util.zip.CRC32 crc = new java.util.zip.CRC32();
                crc.update(type);
                for (long done = 0; done < len; ) {
                    int k = (int) Math.min(buf.length, len - done);
                    in.readFully(buf, 0, k);
                    crc.update(buf, 0, k);
                    done += k;
                }
                left -= len;
                if ((in.readInt() & 0xffffffffL) != crc.getValue()) {
                    throw new WeightsFormatException(file, "PNG chunk " + printable(name) + " fails its CRC-32 check (file corrupted)");
                }
                if (name.equals("IDAT")) idat = true;
                if (name.equals("IEND")) {
                    if (!idat) throw new WeightsFormatException(file, "PNG has no IDAT (image data) chunk");
                    return;
                }
            }
        } catch (java.io.EOFException e) {
            throw new WeightsFormatException(file, "PNG ends early (truncated)", e);
        }
    }

    private static String printable(String chunk) {
        return chunk.matches("[A-Za-z]{4}") ? chunk : WeightsFormatException.quote(chunk);
    }

    /**
     * The reason a decoder failed, for the one-line message: "the file ends early" for an end-of-file anywhere in the
     * cause chain (ImageIO wraps it, often without a message), else the first message found, else the exception type.
     */
    static String reason(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof EOFException) return "the file ends early (truncated)";
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) return t.getMessage();
        }
        return e.getClass().getSimpleName();
    }
}
