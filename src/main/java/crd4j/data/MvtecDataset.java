package crd4j.data;

import crd4j.io.WeightsFormatException;
import crd4j.model.Modality;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * One category of an MVTec 3D-AD or preprocessed-Eyecandies dataset (spec §2.1, §14):
 * {@code <root>/<category>/<split>/<defect>/rgb/<stem>.png} with the second modality beside it, and for every defect
 * folder other than {@code good} the ground truth {@code gt/<stem>.png}.
 *
 * <p>The second modality is detected once per category: if any defect folder of any split of the category has an
 * {@code xyz} folder the category is MVTec 3D-AD ({@code xyz/<stem>.tiff}, depth branch); otherwise, if one has a
 * {@code normals} folder, it is Eyecandies ({@code normals/<stem>.png}, normals branch). {@link #with} chooses another
 * {@link SecondInput} the category's files allow (normals computed from the xyz TIFFs, or the normals PNGs of a
 * category that has both). Samples are sorted by defect
 * folder name then by stem (the reference shuffles; order does not affect any metric). Problems are
 * {@link WeightsFormatException}s naming the file or folder: missing category or split, a split without samples, an
 * RGB image without its second-modality file, a defect sample without GT.
 */
public final class MvtecDataset {
    public static final List<String> SPLITS = List.of("train", "validation", "test");

    /** One sample; {@code gt} is null for {@code good} samples. */
    public record Sample(Path rgb, Path second, Path gt, String defect, String stem) {
        public boolean good() { return gt == null; }
    }

    /** Preprocessed network inputs ([1,3,S,S] float32 each) and the binarised GT ([S,S] float32, zeros for good). */
    public record Inputs(HostTensor rgb, HostTensor second, HostTensor gt) {}

    private final Path categoryDir;
    private final Modality modality;
    private final SecondInput second;
    private final boolean hasXyz, hasNormals;

    private MvtecDataset(Path categoryDir, SecondInput second, boolean hasXyz, boolean hasNormals) {
        this.categoryDir = categoryDir;
        this.second = second;
        this.modality = second.branch();
        this.hasXyz = hasXyz;
        this.hasNormals = hasNormals;
    }

    /** Opens {@code <root>/<category>} and detects its second modality. */
    public static MvtecDataset open(Path root, String category) throws IOException {
        Path dir = root.resolve(category);
        if (!Files.isDirectory(dir)) throw new WeightsFormatException(dir, "category folder not found under " + root);
        boolean xyz = false, normals = false;
        for (String split : SPLITS) {
            Path sd = dir.resolve(split);
            if (!Files.isDirectory(sd)) continue;
            for (Path d : subdirs(sd)) {
                if (Files.isDirectory(d.resolve("xyz"))) xyz = true;
                else if (Files.isDirectory(d.resolve("normals"))) normals = true;
            }
        }
        if (!xyz && !normals) throw new WeightsFormatException(dir, "no xyz (MVTec 3D-AD) or normals (Eyecandies) folder in any split");
        return new MvtecDataset(dir, xyz ? SecondInput.DEPTH : SecondInput.NORMALS, xyz, normals);
    }

    /**
     * The same category with {@code input} as its second modality. The category must hold that input's files
     * ({@code xyz/} for depth and normals-from-depth, {@code normals/} for normals), else a
     * {@link WeightsFormatException} naming the category folder and {@code what} (who asked: the option or model).
     */
    public MvtecDataset with(SecondInput input, String what) throws WeightsFormatException {
        boolean ok = input.kind().folder().equals("xyz") ? hasXyz : hasNormals;
        if (!ok) {
            throw new WeightsFormatException(categoryDir, what + " needs " + input.describe() + " input from "
                    + input.kind().folder() + "/*" + input.kind().extension() + " files, but this category has no "
                    + input.kind().folder() + " folder (it has " + second.kind().folder() + ", i.e. --second " + second.kind().key() + ")");
        }
        return new MvtecDataset(categoryDir, input, hasXyz, hasNormals);
    }

    public Path categoryDir() { return categoryDir; }

    /** The branch the second input feeds (depth or normals). */
    public Modality modality() { return modality; }

    /** What the second branch is fed: detected by {@link #open}, or chosen with {@link #with}. */
    public SecondInput secondInput() { return second; }

    /** All samples of a split, sorted by defect folder then stem. */
    public List<Sample> samples(String split) throws IOException {
        Path sd = categoryDir.resolve(split);
        if (!Files.isDirectory(sd)) throw new WeightsFormatException(sd, "split folder '" + split + "' not found");
        String secondDir = second.kind().folder();
        String secondExt = second.kind().extension();
        List<Sample> out = new ArrayList<>();
        for (Path d : subdirs(sd)) {
            String defect = d.getFileName().toString();
            Path rgbDir = d.resolve("rgb");
            if (!Files.isDirectory(rgbDir)) continue;
            List<Path> pngs;
            try (Stream<Path> s = Files.list(rgbDir)) {
                pngs = s.filter(p -> p.getFileName().toString().endsWith(".png") && Files.isRegularFile(p)).sorted().toList();
            }
            for (Path rgb : pngs) {
                String name = rgb.getFileName().toString();
                String stem = name.substring(0, name.length() - 4);
                Path second = d.resolve(secondDir).resolve(stem + secondExt);
                if (!Files.isRegularFile(second)) {
                    throw new WeightsFormatException(rgb, "no paired " + secondDir + " file (expected " + second + ")");
                }
                Path gt = null;
                if (!defect.equals("good")) {
                    gt = d.resolve("gt").resolve(stem + ".png");
                    if (!Files.isRegularFile(gt)) {
                        throw new WeightsFormatException(rgb, "defect sample without ground truth (expected " + gt + ")");
                    }
                }
                out.add(new Sample(rgb, second, gt, defect, stem));
            }
        }
        if (out.isEmpty()) throw new WeightsFormatException(sd, "split '" + split + "' has no samples (no <defect>/rgb/*.png)");
        return out;
    }

    /**
     * The preprocessed tensors of one sample at side {@code size} (§2.2–§2.4, §14, §16.1; 256 replaced by
     * {@code size}), the second one as {@link #secondInput()} makes it.
     */
    public Inputs load(Sample s, int size) throws IOException {
        HostTensor rgb = ImageInputs.rgbInput(s.rgb(), size);
        HostTensor second = this.second.preprocess(s.second(), size);
        HostTensor gt = s.gt() == null ? HostTensor.of(new float[size * size], size, size) : ImageInputs.groundTruth(s.gt(), size);
        return new Inputs(rgb, second, gt);
    }

    /** Stacks [1,3,S,S] inputs into one [N,3,S,S] batch. */
    public static HostTensor stack(List<HostTensor> xs) {
        long[] s = xs.get(0).shape();
        int per = Math.toIntExact(HostTensor.numel(s));
        float[] out = new float[per * xs.size()];
        for (int i = 0; i < xs.size(); i++) System.arraycopy(xs.get(i).floats(), 0, out, i * per, per);
        return HostTensor.of(out, xs.size(), s[1], s[2], s[3]);
    }

    private static List<Path> subdirs(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isDirectory).sorted().toList();
        }
    }
}
