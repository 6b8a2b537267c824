package crd4j.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.io.WeightsFormatException;
import crd4j.model.Modality;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link SecondInput}: the kinds, the model-file metadata round trip, the user's choice checked against a model. */
class SecondInputTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path FILE = Path.of("m.crd4j");

    private static ObjectNode meta(String branch) {
        ObjectNode m = JSON.createObjectNode();
        m.putArray("modalities").add("rgb").add(branch);
        return m;
    }

    @Test
    void kindsFeedTheirBranchFromTheirFolder() {
        assertEquals(Modality.DEPTH, SecondInput.Kind.DEPTH.branch());
        assertEquals(Modality.NORMALS, SecondInput.Kind.NORMALS.branch());
        assertEquals(Modality.NORMALS, SecondInput.Kind.NORMALS_FROM_DEPTH.branch());
        assertEquals("xyz", SecondInput.Kind.NORMALS_FROM_DEPTH.folder());
        assertEquals(SecondInput.Kind.NORMALS_FROM_DEPTH, SecondInput.Kind.parse("normals-from-depth", "--second"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SecondInput.Kind.parse("xyz", "--second"));
        assertTrue(e.getMessage().startsWith("--second: expected depth, normals or normals-from-depth"), e.getMessage());
    }

    @Test
    void defaultKIsTheClasssAndKOnlyGoesWithNormalsFromDepth() {
        assertEquals(3, SecondInput.of(SecondInput.Kind.NORMALS_FROM_DEPTH, null, "cookie").sobelK());
        assertEquals(7, SecondInput.of(SecondInput.Kind.NORMALS_FROM_DEPTH, null, "tire").sobelK());
        assertEquals(1, SecondInput.of(SecondInput.Kind.NORMALS_FROM_DEPTH, 1, "tire").sobelK());
        assertEquals(SecondInput.DEPTH, SecondInput.of(SecondInput.Kind.DEPTH, null, "cookie"));
        assertThrows(IllegalArgumentException.class, () -> SecondInput.of(SecondInput.Kind.DEPTH, 5, "cookie"));
        assertThrows(IllegalArgumentException.class, () -> SecondInput.normalsFromDepth(6));
    }

    @Test
    void metadataRoundTripAndOlderFiles() throws Exception {
        for (SecondInput in : new SecondInput[]{SecondInput.DEPTH, SecondInput.NORMALS, SecondInput.normalsFromDepth(3)}) {
            ObjectNode m = in.writeTo(meta(in.branch().key()));
            assertEquals(in, SecondInput.ofModel(JSON.readValue(JSON.writeValueAsString(m), ObjectNode.class), FILE));
        }
        assertEquals(SecondInput.DEPTH, SecondInput.ofModel(meta("depth"), FILE), "a model file from before second_input");
        assertEquals(SecondInput.NORMALS, SecondInput.ofModel(meta("normals"), FILE));
        ObjectNode wrongBranch = SecondInput.normalsFromDepth(5).writeTo(meta("depth"));
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> SecondInput.ofModel(wrongBranch, FILE));
        assertTrue(e.getMessage().startsWith("m.crd4j: metadata 'second_input'"), e.getMessage());
        ObjectNode badK = meta("normals").put("second_input", "normals-from-depth").put("sobel_k", 4);
        assertTrue(assertThrows(WeightsFormatException.class, () -> SecondInput.ofModel(badK, FILE)).getMessage().contains("'sobel_k'"));
        ObjectNode noK = meta("normals").put("second_input", "normals-from-depth");
        assertThrows(WeightsFormatException.class, () -> SecondInput.ofModel(noK, FILE));
        ObjectNode unknown = meta("normals").put("second_input", "curvature");
        assertThrows(WeightsFormatException.class, () -> SecondInput.ofModel(unknown, FILE));
    }

    @Test
    void aChoiceMustAgreeWithTheModel() throws Exception {
        SecondInput model = SecondInput.normalsFromDepth(5);
        SecondInput.Choice.MODEL.check(model, FILE);
        new SecondInput.Choice(SecondInput.Kind.NORMALS_FROM_DEPTH, null).check(model, FILE);
        new SecondInput.Choice(null, 5).check(model, FILE);
        for (SecondInput.Choice bad : new SecondInput.Choice[]{new SecondInput.Choice(SecondInput.Kind.DEPTH, null),
                new SecondInput.Choice(null, 3), new SecondInput.Choice(SecondInput.Kind.NORMALS_FROM_DEPTH, 7)}) {
            WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> bad.check(model, FILE), bad.toString());
            assertEquals(FILE, e.file());
        }
        assertThrows(WeightsFormatException.class, () -> new SecondInput.Choice(null, 5).check(SecondInput.DEPTH, FILE));
    }

    @Test
    void preprocessIsTheKindsPipeline(@TempDir Path tmp) throws Exception {
        TinyMvtec.write(tmp, "cat");
        Path tiff = tmp.resolve("cat/train/good/xyz/000.tiff");
        assertArrayEquals(DepthPreprocessing.depthInput(tiff, 64).floats(), SecondInput.DEPTH.preprocess(tiff, 64).floats());
        HostTensor n = SecondInput.preprocess(tiff, SecondInput.Kind.NORMALS_FROM_DEPTH, 3, 64);
        assertArrayEquals(NormalsFromDepth.normalsInput(tiff, 3, 64).floats(), n.floats());
        assertArrayEquals(new long[]{1, 3, 64, 64}, n.shape());
        MvtecDataset ds = MvtecDataset.open(tmp, "cat");
        assertEquals(SecondInput.DEPTH, ds.secondInput(), "xyz folders: depth, as before");
        MvtecDataset nfd = ds.with(SecondInput.normalsFromDepth(3), "--second normals-from-depth");
        assertEquals(Modality.NORMALS, nfd.modality());
        MvtecDataset.Sample s = nfd.samples("train").get(0);
        assertEquals(tiff, s.second());
        assertArrayEquals(n.floats(), nfd.load(s, 64).second().floats());
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> ds.with(SecondInput.NORMALS, "--second normals"));
        assertEquals(tmp.resolve("cat"), e.file());
    }
}
