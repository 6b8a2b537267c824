package crd4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ModelFileTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static ObjectNode meta() throws IOException {
        return (ObjectNode) JSON.readTree("{\"preset\":\"mvtec3d\",\"modalities\":[\"rgb\",\"depth\"],"
                + "\"teacher\":{\"sha256\":\"95faca4d\"},\"validation\":{\"mu\":0.125,\"sigma\":0.5}}");
    }

    /**
     * Round trip, and the stored checksum equals one computed by an independent Python implementation of the
     * definition documented in {@link ModelFile}.
     */
    @Test
    void roundTripAndChecksumMatchesDocumentedDefinition(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("model.crd4j");
        Map<String, HostTensor> tensors = SafetensorsTest.sample();
        ModelFile.write(f, tensors, meta());
        ModelFile.Contents c = ModelFile.read(f);
        assertEquals(meta(), c.meta());
        assertEquals(List.copyOf(tensors.keySet()), List.copyOf(c.tensors().keySet()));
        assertArrayEquals(tensors.get("conv.weight").floats(), c.tensors().get("conv.weight").floats());
        assertArrayEquals(tensors.get("bn.num_batches_tracked").longs(), c.tensors().get("bn.num_batches_tracked").longs());
        IoPython.assumeNumpy();
        JsonNode py = IoPython.json(IoPython.run("stcheck", f));
        assertEquals(py.get("sha256").asText(), py.get("metadata").get(ModelFile.SHA256_KEY).asText());
        assertEquals(meta(), JSON.readTree(py.get("metadata").get(ModelFile.META_KEY).asText()));
    }

    @Test
    void flippedDataByteIsDetected(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("model.crd4j");
        ModelFile.write(f, SafetensorsTest.sample(), meta());
        byte[] b = Files.readAllBytes(f);
        long header = ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        b[(int) (8 + header + 5)] ^= 0x01; // a mantissa bit of conv.weight[1]
        Files.write(f, b);
        Safetensors.read(f); // still a well-formed safetensors file: only the checksum can tell
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> ModelFile.read(f));
        assertEquals(f + ": checksum mismatch (file corrupted)", e.getMessage());
    }

    @Test
    void plainSafetensorsIsNotAModelFile(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("plain.safetensors");
        Safetensors.write(f, SafetensorsTest.sample(), Map.of("format", "pt"));
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> ModelFile.read(f));
        assertEquals(f + ": not a crd4j model file (metadata key 'crd4j' missing)", e.getMessage());
    }
}
