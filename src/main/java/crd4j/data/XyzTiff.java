package crd4j.data;

import crd4j.io.WeightsFormatException;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.DataBuffer;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;

/**
 * An organized point cloud: a float32 TIFF of shape (H, W, 3) holding x, y, z per pixel, as in MVTec 3D-AD. A missing
 * point is (0, 0, 0).
 *
 * <p>Read with the JDK's ImageIO TIFF plugin (JDK 9+), which handles 32-bit IEEE float samples, 3 samples per pixel,
 * strips or tiles, either byte order and the usual compressions. The file must hold exactly 3 float32 samples per
 * pixel; anything else is a {@link WeightsFormatException} naming the file.
 *
 * @param data interleaved {@code [H][W][3]} floats
 */
public record XyzTiff(int width, int height, float[] data) {
    public XyzTiff {
        if (data.length != 3L * width * height) {
            throw new IllegalArgumentException(width + "x" + height + "x3 needs " + 3L * width * height + " floats, got " + data.length);
        }
    }

    public static XyzTiff read(Path file) throws IOException {
        if (Files.isDirectory(file)) throw new WeightsFormatException(file, "is a directory (expected an xyz TIFF file)");
        if (!Files.isRegularFile(file)) throw new WeightsFormatException(file, "no such xyz TIFF file");
        byte[] head = new byte[4];
        try (var in = Files.newInputStream(file)) {
            if (in.readNBytes(head, 0, 4) < 4) throw new WeightsFormatException(file, "too short for a TIFF header");
        }
        boolean le = head[0] == 'I' && head[1] == 'I' && (head[2] == 42 || head[2] == 43) && head[3] == 0;
        boolean be = head[0] == 'M' && head[1] == 'M' && head[2] == 0 && (head[3] == 42 || head[3] == 43);
        if (!le && !be) throw new WeightsFormatException(file, "not a TIFF file (bad byte-order header; expected II*\\0 or MM\\0*)");
        Raster r;
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            if (in == null) throw new WeightsFormatException(file, "cannot open xyz TIFF");
            Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName("tiff");
            if (!readers.hasNext()) throw new WeightsFormatException(file, "this JDK has no ImageIO TIFF reader");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                ImageLimits.check(file, reader, Files.size(file));
                r = reader.read(0).getRaster();
            } finally {
                reader.dispose();
            }
        } catch (WeightsFormatException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new WeightsFormatException(file, "cannot decode as an xyz TIFF (expected float32, 3 samples per pixel): "
                    + ImageLimits.reason(e), e);
        }
        int bands = r.getNumBands();
        int type = r.getDataBuffer().getDataType();
        if (type != DataBuffer.TYPE_FLOAT || bands != 3) {
            throw new WeightsFormatException(file, "expected an xyz TIFF with 3 float32 samples per pixel, got " + bands
                    + " sample(s) of " + typeName(type) + " (SamplesPerPixel/SampleFormat/BitsPerSample)");
        }
        int w = r.getWidth(), h = r.getHeight();
        float[] data = new float[3 * w * h];
        r.getPixels(r.getMinX(), r.getMinY(), w, h, data);
        return new XyzTiff(w, h, data);
    }

    private static String typeName(int t) {
        return switch (t) {
            case DataBuffer.TYPE_BYTE -> "uint8";
            case DataBuffer.TYPE_USHORT -> "uint16";
            case DataBuffer.TYPE_SHORT -> "int16";
            case DataBuffer.TYPE_INT -> "int32";
            case DataBuffer.TYPE_FLOAT -> "float32";
            case DataBuffer.TYPE_DOUBLE -> "float64";
            default -> "data type " + t;
        };
    }
}
