package crd4j.data;

import crd4j.io.WeightsFormatException;
import crd4j.tensor.HostTensor;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;

/**
 * The RGB (and Eyecandies normals) network input and the ground truth mask, as the reference makes them (spec §2.2,
 * §2.4, §14).
 *
 * <ul>
 *   <li>{@link #rgbInput(Path)}: PIL {@code .convert('RGB')}, Pillow BILINEAR resize to 256×256, ToTensor (uint8/255
 *       in float32), ImageNet Normalize in float32 (subtract then divide) → [1,3,256,256] float32.</li>
 *   <li>{@link #normalsInput(Path)}: the surface-normals PNG through exactly the same transform.</li>
 *   <li>{@link #groundTruth(Path)}: PIL {@code .convert('L')}, resize, /255, {@code > 0.5} → [256,256] float32 0/1.</li>
 * </ul>
 *
 * <p>Decoding uses ImageIO and mirrors PIL's mode conversions: RGB(A) keeps R, G, B (alpha is dropped, not
 * composited); palette images are looked up in their palette; grayscale (with or without alpha) is replicated to
 * RGB; grayscale of 1, 2 or 4 bits is scaled to 0..255. 16-bit images are refused, because PIL's conversions of
 * 16-bit modes are not reproduced. Every decode problem is a {@link WeightsFormatException} naming the file.
 */
public final class ImageInputs {
    /** Network input size (spec §1). */
    public static final int SIZE = 256;
    /** ImageNet mean and std as float32 (torchvision Normalize casts them to the tensor dtype). */
    static final float[] MEAN = {0.485f, 0.456f, 0.406f};
    static final float[] STD = {0.229f, 0.224f, 0.225f};

    private ImageInputs() {}

    /** RGB network input [1,3,256,256] float32 from an image file. */
    public static HostTensor rgbInput(Path file) throws IOException {
        return rgbInput(file, SIZE);
    }

    /** RGB network input [1,3,size,size] float32 from an image file. */
    public static HostTensor rgbInput(Path file, int size) throws IOException {
        return normalize(read(file).toRgb().resize(size, size));
    }

    /** Eyecandies surface normals input (§14): the normals PNG through the RGB transform. */
    public static HostTensor normalsInput(Path file) throws IOException {
        return rgbInput(file, SIZE);
    }

    /** Eyecandies surface normals input at side {@code size} (the RGB transform with 256 replaced by size). */
    public static HostTensor normalsInput(Path file, int size) throws IOException {
        return rgbInput(file, size);
    }

    /** Binarised ground truth [256,256] float32 (0 or 1). */
    public static HostTensor groundTruth(Path file) throws IOException {
        return groundTruth(file, SIZE);
    }

    /** Binarised ground truth [size,size] float32 (0 or 1): L, resize, /255 in float32, {@code > 0.5}. */
    public static HostTensor groundTruth(Path file, int size) throws IOException {
        Image8 l = read(file).toL().resize(size, size);
        float[] out = new float[size * size];
        for (int i = 0; i < out.length; i++) {
            out[i] = (l.data()[i] & 0xff) / 255f > 0.5f ? 1f : 0f;
        }
        return HostTensor.of(out, size, size);
    }

    /** ToTensor + ImageNet Normalize of an RGB image → [1,3,H,W] float32. */
    public static HostTensor normalize(Image8 rgb) {
        if (rgb.channels() != 3) throw new IllegalArgumentException("normalize needs an RGB image");
        int hw = rgb.width() * rgb.height();
        float[] out = new float[3 * hw];
        byte[] d = rgb.data();
        for (int c = 0; c < 3; c++) {
            float m = MEAN[c], s = STD[c];
            for (int i = 0; i < hw; i++) {
                float x = (d[3 * i + c] & 0xff) / 255f;
                out[c * hw + i] = (x - m) / s;
            }
        }
        return HostTensor.of(out, 1, 3, rgb.height(), rgb.width());
    }

