package crd4j.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.backend.Backend;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.io.ModelFile;
import crd4j.io.WeightsFormatException;
import crd4j.nn.NnContext;
import crd4j.nn.StateEntry;
import crd4j.tensor.DType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A model file's declared preset is checked against its tensors before the model is allocated (issue 13, finding 2). */
class ModelShapesTest {
    @TempDir static Path tmp;
    private static final Backend BE = new Nd4jBackend();
    private static Path good;
    private static ModelFile.Contents contents;

    @BeforeAll
    static void tinyModelFile() throws IOException {
        good = tmp.resolve("tiny.crd4j");
        ModelFiles.save(new CrdModel(new NnContext(BE, DType.FLOAT32, 1), Preset.TINY, Modality.DEPTH), good, "random(seed=1)", null);
        contents = ModelFile.read(good);
    }

    /** The shapes derived from b = 1 and b = 2 are those of real models, paper preset included (built shape-only). */
    @Test
    void derivedShapesEqualTheRealModelsShapes() throws WeightsFormatException {
        for (Preset p : Preset.all()) {
            NnContext ctx = ShapeOnly.context();
            compare(ModelShapes.expected("teacher", p.base(), BE), new WideResNetTeacher(ctx, p), p);
            compare(ModelShapes.expected("branch", p.base(), BE), new CrdBranch(ctx, p), p);
        }
    }

    private static void compare(Map<String, long[]> expected, crd4j.nn.Module m, Preset p) {
        assertEquals(m.stateEntries().size(), expected.size(), p.name());
        for (StateEntry e : m.stateEntries()) {
            assertArrayEquals(e.shape(), expected.get(e.name()), p.name() + " " + e.name());
        }
    }

    /** Rewrites the metadata's preset and re-signs the file: checksum-valid, lying. */
    private static Path withPreset(String name, long base, long size) throws IOException {
        ObjectNode meta = contents.meta().deepCopy();
        ((ObjectNode) meta.get("preset")).put("base", base).put("size", size);
        Path f = tmp.resolve(name);
        ModelFile.write(f, contents.tensors(), meta);
        return f;
    }

    private static String refused(Path f) {
        WeightsFormatException e = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> assertThrows(
                WeightsFormatException.class, () -> ModelFiles.load(f, new NnContext(BE, DType.FLOAT32, 0))));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertTrue(e.getMessage().startsWith(f.toString() + ": "), e.getMessage());
        return e.getMessage();
    }

    @Test
    void hugePresetInAChecksumValidFileIsRefusedBeforeAllocating() throws IOException {
        long before = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
        String m = refused(withPreset("huge.crd4j", 4096, 64));
        assertTrue(m.contains("tensor 'teacher.conv1.weight': shape [4, 3, 7, 7] in the file, but the metadata's preset"
                + " 'tiny' (base 4096) needs [4096, 3, 7, 7]"), m);
        long after = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
        assertTrue(after - before < (1L << 30), "no model was allocated: heap grew by " + (after - before));
        // The finding's larger case ended in "integer overflow"; now it is the same clear line.
        assertTrue(refused(withPreset("overflow.crd4j", Integer.MAX_VALUE, 64)).contains("base 2147483647"));
        assertTrue(refused(withPreset("size.crd4j", 4, 1L << 30)).contains("metadata 'preset.size': 1073741824 is too large"));
    }

    @Test
    void aMissingTensorIsNamedWithItsShape() throws IOException {
        Map<String, crd4j.tensor.HostTensor> t = new java.util.LinkedHashMap<>(contents.tensors());
        t.remove("depth.decoder.w_a");
        Path f = tmp.resolve("missing.crd4j");
        ModelFile.write(f, t, contents.meta());
        String m = refused(f);
        assertTrue(m.contains("tensor 'depth.decoder.w_a' missing (preset 'tiny', base 4, needs shape [2])"), m);
    }

    @Test
    void theTrueFileStillLoads() throws IOException {
        ModelFiles.Loaded l = ModelFiles.load(good, new NnContext(BE, DType.FLOAT32, 0));
        assertEquals(Preset.TINY, l.model().preset());
        assertArrayEquals(contents.tensors().get("rgb.decoder.w_a").floats(),
                l.model().rgbBranch().stateDict().get("decoder.w_a").floats());
        assertEquals(Arrays.toString(new long[] {4, 3, 7, 7}), Arrays.toString(l.model().teacher().stateDict().get("conv1.weight").shape()));
    }
}
