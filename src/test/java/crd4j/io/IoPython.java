package crd4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import crd4j.testing.PyReference;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Runs {@code src/test/python/io_fixtures.py} (numpy / torch write the reference files) and compares values. */
final class IoPython {
    static final Path SCRIPT = Paths.get("src/test/python/io_fixtures.py");
    static final ObjectMapper JSON = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();
    private static String numpyProblem;
    private static boolean numpyChecked;

    private IoPython() {}

    /** Skips the calling test, with the reason, unless python with numpy runs. */
    static synchronized void assumeNumpy() {
        if (!numpyChecked) {
            numpyChecked = true;
            try {
                Process p = new ProcessBuilder(PyReference.python(), "-c", "import numpy").redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) numpyProblem = out.strip();
            } catch (IOException | InterruptedException e) {
                numpyProblem = e.toString();
            }
        }
        Assumptions.assumeTrue(numpyProblem == null, () -> "numpy reference unavailable: " + PyReference.python()
                + " cannot import numpy (" + numpyProblem + "); install python3-numpy or set CRD4J_PYTHON");
    }

    /** Runs one fixture command and returns its standard output; fails the test if the script fails. */
    static String run(String command, Path arg) {
        try {
            Path errLog = java.nio.file.Files.createTempFile("io_fixtures", ".stderr");
            try {
                Process p = new ProcessBuilder(PyReference.python(), SCRIPT.toString(), command, arg.toString())
                        .redirectError(errLog.toFile()).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    fail("io_fixtures.py " + command + " failed:\n" + out + java.nio.file.Files.readString(errLog));
                }
                return out;
            } finally {
                java.nio.file.Files.deleteIfExists(errLog);
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    static JsonNode json(String text) throws IOException {
        return JSON.readTree(text);
    }

    /** The HostTensor dtype crd4j uses for a numpy dtype string. */
    static DType dtypeOf(String descr) {
        return switch (descr.substring(1)) {
            case "f4", "f2" -> DType.FLOAT32;
            case "f8" -> DType.FLOAT64;
            case "i8" -> DType.INT64;
            case "i4" -> DType.INT32;
            case "u1", "b1" -> DType.UINT8;
            default -> throw new IllegalArgumentException(descr);
        };
    }

    /**
     * Asserts that {@code t} holds exactly the values numpy listed ({@code {"descr", "shape", "values"}}): same
     * dtype (after crd4j's widening), same shape, bit-identical elements.
     */
    static void assertMatches(String what, JsonNode ref, HostTensor t) {
        assertEquals(dtypeOf(ref.get("descr").asText()), t.dtype(), what + ": dtype");
        long[] shape = new long[ref.get("shape").size()];
        for (int i = 0; i < shape.length; i++) shape[i] = ref.get("shape").get(i).asLong();
        assertArrayEquals(shape, t.shape(), what + ": shape " + Arrays.toString(t.shape()));
        JsonNode v = ref.get("values");
        assertEquals(v.size(), t.numel(), what + ": element count");
        for (int i = 0; i < v.size(); i++) {
            JsonNode x = v.get(i);
            String at = what + "[" + i + "]";
            switch (t.dtype()) {
                case FLOAT32 -> assertEquals(Float.floatToIntBits((float) number(x)), Float.floatToIntBits(t.floats()[i]), at);
                case FLOAT64 -> assertEquals(Double.doubleToLongBits(number(x)), Double.doubleToLongBits(t.doubles()[i]), at);
                case INT64 -> assertEquals(x.asLong(), t.longs()[i], at);
                case INT32 -> assertEquals(x.asInt(), t.ints()[i], at);
                case UINT8 -> assertEquals(x.isBoolean() ? (x.asBoolean() ? 1 : 0) : x.asInt(), t.bytes()[i] & 0xff, at);
            }
        }
    }

    private static double number(JsonNode x) {
        if (x.isTextual()) {
            return switch (x.asText()) {
                case "inf" -> Double.POSITIVE_INFINITY;
                case "-inf" -> Double.NEGATIVE_INFINITY;
                default -> Double.NaN;
            };
        }
        return x.asDouble();
    }

    /** Asserts the message is the single-line, file-naming message the readers promise. */
    static void assertOneLineNaming(Path file, Exception e, String... fragments) {
        String m = e.getMessage();
        assertFalse(m.contains("\n"), "message must be one line: " + m);
        assertTrue(m.contains(file.getFileName().toString()), "message must name the file: " + m);
        for (String f : fragments) assertTrue(m.contains(f), "message must contain \"" + f + "\": " + m);
    }
}
