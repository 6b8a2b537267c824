package crd4j.detect;

import crd4j.backend.Backend;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.io.Npy;
import crd4j.model.Checkpoints;
import crd4j.model.CrdModel;
import crd4j.model.Modality;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import crd4j.testing.Parity;
import crd4j.testing.PyReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Few-modal scoring (§17.2) against PyTorch: {@code crd_reference.py few-modal} (tiny preset b=4, S=64, the same
 * seeded weights as the network reference) writes, for each missing modality and each strategy, the estimated
 * teacher features T̂ (filter: BP_M(T_P), amplifier: IBP_M(T_P), zero: 0), the present branch's raw map with T̂ as its
 * assist ({@code branch_P(T_P, T̂)} against T_P), the missing branch's raw map ({@code branch_M(T̂, T_P)} against T̂),
 * and for drop the present branch with zero assist signals. Reference outputs are PyTorch float64 (of the float32
 * weights and inputs) stored as float32, and PyTorch float32.
 * <ul>
 *   <li>float64 crd4j: within 1e-7 of the float64 reference (its float32 storage rounding, ≤ 6e-8, plus float64 noise);</li>
 *   <li>float32 crd4j: within 1e-4 of the exact result, or twice PyTorch float32's own error where that is larger
 *   than 5e-5 (the rule of NetworkParityTest).</li>
 * </ul>
 */
class FewModalParityTest {
    static Path reference() {
        return PyReference.generate("few-modal-tiny", "few-modal", "--base", "4", "--size", "64");
    }

    static Stream<Arguments> cases() {
        return Stream.of("depth", "rgb").flatMap(missing -> Stream.of(MissingStrategy.FILTER, MissingStrategy.AMPLIFIER,
                MissingStrategy.ZERO, MissingStrategy.DROP).map(s -> Arguments.of(missing, s)));
    }

    private static final Backend BE = new Nd4jBackend();
    private static final Map<DType, CrdModel> MODELS = new java.util.EnumMap<>(DType.class);

    /** The reference weights, loaded once per dtype (the cases only read them). */
    static synchronized CrdModel model(Path dir, DType dtype) throws IOException {
        CrdModel model = MODELS.get(dtype);
        if (model == null) {
            model = new CrdModel(new NnContext(BE, dtype, 0), Preset.TINY, Modality.DEPTH);
            Checkpoints.loadTeacher(model.teacher(), Checkpoints.readTeacher(dir.resolve("teacher.pth")), dir.resolve("teacher.pth"));
            Checkpoints.loadReference(model, dir.resolve("checkpoint.pth"));
            MODELS.put(dtype, model);
        }
        return model;
    }

    static Map<String, HostTensor> crd4j(Path dir, DType dtype, String missing, MissingStrategy s) throws IOException {
        Backend be = BE;
        CrdModel model = model(dir, dtype);
        HostTensor rgb = Npy.read(dir.resolve("rgb.npy")), depth = Npy.read(dir.resolve("depth.npy"));
        if (dtype == DType.FLOAT64) {
            rgb = rgb.toFloat64();
            depth = depth.toFloat64();
        }
        return Inspection.run(be, model, missing.equals("rgb") ? null : be.fromHost(rgb),
                missing.equals("depth") ? null : be.fromHost(depth), true, s);
    }

    /** The reference files of one case, relative to ref/ (and ref_f32/), without extension. */
    static Stream<String> expected(Path dir, String missing, MissingStrategy s) throws IOException {
        Path base = dir.resolve("ref").resolve("missing_" + missing).resolve(s.key());
        try (Stream<Path> files = Files.walk(base)) {
            return files.filter(f -> f.toString().endsWith(".npy"))
                    .map(f -> base.relativize(f).toString().replace('\\', '/').replaceAll("\\.npy$", "")).sorted().toList().stream();
        }
    }

