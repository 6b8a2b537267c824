package crd4j.detect;

import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.data.SecondInput;
import crd4j.io.WeightsFormatException;
import crd4j.model.CrdModel;
import crd4j.model.FusionSemantics;
import crd4j.model.Modality;
import crd4j.model.ModelFiles;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A model file's metadata read into one typed record (issue 12, item 6): every field, and one clear line per bad field. */
class ModelMetadataTest {
    static final Path FILE = Path.of("models", "cat.crd4j");
    static ObjectNode meta;
    static NormalizationStats stats = NormalizationStats.of("normals", 0.25, 0.5, 0.125, 2.0);
    static Thresholds thresholds = new Thresholds(3.5, 2.75, "f1-max", 7);

    @BeforeAll
    static void metadataOfATinyModel() {
        CrdModel m = new CrdModel(new NnContext(new Nd4jBackend(), DType.FLOAT32, 1), Preset.TINY, Modality.NORMALS);
        m.setSemantics(FusionSemantics.JOINT);
        ObjectNode info = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
        info.put("recipe", "trd-2025").put("seed", 111);
        SecondInput.normalsFromDepth(7).writeTo(info);
        info.set("thresholds", thresholds.toJson());
        meta = ModelFiles.meta(m, "random(seed=111)", stats.toJson(), info);
    }

    @Test
    void everyFieldIsReadTyped() throws Exception {
        ModelMetadata md = ModelMetadata.read(meta, FILE);
        assertTrue(md.crd());
        assertEquals(Preset.TINY, md.preset());
        assertEquals(List.of("rgb", "normals"), md.modalities());
        assertEquals(SecondInput.normalsFromDepth(7), md.secondInput());
        assertEquals(Modality.NORMALS, md.secondModality());
        assertEquals("random(seed=111)", md.teacher());
        assertEquals(FusionSemantics.JOINT, md.semantics());
        assertFalse(md.mapping());
        assertEquals("trd-2025", md.recipe());
        assertEquals(111L, md.seed());
        assertEquals(stats, md.stats());
        assertEquals(thresholds, md.thresholds());
        assertEquals(ModelFiles.CRD4J_VERSION, md.crd4jVersion());
    }

    @Test
    void writeOverRoundTripsAndKeepsFieldsItDoesNotKnow() throws Exception {
        ObjectNode withExtra = meta.deepCopy();
        withExtra.put("line_note", "camera 3");
        Thresholds other = new Thresholds(4.0, 3.0, "target-fpr 0.01", 20);
        ModelMetadata md = ModelMetadata.read(withExtra, FILE).withThresholds(other);
        ObjectNode written = md.writeOver(withExtra);
        assertEquals(md, ModelMetadata.read(written, FILE));
        assertEquals("camera 3", written.path("line_note").asText());
        // new statistics drop the thresholds chosen with the old ones
        assertNull(md.withStats(stats).thresholds());
    }

    @Test
    void anOlderFileWithoutTheOptionalFieldsIsReadWithTheirDefaults() throws Exception {
        ObjectNode old = meta.deepCopy();
        for (String f : new String[]{"fusion_semantics", "recipe", "seed", "second_input", "sobel_k", "thresholds", "crd4j_version"}) old.remove(f);
        old.putNull("stats");
        ModelMetadata md = ModelMetadata.read(old, FILE);
        assertEquals(SecondInput.NORMALS, md.secondInput(), "from 'modalities', as files before second_input existed meant it");
        assertEquals(FusionSemantics.DETACHED, md.semantics());
        assertNull(md.recipe());
        assertNull(md.seed());
        assertNull(md.stats());
        assertNull(md.thresholds());
        assertNull(md.crd4jVersion());
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> md.requireStats(FILE));
        assertEquals(FILE + ": metadata 'stats': missing (train with validation, or run crd stats)", e.getMessage());
    }

    /** The message for metadata changed by {@code edit}: one line starting with the file's name. */
    static String refused(Consumer<ObjectNode> edit) {
        ObjectNode m = meta.deepCopy();
        edit.accept(m);
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> ModelMetadata.read(m, FILE));
        assertTrue(e.getMessage().startsWith(FILE + ": "), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        return e.getMessage();
    }

    @Test
    void aMissingRequiredFieldIsNamed() {
        assertTrue(refused(m -> m.remove("teacher")).contains("metadata 'teacher': missing"));
        assertTrue(refused(m -> m.remove("preset")).contains("metadata 'preset': missing"));
        assertTrue(refused(m -> m.remove("modalities")).contains("metadata 'modalities': missing"));
        assertTrue(refused(m -> m.remove("version")).contains("metadata 'version': missing"));
        assertTrue(refused(m -> m.remove("sobel_k")).contains("metadata 'sobel_k'"));
        assertTrue(refused(m -> ((ObjectNode) m.get("thresholds")).remove("pixel")).contains("metadata 'thresholds.pixel'"));
        assertTrue(refused(m -> ((ObjectNode) m.get("stats").get("rgb")).remove("std")).contains("'rgb.std'"));
    }

    @Test
    void anUnknownValueIsNamed() {
        assertTrue(refused(m -> m.put("format", "onnx")).contains("metadata 'format'"));
        assertTrue(refused(m -> m.put("version", 2)).contains("metadata 'version': expected 1, found 2"));
        assertTrue(refused(m -> ((ObjectNode) m.get("preset")).put("name", "huge")).contains("metadata 'preset.name'"));
        assertTrue(refused(m -> m.put("second_input", "lidar")).contains("metadata 'second_input'"));
        assertTrue(refused(m -> m.put("fusion_semantics", "sideways")).contains("metadata 'fusion_semantics'"));
        assertTrue(refused(m -> m.put("recipe", "mine")).contains("metadata 'recipe'"));
        assertTrue(refused(m -> ((ObjectNode) m.get("thresholds")).put("image", -1.0)).contains("metadata 'thresholds.image'"));
        assertTrue(refused(m -> m.putArray("modalities").add("rgb").add("sonar")).contains("metadata 'modalities'"));
    }
}
