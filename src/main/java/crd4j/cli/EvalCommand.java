package crd4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.backend.Backend;
import crd4j.data.MvtecDataset;
import crd4j.detect.Detector;
import crd4j.eval.MetricSet;
import crd4j.eval.Metrics;
import crd4j.io.Npy;
import crd4j.io.WeightsFormatException;
import crd4j.tensor.HostTensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code crd eval}: scores every test sample of one category with a trained model ({@link Detector}, §8.3) and writes
 * the §9 metrics of the fused detector and of each branch alone (Gaussian of the normalised branch map, §8.3 item 4)
 * to {@code DIR/metrics.json} as fractions:
 * <pre>{"fused": {"i_auroc", "i_ap", "p_auroc", "p_ap", "au_pro_0.3", "au_pro_0.01"}, "rgb": {...}, "depth": {...}}</pre>
 * (the third key is the second modality's name). Maps and GT are at the model's input side S (256 for paper).
 * {@code --save-maps} also writes {@code DIR/maps/<defect>/<stem>.npy} (fused smoothed map, float64 [S,S]) and
 * {@code DIR/gt/<defect>/<stem>.npy} (the binarised GT used, float32 [S,S] of 0/1).
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a trained CRD model on the test split of one category (spec §9).")
final class EvalCommand implements Callable<Integer> {
    @Mixin
    Common common;

    @Option(names = "--data", required = true, description = "Dataset root (<root>/<category>/test).")
    Path data;

    @Option(names = "--category", required = true, description = "Category (class) name.")
    String category;

    @Option(names = "--model", required = true, description = "crd4j model file with validation statistics (crd train).")
    Path model;

    @Option(names = "--out", required = true, description = "Output directory.")
    Path out;

    @Option(names = "--save-maps", description = "Also write the fused maps and binarised GT as .npy.")
    boolean saveMaps;

    @Override
    public Integer call() throws Exception {
        Backend be = common.backend();
        MvtecDataset ds = MvtecDataset.open(data, category);
        List<MvtecDataset.Sample> test = ds.samples("test");
        try (Detector det = Detector.load(model, be)) {
            if (det.model().secondModality() != ds.modality()) {
                throw new WeightsFormatException(model, "model's second modality is " + det.model().secondModality().key()
                        + " but " + ds.categoryDir() + " has " + ds.modality().key());
            }
            int s = det.model().preset().size();
            List<double[]> fused = new ArrayList<>(), rgb = new ArrayList<>(), other = new ArrayList<>();
            List<int[]> gts = new ArrayList<>();
            List<HostTensor> gtTensors = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 0; i < test.size(); i++) {
                MvtecDataset.Inputs in = ds.load(test.get(i), s);
                Detector.Result r = det.score(in.rgb(), in.second());
                fused.add(r.map());
                rgb.add(r.rgbMap());
                other.add(r.otherMap());
                float[] g = in.gt().floats();
                int[] gi = new int[g.length];
                for (int k = 0; k < g.length; k++) gi[k] = g[k] > 0.5f ? 1 : 0;
                gts.add(gi);
                gtTensors.add(in.gt());
                if (common.verbose) {
                    System.err.printf(Locale.ROOT, "crd eval: %d/%d %s/%s score %.4f%n", i + 1, test.size(),
                            test.get(i).defect(), test.get(i).stem(), r.score());
                }
            }
            System.err.printf(Locale.ROOT, "crd eval: scored %d test samples in %.1f s%n", test.size(), (System.nanoTime() - t0) / 1e9);
            String second = ds.modality().key();
            Map<String, MetricSet> results = new LinkedHashMap<>();
            results.put("fused", Metrics.evaluate(fused, gts, s, s));
            results.put("rgb", Metrics.evaluate(rgb, gts, s, s));
            results.put(second, Metrics.evaluate(other, gts, s, s));

            ObjectMapper json = new ObjectMapper();
            ObjectNode root = json.createObjectNode();
            System.out.printf(Locale.ROOT, "%-8s %8s %8s %8s %8s %11s %12s%n", "detector", "I-AUROC", "I-AP", "P-AUROC", "P-AP",
                    "AU-PRO@0.3", "AU-PRO@0.01");
            for (Map.Entry<String, MetricSet> e : results.entrySet()) {
                MetricSet m = e.getValue();
                ObjectNode n = root.putObject(e.getKey());
                n.put("i_auroc", m.iAuroc());
                n.put("i_ap", m.iAp());
                n.put("p_auroc", m.pAuroc());
                n.put("p_ap", m.pAp());
                n.put("au_pro_0.3", m.auPro30());
                n.put("au_pro_0.01", m.auPro01());
                System.out.printf(Locale.ROOT, "%-8s %8.4f %8.4f %8.4f %8.4f %11.4f %12.4f%n", e.getKey(), m.iAuroc(), m.iAp(),
                        m.pAuroc(), m.pAp(), m.auPro30(), m.auPro01());
            }
            byte[] metrics = json.writerWithDefaultPrettyPrinter().writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
            Map<String, OutputDirectory.FileWriter> files = new LinkedHashMap<>();
            files.put("metrics.json", f -> Files.write(f, metrics));
            if (saveMaps) {
                for (int i = 0; i < test.size(); i++) {
                    MvtecDataset.Sample smp = test.get(i);
                    String rel = smp.defect() + "/" + smp.stem() + ".npy";
                    HostTensor map = HostTensor.of(fused.get(i), s, s);
                    HostTensor gt = gtTensors.get(i);
                    files.put("maps/" + rel, f -> Npy.write(f, map));
                    files.put("gt/" + rel, f -> Npy.write(f, gt));
                }
            }
            OutputDirectory.write(out, files);
            System.out.println("wrote " + out.resolve("metrics.json") + (saveMaps ? " and maps/, gt/" : ""));
        }
        return 0;
    }
}
