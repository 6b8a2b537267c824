package crd4j.model;

import crd4j.detect.Inspection;
import crd4j.autograd.Graph;
import crd4j.backend.Backend;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.nn.NnContext;
import crd4j.nn.StateEntry;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The architecture's structure against the spec: state-dict names, order and shapes of a paper-preset branch equal
 * ../shared/spec/crd-branch-state-dict.tsv (§13.2), and parameter counts equal §3 and §5.5. The paper preset is built
 * on the host only as shapes (a {@link ShapeOnly} backend allocates nothing).
 */
class ArchitectureTest {
    /** A copy of the spec's list (shared/spec/crd-branch-state-dict.tsv), kept with the tests so they never skip. */
    static final Path TSV = Paths.get("src/test/resources/spec/crd-branch-state-dict.tsv");

    @Test
    void paperBranchStateDictEqualsReferenceNamesOrderAndShapes() throws Exception {
        Path tsv = TSV;
        List<String> expected = new ArrayList<>();
        for (String line : Files.readAllLines(tsv)) {
            if (line.startsWith("#") || line.isBlank()) continue;
            String[] f = line.split("\t");
            expected.add(f[0] + " " + f[1].replace(",)", ")").replace(" ", ""));
        }
        CrdBranch branch = new CrdBranch(ShapeOnly.context(), Preset.PAPER);
        List<String> actual = new ArrayList<>();
        for (StateEntry e : branch.stateEntries()) {
            String shape = Arrays.toString(e.shape()).replace('[', '(').replace(']', ')').replace(" ", "");
            actual.add(e.name() + " " + shape);
        }
        assertEquals(465, expected.size());
        assertEquals(expected, actual);
    }

    @Test
    void paperParameterCountsMatchTheSpec() {
        NnContext ctx = ShapeOnly.context();
        CrdBranch branch = new CrdBranch(ctx, Preset.PAPER);
        assertEquals(193_356_806L, branch.parameterCount(), "§5.5 branch total");
        assertEquals(59_794_944L, branch.bp.parameterCount(), "§5.1 BP");
        assertEquals(90_738_688L, branch.ocbe.parameterCount(), "§5.2 modified OCBE");
        assertEquals(24_917_504L + 6, branch.decoder.parameterCount(), "§4.2 decoder + §5.4 six fusion logits");
        assertEquals(17_905_664L, branch.ibp.parameterCount(), "§5.3 IBP");
        WideResNetTeacher teacher = new WideResNetTeacher(ctx, Preset.PAPER);
        long teacherParams = 0;
        for (StateEntry e : teacher.stateEntries()) {
            if (!e.name().endsWith("running_mean") && !e.name().endsWith("running_var") && !e.name().endsWith("num_batches_tracked")) {
                teacherParams += HostTensor.numel(e.shape());
            }
        }
        assertEquals(24_862_528L, teacherParams, "§3 teacher layers 1-3");
        assertEquals(58_885_120L + 8_392_704L, new ReverseDistillationOcbe(ctx, Preset.PAPER).parameterCount(), "§4.1 RD OCBE incl. unused conv4/bn4");
    }

    @Test
    void featureShapesFollowThePreset() {
        Backend be = new Nd4jBackend();
        CrdModel m = new CrdModel(new NnContext(be, DType.FLOAT32, 1), Preset.TINY, Modality.DEPTH);
        m.train(false);
        Graph g = Graph.inference(be);
        var x = be.zeros(DType.FLOAT32, 1, 3, 64, 64);
        CrdModel.TeacherFeatures t = m.teacherForward(g, x, x);
        assertArrayEquals(new long[]{1, 16, 16, 16}, t.rgb().get(0).shape());
        assertArrayEquals(new long[]{1, 32, 8, 8}, t.rgb().get(1).shape());
        assertArrayEquals(new long[]{1, 64, 4, 4}, t.rgb().get(2).shape());
        CrdBranch.Output o = m.rgbForward(g, t);
        assertArrayEquals(new long[]{1, 128, 2, 2}, o.ocbe().shape());
        for (int k = 0; k < 3; k++) {
            assertArrayEquals(t.rgb().get(k).shape(), o.bp().get(k).shape());
            assertArrayEquals(t.rgb().get(k).shape(), o.ibp().get(k).shape());
            assertArrayEquals(t.rgb().get(k).shape(), o.raw().get(k).shape());
            assertArrayEquals(t.rgb().get(k).shape(), o.fused().get(k).shape());
        }
    }

    @Test
    void fusionLogitsStartAtOneSoWeightsAreHalf() {
        CrdBranch b = new CrdBranch(new NnContext(new Nd4jBackend(), DType.FLOAT32, 1), Preset.TINY);
        Map<String, HostTensor> sd = b.stateDict();
        for (String k : List.of("decoder.w_a", "decoder.w_b", "decoder.w_c")) {
            assertArrayEquals(new float[]{1f, 1f}, sd.get(k).floats(), k);
        }
        assertArrayEquals(new double[]{0.5, 0.5}, b.fusionWeights().get(0).softmax(), 0);
    }

    @Test
    void modelFileRoundTripReproducesTheForward(@TempDir Path tmp) throws Exception {
        Backend be = new Nd4jBackend();
        CrdModel m = new CrdModel(new NnContext(be, DType.FLOAT32, 3), Preset.TINY, Modality.NORMALS);
        Path f = tmp.resolve("m.crd4j");
        ModelFiles.save(m, f, "random(seed=3)", null);
        ModelFiles.Loaded back = ModelFiles.load(f, new NnContext(be, DType.FLOAT32, 99));
        assertEquals(Modality.NORMALS, back.model().secondModality());
        assertEquals("random(seed=3)", back.meta().get("teacher").asText());
        assertTrue(back.meta().get("stats").isNull());
        var x = be.fromHost(HostTensor.of(new float[3 * 64 * 64], 1, 3, 64, 64));
        Map<String, HostTensor> a = Inspection.run(be, m, x, x, true), b = Inspection.run(be, back.model(), x, x, true);
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) assertArrayEquals(a.get(k).floats(), b.get(k).floats(), k);
    }

    @Test
    void presetsRejectSizesThatAreNotMultiplesOf32() {
        assertThrows(IllegalArgumentException.class, () -> new Preset("x", 4, 100));
        assertEquals(Preset.PAPER, Preset.byName("paper"));
        assertThrows(IllegalArgumentException.class, () -> Preset.byName("huge"));
    }
}
