package crd4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.data.ImageInputs;
import crd4j.data.SecondInput;
import crd4j.detect.AnomalyScoring;
import crd4j.detect.Decision;
import crd4j.detect.Detector;
import crd4j.report.Heatmap;
import crd4j.detect.MissingStrategy;
import crd4j.detect.Sample;
import crd4j.io.AtomicFiles;
import crd4j.io.Npy;
import crd4j.io.WeightsFormatException;
import crd4j.tensor.HostTensor;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * {@code crd detect --input-dir DIR --out OUT}: every part of a folder scored with one model.
 *
 * <h2>Which files make a part</h2>
 * <ol>
 *   <li>an MVTec 3D-AD split ({@code DIR/<defect>/rgb/<stem>.png} with {@code DIR/<defect>/xyz/<stem>.tiff}, or
 *       {@code normals/<stem>.png} for a normals model): part {@code <defect>/<stem>};</li>
 *   <li>one such folder ({@code DIR/rgb/<stem>.png} with {@code DIR/xyz/<stem>.tiff}): part {@code <stem>};</li>
 *   <li>a flat folder of pairs with the same stem: {@code <stem>.png} (RGB) with {@code <stem>.tiff} (xyz; for a
 *       normals model {@code <stem>_normals.png}): part {@code <stem>}.</li>
 * </ol>
 * The second file is the one the model's second input is made from (the model file records it). A file without its
 * partner is a failed part with that reason; both files are required (few-modal scoring is {@code crd detect} on one
 * part).
 *
 * <h2>Outputs, resuming and failures</h2>
 * {@code OUT/results.jsonl} gets one JSON line per part as soon as it is scored (appended with one write, then
 * fsync), {@code OUT/results.csv} is rewritten atomically at the end from the latest line of every part, and with
 * {@code --save-maps} {@code OUT/maps/<part>.npy} (fused smoothed map, float64 S×S) and {@code OUT/heatmaps/<part>.png}
 * are each written atomically before the part's line. A rerun on the same {@code OUT} (same model file, same folder:
 * {@code OUT/run.json}) skips the parts whose latest line says "ok", retries the failed ones and ignores a last line
 * cut short by a kill. A part that fails (unreadable or unpaired file, NaN in an input) is one line on stderr and a
 * row with status "error" and the reason; the other parts are still scored (skip and report, not stop: a folder from
 * a line should not lose its other results to one bad file), and the command exits with status 2 at the end. A
 * failure to write the outputs stops at once.
 */
final class FolderScoring {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One part; {@code problem} is set when its files cannot be paired. */
    record Part(String id, Path rgb, Path second, String problem) {}

    private FolderScoring() {}

    static List<Part> scan(Path dir, SecondInput second) throws IOException {
        if (!Files.isDirectory(dir)) throw new WeightsFormatException(dir, "--input-dir: not a folder");
        String sub = second.kind().folder(), ext = second.kind().extension();
        List<Part> parts = new ArrayList<>();
        if (Files.isDirectory(dir.resolve("rgb"))) {
            pairFolder(dir, "", sub, ext, parts);
        } else {
            boolean split = false;
            for (Path d : list(dir)) {
                if (Files.isDirectory(d) && Files.isDirectory(d.resolve("rgb"))) {
                    split = true;
                    pairFolder(d, d.getFileName() + "/", sub, ext, parts);
                }
            }
            if (!split) pairFlat(dir, second.kind().folder().equals("xyz") ? ".tiff" : "_normals.png", parts);
        }
        if (parts.isEmpty()) {
            throw new WeightsFormatException(dir, "--input-dir: no parts found (expected an MVTec 3D-AD split <defect>/rgb/*.png with"
                    + " <defect>/" + sub + "/*" + ext + ", a folder with rgb/ and " + sub + "/, or pairs <stem>.png + <stem>"
                    + (sub.equals("xyz") ? ".tiff" : "_normals.png") + ")");
        }
        return parts;
    }

    private static void pairFolder(Path d, String prefix, String sub, String ext, List<Part> parts) throws IOException {
        Map<String, Path> rgb = stems(d.resolve("rgb"), ".png"), other = stems(d.resolve(sub), ext);
        for (Map.Entry<String, Path> e : rgb.entrySet()) {
            Path o = other.get(e.getKey());
            parts.add(new Part(prefix + e.getKey(), e.getValue(), o,
                    o == null ? "no paired " + sub + " file (expected " + d.resolve(sub).resolve(e.getKey() + ext) + ")" : null));
        }
        for (Map.Entry<String, Path> e : other.entrySet()) {
            if (!rgb.containsKey(e.getKey())) {
                parts.add(new Part(prefix + e.getKey(), null, e.getValue(), "no paired RGB file (expected "
                        + d.resolve("rgb").resolve(e.getKey() + ".png") + ")"));
            }
        }
    }

