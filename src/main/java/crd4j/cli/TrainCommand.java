package crd4j.cli;

import crd4j.backend.Backend;
import crd4j.model.FusionSemantics;
import crd4j.model.Preset;
import crd4j.train.ReverseDistillationTraining;
import crd4j.train.Recipe;
import crd4j.train.StopOnSignal;
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
 * steps; normals from depth are computed at the TIFF's full resolution and resized to S at the end).
 *
 * <p>{@code --recipe} picks the defaults of one reference code version ({@link Recipe}); {@code --semantics},
 * {@code --seed} and {@code --second} given explicitly win. The second input ({@code --second}, {@code --sobel-k},
 * {@link SecondInputOptions}) is recorded in the model file with the recipe and the seed.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a CRD model on one MVTec 3D-AD / Eyecandies category, then store the validation statistics "
                + "that normalise its maps and the decision thresholds chosen on the good validation parts (highest "
                + "score x 1.1; crd calibrate re-picks them on labelled parts).")
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

    @Option(names = "--preset", description = "paper | small | tiny (default: paper; with --resume: the training state's, and a"
            + " different one is refused).")
    String preset;

    @Option(names = "--epochs", defaultValue = "200", description = "Epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch", defaultValue = "16", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "0.005", description = "Initial Adam learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--recipe", defaultValue = "paper-2024",
            description = "The reference code version whose settings are the defaults: paper-2024 (the paper's code: detached "
                    + "fusion gradients, depth from xyz, seed 42) | trd-2025 (the 2025 code: joint fusion gradients, "
                    + "normals computed from xyz, seed 111). --semantics, --second and --seed override it; the model file "
                    + "records it (default: ${DEFAULT-VALUE}).")
    String recipe;

    @Option(names = "--seed", description = "Seed for initialisation, random teacher and shuffling (default: the recipe's, 42 or 111).")
    Long seed;

    @Option(names = "--semantics", description = "Fusion gradient semantics (which losses reach the decoder's fusion weights): detached | joint (default: the recipe's, "
            + "detached for paper-2024, joint for trd-2025).")
    String semantics;

    @Mixin
    SecondInputOptions secondInput;

    @Option(names = "--out", required = true, description = "Model file to write (crd4j format).")
    Path out;

    @Option(names = "--calibrate-teacher", description = "With --teacher random: estimate the random teacher's batch-norm"
            + " statistics on the training images (both modalities) before training.")
    boolean calibrateTeacher;

    @Option(names = "--resume", description = "Continue from --out and its " + STATE_SUFFIX + " sidecar (after a kill, Ctrl-C or"
            + " SIGTERM; also with a larger --epochs). The state must come from the same data, preset, --batch and crd4j version.")
    boolean resume;

    @Option(names = "--force", description = "Replace an existing model file at --out (and its " + STATE_SUFFIX + ") with a new"
            + " run; without it an existing model is refused.")
    boolean force;

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
        Recipe r = Recipe.parse(recipe);
        FusionSemantics sem = semantics == null ? r.semantics() : FusionSemantics.parse(semantics);
        TrainingRun.Config c = new TrainingRun.Config(data, category, teacher, preset != null ? Preset.byName(preset) : resume ? null : Preset.byName("paper"), epochs, batch, lr,
                seed == null ? r.seed() : seed, sem, calibrateTeacher, out, resume, r, secondInput.kind(), secondInput.sobelK(),
                mapping ? mappingEpochs : 0);
        String single = singleModality();
        if (resume && force) throw new IllegalArgumentException("--resume and --force: give one (continue the run, or replace it)");
        TrainingRun.checkOutputPath(out);
        if (!resume && !force && (java.nio.file.Files.exists(out) || java.nio.file.Files.exists(TrainingRun.statePath(out)))) {
            Path what = java.nio.file.Files.exists(out) ? out : TrainingRun.statePath(out);
            throw new IllegalArgumentException(what + ": already exists; give --resume to continue its training, --force to"
                    + " replace it, or another --out");
        }
        Backend be = common.backend();
        if (resume) common.threadsForModel(TrainingRun.statePath(out));
        else common.threadsFor(c.preset());
        // SIGTERM / Ctrl-C: the run writes its state between two steps and says how to resume (TrainingRun.Stopped)
        // (the single-modality baseline polls no stop request, so a signal ends it at once, as before)
        try (TrainProgress p = TrainProgress.create(progress, "crd train")) {
            if (single != null) {
                ReverseDistillationTraining.run(be, c, single, p);
            } else {
                try (StopOnSignal stop = StopOnSignal.install(600)) {
                    try {
                        TrainingRun.run(be, c, p, stop);
                    } catch (TrainingRun.Stopped e) {
                        p.close();
                        System.err.println("crd train: " + e.getMessage());
                        stop.releaseAndAwaitExit(60);   // the JVM exits with the signal's status (143 SIGTERM, 130 Ctrl-C)
                        return 130;
                    }
                }
            }
        }
        System.out.println("wrote " + out);
        return 0;
    }
}
