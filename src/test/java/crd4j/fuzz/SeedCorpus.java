package crd4j.fuzz;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.data.XyzTiff;
import crd4j.data.XyzTiffWriter;
import crd4j.io.ModelFile;
import crd4j.io.Npy;
import crd4j.io.Pickles;
import crd4j.io.Safetensors;
import crd4j.model.CrdModel;
import crd4j.model.Modality;
import crd4j.model.ModelFiles;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Writes the seed corpus of {@link ReaderFuzzTest} (all but the torch.save seeds, which
 * {@code src/test/python/fuzz_seeds.py} writes): small real files made with crd4j's own writers, and one regression
 * file per finding of issue 13, named {@code regression-*}. Run from the repository root after {@code mvn test-compile}
 * with the test class path (docs/RELIABILITY.md has the command); the output is committed under
 * {@code src/test/resources/crd4j/fuzz/ReaderFuzzTestInputs/}. The same code gives the same bytes.
 */
public final class SeedCorpus {
    static final Path DIR = Path.of("src/test/resources/crd4j/fuzz/ReaderFuzzTestInputs");

    private SeedCorpus() {}

    public static void main(String[] args) throws IOException {
        Path out = args.length > 0 ? Path.of(args[0]) : DIR;
        checkpoints(out);
        arrays(out);
        models(out);
        images(out);
        layouts(out);
    }

    private static void put(Path out, String target, String name, byte[] bytes) throws IOException {
        Path f = out.resolve(target).resolve(name);
        Files.createDirectories(f.getParent());
        Files.write(f, bytes);
    }

    // ---------------------------------------------------------------------------------------------- pickles

    private static byte[] dag(boolean asKey) {
        Pickles p = Pickles.proto2().op('}');
        if (!asKey) p.str("x");
        p.op('N').repeat(64, '2', 0x86);
        if (asKey) p.op('N');
        return p.op('s').stop().bytes();
    }

    private static void checkpoints(Path out) throws IOException {
        put(out, "pickle", "regression-dag-key", dag(true));
        put(out, "pickle", "dag-value", dag(false));
        put(out, "pickle", "regression-deep-tuple", Pickles.proto2().op('}', 'N').repeat(1500, 0x85).op('N', 's').stop().bytes());
        put(out, "pickle", "regression-deep-list", Pickles.proto2().op('}').str("x").repeat(1500, ']').repeat(1499, 'a')
                .op('s').stop().bytes());
        put(out, "pickle", "regression-unbalanced-mark", Pickles.proto2().op('}', '(').stop().bytes());
        put(out, "pickle", "one-tensor", Pickles.proto2().op('}').str("w").floatTensor("0", 4).op('s').stop().bytes());
        put(out, "pthLegacy", "regression-dag-key", dag(true));
        put(out, "pthLegacy", "regression-deep-tuple", Pickles.proto2().op('}', 'N').repeat(1500, 0x85).op('N', 's').stop().bytes());
        byte[] onePickle = Pickles.proto2().op('}').str("w").floatTensor("0", 4).op('s').stop().bytes();
        put(out, "pthZip", "regression-dag-key", Pickles.zip(Pickles.Entry.stored("data.pkl", dag(true))));
        byte[] inflating = Pickles.zip(Pickles.Entry.stored("data.pkl", onePickle), Pickles.Entry.zeros("data/0", 1 << 20));
        put(out, "pthZip", "regression-inflates-past-storage", Pickles.lieAboutSize(inflating, "data/0", 16));
        byte[] bigClaim = Pickles.proto2().op('}').str("w").floatTensor("0", 300_000_000).op('s').stop().bytes();
        byte[] ratio = Pickles.zip(Pickles.Entry.stored("data.pkl", bigClaim), Pickles.Entry.zeros("data/0", 1 << 20));
        put(out, "pthZip", "regression-beyond-deflate-ratio", Pickles.lieAboutSize(ratio, "data/0", 1_200_000_000L));
        byte[] bigPickle = Pickles.zip(Pickles.Entry.zeros("data.pkl", (32 << 20) + 1));
        put(out, "pthZip", "regression-huge-data-pkl", Pickles.lieAboutSize(bigPickle, "data.pkl", 100));
    }