    private static void pairFlat(Path d, String secondSuffix, List<Part> parts) throws IOException {
        Map<String, Path> other = stems(d, secondSuffix), rgb = new LinkedHashMap<>();
        for (Map.Entry<String, Path> e : stems(d, ".png").entrySet()) {
            if (!e.getValue().getFileName().toString().endsWith(secondSuffix)) rgb.put(e.getKey(), e.getValue());
        }
        for (Map.Entry<String, Path> e : rgb.entrySet()) {
            Path o = other.get(e.getKey());
            parts.add(new Part(e.getKey(), e.getValue(), o, o == null ? "no paired file (expected " + d.resolve(e.getKey() + secondSuffix) + ")" : null));
        }
        for (Map.Entry<String, Path> e : other.entrySet()) {
            if (!rgb.containsKey(e.getKey())) {
                parts.add(new Part(e.getKey(), null, e.getValue(), "no paired RGB file (expected " + d.resolve(e.getKey() + ".png") + ")"));
            }
        }
    }

    /** Regular files of {@code d} whose name ends with {@code suffix}, by stem (the name without the suffix), sorted. */
    private static Map<String, Path> stems(Path d, String suffix) throws IOException {
        Map<String, Path> out = new java.util.TreeMap<>();
        if (!Files.isDirectory(d)) return out;
        for (Path f : list(d)) {
            String n = f.getFileName().toString();
            if (n.endsWith(suffix) && n.length() > suffix.length() && !n.startsWith(".") && Files.isRegularFile(f)) {
                out.put(n.substring(0, n.length() - suffix.length()), f);
            }
        }
        return out;
    }