    /**
     * The inverse of {@link #normalize} for one [1,3,H,W] (or [3,H,W]) input: {@code round((x·std + mean)·255)},
     * clamped to 0..255. For an input made by {@code normalize} this gives back the 8-bit image exactly (the float32
     * round trip is off by far less than half a grey level).
     */
    public static Image8 denormalize(HostTensor input) {
        long[] sh = input.shape();
        if (sh.length < 3 || sh[sh.length - 3] != 3 || (sh.length == 4 && sh[0] != 1) || sh.length > 4) {
            throw new IllegalArgumentException("denormalize needs a [1,3,H,W] input, got " + java.util.Arrays.toString(sh));
        }
        int h = (int) sh[sh.length - 2], w = (int) sh[sh.length - 1], hw = h * w;
        float[] x = input.toFloat32().floats();
        byte[] out = new byte[3 * hw];
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < hw; i++) {
                long v = Math.round(((double) x[c * hw + i] * STD[c] + MEAN[c]) * 255.0);
                out[3 * i + c] = (byte) Math.max(0, Math.min(255, v));
            }
        }
        return new Image8(w, h, 3, out);
    }

    /**
     * Decodes an image file into PIL mode L (grayscale sources) or RGB (everything else), like {@code Image.open}.
     * Use {@link Image8#toRgb()} / {@link Image8#toL()} for PIL's {@code convert}.
     */
    public static Image8 read(Path file) throws IOException {
        if (Files.isDirectory(file)) throw new WeightsFormatException(file, "is a directory (expected a PNG image file)");
        if (!Files.isRegularFile(file)) throw new WeightsFormatException(file, "no such image file");
        ImageLimits.checkPngStructure(file);
        BufferedImage im;
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            if (in == null) throw new WeightsFormatException(file, "cannot open image");
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) throw new WeightsFormatException(file, "not an image format ImageIO can read (expected PNG)");
            ImageReader r = readers.next();
            try {
                r.setInput(in, true, true);
                ImageLimits.check(file, r, Files.size(file));
                im = r.read(0);
            } finally {
                r.dispose();
            }
        } catch (WeightsFormatException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new WeightsFormatException(file, "cannot decode image: " + ImageLimits.reason(e), e);
        }
        return fromBuffered(file, im);
    }

    static Image8 fromBuffered(Path file, BufferedImage im) throws WeightsFormatException {
        int w = im.getWidth(), h = im.getHeight();
        Raster r = im.getRaster();
        ColorModel cm = im.getColorModel();
        int bands = r.getNumBands();
        if (cm instanceof IndexColorModel icm) {
            byte[] out = new byte[3 * w * h];
            int[] px = new int[1];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    r.getPixel(x, y, px);
                    int i = 3 * (y * w + x);
                    out[i] = (byte) icm.getRed(px[0]);
                    out[i + 1] = (byte) icm.getGreen(px[0]);
                    out[i + 2] = (byte) icm.getBlue(px[0]);
                }
            }
            return new Image8(w, h, 3, out);
        }
        int bits = r.getSampleModel().getSampleSize(0);
        for (int b = 1; b < bands; b++) {
            if (r.getSampleModel().getSampleSize(b) != bits) {
                throw new WeightsFormatException(file, "image bands have different bit depths");
            }
        }
        if (bits > 8) {
            throw new WeightsFormatException(file, bits + "-bit samples are not supported (expected an 8-bit image)");
        }
        int colors = cm.getNumColorComponents();
        int channels;
        if (colors == 1 && (bands == 1 || bands == 2)) channels = 1;       // L or LA
        else if (colors == 3 && (bands == 3 || bands == 4)) channels = 3;  // RGB or RGBA
        else throw new WeightsFormatException(file, "unsupported image layout: " + bands + " bands, " + colors + " colour components");
        int max = (1 << bits) - 1;
        byte[] out = new byte[channels * w * h];
        int[] row = new int[w * bands];
        for (int y = 0; y < h; y++) {
            r.getPixels(0, y, w, 1, row);
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < channels; c++) {
                    int v = row[x * bands + c];
                    if (bits < 8) v = v * 255 / max;
                    out[(y * w + x) * channels + c] = (byte) v;
                }
            }
        }
        return new Image8(w, h, channels, out);
    }
}