    // ----------------------------------------------------------------------------------------------- arrays

    private static void arrays(Path out) throws IOException {
        Path tmp = Files.createTempDirectory("seeds");
        Map<String, HostTensor> ts = new LinkedHashMap<>();
        ts.put("f4", HostTensor.of(new float[] {0, 1.5f, -2, Float.MIN_VALUE, 1e30f, -0f}, 2, 3));
        ts.put("i8", HostTensor.of(new long[] {1, -1, Long.MAX_VALUE}, 3));
        ts.put("u1", HostTensor.of(new byte[] {0, 1, (byte) 255, 7}, 2, 2));
        ts.put("f8", HostTensor.of(new double[] {Math.PI}));
        ts.put("i4", HostTensor.of(new int[] {}, 0, 2));
        for (Map.Entry<String, HostTensor> e : ts.entrySet()) {
            Path f = tmp.resolve(e.getKey() + ".npy");
            Npy.write(f, e.getValue());
            put(out, "npy", e.getKey(), Files.readAllBytes(f));
        }
        byte[] v2 = Files.readAllBytes(tmp.resolve("f4.npy"));
        v2 = v2.clone();
        v2[6] = 2; // version 2.0 with a 4-byte header length claiming 4 GB
        byte[] lying = new byte[v2.length + 2];
        System.arraycopy(v2, 0, lying, 0, 8);
        lying[8] = lying[9] = lying[10] = lying[11] = (byte) 0xff;
        System.arraycopy(v2, 10, lying, 12, v2.length - 10);
        put(out, "npy", "regression-header-length", lying);
        Path st = tmp.resolve("a.safetensors");
        Safetensors.write(st, ts, Map.of("note", "seed"));
        put(out, "safetensors", "five-dtypes", Files.readAllBytes(st));
        Safetensors.write(st, Map.of("x", HostTensor.of(new float[] {1, 2}, 2)), null);
        put(out, "safetensors", "one-tensor", Files.readAllBytes(st));
        Path mf = tmp.resolve("m.crd4j");
        ObjectNode meta = new ObjectMapper().createObjectNode().put("format", "seed");
        ModelFile.write(mf, ts, meta);
        put(out, "modelFile", "five-dtypes", Files.readAllBytes(mf));
        for (Path p : Files.list(tmp).toList()) Files.delete(p);
        Files.delete(tmp);
    }

    // ------------------------------------------------------------------------------------------------ models

    private static void models(Path out) throws IOException {
        CrdModel m = new CrdModel(new NnContext(new Nd4jBackend(), DType.FLOAT32, 0), Preset.TINY, Modality.DEPTH);
        ObjectNode meta = ModelFiles.meta(m, "random(seed=0)", null);
        put(out, "modelMetadata", "tiny", meta.toString().getBytes(StandardCharsets.UTF_8));
        ObjectNode stats = (ObjectNode) new ObjectMapper().readTree(
                "{\"rgb\":{\"mean\":1.0,\"std\":0.1},\"depth\":{\"mean\":2.0,\"std\":0.2}}");
        put(out, "modelMetadata", "tiny-with-stats", ModelFiles.meta(m, "random(seed=0)", stats).toString()
                .getBytes(StandardCharsets.UTF_8));
        ObjectNode huge = meta.deepCopy();
        ((ObjectNode) huge.get("preset")).put("base", 4096);
        put(out, "modelMetadata", "regression-huge-preset", huge.toString().getBytes(StandardCharsets.UTF_8));
        ((ObjectNode) huge.get("preset")).put("base", Integer.MAX_VALUE);
        put(out, "modelMetadata", "regression-overflowing-preset", huge.toString().getBytes(StandardCharsets.UTF_8));
        ObjectNode size = meta.deepCopy();
        ((ObjectNode) size.get("preset")).put("size", 1 << 30);
        put(out, "modelMetadata", "regression-huge-size", size.toString().getBytes(StandardCharsets.UTF_8));
    }

    // ------------------------------------------------------------------------------------------------ images

