package crd4j.data;

import crd4j.io.WeightsFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Images whose header claims more than the file holds (issue 13, findings 2 and 7), built here from tiny real ones. */
class HostileImageTest {
    @TempDir Path tmp;

    interface Reader { void read(Path f) throws IOException; }

    private static String refused(Path f, Reader r) {
        WeightsFormatException e = assertTimeoutPreemptively(Duration.ofSeconds(20),
                () -> assertThrows(WeightsFormatException.class, () -> r.read(f)));
        String m = e.getMessage();
        assertFalse(m.contains("\n"), m);
        assertTrue(m.startsWith(f + ": "), m);
        assertFalse(m.endsWith(": null"), m);
        return m;
    }

    /** A 2×2 xyz TIFF from the project's writer, its ImageWidth and ImageLength then patched to w × h. */
    static byte[] tiffClaiming(int w, int h) {
        byte[] b = XyzTiffWriter.encode(new XyzTiff(2, 2, new float[12]));
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(256, bb.getShort(10), "first IFD entry is ImageWidth");
        bb.putInt(18, w);
        assertEquals(257, bb.getShort(22), "second IFD entry is ImageLength");
        bb.putInt(30, h);
        return b;
    }

    @Test
    void tinyTiffClaiming12000x12000IsRefusedBeforeDecoding() throws IOException {
        Path f = tmp.resolve("huge.tiff");
        Files.write(f, tiffClaiming(12000, 12000));
        assertTrue(Files.size(f) < 1500);
        String m = refused(f, XyzTiff::read);
        assertTrue(m.contains("declares an image of 12000 x 12000 pixels; at most 67108864 pixels"), m);
        Files.write(f, tiffClaiming(4000, 4000));
        m = refused(f, XyzTiff::read);
        assertTrue(m.contains("declares an image of 4000 x 4000 pixels, more than a file of"), m);
    }

    /**
     * Every truncation of a small xyz TIFF is refused with a message that says something (the finding: an EOF inside
     * the header ended in ": null"); cut inside the header, it says the file ends early.
     */
    @Test
    void everyTruncatedTiffIsRefusedWithAReason() throws IOException {
        byte[] full = XyzTiffWriter.encode(new XyzTiff(2, 2, new float[12]));
        Path f = tmp.resolve("cut.tiff");
        int endsEarly = 0;
        for (int n = 4; n < full.length; n++) {
            Files.write(f, Arrays.copyOf(full, n));
            if (refused(f, XyzTiff::read).contains("the file ends early (truncated)")) endsEarly++;
        }
        assertTrue(endsEarly > 0, "some truncations hit an EOF inside the header");
    }

    /** A 2×2 PNG with its IHDR width and height patched (and the chunk CRC recomputed). */
    static byte[] pngClaiming(int w, int h) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        ImageIO.write(new BufferedImage(2, 2, BufferedImage.TYPE_3BYTE_BGR), "png", bos);
        byte[] b = bos.toByteArray();
        ByteBuffer bb = ByteBuffer.wrap(b); // PNG is big-endian
        assertEquals(0x49484452, bb.getInt(12), "IHDR first");
        bb.putInt(16, w).putInt(20, h);
        CRC32 crc = new CRC32();
        crc.update(b, 12, 17);
        bb.putInt(29, (int) crc.getValue());
        return b;
    }

    @Test
    void tinyPngClaiming12000x12000IsRefusedBeforeDecoding() throws IOException {
        Path f = tmp.resolve("huge.png");
        Files.write(f, pngClaiming(12000, 12000));
        String m = refused(f, ImageInputs::read);
        assertTrue(m.contains("declares an image of 12000 x 12000 pixels; at most"), m);
        Files.write(f, pngClaiming(3000, 3000));
        m = refused(f, ImageInputs::read);
        assertTrue(m.contains("declares an image of 3000 x 3000 pixels, more than a file of"), m);
        Files.write(f, pngClaiming(2, 2));
        assertEquals(2, ImageInputs.read(f).width(), "the patching itself keeps a valid PNG");
    }

    @Test
    void everyTruncatedPngIsRefusedWithAReason() throws IOException {
        byte[] full = pngClaiming(2, 2);
        Path f = tmp.resolve("cut.png");
        for (int n = 8; n < full.length - 12; n++) { // up to the IEND chunk
            Files.write(f, Arrays.copyOf(full, n));
            refused(f, ImageInputs::read);
        }
    }
}
