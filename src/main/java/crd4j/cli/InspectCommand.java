package crd4j.cli;

import crd4j.backend.Backend;
import crd4j.io.Npy;
import crd4j.io.WeightsFormatException;
import crd4j.model.Checkpoints;
import crd4j.model.CrdModel;
import crd4j.model.Inspection;
import crd4j.model.Modality;
import crd4j.model.ModelFiles;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code crd inspect}: writes every intermediate of the network for preprocessed inputs, so users can compare crd4j
 * with their own PyTorch reference outputs layer by layer.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Write the network's intermediate outputs as float32 .npy files for parity checks.",
                "Inputs are preprocessed tensors [1,3,S,S] (S = 256 for the paper preset), or raw files",
                "(--rgb-image with --xyz or --normals, optionally --gt) preprocessed as in spec section 2;",
                "without --teacher/--checkpoint only the network inputs (and gt.npy) are written.",
                "Writes DIR/input_rgb.npy, DIR/input_depth.npy, DIR/teacher_{rgb,depth}_{1,2,3}.npy and, with",
                "--checkpoint, DIR/<branch>/{bp,ibp,raw,fused}_{1,2,3}.npy, ocbe.npy and map.npy per branch."})
final class InspectCommand implements Callable<Integer> {
    @Mixin
    Common common;

    @Option(names = "--teacher", description = "torchvision wide_resnet50_2 .pth (zip or legacy format); "
            + "optional when --checkpoint is a crd4j model file.")
    Path teacher;

    @Option(names = "--checkpoint", description = "Reference CRD checkpoint .pth ({'student_rgb', 'student_depth'}) or a crd4j model file.")
    Path checkpoint;

    @Option(names = "--rgb", description = "Preprocessed RGB input .npy, float32 [1,3,S,S].")
    Path rgb;

    @Option(names = "--depth", description = "Preprocessed depth input .npy, float32 [1,3,S,S].")
    Path depth;

    @Option(names = "--rgb-image", description = "Raw RGB image (PNG), preprocessed as spec §2.2 to [1,3,256,256].")
    Path rgbImage;

    @Option(names = "--xyz", description = "Raw organized point cloud (float32 xyz TIFF, MVTec 3D-AD), preprocessed to the depth input (§2.3).")
    Path xyz;

    @Option(names = "--normals", description = "Raw surface-normals image (PNG, Eyecandies §14), preprocessed like RGB.")
    Path normals;

    @Option(names = "--gt", description = "Raw ground-truth mask (PNG): writes DIR/gt.npy, resized and binarised (§2.4).")
    Path gt;

    @Option(names = "--out", required = true, description = "Output directory.")
    Path out;

    @Option(names = "--dtype", defaultValue = "float32", description = "float32 (default) or float64 compute.")
    String dtype;