    private static byte[] png(BufferedImage im) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        if (!ImageIO.write(im, "png", bos)) throw new IOException("no PNG writer");
        return bos.toByteArray();
    }

    private static BufferedImage pattern(int type) {
        BufferedImage im = new BufferedImage(5, 4, type);
        for (int y = 0; y < 4; y++) for (int x = 0; x < 5; x++) im.setRGB(x, y, 0xff000000 | (x * 50) << 16 | (y * 60) << 8 | (x * y * 10));
        return im;
    }

    private static void images(Path out) throws IOException {
        put(out, "png", "rgb", png(pattern(BufferedImage.TYPE_3BYTE_BGR)));
        put(out, "png", "rgba", png(pattern(BufferedImage.TYPE_4BYTE_ABGR)));
        put(out, "png", "gray", png(pattern(BufferedImage.TYPE_BYTE_GRAY)));
        put(out, "png", "palette", png(pattern(BufferedImage.TYPE_BYTE_INDEXED)));
        put(out, "png", "one-bit", png(pattern(BufferedImage.TYPE_BYTE_BINARY)));
        byte[] claim = png(pattern(BufferedImage.TYPE_3BYTE_BGR));
        ByteBuffer bb = ByteBuffer.wrap(claim);
        bb.putInt(16, 12000).putInt(20, 12000);
        CRC32 crc = new CRC32();
        crc.update(claim, 12, 17);
        bb.putInt(29, (int) crc.getValue());
        put(out, "png", "regression-claims-12000x12000", claim);
        byte[] rgb = png(pattern(BufferedImage.TYPE_3BYTE_BGR));
        put(out, "png", "regression-truncated", Arrays.copyOf(rgb, rgb.length - 20));

        float[] xyz = new float[4 * 4 * 3];
        for (int i = 0; i < 16; i++) {
            xyz[3 * i] = i % 4 * 0.01f;
            xyz[3 * i + 1] = i / 4 * 0.01f;
            xyz[3 * i + 2] = i == 5 ? 0 : 0.5f + 0.001f * i;
        }
        byte[] tiff = XyzTiffWriter.encode(new XyzTiff(4, 4, xyz));
        put(out, "tiff", "xyz-4x4", tiff);
        byte[] t12 = tiff.clone();
        ByteBuffer tb = ByteBuffer.wrap(t12).order(ByteOrder.LITTLE_ENDIAN);
        tb.putInt(18, 12000).putInt(30, 12000);
        put(out, "tiff", "regression-claims-12000x12000", t12);
        put(out, "tiff", "regression-truncated-header", Arrays.copyOf(tiff, 40));
    }

    // ------------------------------------------------------------------------------------------------ layouts

    /** One path of {@link ReaderFuzzTest#datasetLayout}'s encoding: category c, a split, a defect, a kind folder, stem 000. */
    private static byte[] path(int split, int defect, int kind, int ext) {
        return new byte[] {(byte) (split << 1 | defect << 3 | kind << 5), (byte) (ext << 2)};
    }

    private static void layouts(Path out) throws IOException {
        ByteArrayOutputStream mvtec = new ByteArrayOutputStream();
        for (int split = 0; split < 3; split++) {
            mvtec.write(path(split, 0, 0, 0)); // <split>/good/rgb/000.png
            mvtec.write(path(split, 0, 1, 1)); // <split>/good/xyz/000.tiff
        }
        mvtec.write(path(2, 1, 0, 0)); // test/crack/rgb/000.png
        mvtec.write(path(2, 1, 1, 1)); // test/crack/xyz/000.tiff
        mvtec.write(path(2, 1, 3, 0)); // test/crack/gt/000.png
        put(out, "datasetLayout", "mvtec3d", mvtec.toByteArray());
        ByteArrayOutputStream eye = new ByteArrayOutputStream();
        eye.write(path(0, 0, 0, 0));
        eye.write(path(0, 0, 2, 0)); // train/good/normals/000.png
        eye.write(path(2, 1, 0, 0));
        eye.write(path(2, 1, 2, 0));
        put(out, "datasetLayout", "eyecandies-missing-gt", eye.toByteArray());
    }
}
