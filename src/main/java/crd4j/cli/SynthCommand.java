package crd4j.cli;

import crd4j.data.synth.SyntheticRgbd;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code crd synth}: writes the deterministic synthetic RGB-D benchmark of {@link SyntheticRgbd}. */
@Command(name = "synth", mixinStandardHelpOptions = true,
        description = {"Write a deterministic synthetic RGB-D benchmark in the MVTec 3D-AD layout:",
                "<out>/<category>/{train,validation,test}/<defect>/{rgb/NNN.png, xyz/NNN.tiff, gt/NNN.png}.",
                "Test defects: color (RGB only), dent and bump (depth only), hole and crack (both).",
                "The same options and seed give the same bytes. OUT must not exist or be empty."})
final class SynthCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, description = "Output directory (must not exist or be empty).")
    Path out;

    @Option(names = "--categories", split = ",", description = "Comma-separated categories (default: all of cookie, puck, tile).")
    List<String> categories;

    @Option(names = "--seed", defaultValue = "0", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--size", defaultValue = "400", description = "Image width and height in pixels (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--train", defaultValue = "40", description = "Good training samples per category (default: ${DEFAULT-VALUE}).")
    int train;

    @Option(names = "--validation", defaultValue = "10", description = "Good validation samples per category (default: ${DEFAULT-VALUE}).")
    int validation;

    @Option(names = "--test-good", defaultValue = "12", description = "Good test samples per category (default: ${DEFAULT-VALUE}).")
    int testGood;

    @Option(names = "--test-defect", defaultValue = "12", description = "Test samples per defect type and category (default: ${DEFAULT-VALUE}).")
    int testDefect;

    @Option(names = "--verbose", description = "Print stack traces with errors.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        long t0 = System.nanoTime();
        SyntheticRgbd.Options o = new SyntheticRgbd.Options(categories == null ? SyntheticRgbd.CATEGORIES : categories,
                seed, size, train, validation, testGood, testDefect);
        SyntheticRgbd.Summary s = SyntheticRgbd.generate(out, o);
        System.out.printf(Locale.ROOT, "crd synth: %d samples (%d files, %.1f MB) for %s in %s, %.1f s%n",
                s.samples(), s.files(), s.bytes() / 1e6, String.join(",", o.categories()), out, (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
