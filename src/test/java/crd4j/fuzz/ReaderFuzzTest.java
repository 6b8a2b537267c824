package crd4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.data.DepthPreprocessing;
import crd4j.data.ImageInputs;
import crd4j.data.MvtecDataset;
import crd4j.io.ModelFile;
import crd4j.io.Npy;
import crd4j.io.Pickles;
import crd4j.io.Safetensors;
import crd4j.io.TorchCheckpoint;
import crd4j.io.WeightsFormatException;
import crd4j.model.CrdModel;
import crd4j.model.Modality;
import crd4j.model.ModelFiles;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Fuzz targets for every reader of files that come from elsewhere (issue 13). The contract each one checks: a
 * reader given any bytes either returns or throws {@link WeightsFormatException} with one line naming the file;
 * any other exception or error (including OutOfMemoryError and StackOverflowError) is a finding.
 *
 * <p>In {@code mvn test} each target runs once per file of its seed corpus
 * ({@code src/test/resources/crd4j/fuzz/ReaderFuzzTestInputs/<target>/}: small real files made by
 * {@link SeedCorpus}, and the regression file of every finding), in a surefire run of its own that sets
 * {@code -Dcrd4j.fuzz=true}; elsewhere the class is skipped, so that Jazzer's agent never enters a JVM that runs other
 * tests. With {@code JAZZER_FUZZ=1} one target (chosen with {@code -Dtest=ReaderFuzzTest#<target>}) is fuzzed, coverage-guided, for its {@code maxDuration}; see
 * docs/RELIABILITY.md for the commands and the figures.
 */
@EnabledIfSystemProperty(named = "crd4j.fuzz", matches = "true", disabledReason = "fuzz targets run in a JVM of"
        + " their own (Jazzer's agent would instrument and log into every later test): mvn test runs them so;"
        + " by hand add -Dcrd4j.fuzz=true to the fork's arguments (docs/RELIABILITY.md)")
class ReaderFuzzTest {
    /** Length of one fuzzing run (JAZZER_FUZZ=1); regression runs ignore it. */
    private static final String FUZZ_TIME = "3m";
    private static Path dir;

    private static synchronized Path scratch(String name) throws IOException {
        if (dir == null) {
            dir = Files.createTempDirectory("crd4j-fuzz");
            Path d = dir;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(d)));
        }
        return dir.resolve(name);
    }

    /** The reader contract: returns, or fails with the project's one-line, file-naming error. */
    @FunctionalInterface
    interface Reader {
        void read(Path file) throws IOException;
    }

    private static void check(Path file, byte[] data, Reader reader) throws IOException {
        Files.write(file, data);
        expectOnlyFormatErrors(file, reader);
    }

    private static void expectOnlyFormatErrors(Path file, Reader reader) throws IOException {
        try {
            reader.read(file);
        } catch (WeightsFormatException e) {
            String m = e.getMessage();
            if (m.contains("\n") || !m.contains(file.getFileName().toString())) {
                throw new AssertionError("not a one-line message naming the file: " + m, e);
            }
        }
    }

    // --------------------------------------------------------------------------------------------- checkpoints

    /** Any bytes as a checkpoint; seeded with torch.save zip archives. */
    @FuzzTest(maxDuration = FUZZ_TIME)
    void pthZip(byte[] data) throws IOException {
        check(scratch("zip.pth"), data, TorchCheckpoint::read);
    }

    /** Any bytes as a checkpoint; seeded with legacy (_use_new_zipfile_serialization=False) files. */
    @FuzzTest(maxDuration = FUZZ_TIME)
    void pthLegacy(byte[] data) throws IOException {
        check(scratch("legacy.pth"), data, TorchCheckpoint::read);
    }

    /**
     * Any bytes as the {@code data.pkl} of an otherwise valid zip checkpoint holding two storages ("0": 4 floats,
     * "1": 2 longs), so the fuzzer spends its time in the unpickler and the converter rather than in zip framing.
     */
    @FuzzTest(maxDuration = FUZZ_TIME)
    void pickle(byte[] data) throws IOException {
        byte[] zip = Pickles.zip(Pickles.Entry.stored("data.pkl", data), Pickles.Entry.stored("data/0", new byte[16]),
                Pickles.Entry.stored("data/1", new byte[16]));
        check(scratch("pickle.pth"), zip, TorchCheckpoint::read);
    }

    // ------------------------------------------------------------------------------------- arrays and models

    @FuzzTest(maxDuration = FUZZ_TIME)
    void npy(byte[] data) throws IOException {
        check(scratch("a.npy"), data, Npy::read);
    }

    @FuzzTest(maxDuration = FUZZ_TIME)
    void safetensors(byte[] data) throws IOException {
        check(scratch("a.safetensors"), data, Safetensors::read);
    }

    /** The model file container: safetensors plus the checksum and crd4j metadata keys. */
    @FuzzTest(maxDuration = FUZZ_TIME)
    void modelFile(byte[] data) throws IOException {
        check(scratch("m.crd4j"), data, ModelFile::read);
    }

    private static Map<String, HostTensor> tinyTensors;
    private static NnContext ctx;

    /**
     * Any metadata JSON with the tensors of a real tiny model: what a checksum-valid model file can claim (the
     * checksum covers the metadata, so byte fuzzing of {@link #modelFile} never gets this far). Building the model
     * is the allocation that a lying preset used to drive.
     */
    @FuzzTest(maxDuration = FUZZ_TIME)
    void modelMetadata(byte[] data) throws IOException {
        synchronized (ReaderFuzzTest.class) {
            if (tinyTensors == null) {
                ctx = new NnContext(new Nd4jBackend(), DType.FLOAT32, 0);
                tinyTensors = ModelFiles.tensors(new CrdModel(ctx, Preset.TINY, Modality.DEPTH));
            }
        }
        JsonNode meta;
        try {
            meta = new ObjectMapper().readTree(new String(data, StandardCharsets.UTF_8));
        } catch (IOException e) {
            return; // not JSON: the model file reader refuses it before this point (ModelFile.read)
        }
        if (!(meta instanceof ObjectNode o)) return;
        Path file = scratch("meta.crd4j");
        expectOnlyFormatErrors(file, f -> ModelFiles.fromContents(tinyTensors, o, f, ctx));
    }

    // ------------------------------------------------------------------------------------------------- images

    /** RGB/normals input and GT mask from an image file (PNG seeds), through decoding and the resize. */
    @FuzzTest(maxDuration = FUZZ_TIME)
    void png(byte[] data) throws IOException {
        check(scratch("i.png"), data, f -> {
            ImageInputs.rgbInput(f, 32);
            ImageInputs.groundTruth(f, 32);
        });
    }

    /** The depth input from an xyz TIFF: decoding, the float32 checks and the whole depth preprocessing. */
    @FuzzTest(maxDuration = FUZZ_TIME)
    void tiff(byte[] data) throws IOException {
        check(scratch("x.tiff"), data, f -> DepthPreprocessing.depthInput(f, 32));
    }

    // ------------------------------------------------------------------------------------------ dataset layout

    private static final String[] CATEGORIES = {"c", "d"};
    private static final String[] SPLITS = {"train", "validation", "test", "other"};
    private static final String[] DEFECTS = {"good", "crack", "rgb"};
    private static final String[] KINDS = {"rgb", "xyz", "normals", "gt"};
    private static final String[] STEMS = {"000", "001", "", ".x"};
    private static final String[] EXTS = {".png", ".tiff", ".txt", ""};

    /**
     * A dataset folder built from the input, two bytes per path: byte 1 picks category (bit 0), split (bits 1-2),
     * defect folder (bits 3-4, 3 = none: the path ends at the split) and the second level (bits 5-6: kind folder,
     * bit 7: stop at the defect folder); byte 2 picks stem (bits 0-1), extension (bits 2-3) and whether the last
     * name is made a folder instead of a file (bit 4), or a dangling symbolic link (bit 5). Then the scanner opens
     * category "c" and lists every split. Files are empty: the scanner never reads them.
     */
    @FuzzTest(maxDuration = FUZZ_TIME)
    void datasetLayout(byte[] data) throws IOException {
        Path root = scratch("layout");
        deleteTree(root);
        Files.createDirectories(root);
        for (int i = 0; i + 1 < data.length && i < 128; i += 2) {
            int a = data[i] & 0xff, b = data[i + 1] & 0xff;
            Path p = root.resolve(CATEGORIES[a & 1]).resolve(SPLITS[(a >> 1) & 3]);
            int defect = (a >> 3) & 3;
            if (defect < 3) {
                p = p.resolve(DEFECTS[defect]);
                if ((a & 0x80) == 0) p = p.resolve(KINDS[(a >> 5) & 3]).resolve(STEMS[b & 3] + EXTS[(b >> 2) & 3]);
            }
            if (p.getFileName().toString().isEmpty()) continue;
            try {
                Files.createDirectories(p.getParent());
                if ((b & 0x20) != 0) Files.createSymbolicLink(p, root.resolve("missing"));
                else if ((b & 0x10) != 0) Files.createDirectories(p);
                else Files.createFile(p);
            } catch (java.nio.file.FileSystemException e) {
                // a later path collides with an earlier one (already there, or a file where a folder is wanted):
                // keep the first (the first run of this target stopped here: the harness, not the scanner)
            }
        }
        expectOnlyFormatErrors(root.resolve("c"), c -> {
            MvtecDataset ds = MvtecDataset.open(root, "c");
            for (String split : MvtecDataset.SPLITS) {
                try {
                    ds.samples(split);
                } catch (WeightsFormatException e) {
                    if (e.getMessage().contains("\n")) throw new AssertionError(e.getMessage(), e);
                }
            }
        });
    }

    static void deleteTree(Path p) {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
