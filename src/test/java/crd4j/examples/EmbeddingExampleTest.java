package crd4j.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import crd4j.cli.CrdCli;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The embedding example, examples/InspectPart.java, compiled and run the way the README tells a user to: {@code java
 * -cp 'target/crd4j.jar:target/lib/*' examples/InspectPart.java MODEL RGB XYZ …} (Java's source launcher compiles
 * it), on a tiny model this test trains on synthetic parts. It must print the same scores as {@code crd detect} on
 * the same files (to the 6 decimals it prints), keep ND4J's INFO lines out of its output while saying which backend
 * it chose, and turn a missing file into one line and exit code 2. The README's "Embedding" section must hold the program verbatim.
 *
 * <p>Class path: {@code target/crd4j.jar} + {@code target/lib/} when {@code mvn package} made them (the README's
 * step), else {@code target/classes} + the build's {@code target/classpath.txt} (a plain {@code mvn test}); the
 * test prints which.
 */
class EmbeddingExampleTest {
    static final Path EXAMPLE = Path.of("examples/InspectPart.java");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path root;
    static Path model;
    static List<Path[]> parts = new ArrayList<>();
    static String classpath;

    @BeforeAll
    static void trainATinyModel() throws Exception {
        Path jar = Path.of("target/crd4j.jar"), lib = Path.of("target/lib"), cpFile = Path.of("target/classpath.txt");
        if (Files.isRegularFile(jar) && Files.isDirectory(lib)) {
            classpath = jar.toAbsolutePath() + File.pathSeparator + lib.toAbsolutePath() + File.separator + "*";
        } else {
            Assumptions.assumeTrue(Files.exists(cpFile), "skipped: target/classpath.txt missing (written by the Maven build)");
            classpath = Path.of("target/classes").toAbsolutePath() + File.pathSeparator + Files.readString(cpFile).trim();
        }
        System.out.println("EmbeddingExampleTest class path: " + (classpath.contains("crd4j.jar") ? "target/crd4j.jar + target/lib/*"
                : "target/classes + target/classpath.txt (run `mvn package -DskipTests` for the jar)"));
        Path data = root.resolve("data");
        assertEquals(0, CrdCli.run("synth", "--out", data.toString(), "--categories", "puck", "--size", "64", "--train", "6",
                "--validation", "2", "--test-good", "1", "--test-defect", "1", "--seed", "5"));
        model = root.resolve("puck.crd4j");
        assertEquals(0, CrdCli.run("train", "--data", data.toString(), "--category", "puck", "--preset", "tiny", "--teacher", "random",
                "--epochs", "1", "--batch", "2", "--seed", "3", "--progress", "lines", "--threads", "1", "--device", "cpu",
                "--out", model.toString()));
        for (String defect : List.of("good", "dent")) {
            Path dir = data.resolve("puck/test").resolve(defect);
            try (Stream<Path> s = Files.list(dir.resolve("rgb"))) {
                Path rgb = s.sorted().findFirst().orElseThrow();
                String stem = rgb.getFileName().toString().replace(".png", "");
                parts.add(new Path[]{rgb, dir.resolve("xyz").resolve(stem + ".tiff")});
            }
        }
    }

    record Run(int code, String out, String err) {}

    static Run example(String... args) throws Exception {
        return java(EXAMPLE.toString(), false, args);   // no logging flags: the example configures its own
    }

    /** {@code java -cp CLASSPATH MAIN ARGS} (MAIN a class name, or a source file for Java's source launcher). */
    static Run java(String main, boolean quiet, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx2g",
                "-Dorg.bytedeco.javacpp.maxbytes=3g", "-cp", classpath));
        if (quiet) cmd.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");   // as ./crd runs the CLI
        cmd.add(main);
        cmd.addAll(List.of(args));
        Path err = Files.createTempFile(root, "err", ".txt");
        Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(3, TimeUnit.MINUTES), "the example did not finish");
        return new Run(p.exitValue(), out, Files.readString(err));
    }

    @Test
    void theReadmeHoldsTheProgramVerbatim() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        String section = readme.substring(readme.indexOf("## Embedding"));
        section = section.substring(0, section.indexOf("\n## ", 5));
        assertTrue(section.contains("```java\n" + Files.readString(EXAMPLE) + "```\n"),
                "README.md's Embedding section does not hold examples/InspectPart.java as it is");
        assertTrue(section.contains("mvn package -DskipTests"), "README does not say how to get the jar and its dependencies");
    }

    @Test
    void itScoresPartsAsCrdDetectDoesAndKeepsTheOutputClean() throws Exception {
        List<String> args = new ArrayList<>(List.of(model.toString()));
        for (Path[] p : parts) args.addAll(List.of(p[0].toString(), p[1].toString()));
        Run r = example(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(parts.size(), lines.size(), r.out());
        for (int i = 0; i < parts.size(); i++) {
            Path out = root.resolve("detect-" + i);
            // crd detect in a JVM of its own, like the example: ND4J's thread count (which training set to 1 in this
            // JVM) changes float32 sums at the 1e-7 level, so both must run with the same default
            Run d = java("crd4j.cli.CrdCli", true, "detect", "--device", "cpu", "--model", model.toString(), "--rgb-image",
                    parts.get(i)[0].toString(), "--xyz", parts.get(i)[1].toString(), "--out", out.toString());
            assertEquals(0, d.code(), d.err());
            var score = JSON.readTree(out.resolve("score.json").toFile());
            String[] f = lines.get(i).split("\t");
            assertEquals(parts.get(i)[0].toString(), f[0]);
            // the example prints 6 decimals: equal to crd detect's value up to that rounding
            for (int k = 1; k <= 3; k++) {
                String[] nv = f[k].split(" ");
                String key = k == 1 ? "score" : k == 2 ? "rgb" : "depth";
                assertEquals(key, nv[0], lines.get(i));
                double expected = score.get(key).asDouble();
                assertEquals(expected, Double.parseDouble(nv[1]), 5e-7 + 1e-12 * Math.abs(expected),
                        lines.get(i) + " vs crd detect's score.json " + score);
            }
        }
        assertFalse(r.err().contains("org.nd4j"), "ND4J's log lines reached the output:\n" + r.err());
        assertTrue(r.err().contains("INFO crd4j.backend.Backends - device auto -> "), "the backend choice is not logged:\n" + r.err());
    }

    @Test
    void aMissingFileIsOneLineAndExitCode2() throws Exception {
        Path nowhere = root.resolve("nowhere.png");
        Run r = example(model.toString(), nowhere.toString(), parts.get(0)[1].toString());
        assertEquals(2, r.code(), r.err());
        List<String> err = r.err().lines().filter(l -> !l.isBlank() && !l.contains("INFO crd4j.backend.Backends")).toList();
        assertEquals(1, err.size(), r.err());
        assertTrue(err.get(0).startsWith("InspectPart: ") && err.get(0).contains(nowhere.toString()), r.err());
        assertFalse(r.err().contains("\tat "), "stack trace:\n" + r.err());
        assertEquals("", r.out());
    }
}
