package crd4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.backend.Backend;
import crd4j.detect.Detector;
import crd4j.detect.NormalizationStats;
import crd4j.detect.BranchMode;
import crd4j.detect.Soak;
import crd4j.model.CrdModel;
import crd4j.model.Modality;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code crd soak}: a load and soak run of one Detector shared by several threads ({@link Soak}). */
@Command(name = "soak", mixinStandardHelpOptions = true,
        description = {"Load and soak test of the Detector: scores a few inputs once (the reference), then --sequential calls on",
                "one thread and --parallel-threads x --calls on a fixed thread pool sharing one Detector, checking every",
                "result bit for bit against the reference. Prints JSON: latency p50/p99/max and calls/s of each phase,",
                "resident memory (VmRSS), open file descriptors and native (JavaCPP) bytes at the baseline after the",
                "warm-up and at the end (each after a garbage collection), their growth, and the largest RSS seen.",
                "Exit code 1 if any result differs. Without --model: random tiny-preset weights (the timing and the",
                "memory do not depend on the values)."})
final class SoakCommand implements Callable<Integer> {
    @Mixin
    Common common;

    @Option(names = "--model", description = "crd4j model file with validation statistics (default: random weights of --preset).")
    Path modelFile;

    @Option(names = "--preset", defaultValue = "tiny", description = "Preset of the random model without --model (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--sequential", defaultValue = "2000", description = "Calls on one thread (default: ${DEFAULT-VALUE}).")
    int sequential;

    @Option(names = "--parallel-threads", defaultValue = "4", description = "Scoring threads sharing the detector (default: ${DEFAULT-VALUE}).")
    int parallelThreads;

    @Option(names = "--calls", defaultValue = "200", description = "Calls per scoring thread (default: ${DEFAULT-VALUE}).")
    int calls;

    @Option(names = "--inputs", defaultValue = "8", description = "Distinct random inputs, scored in turn (default: ${DEFAULT-VALUE}).")
    int inputs;

    @Option(names = "--warmup", defaultValue = "300", description = "Untimed calls on one thread, and as many again spread over the"
            + " pool, before the baseline: resident memory grows while the JIT and the native libraries warm up (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Override
    public Integer call() throws Exception {
        Soak.Config c = new Soak.Config(sequential, parallelThreads, calls, inputs, warmup);
        Backend be = common.backend();
        if (common.threads == 0 && be.getClass().getName().endsWith("Nd4jBackend")) {
            // the scoring threads are the parallelism here: one native thread each, unless --threads says otherwise
            be.getClass().getMethod("setThreads", int.class).invoke(null, 1);
        }
        Detector det;
        if (modelFile != null) {
            det = Detector.load(modelFile, be);
        } else {
            CrdModel m = new CrdModel(new NnContext(be, DType.FLOAT32, 1), Preset.byName(preset), Modality.DEPTH);
            NormalizationStats.Builder sb = NormalizationStats.builder();
            for (String b : m.branchKeys()) for (BranchMode mode : BranchMode.values()) sb.put(b, mode, new NormalizationStats.MeanStd(1.5, 0.1));
            det = new Detector(be, m, sb.build(), "random " + preset + " model");
        }
        ObjectNode o;
        try (det) {
            o = Soak.run(det, Soak.randomInputs(inputs, det.size(), 7), c, line -> System.err.println("crd soak: " + line));
        } catch (IllegalStateException e) {
            if (e.getMessage() != null && e.getMessage().contains("differs")) {
                System.err.println("crd soak: FAILED: " + e.getMessage());
                return 1;
            }
            throw e;
        }
        o.put("nd4j_threads", common.threads == 0 ? 1 : common.threads);
        System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(o));
        return 0;
    }
}
