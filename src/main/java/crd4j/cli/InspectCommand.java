package crd4j.cli;

import crd4j.backend.Backend;
import crd4j.backend.Tensor;
import crd4j.detect.Inspection;
import crd4j.detect.MissingStrategy;
import crd4j.data.ImageInputs;
import crd4j.io.Npy;
import crd4j.model.Checkpoints;
import crd4j.model.CrdModel;
import crd4j.data.SecondInput;
import crd4j.model.ModelFiles;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
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
                "(--rgb-image with --xyz or --normals, optionally --gt) preprocessed as the reference does, at the",
                "model's input side. Either modality may be left out: see --missing-strategy.",
                "without --teacher/--checkpoint only the network inputs (and gt.npy) are written.",
                "Writes DIR/input_rgb.npy, DIR/input_depth.npy, DIR/teacher_{rgb,depth}_{1,2,3}.npy and, with",
                "--checkpoint, DIR/<branch>/{bp,ibp,raw,fused}_{1,2,3}.npy, ocbe.npy and map.npy per branch."})
final class InspectCommand implements Callable<Integer> {
    @Mixin
    Common common;

    @Mixin
    SampleInputs inputs;

    @Mixin
    SecondInputOptions secondOptions;

    @Option(names = "--teacher", description = "torchvision wide_resnet50_2 .pth (zip or legacy format); "
            + "optional when --checkpoint is a crd4j model file.")
    Path teacher;

    @Option(names = "--checkpoint", description = "Reference CRD checkpoint .pth ({'student_rgb', 'student_depth'}) or a crd4j model file.")
    Path checkpoint;

    @Option(names = "--gt", description = "Raw ground-truth mask (PNG): writes DIR/gt.npy, resized to the input side and binarised at 0.5.")
    Path gt;

    @Option(names = "--out", required = true, description = "Output directory.")
    Path out;

    @Option(names = "--dtype", defaultValue = "float32", description = "float32 (default) or float64 compute.")
    String dtype;

    @Option(names = "--missing-strategy", defaultValue = "filter",
            description = "When one modality is not given: how the model stands in for it (filter, amplifier, mapping, zero, drop;"
                    + " see crd detect --help). Writes DIR/estimated_<modality>_{1,2,3}.npy, the estimated teacher features.")
    String missingStrategy;

