package crd4j.cli;

import crd4j.backend.Backend;
import crd4j.model.FusionSemantics;
import crd4j.model.Preset;
import crd4j.train.ReverseDistillationTraining;
import crd4j.train.TrainingRun;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code crd train}: trains one CRD model on one category (spec §7), then computes the validation statistics of §8.2
 * and stores them in the model file. The run itself, its checkpoints ({@code <out>} and {@code <out>.train-state}
 * after every epoch, each atomic) and {@code --resume} are described in {@link TrainingRun}.
 *
 * <p>Inputs are preprocessed at the preset's side S (256 for paper; 128 small; 64 tiny): §2.2–§2.4 with 256 replaced
 * by S (RGB/GT/normals Pillow-resized to S, the xyz TIFF nearest-resized to S before the plane/closing/hole-fill
 * steps).
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a CRD model on one MVTec 3D-AD / Eyecandies category (spec §7), then store validation statistics (§8.2).")
final class TrainCommand implements Callable<Integer> {
    static final String STATE_SUFFIX = TrainingRun.STATE_SUFFIX;

    @Mixin
    Common common;

    @Option(names = "--data", required = true, description = "Dataset root (<root>/<category>/{train,validation,test}).")
    Path data;

    @Option(names = "--category", required = true, description = "Category (class) name.")
    String category;

    @Option(names = "--teacher", defaultValue = "random",
            description = "torchvision wide_resnet50_2 .pth, or 'random' for a seeded random teacher (default: ${DEFAULT-VALUE}).")
    String teacher;

    @Option(names = "--preset", defaultValue = "paper", description = "paper | small | tiny (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--epochs", defaultValue = "200", description = "Epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch", defaultValue = "16", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "0.005", description = "Initial Adam learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--seed", defaultValue = "42", description = "Seed for initialisation, random teacher and shuffling (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--semantics", defaultValue = "detached", description = "Fusion gradient semantics (§6.3): detached | joint (default: ${DEFAULT-VALUE}).")
    String semantics;

    @Option(names = "--out", required = true, description = "Model file to write (crd4j format).")
    Path out;

    @Option(names = "--calibrate-teacher", description = "With --teacher random: estimate the random teacher's batch-norm"
            + " statistics on the training images (both modalities) before training.")
    boolean calibrateTeacher;

    @Option(names = "--resume", description = "Continue from --out and its " + STATE_SUFFIX + " sidecar.")
    boolean resume;

    @Option(names = "--mapping", description = "After the students, also train the few-modal mapping network (a small conv net per"
            + " teacher level and direction, RGB to second modality and back) used by --missing-strategy mapping.")
    boolean mapping;

    @Option(names = "--mapping-epochs", defaultValue = "10", description = "Epochs of the mapping network with --mapping (default: ${DEFAULT-VALUE}).")
    int mappingEpochs;

    @Option(names = "--modalities", paramLabel = "rgb,3d | rgb | depth | normals",
            description = "Both (default: a CRD model), or one modality alone: a single-modality Reverse Distillation model (the"
                    + " baseline a user without the second sensor would train; no --resume, no --mapping).")
    String modalities;

    @Option(names = "--progress", defaultValue = "auto",
            description = "auto (a progress bar on a terminal, one line per epoch otherwise) | bar | lines (default: ${DEFAULT-VALUE}).")
    String progress;

    /** The one modality of --modalities, or null for both (CRD). */
    private String singleModality() {
        if (modalities == null) return null;
        java.util.List<String> m = java.util.Arrays.stream(modalities.split(",")).map(String::strip).toList();
        if (m.size() == 2 && m.get(0).equals("rgb") && java.util.List.of("3d", "depth", "normals").contains(m.get(1))) return null;
        if (m.size() == 1 && java.util.List.of("rgb", "depth", "normals").contains(m.get(0))) return m.get(0);
        throw new IllegalArgumentException("--modalities: expected rgb,3d (both), rgb, depth or normals, found '" + modalities + "'");
    }

    @Override
    public Integer call() throws Exception {
        Backend be = common.backend();
        TrainingRun.Config c = new TrainingRun.Config(data, category, teacher, resume ? null : Preset.byName(preset), epochs, batch, lr,
                seed, FusionSemantics.parse(semantics), calibrateTeacher, out, resume, mapping ? mappingEpochs : 0);
        String single = singleModality();
        try (TrainProgress p = TrainProgress.create(progress, "crd train")) {
            if (single == null) TrainingRun.run(be, c, p);
            else ReverseDistillationTraining.run(be, c, single, p);
        }
        System.out.println("wrote " + out);
        return 0;
    }
}