    private static List<Path> list(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.sorted().toList();
        }
    }

    /** Scores every part not yet done; returns the exit code (0: all scored, 2: some failed). */
    static int run(Detector det, SecondInput second, Path modelFile, Path dir, Path out, boolean saveMaps, MissingStrategy strategy)
            throws IOException {
        List<Part> parts = scan(dir, second);
        if (Files.exists(out) && !Files.isDirectory(out)) throw new WeightsFormatException(out, "--out: exists and is not a folder");
        Files.createDirectories(out);
        try (FileChannel lockCh = FileChannel.open(out.resolve(".crd-detect.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock lock = lockCh.tryLock();
            if (lock == null) throw new WeightsFormatException(out, "another crd detect is writing into this folder");
            return runLocked(det, second, modelFile, dir, out, saveMaps, strategy, parts);
        }
    }

    private static int runLocked(Detector det, SecondInput second, Path modelFile, Path dir, Path out, boolean saveMaps,
                                 MissingStrategy strategy, List<Part> parts) throws IOException {
        checkRun(out, modelFile, dir, second, strategy);
        Path jsonl = out.resolve("results.jsonl");
        Map<String, ObjectNode> latest = readResults(jsonl);
        List<Part> todo = parts.stream().filter(p -> !"ok".equals(status(latest.get(p.id())))).toList();
        int s = det.size(), failed = 0, done = 0;
        String key = det.secondModality().key();
        ProgressBar bar = System.console() == null || todo.isEmpty() ? null : new ProgressBarBuilder().setTaskName("detect")
                .setInitialMax(todo.size()).setUnit(" parts", 1).showSpeed().setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                .setConsumer(new ConsoleProgressBarConsumer(System.err)).setUpdateIntervalMillis(250).build();
        try (FileChannel log = FileChannel.open(jsonl, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            for (Part p : todo) {
                ObjectNode row = JSON.createObjectNode();
                row.put("part", p.id());
                row.put("rgb", p.rgb() == null ? null : dir.relativize(p.rgb()).toString());
                row.put(key, p.second() == null ? null : dir.relativize(p.second()).toString());
                try {
                    if (p.problem() != null) throw new WeightsFormatException(p.rgb() != null ? p.rgb() : p.second(), p.problem());
                    // the Detector's own preprocessing: at the model's size and as its second modality
                    Detector.Result r = det.score(p.rgb(), p.second(), strategy);
                    if (saveMaps) {
                        Path mapFile = out.resolve("maps").resolve(p.id() + ".npy"), heat = out.resolve("heatmaps").resolve(p.id() + ".png");
                        Files.createDirectories(mapFile.getParent());
                        Files.createDirectories(heat.getParent());
                        Npy.write(mapFile, HostTensor.of(r.map(), s, s));
                        DetectCommand.Picture bg = DetectCommand.background(p.rgb(), p.second(), null, s);
                        String caption = Heatmap.caption(r.score(), r.hasDecision() ? r.normalizedScore() : null,
                                r.hasDecision() ? r.anomalous() : null, Detector.Result.NO_THRESHOLD);
                        AtomicFiles.write(heat, Heatmap.png(Heatmap.render(bg.image(), r.map(), s,
                                r.hasDecision() ? r.decision().thresholds() : null, caption)));
                    }
                    row.put("status", "ok");
                    row.put("score", r.score());
                    ObjectNode b = row.putObject("branches"), modes = row.putObject("modes");
                    for (AnomalyScoring.BranchScore bs : r.branches()) {
                        b.put(bs.branch(), bs.score());
                        modes.put(bs.branch(), bs.mode().key());
                    }
                    // the decision: null when the model holds no thresholds (older files; crd calibrate adds them)
                    if (r.hasDecision()) {
                        row.put("normalised_score", r.normalizedScore());
                        row.put("anomalous", r.anomalous());
                        var regions = row.putArray("regions");
                        for (Decision.Region g : r.regions()) {
                            ObjectNode o = regions.addObject();
                            o.put("x", g.x());
                            o.put("y", g.y());
                            o.put("width", g.width());
                            o.put("height", g.height());
                            o.put("area", g.area());
                            o.put("peak", g.peak());
                            o.put("mean", g.mean());
                        }
                    } else {
                        row.putNull("normalised_score");
                        row.putNull("anomalous");
                        row.putNull("regions");
                    }
                } catch (IOException | IllegalArgumentException e) {
                    if (isOutputFailure(e, out)) throw e;   // a full disk or a read-only OUT stops the run
                    failed++;
                    String msg = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
                    row.put("status", "error");
                    row.put("error", msg);
                    if (bar != null) System.err.print("\r\033[2K");
                    System.err.println("crd detect: " + p.id() + ": " + msg);
                }
                append(log, row, jsonl);
                latest.put(p.id(), row);
                done++;
                if (bar != null) bar.step();
                else if (done % Math.max(1, todo.size() / 10) == 0 || done == todo.size()) {
                    // no terminal (a log file): a line every tenth instead of the bar
                    System.err.printf(Locale.ROOT, "crd detect: %d/%d parts%n", done, todo.size());
                }
            }
        } finally {
            if (bar != null) bar.close();
        }
        writeCsv(out.resolve("results.csv"), parts, latest, key);
        int ok = 0;
        for (Part p : parts) if ("ok".equals(status(latest.get(p.id())))) ok++;
        int bad = parts.size() - ok;
        System.out.printf(Locale.ROOT, "%d parts: %d scored now, %d already done, %d failed -> %s%n", parts.size(),
                todo.size() - failed, parts.size() - todo.size(), bad, out.resolve("results.csv"));
        if (bad > 0) {
            System.err.println("crd detect: error: " + bad + " of " + parts.size() + " parts could not be scored (status \"error\""
                    + " in " + out.resolve("results.csv") + "; a rerun retries them)");
            return 2;
        }
        return 0;
    }

    /** An IOException about a file under OUT (what we write) rather than an input file. */
    private static boolean isOutputFailure(Exception e, Path out) {
        String m = e.getMessage();
        return e instanceof IOException && m != null && m.startsWith(out.toString()) && m.contains("cannot write");
    }

    private static String status(JsonNode row) { return row == null ? null : row.path("status").asText(null); }

    /**
     * {@code OUT/run.json}: the model (path, SHA-256 of its bytes), the folder, the second input and the strategy of the
     * results in OUT. Written on the first run; a rerun with another model or folder is refused, since its results
     * would be mixed with these.
     */
    private static void checkRun(Path out, Path modelFile, Path dir, SecondInput second, MissingStrategy strategy) throws IOException {
        ObjectNode run = JSON.createObjectNode();
        run.put("model", modelFile.toAbsolutePath().normalize().toString());
        run.put("model_sha256", sha256(modelFile));
        run.put("input_dir", dir.toAbsolutePath().normalize().toString());
        run.put("second", second.describe());
        run.put("strategy", strategy.key());
        Path f = out.resolve("run.json");
        if (Files.isRegularFile(f)) {
            JsonNode old;
            try {
                old = JSON.readTree(f.toFile());
            } catch (IOException e) {
                throw new WeightsFormatException(f, "not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
            }
            for (String k : List.of("model_sha256", "input_dir", "second", "strategy")) {
                if (!run.path(k).asText().equals(old.path(k).asText())) {
                    throw new WeightsFormatException(f, "the results in " + out + " were made with " + k + " " + old.path(k).asText()
                            + ", not " + run.path(k).asText() + " (give another --out to score with this model and folder)");
                }
            }
            return;
        }
        AtomicFiles.write(f, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(run));
    }

    private static String sha256(Path f) throws IOException {
        try (InputStream in = Files.newInputStream(f)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The latest line of every part in results.jsonl. A last line without its newline (a run killed while appending)
     * is dropped and the file rewritten without it (atomically), so that the next line does not continue it.
     */
    static Map<String, ObjectNode> readResults(Path jsonl) throws IOException {
        Map<String, ObjectNode> out = new LinkedHashMap<>();
        if (!Files.exists(jsonl)) return out;
        byte[] all = Files.readAllBytes(jsonl);
        int end = all.length;
        while (end > 0 && all[end - 1] != '\n') end--;
        if (end != all.length) AtomicFiles.write(jsonl, java.util.Arrays.copyOf(all, end));
        String text = new String(all, 0, end, StandardCharsets.UTF_8);
        int lineNo = 0;
        for (String line : text.split("\n")) {
            lineNo++;
            if (line.isBlank()) continue;
            try {
                if (JSON.readTree(line) instanceof ObjectNode o && o.hasNonNull("part")) out.put(o.get("part").asText(), o);
                else throw new IOException("not a result object");
            } catch (IOException e) {
                throw new WeightsFormatException(jsonl, "line " + lineNo + " is not a result line of crd detect (delete the file to start again)");
            }
        }
        return out;
    }

    private static void append(FileChannel log, ObjectNode row, Path jsonl) throws IOException {
        byte[] line = (JSON.writeValueAsString(row) + "\n").getBytes(StandardCharsets.UTF_8);
        try {
            ByteBuffer b = ByteBuffer.wrap(line);
            while (b.hasRemaining()) log.write(b);
            log.force(false);
        } catch (IOException e) {
            throw new IOException(jsonl + ": cannot write (" + (e.getMessage() == null ? e : e.getMessage()) + ")", e);
        }
    }

    /** results.csv in scan order, from the latest result of every part (RFC 4180 quoting). */
    private static void writeCsv(Path csv, List<Part> parts, Map<String, ObjectNode> latest, String key) throws IOException {
        StringBuilder sb = new StringBuilder();
        sb.append(String.join(",", List.of("part", "status", "score", "normalised_score", "decision", "regions", "rgb_score",
                key + "_score", "rgb_file", key + "_file", "error"))).append('\n');
        for (Part p : parts) {
            JsonNode r = latest.get(p.id());
            if (r == null) continue;
            JsonNode anomalous = r.get("anomalous"), regions = r.get("regions");
            List<String> cells = List.of(p.id(), r.path("status").asText(), num(r.get("score")), num(r.get("normalised_score")),
                    anomalous == null || anomalous.isNull() ? "" : anomalous.asBoolean() ? "reject" : "accept",
                    regions == null || !regions.isArray() ? "" : String.valueOf(regions.size()),
                    num(r.path("branches").get("rgb")), num(r.path("branches").get(key)), r.path("rgb").asText(""),
                    r.path(key).asText(""), r.path("error").asText(""));
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < cells.size(); i++) {
                String c = cells.get(i);
                if (i > 0) line.append(',');
                line.append(c.contains(",") || c.contains("\"") || c.contains("\n") ? '"' + c.replace("\"", "\"\"") + '"' : c);
            }
            sb.append(line).append('\n');
        }
        AtomicFiles.write(csv, sb.toString().getBytes(StandardCharsets.UTF_8));
    }

    private static String num(JsonNode n) { return n == null || !n.isNumber() ? "" : n.asText(); }
}