    @Override
    public Integer call() throws Exception {
        DType dt = Common.parseDtype(dtype);
        MissingStrategy strategy = MissingStrategy.parse(missingStrategy);
        Map<String, HostTensor> result;
        SampleInputs.Loaded in;
        if (teacher == null && checkpoint == null) {
            // preprocessing only: the network inputs (and GT) are the output
            SecondInput second = inputs.secondWithoutModel(secondOptions);
            in = inputs.load(inputs.sizeOfGivenTensors(), true, second);
            result = new LinkedHashMap<>();
            if (in.rgb() != null) result.put("input_rgb", in.rgb());
            if (in.other() != null) result.put("input_" + second.branch().key(), in.other());
        } else {
            Backend be = common.backend();
            NnContext ctx = new NnContext(be, dt, 0);
            CrdModel model;
            String modelName;
            SecondInput second;
            if (checkpoint != null && ModelFiles.looksLikeModelFile(checkpoint)) {
                // raw files are preprocessed at the model's side and as its second input, so the model comes first
                ModelFiles.Loaded l = ModelFiles.load(checkpoint, ctx);
                model = l.model();
                second = crd4j.detect.ModelMetadata.read(l.meta(), checkpoint).secondInput();
                secondOptions.choice().check(second, checkpoint);
                if (teacher != null) Checkpoints.loadTeacher(model.teacher(), Checkpoints.readTeacher(teacher), teacher);
                modelName = checkpoint.toString();
            } else {
                if (teacher == null) throw new IllegalArgumentException("--teacher is required unless --checkpoint is a crd4j model file");
                second = inputs.secondWithoutModel(secondOptions);
                Map<String, HostTensor> sd = Checkpoints.readTeacher(teacher);
                // with a checkpoint every weight is loaded below (strictly): nothing to draw
                NnContext build = checkpoint != null ? NnContext.forLoading(be, dt) : ctx;
                model = new CrdModel(build, presetFor(Checkpoints.teacherBase(sd, teacher), inputs.sizeOfGivenTensors()), second.branch());
                Checkpoints.loadTeacher(model.teacher(), sd, teacher);
                if (checkpoint != null) Checkpoints.loadReference(model, checkpoint);
                modelName = checkpoint != null ? checkpoint.toString() : teacher.toString();
            }
            common.threadsFor(model.preset());
            crd4j.detect.Detector.checkWeights(model, modelName);   // fail closed before any output
            int size = model.preset().size();
            if (checkpoint != null && ModelFiles.looksLikeModelFile(checkpoint)) {
                // the model's own preprocessing (what Detector.score(Path, Path) uses): its side, its second modality
                inputs.check(true, second);
                crd4j.detect.Sample smp = new crd4j.detect.ModelInputs(size, second, modelName).load(inputs.rgbFile(), inputs.secondFile());
                in = new SampleInputs.Loaded(smp.rgb(), smp.second(), inputs.rgbFile(), inputs.secondFile());
            } else {
                in = inputs.load(size, true, second);
                SampleInputs.checkAgainst(in, size, modelName);
            }
            HostTensor x = in.rgb(), y = in.other();
            if (dt == DType.FLOAT64) {
                x = x == null ? null : x.toFloat64();
                y = y == null ? null : y.toFloat64();
            }
            long t0 = System.nanoTime();
            try (Tensor xt = x == null ? null : be.fromHost(x); Tensor yt = y == null ? null : be.fromHost(y)) {
                result = Inspection.run(be, model, xt, yt, checkpoint != null, strategy);
            }
            System.err.printf("crd inspect: preset %s (b=%d, S=%d), forward %.2f s%n", model.preset().name(),
                    model.preset().base(), size, (System.nanoTime() - t0) / 1e9);
        }
        for (Map.Entry<String, HostTensor> e : result.entrySet()) {
            // fail closed: the first intermediate (network order) that is not finite is named, and nothing is written
            String bad = crd4j.tensor.Finite.describe(e.getValue());
            if (bad != null) {
                throw new IllegalArgumentException(e.getKey() + " holds " + bad + " (NaN or Inf in the weights or the inputs);"
                        + " nothing written");
            }
        }
        if (gt != null) result.put("gt", ImageInputs.groundTruth(gt, (int) (in.rgb() != null ? in.rgb() : in.other()).dim(2)));
        Map<String, OutputDirectory.FileWriter> files = new LinkedHashMap<>();
        for (Map.Entry<String, HostTensor> e : result.entrySet()) {
            HostTensor t = e.getValue().toFloat32();
            files.put(e.getKey() + ".npy", f -> Npy.write(f, t));
        }
        OutputDirectory.write(out, files, OUTPUTS);
        System.out.println("wrote " + result.size() + " arrays to " + out);
        return 0;
    }

    /** Every top-level name inspect can write: a rerun into the same --out leaves none of an earlier run's behind. */
    static final java.util.Set<String> OUTPUTS = outputs();

    private static java.util.Set<String> outputs() {
        java.util.Set<String> o = new java.util.HashSet<>(java.util.List.of("gt.npy", "rgb", "depth", "normals"));
        for (String m : new String[]{"rgb", "depth", "normals"}) {
            o.add("input_" + m + ".npy");
            for (int k = 1; k <= 3; k++) {
                o.add("teacher_" + m + "_" + k + ".npy");
                o.add("estimated_" + m + "_" + k + ".npy");
            }
        }
        return java.util.Set.copyOf(o);
    }

    static Preset presetFor(int base, int size) {
        for (Preset p : Preset.all()) if (p.base() == base && p.size() == size) return p;
        return new Preset("custom", base, size);
    }
}
