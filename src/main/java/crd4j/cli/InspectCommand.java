package crd4j.cli;

import crd4j.backend.Backend;
import crd4j.data.ImageInputs;
import crd4j.io.Npy;
import crd4j.model.Checkpoints;
import crd4j.model.CrdModel;
import crd4j.model.Inspection;
import crd4j.model.ModelFiles;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code crd inspect}: writes every intermediate of the network for given inputs, so users can compare crd4j with
 * their own PyTorch reference outputs layer by layer.
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

    @Mixin
    SampleInputs inputs;

    @Option(names = "--teacher", description = "torchvision wide_resnet50_2 .pth (zip or legacy format); "
            + "optional when --checkpoint is a crd4j model file.")
    Path teacher;

    @Option(names = "--checkpoint", description = "Reference CRD checkpoint .pth ({'student_rgb', 'student_depth'}) or a crd4j model file.")
    Path checkpoint;

    @Option(names = "--gt", description = "Raw ground-truth mask (PNG): writes DIR/gt.npy, resized and binarised (§2.4).")
    Path gt;

    @Option(names = "--out", required = true, description = "Output directory.")
    Path out;

    @Option(names = "--dtype", defaultValue = "float32", description = "float32 (default) or float64 compute.")
    String dtype;

    @Override
    public Integer call() throws Exception {
        DType dt = Common.parseDtype(dtype);
        // all inputs are read and checked before any weights are loaded or anything is written
        SampleInputs.Loaded in = inputs.load();
        HostTensor gtMap = gt == null ? null : ImageInputs.groundTruth(gt);
        HostTensor x = in.rgb(), y = in.other();
        int size = (int) x.dim(2);
        Map<String, HostTensor> result;
        if (teacher == null && checkpoint == null) {
            // preprocessing only: the network inputs (and GT) are the output
            result = new LinkedHashMap<>();
            result.put("input_rgb", x);
            result.put("input_" + in.second().key(), y);
        } else {
            Backend be = common.backend();
            CrdModel model = loadModel(new NnContext(be, dt, 0), in, size);
            if (dt == DType.FLOAT64) {
                x = x.toFloat64();
                y = y.toFloat64();
            }
            long t0 = System.nanoTime();
            result = Inspection.run(be, model, be.fromHost(x), be.fromHost(y), checkpoint != null);
            System.err.printf("crd inspect: preset %s (b=%d, S=%d), forward %.2f s%n", model.preset().name(),
                    model.preset().base(), size, (System.nanoTime() - t0) / 1e9);
        }
        if (gtMap != null) result.put("gt", gtMap);
        Map<String, OutputDirectory.FileWriter> files = new LinkedHashMap<>();
        for (Map.Entry<String, HostTensor> e : result.entrySet()) {
            HostTensor t = e.getValue().toFloat32();
            files.put(e.getKey() + ".npy", f -> Npy.write(f, t));
        }
        OutputDirectory.write(out, files);
        System.out.println("wrote " + result.size() + " arrays to " + out);
        return 0;
    }

    private CrdModel loadModel(NnContext ctx, SampleInputs.Loaded in, int size) throws IOException {
        if (checkpoint != null && ModelFiles.looksLikeModelFile(checkpoint)) {
            CrdModel model = ModelFiles.load(checkpoint, ctx).model();
            if (model.preset().size() != size) {
                throw new IllegalArgumentException(in.rgbFile() + ": expected input [1,3," + model.preset().size() + ","
                        + model.preset().size() + "] for " + checkpoint + ", found " + Arrays.toString(in.rgb().shape()));
            }
            if (teacher != null) Checkpoints.loadTeacher(model.teacher(), Checkpoints.readTeacher(teacher), teacher);
            return model;
        }
        if (teacher == null) throw new IllegalArgumentException("--teacher is required unless --checkpoint is a crd4j model file");
        Map<String, HostTensor> sd = Checkpoints.readTeacher(teacher);
        CrdModel model = new CrdModel(ctx, presetFor(Checkpoints.teacherBase(sd, teacher), size), in.second());
        Checkpoints.loadTeacher(model.teacher(), sd, teacher);
        if (checkpoint != null) Checkpoints.loadReference(model, checkpoint);
        return model;
    }

    static Preset presetFor(int base, int size) {
        for (Preset p : Preset.all()) if (p.base() == base && p.size() == size) return p;
        return new Preset("custom", base, size);
    }
}
