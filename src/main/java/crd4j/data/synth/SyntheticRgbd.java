package crd4j.data.synth;

import crd4j.data.Image8;
import crd4j.data.XyzTiff;
import crd4j.data.XyzTiffWriter;
import crd4j.io.AtomicDirectory;
import crd4j.io.AtomicFiles;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A deterministic synthetic RGB-D benchmark in the MVTec 3D-AD layout and file formats (spec §2.1):
 * {@code <root>/<category>/{train,validation,test}/<defect>/{rgb/NNN.png, xyz/NNN.tiff, gt/NNN.png}}.
 *
 * <p>Each sample is one object (a rounded disc/blob with a category-specific outline, height profile, colour and
 * texture) lying on a tilted background plane, seen orthographically from above:
 * <ul>
 *   <li>xyz: float32 H×W×3; x, y = (pixel − size/2)·{@value #PIXEL} (metre-like units), z = plane + object height +
 *       Gaussian sensor noise; a few points on the object's rim are missing (0,0,0). The corners are pure plane, so
 *       the §2.3 plane removal works; the object stands well above the 0.005 threshold.</li>
 *   <li>rgb: 8-bit RGB, albedo (category colour × texture) times Lambert shading of the defect-free surface.</li>
 *   <li>gt: 8-bit L, 255 inside the defect, 0 elsewhere (written for defect samples only, as in MVTec 3D-AD).</li>
 * </ul>
 * Defects (test split only): {@code color} (a stain, RGB only: xyz bit-identical to the defect-free sample),
 * {@code dent} and {@code bump} (geometry only: RGB bit-identical, because shading uses the defect-free surface),
 * {@code hole} (through the object down to the plane) and {@code crack} (a groove), both in both modalities.
 *
 * <p>Everything derives from {@link #sampleSeed}; a sample's base (object, plane, noise, missing points) does not
 * depend on the defect, so {@link #render} can draw the same sample with and without any defect.
 */
public final class SyntheticRgbd {
    /** Pixel pitch in TIFF units. */
    public static final double PIXEL = 0.001;
    /** Built-in categories. */
    public static final List<String> CATEGORIES = List.of("cookie", "puck", "tile");

    /** The sample folders; {@link #GOOD} is the defect-free one. */
    public enum Defect {
        GOOD, COLOR, DENT, BUMP, HOLE, CRACK;

        public String folder() { return name().toLowerCase(Locale.ROOT); }

        public static List<Defect> anomalies() { return List.of(COLOR, DENT, BUMP, HOLE, CRACK); }
    }

    /** One rendered sample: interleaved RGB bytes, interleaved xyz floats, GT mask bytes (0/255), size×size. */
    public record Sample(int size, byte[] rgb, float[] xyz, byte[] gt) {
        public Image8 rgbImage() { return new Image8(size, size, 3, rgb); }
        public Image8 gtImage() { return new Image8(size, size, 1, gt); }
        public XyzTiff xyzTiff() { return new XyzTiff(size, size, xyz); }
        public int defectPixels() {
            int n = 0;
            for (byte b : gt) if (b != 0) n++;
            return n;
        }
    }

    /** What {@link #generate} makes; counts are per category, {@code testDefect} per defect type. */
    public record Options(List<String> categories, long seed, int size, int train, int validation, int testGood, int testDefect) {
        public Options {
            categories = List.copyOf(categories);
            if (categories.isEmpty()) throw new IllegalArgumentException("--categories: at least one category needed");
            for (String c : categories) {
                if (!CATEGORIES.contains(c)) {
                    throw new IllegalArgumentException("--categories: unknown category '" + c + "' (known: " + String.join(", ", CATEGORIES) + ")");
                }
            }
            if (size < 64 || size > 4096) throw new IllegalArgumentException("--size: expected 64..4096, found " + size);
            if (train < 0 || validation < 0 || testGood < 0 || testDefect < 0) throw new IllegalArgumentException("sample counts must be >= 0");
            if (Math.max(Math.max(train, validation), Math.max(testGood, testDefect)) > 1000) {
                throw new IllegalArgumentException("sample counts must be <= 1000 per folder");
            }
        }

        public static Options defaults() { return new Options(CATEGORIES, 0, 400, 40, 10, 12, 12); }
    }

    /** Files written by {@link #generate}. */
    public record Summary(int samples, int files, long bytes) {}

    private SyntheticRgbd() {}

    // ------------------------------------------------------------------------------------------------ generation

    /**
     * Writes the benchmark under {@code out}, every file atomically. {@code out} must not exist or be an empty
     * directory; nothing is ever overwritten.
     */
    public static Summary generate(Path out, Options o) throws IOException {
        if (Files.exists(out)) {
            if (!Files.isDirectory(out)) throw new IOException(out + ": exists and is not a directory");
            try (var s = Files.list(out)) {
                if (s.findAny().isPresent()) throw new IOException(out + ": exists and is not empty (synth never overwrites; choose a new directory)");
            }
        }
        int samples = 0, files = 0;
        long bytes = 0;
        // Staged beside out and published in one rename: a failure (a full disk) or a kill leaves no partial dataset
        // that a rerun would then refuse as non-empty; a killed run's staging folder is removed by the next run.
        try (AtomicDirectory staged = AtomicDirectory.stage(out)) {
            for (String cat : o.categories()) {
                List<String[]> folders = new ArrayList<>();   // {split, defect folder, count}
                folders.add(new String[]{"train", "good", Integer.toString(o.train())});
                folders.add(new String[]{"validation", "good", Integer.toString(o.validation())});
                folders.add(new String[]{"test", "good", Integer.toString(o.testGood())});
                for (Defect d : Defect.anomalies()) folders.add(new String[]{"test", d.folder(), Integer.toString(o.testDefect())});
                for (String[] f : folders) {
                    Defect defect = Defect.valueOf(f[1].toUpperCase(Locale.ROOT));
                    int n = Integer.parseInt(f[2]);
                    String dir = cat + "/" + f[0] + "/" + f[1] + "/";
                    staged.mkdirs(dir + "rgb");
                    staged.mkdirs(dir + "xyz");
                    if (defect != Defect.GOOD) staged.mkdirs(dir + "gt");
                    for (int i = 0; i < n; i++) {
                        Sample s = render(cat, sampleSeed(o.seed(), cat, f[0], f[1], i), defect, o.size());
                        String name = String.format(Locale.ROOT, "%03d", i);
                        byte[] rgb = png(s.rgbImage());
                        byte[] tif = XyzTiffWriter.encode(s.xyzTiff());
                        staged.put(dir + "rgb/" + name + ".png", p -> AtomicFiles.write(p, rgb));
                        staged.put(dir + "xyz/" + name + ".tiff", p -> AtomicFiles.write(p, tif));
                        bytes += rgb.length + tif.length;
                        files += 2;
                        if (defect != Defect.GOOD) {
                            byte[] gt = png(s.gtImage());
                            staged.put(dir + "gt/" + name + ".png", p -> AtomicFiles.write(p, gt));
                            bytes += gt.length;
                            files++;
                        }
                        samples++;
                    }
                }
            }
            staged.commit();
        }
        return new Summary(samples, files, bytes);
    }

    /** The seed of one sample: a hash of the run seed, category, split, defect folder and index. */
    public static long sampleSeed(long seed, String category, String split, String folder, int index) {
        long h = mix(seed ^ 0x9E3779B97F4A7C15L);
        for (String s : new String[]{category, split, folder}) {
            for (byte b : s.getBytes(StandardCharsets.UTF_8)) h = mix(h ^ (b & 0xff));
            h = mix(h ^ 0xFF);
        }
        return mix(h ^ index);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** PNG bytes (8-bit RGB or 8-bit L) of an image, via ImageIO; equal images give equal bytes. */
    public static byte[] png(Image8 im) throws IOException {
        int w = im.width(), h = im.height();
        BufferedImage bi = new BufferedImage(w, h, im.channels() == 3 ? BufferedImage.TYPE_3BYTE_BGR : BufferedImage.TYPE_BYTE_GRAY);
        int[] px = new int[im.data().length];
        for (int i = 0; i < px.length; i++) px[i] = im.data()[i] & 0xff;
        bi.getRaster().setPixels(0, 0, w, h, px);
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        if (!ImageIO.write(bi, "png", bos)) throw new IOException("no ImageIO PNG writer");
        return bos.toByteArray();
    }

    // ------------------------------------------------------------------------------------------------ rendering

    /** Category look: outline, height profile, colour, texture. */
    private record Style(double[] color, double height, double lobes, double lobeAmp, double squareness,
                         double flatness, double texFreq, double texAmp, double speckle, double[] stain) {}

    private static Style style(String category) {
        return switch (category) {
            // tan, slightly lobed dome with dark speckles
            case "cookie" -> new Style(new double[]{0.78, 0.58, 0.36}, 0.024, 6, 0.035, 2, 1.0, 9, 0.05, 0.12,
                    new double[]{0.20, 0.35, 0.10});
            // dark grey rubber puck: round, flat top, fine grain
            case "puck" -> new Style(new double[]{0.32, 0.33, 0.36}, 0.018, 0, 0, 2, 6.0, 25, 0.03, 0.03,
                    new double[]{0.85, 0.80, 0.20});
            // red glazed tile: rounded square, low, striped
            case "tile" -> new Style(new double[]{0.72, 0.22, 0.18}, 0.012, 0, 0, 5, 4.0, 14, 0.07, 0.02,
                    new double[]{0.15, 0.45, 0.75});
            default -> throw new IllegalArgumentException("unknown category '" + category + "' (known: " + String.join(", ", CATEGORIES) + ")");
        };
    }

    /**
     * Renders one sample. The base (object, plane, noise, missing points) depends only on {@code category},
     * {@code sampleSeed} and {@code size}; {@code defect} only adds the defect.
     */
    public static Sample render(String category, long sampleSeed, Defect defect, int size) {
        Style st = style(category);
        SplittableRandom r = new SplittableRandom(sampleSeed);
        int s = size;
        double cx = s / 2.0 + (r.nextDouble() - 0.5) * 0.08 * s, cy = s / 2.0 + (r.nextDouble() - 0.5) * 0.08 * s;
        double radius = s * (0.29 + 0.04 * r.nextDouble());
        double rot = r.nextDouble() * 2 * Math.PI;
        double height = st.height() * (0.9 + 0.2 * r.nextDouble());
        double tiltX = (r.nextDouble() - 0.5) * 0.10, tiltY = (r.nextDouble() - 0.5) * 0.10;
        double z0 = 0.50 + 0.05 * r.nextDouble();
        double texPhase = r.nextDouble() * 2 * Math.PI, texPhase2 = r.nextDouble() * 2 * Math.PI;
        double[] bg = {0.45 + 0.05 * r.nextDouble(), 0.45 + 0.05 * r.nextDouble(), 0.47 + 0.05 * r.nextDouble()};
        double lx = -0.4 + 0.2 * r.nextDouble(), ly = -0.5 + 0.2 * r.nextDouble(), lz = 1;
        double ln = Math.sqrt(lx * lx + ly * ly + lz * lz);
        lx /= ln; ly /= ln; lz /= ln;
        // the defect's own stream: same base whatever the defect
        SplittableRandom dr = new SplittableRandom(mix(sampleSeed ^ 0x5DEECE66DL));
        double dAng = dr.nextDouble() * 2 * Math.PI, dDist = radius * 0.5 * Math.sqrt(dr.nextDouble());
        double dx = cx + Math.cos(dAng) * dDist, dy = cy + Math.sin(dAng) * dDist;
        double dRad = s * (0.06 + 0.03 * dr.nextDouble());
        double dWob = dr.nextDouble() * 2 * Math.PI;
        double crackAng = dr.nextDouble() * Math.PI, crackLen = radius * (0.9 + 0.3 * dr.nextDouble());
        double crackBend = (dr.nextDouble() - 0.5) * 0.3 * radius, crackWidth = Math.max(3.0, 0.015 * s);

        int n = s * s;
        double[] obj = new double[n];      // object height above the plane, defect-free, no noise
        boolean[] inside = new boolean[n];
        double[] rho = new double[n];
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                double ux = x + 0.5 - cx, uy = y + 0.5 - cy;
                double a = Math.atan2(uy, ux);
                double ca = Math.cos(a - rot), sa = Math.sin(a - rot);
                double q = st.squareness();
                // superellipse radius in direction a, plus lobes
                double sup = Math.pow(Math.pow(Math.abs(ca), q) + Math.pow(Math.abs(sa), q), -1.0 / q);
                double rr = radius * sup * (1 + st.lobeAmp() * Math.cos(st.lobes() * (a - rot)));
                double p = Math.hypot(ux, uy) / rr;
                int i = y * s + x;
                rho[i] = p;
                if (p < 1) {
                    inside[i] = true;
                    obj[i] = height * Math.pow(1 - Math.pow(p, 2 * st.flatness()), 0.5);
                }
            }
        }
        // surface texture in height (tiny, part of the base)
        double[] planeZ = new double[n];
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                int i = y * s + x;
                planeZ[i] = z0 + tiltX * (x - s / 2.0) * PIXEL + tiltY * (y - s / 2.0) * PIXEL;
            }
        }
        // shading from the defect-free surface (plane + object)
        double[] shade = new double[n];
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                int i = y * s + x;
                int xl = Math.max(0, x - 1), xr = Math.min(s - 1, x + 1), yu = Math.max(0, y - 1), yd = Math.min(s - 1, y + 1);
                double gx = (obj[y * s + xr] - obj[y * s + xl]) / ((xr - xl) * PIXEL) + tiltX;
                double gy = (obj[yd * s + x] - obj[yu * s + x]) / ((yd - yu) * PIXEL) + tiltY;
                double nn = Math.sqrt(gx * gx + gy * gy + 1);
                double dot = (-gx * lx - gy * ly + lz) / nn;
                shade[i] = 0.3 + 0.7 * Math.max(0, dot);
            }
        }
        byte[] rgb = new byte[3 * n];
        float[] xyz = new float[3 * n];
        byte[] gt = new byte[n];
        double tf = 2 * Math.PI * st.texFreq() / s;
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                int i = y * s + x;
                // base noise, drawn in the same order for every defect
                double zNoise = gaussian(r) * 0.0002;
                double cNoise = (r.nextDouble() - 0.5) * 0.04;
                double spk = r.nextDouble();
                boolean missing = inside[i] ? rho[i] > 0.96 && r.nextDouble() < 0.15 : rho[i] < 1.04 && r.nextDouble() < 0.15;
                double[] c = new double[3];
                if (inside[i]) {
                    double tex = st.texAmp() * Math.sin(tf * x + texPhase) * Math.cos(tf * 0.8 * y + texPhase2);
                    double dark = spk < st.speckle() ? 0.6 : 1.0;
                    for (int k = 0; k < 3; k++) c[k] = st.color()[k] * (1 + tex) * dark;
                } else {
                    double tex = 0.03 * Math.sin(2 * Math.PI * 3 * (x + y) / s + texPhase);
                    for (int k = 0; k < 3; k++) c[k] = bg[k] * (1 + tex);
                }
                double z = planeZ[i] + obj[i];
                for (int k = 0; k < 3; k++) c[k] = c[k] * shade[i] + cNoise;

                if (defect != Defect.GOOD && inside[i]) {
                    double ux = x + 0.5 - dx, uy = y + 0.5 - dy;
                    double d = Math.hypot(ux, uy);
                    double wob = dRad * (1 + 0.2 * Math.sin(3 * Math.atan2(uy, ux) + dWob));
                    switch (defect) {
                        case COLOR -> {
                            if (d < wob) {
                                for (int k = 0; k < 3; k++) c[k] = 0.25 * c[k] + 0.75 * st.stain()[k] * shade[i];
                                gt[i] = (byte) 255;
                            }
                        }
                        // dents and bumps are wider than the other defects (1.5×) with a parabolic profile
                        // (steep rim): a geometry-only defect must survive the resize to the model's side and the
                        // depth preprocessing to be visible at all, as a real dent is to a structured-light sensor
                        case DENT -> {
                            double q = d / (1.5 * wob);
                            if (q < 1) { z -= 0.6 * height * (1 - q * q); gt[i] = (byte) 255; }
                        }
                        case BUMP -> {
                            double q = d / (1.5 * wob);
                            if (q < 1) { z += 0.6 * height * (1 - q * q); gt[i] = (byte) 255; }
                        }
                        case HOLE -> {
                            if (d < wob * 0.8) {
                                z = planeZ[i];
                                for (int k = 0; k < 3; k++) c[k] = bg[k] * 0.35;
                                gt[i] = (byte) 255;
                            }
                        }
                        case CRACK -> {
                            // a bent segment through the defect centre
                            double ca = Math.cos(crackAng), sa = Math.sin(crackAng);
                            double along = ux * ca + uy * sa, across = -ux * sa + uy * ca;
                            double t = along / (crackLen / 2);
                            if (Math.abs(t) < 1) {
                                double centre = crackBend * (1 - t * t);
                                double half = crackWidth / 2 * (1 - 0.5 * Math.abs(t));
                                if (Math.abs(across - centre) < Math.max(1.5, half)) {
                                    z -= 0.6 * obj[i];
                                    for (int k = 0; k < 3; k++) c[k] *= 0.25;
                                    gt[i] = (byte) 255;
                                }
                            }
                        }
                        default -> { }
                    }
                }
                for (int k = 0; k < 3; k++) rgb[3 * i + k] = (byte) Math.max(0, Math.min(255, Math.round(c[k] * 255)));
                if (!missing) {
                    xyz[3 * i] = (float) ((x - s / 2.0) * PIXEL);
                    xyz[3 * i + 1] = (float) ((y - s / 2.0) * PIXEL);
                    xyz[3 * i + 2] = (float) (z + zNoise);
                }
            }
        }
        return new Sample(s, rgb, xyz, gt);
    }

    /** Box–Muller, so the noise does not depend on the JDK's Gaussian algorithm. */
    private static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble(), v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