    @Override
    public Integer call() throws Exception {
        DType dt = switch (dtype) {
            case "float32" -> DType.FLOAT32;
            case "float64" -> DType.FLOAT64;
            default -> throw new IllegalArgumentException("--dtype: expected float32 or float64, found '" + dtype + "'");
        };
        if ((rgb == null) == (rgbImage == null)) {
            throw new IllegalArgumentException("give exactly one of --rgb (preprocessed .npy) or --rgb-image (raw PNG)");
        }
        int seconds = (depth == null ? 0 : 1) + (xyz == null ? 0 : 1) + (normals == null ? 0 : 1);
        if (seconds != 1) {
            throw new IllegalArgumentException("give exactly one of --depth (preprocessed .npy), --xyz (raw TIFF) or --normals (raw PNG)");
        }
        Modality second = normals != null ? Modality.NORMALS : Modality.DEPTH;
        // all inputs are read and checked before any weights are loaded or anything is written
        HostTensor x = rgb != null ? readInput(rgb) : crd4j.data.ImageInputs.rgbInput(rgbImage);
        HostTensor y = depth != null ? readInput(depth)
                : xyz != null ? crd4j.data.DepthPreprocessing.depthInput(xyz) : crd4j.data.ImageInputs.normalsInput(normals);
        HostTensor gtMap = gt == null ? null : crd4j.data.ImageInputs.groundTruth(gt);
        Path xFile = rgb != null ? rgb : rgbImage, yFile = depth != null ? depth : xyz != null ? xyz : normals;
        if (!Arrays.equals(x.shape(), y.shape())) {
            throw new IllegalArgumentException(yFile + ": shape " + Arrays.toString(y.shape()) + " differs from "
                    + xFile + " " + Arrays.toString(x.shape()));
        }
        int size = (int) x.dim(2);
        Backend be = common.backend();
        NnContext ctx = new NnContext(be, dt, 0);
        CrdModel model;
        if (checkpoint != null && ModelFiles.looksLikeModelFile(checkpoint)) {
            model = ModelFiles.load(checkpoint, ctx).model();
            if (model.preset().size() != size) {
                throw new IllegalArgumentException(xFile + ": expected input [1,3," + model.preset().size() + ","
                        + model.preset().size() + "] for " + checkpoint + ", found " + Arrays.toString(x.shape()));
            }
            if (teacher != null) loadTeacher(model);
        } else if (teacher == null && checkpoint == null) {
            // preprocessing only: the network inputs (and GT) are the output
            Map<String, HostTensor> inputs = new java.util.LinkedHashMap<>();
            inputs.put("input_rgb", x);
            inputs.put("input_" + second.key(), y);
            if (gtMap != null) inputs.put("gt", gtMap);
            writeAll(inputs);
            System.out.println("wrote " + inputs.size() + " arrays to " + out);
            return 0;
        } else {
            if (teacher == null) throw new IllegalArgumentException("--teacher is required unless --checkpoint is a crd4j model file");
            Map<String, HostTensor> sd = Checkpoints.readTeacher(teacher);
            int base = Checkpoints.teacherBase(sd, teacher);
            model = new CrdModel(ctx, presetFor(base, size), second);
            Checkpoints.loadTeacher(model.teacher(), sd, teacher);
            if (checkpoint != null) Checkpoints.loadReference(model, checkpoint);
        }
        if (dt == DType.FLOAT64) {
            x = x.toFloat64();
            y = y.toFloat64();
        }
        long t0 = System.nanoTime();
        Map<String, HostTensor> result = Inspection.run(be, model, be.fromHost(x), be.fromHost(y), checkpoint != null);
        if (gtMap != null) result.put("gt", gtMap);
        System.err.printf("crd inspect: preset %s (b=%d, S=%d), forward %.2f s%n", model.preset().name(),
                model.preset().base(), size, (System.nanoTime() - t0) / 1e9);
        writeAll(result);
        System.out.println("wrote " + result.size() + " arrays to " + out);
        return 0;
    }

    private void loadTeacher(CrdModel model) throws IOException {
        Checkpoints.loadTeacher(model.teacher(), Checkpoints.readTeacher(teacher), teacher);
    }

    static Preset presetFor(int base, int size) {
        for (Preset p : Preset.all()) if (p.base() == base && p.size() == size) return p;
        return new Preset("custom", base, size);
    }

    static HostTensor readInput(Path f) throws IOException {
        HostTensor t = Npy.read(f);
        long[] s = t.shape();
        if (s.length != 4 || s[0] < 1 || s[1] != 3 || s[2] != s[3] || s[2] % 32 != 0 || s[2] < 64) {
            throw new WeightsFormatException(f, "expected a preprocessed input of shape [1, 3, S, S] with S a multiple of 32"
                    + " (256 for the paper preset), found " + Arrays.toString(s));
        }
        if (!t.dtype().isFloating()) throw new WeightsFormatException(f, "expected float32 data, found " + t.dtype());
        return t.toFloat32();
    }

    /**
     * Writes into a fresh sibling directory first and moves it into place, so a failure leaves no partial output; an
     * existing DIR gets its files replaced one by one, each atomically.
     */
    private void writeAll(Map<String, HostTensor> result) throws IOException {
        Path abs = out.toAbsolutePath();
        Path parent = abs.getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempDirectory(parent, "." + abs.getFileName() + ".partial-");
        try {
            for (Map.Entry<String, HostTensor> e : result.entrySet()) {
                Path f = tmp.resolve(e.getKey() + ".npy");
                Files.createDirectories(f.getParent());
                Npy.write(f, e.getValue().toFloat32());
            }
            if (!Files.exists(abs)) {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
                return;
            }
            for (String key : result.keySet()) {
                Path dst = abs.resolve(key + ".npy");
                Files.createDirectories(dst.getParent());
                Files.move(tmp.resolve(key + ".npy"), dst, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            if (Files.exists(tmp)) {
                try (var walk = Files.walk(tmp)) {
                    for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
                }
            }
        }
    }
}
