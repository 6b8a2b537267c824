package crd4j.detect;

import crd4j.backend.Backend;
import crd4j.model.CrdModel;
import crd4j.model.Modality;
import crd4j.model.ModelFiles;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * A tiny-preset CRD model with seeded random weights and fixed validation statistics (mean 1.5, std 0.1 for every
 * branch and mode), for tests about scoring mechanics (threads, faults, folders) rather than accuracy: seconds to make
 * instead of a training run.
 */
public final class TinyModels {
    private TinyModels() {}

    public static CrdModel model(Backend be, long seed) {
        return new CrdModel(new NnContext(be, DType.FLOAT32, seed), Preset.byName("tiny"), Modality.DEPTH);
    }

    public static NormalizationStats stats(CrdModel m) {
        NormalizationStats.Builder b = NormalizationStats.builder();
        for (String k : m.branchKeys()) for (BranchMode mode : BranchMode.values()) b.put(k, mode, new NormalizationStats.MeanStd(1.5, 0.1));
        return b.build();
    }

    /** Writes the model with its statistics as a crd4j model file. */
    public static Path save(Backend be, long seed, Path file) throws IOException {
        CrdModel m = model(be, seed);
        ModelFiles.save(m, file, "random(seed=" + seed + ")", stats(m).toJson());
        return file;
    }

    /** A [1,3,64,64] input of uniform values in [−2, 2). */
    public static HostTensor input(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[3 * 64 * 64];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 4 - 2);
        return HostTensor.of(a, 1, 3, 64, 64);
    }
}
