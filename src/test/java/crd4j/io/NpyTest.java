package crd4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import crd4j.tensor.HostTensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class NpyTest {
    @TempDir static Path dir;
    private static JsonNode numpyValues;

    @BeforeAll
    static void numpyWritesReferences() throws IOException {
        IoPython.assumeNumpy();
        IoPython.run("npy", dir);
        numpyValues = IoPython.json(Files.readString(dir.resolve("np_values.json")));
    }

    /** Every dtype, 0-d, empty, versions 2.0/3.0, big-endian, float16 and bool files written by numpy. */
    @Test
    void readsWhatNumpyWrites() throws IOException {
        int n = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = numpyValues.fields(); it.hasNext(); n++) {
            Map.Entry<String, JsonNode> e = it.next();
            HostTensor t = Npy.read(dir.resolve("np_" + e.getKey() + ".npy"));
            IoPython.assertMatches(e.getKey(), e.getValue(), t);
        }
        assertEquals(13, n, "all numpy reference arrays checked");
    }

    /** Java writes each dtype (and 0-d, empty and 1-d shapes); Java and numpy.load both read back the same values. */
    @Test
    void writtenFilesRoundTripAndNumpyLoadsThem(@TempDir Path out) throws IOException {
        Map<String, HostTensor> written = new LinkedHashMap<>();
        written.put("j_f32.npy", HostTensor.of(new float[] {1.5f, -0f, Float.MIN_VALUE, Float.MAX_VALUE, 3, 4}, 2, 3));
        written.put("j_f64.npy", HostTensor.of(new double[] {Math.PI, -1e-300, 7}, 3));
        written.put("j_i64.npy", HostTensor.of(new long[] {Long.MIN_VALUE, Long.MAX_VALUE, 0, -1}, 2, 1, 2));
        written.put("j_i32.npy", HostTensor.of(new int[] {Integer.MIN_VALUE, 5}, 2));
        written.put("j_u8.npy", HostTensor.of(new byte[] {0, 1, (byte) 200, (byte) 255}, 4, 1));
        written.put("j_scalar.npy", HostTensor.of(new long[] {42}));
        written.put("j_empty.npy", HostTensor.of(new float[0], 0, 5));
        for (Map.Entry<String, HostTensor> e : written.entrySet()) {
            Npy.write(out.resolve(e.getKey()), e.getValue());
            HostTensor back = Npy.read(out.resolve(e.getKey()));
            assertEquals(e.getValue().dtype(), back.dtype());
            assertArrayEquals(e.getValue().shape(), back.shape());
            for (long i = 0; i < back.numel(); i++) assertEquals(e.getValue().getDouble(i), back.getDouble(i));
        }
        JsonNode seen = IoPython.json(IoPython.run("npycheck", out));
        assertEquals(written.size(), seen.size());
        for (Map.Entry<String, HostTensor> e : written.entrySet()) {
            JsonNode ref = seen.get(e.getKey());
            assertEquals(e.getValue().dtype().numpyDescr(), ref.get("descr").asText(), e.getKey());
            assertEquals(false, ref.get("fortran").asBoolean());
            IoPython.assertMatches(e.getKey(), ref, e.getValue());
        }
    }

    @Test
    void fortranOrderIsRefused() {
        Path f = dir.resolve("np_fortran.npy");
        WeightsFormatException e = assertThrows(WeightsFormatException.class, () -> Npy.read(f));
        IoPython.assertOneLineNaming(f, e, "'fortran_order': expected False");
    }

    @Test
    void truncatedForeignAndEmptyFilesAreRefused(@TempDir Path tmp) throws IOException {
        byte[] whole = Files.readAllBytes(dir.resolve("np_f8.npy"));
        Path cut = tmp.resolve("cut.npy");
        Files.write(cut, Arrays.copyOf(whole, whole.length - 5));
        IoPython.assertOneLineNaming(cut, assertThrows(WeightsFormatException.class, () -> Npy.read(cut)),
                "truncated", "needs 96 data bytes");
        Path text = tmp.resolve("text.npy");
        Files.writeString(text, "just some text\n");
        IoPython.assertOneLineNaming(text, assertThrows(WeightsFormatException.class, () -> Npy.read(text)),
                "not a NumPy .npy file");
        Path empty = Files.createFile(tmp.resolve("empty.npy"));
        IoPython.assertOneLineNaming(empty, assertThrows(WeightsFormatException.class, () -> Npy.read(empty)),
                "empty file");
    }
}