    @ParameterizedTest(name = "{0} missing, {1}")
    @MethodSource("cases")
    void float64IsTheSameMathsAsPyTorch(String missing, MissingStrategy s) throws Exception {
        Path dir = reference();
        Map<String, HostTensor> out = crd4j(dir, DType.FLOAT64, missing, s);
        String present = missing.equals("rgb") ? "depth" : "rgb";
        assertFalse(out.containsKey("input_" + missing), "no input for the missing modality");
        assertFalse(out.containsKey("teacher_" + missing + "_1"), "no teacher features for the missing modality");
        assertEquals(s != MissingStrategy.DROP, out.containsKey("estimated_" + missing + "_1"));
        assertEquals(s.estimates(), out.containsKey(missing + "/map"), "the missing branch is scored only on an estimate");
        assertTrue(out.containsKey(present + "/map"));
        long n = expected(dir, missing, s).count();
        assertEquals(s == MissingStrategy.DROP ? 1 : s == MissingStrategy.ZERO ? 4 : 5, n, "reference outputs: T̂ per level and the maps");
        for (String key : (Iterable<String>) expected(dir, missing, s)::iterator) {
            HostTensor ref = Npy.read(dir.resolve("ref/missing_" + missing + "/" + s.key() + "/" + key + ".npy"));
            assertTrue(out.containsKey(key), "crd4j writes " + key);
            Parity.assertClose("few-modal f64 " + missing + " missing, " + s.key() + ": " + key, out.get(key).toFloat32(), ref, 1e-7);
        }
    }

    @ParameterizedTest(name = "{0} missing, {1}")
    @MethodSource("cases")
    void float32IsAsCloseToExactAsPyTorchFloat32(String missing, MissingStrategy s) throws Exception {
        Path dir = reference();
        Map<String, HostTensor> out = crd4j(dir, DType.FLOAT32, missing, s);
        for (String key : (Iterable<String>) expected(dir, missing, s)::iterator) {
            String rel = "missing_" + missing + "/" + s.key() + "/" + key + ".npy";
            HostTensor exact = Npy.read(dir.resolve("ref").resolve(rel)), torch32 = Npy.read(dir.resolve("ref_f32").resolve(rel));
            double torchErr = Parity.relL2(torch32, exact);
            double tol = torchErr > 5e-5 ? 2 * torchErr : Parity.NETWORK;
            Parity.record("few-modal pytorch-f32-vs-exact " + missing + " missing, " + s.key() + ": " + key, torchErr, Double.NaN);
            Parity.assertClose("few-modal crd4j-f32-vs-exact " + missing + " missing, " + s.key() + ": " + key, out.get(key), exact, tol);
        }
    }

    /**
     * §17.2 item 3: the statistics of every (branch, mode) that {@link ValidationStatistics} computes (float64) from
     * the reference's input pair, against numpy's mean and std (ddof 0) of the PyTorch float64 maps of the same modes
     * ({@code ref/stats.json}): 1e-9 relative (float64 rounding; numpy sums pairwise, crd4j in order).
     */
    @org.junit.jupiter.api.Test
    void perModeStatisticsAreNumpysMeanAndStdOfTheReferenceMaps() throws Exception {
        Path dir = reference();
        CrdModel model = model(dir, DType.FLOAT64);
        HostTensor rgb = Npy.read(dir.resolve("rgb.npy")).toFloat64(), depth = Npy.read(dir.resolve("depth.npy")).toFloat64();
        NormalizationStats stats = ValidationStatistics.compute(BE, model, 1, i -> Sample.of(rgb, depth), true);
        com.fasterxml.jackson.databind.JsonNode ref = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(dir.resolve("ref/stats.json").toFile());
        int compared = 0;
        for (String branch : java.util.List.of("rgb", "depth")) {
            java.util.Set<String> mine = new java.util.TreeSet<>(), theirs = new java.util.TreeSet<>();
            for (BranchMode m : stats.modes(branch)) mine.add(m.key());
            ref.path(branch).fieldNames().forEachRemaining(theirs::add);
            assertEquals(theirs, mine, branch + ": the modes computed");
            for (BranchMode m : stats.modes(branch)) {
                NormalizationStats.MeanStd ms = stats.find(branch, m);
                double mean = ref.path(branch).path(m.key()).path("mean").asDouble(), std = ref.path(branch).path(m.key()).path("std").asDouble();
                Parity.record("few-modal stats mean " + branch + " " + m.key(), Math.abs(ms.mean() - mean) / mean, 1e-9);
                Parity.record("few-modal stats std " + branch + " " + m.key(), Math.abs(ms.std() - std) / std, 1e-9);
                assertEquals(mean, ms.mean(), 1e-9 * mean, branch + " " + m.key() + " mean");
                assertEquals(std, ms.std(), 1e-9 * std, branch + " " + m.key() + " std");
                compared++;
            }
        }
        assertEquals(14, compared, "2 branches × (real + 4 assist modes + 2 estimated modes)");
    }
}
