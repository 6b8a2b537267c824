package crd4j.backend.cuda;

import crd4j.autograd.Var;
import crd4j.backend.Tensor;
import crd4j.detect.Detector;
import crd4j.detect.NormalizationStats;
import crd4j.eval.GaussianFilter;
import crd4j.io.Npy;
import crd4j.model.AnomalyMap;
import crd4j.model.Checkpoints;
import crd4j.model.CrdModel;
import crd4j.detect.Inspection;
import crd4j.model.Modality;
import crd4j.model.Preset;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * The GPU-only checks as a plain program, for a machine with a GPU but without Maven or ND4J (benchmarks/device/
 * run.sh). The checks every backend shares — each op, the tiny network and two training steps against PyTorch —
 * are the JUnit parity suite (OpsParityTest, NetworkParityTest, TrainingStepParityTest over crd4j.testing.
 * TestBackends), which run.sh runs there with JUnit's console launcher; this program holds only what has no CPU
 * counterpart:
 *
 * <pre>
 *   consistency     float32 against float64 on the device, awkward sizes (batch 1 and 16, odd widths), cuBLAS and cuDNN
 *   kernels         the Gaussian kernel against GaussianFilter; the fused anomaly-map and fusion kernels against the
 *                   same backend's per-op path
 *   network-paper   the paper-preset network against FIXTURES/network-paper/ (crd_reference.py network --base 64
 *                   --size 256 --ref-dtype float64), when that fixture exists (1.5 GB, too large for the suite)
 *   detector        the Detector's CUDA-graph replay (bit-identical to eager) and no cuMemAlloc in the steady state
 * </pre>
 *
 * Usage: {@code java -cp … crd4j.backend.cuda.GpuSelfTest FIXTURES [RESULTS.tsv [SECTIONS]]}. Prints one line per
 * check ({@code PASS|FAIL|SKIP name error tolerance}) and "N passed, M failed, K skipped"; exit code 1 on any
 * failure, 3 when the backend does not open. Tolerances are those of the CPU tests (docs/PARITY.md): 1e-5 for forward
 * ops, 1e-4 for gradients and network outputs (or twice PyTorch float32's own error where that is larger), 1e-7 for
 * float64 against PyTorch float64.
 */
public final class GpuSelfTest {
    static final double LAYER = 1e-5, NETWORK = 1e-4;
    private final PrintStream out;
    private final List<String> rows = new ArrayList<>();
    private int passed, failed, skipped;

    GpuSelfTest(PrintStream out) { this.out = out; }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: GpuSelfTest FIXTURES_DIR [RESULTS.tsv [SECTIONS]]   SECTIONS: comma list of " + ALL);
            System.exit(2);
        }
        GpuSelfTest t = new GpuSelfTest(System.out);
        if (args.length > 2) t.sections = List.of(args[2].split(","));
        int code;
        try {
            code = t.runAll(Path.of(args[0]));
        } catch (crd4j.backend.DeviceUnavailableException e) {
            System.out.println("GpuSelfTest: " + e.getMessage());
            t.rows.add("# " + e.getMessage());
            code = 3;
        }
        if (args.length > 1) Files.write(Path.of(args[1]), t.rows);
        System.exit(code);
    }

    static final List<String> ALL = List.of("consistency", "kernels", "network-paper", "detector");
    List<String> sections = ALL;

    int runAll(Path fixtures) throws Exception {
        try (CudaBackend be = CudaBackend.open(false)) {
            out.println("# " + be.name());
            boolean[] modes = be.cublasAvailable() ? new boolean[]{true, false} : new boolean[]{false};
            for (boolean cublas : modes) {
                be.setUseCublas(cublas);
                String tag = cublas ? " [cuBLAS]" : " [cuDNN]";
                if (sections.contains("consistency")) section(Path.of("."), d -> selfConsistency(be, tag));
            }
            be.setUseCublas(be.cublasAvailable());
            if (sections.contains("kernels")) section(Path.of("."), d -> kernels(be));
            if (sections.contains("network-paper")) section(fixtures.resolve("network-paper"), d -> network(be, d, Preset.PAPER, "paper"));
            if (sections.contains("detector")) section(Path.of("."), d -> detector(be));
        }
        String summary = passed + " passed, " + failed + " failed, " + skipped + " skipped";
        out.println(summary);
        rows.add("# " + summary);
        return failed == 0 ? 0 : 1;
    }

    interface Section { void run(Path dir) throws Exception; }

    private void section(Path dir, Section s) {
        if (!Files.isDirectory(dir)) {
            report("SKIP", dir.getFileName().toString(), Double.NaN, Double.NaN, "no fixtures at " + dir);
            return;
        }
        try {
            s.run(dir);
        } catch (Exception | Error e) {
            report("FAIL", dir.getFileName().toString(), Double.NaN, Double.NaN, "threw " + e);
            e.printStackTrace(out);
        }
    }

    private void report(String status, String name, double err, double tol, String note) {
        String line = String.format(Locale.ROOT, "%s\t%s\t%.3e\t%.1e\t%s", status, name, err, tol, note);
        out.println(line);
        rows.add(line);
        switch (status) {
            case "PASS" -> passed++;
            case "FAIL" -> failed++;
            default -> skipped++;
        }
    }

    void check(String name, HostTensor mine, HostTensor ref, double tol) {
        double err = relL2(mine, ref);
        report(err <= tol ? "PASS" : "FAIL", name, err, tol, "");
    }

    void check(String name, Tensor mine, HostTensor ref, double tol) { check(name, mine.toHost(), ref, tol); }

    static double relL2(HostTensor a, HostTensor b) {
        if (a.numel() != b.numel()) return Double.POSITIVE_INFINITY;
        double num = 0, den = 0;
        for (long i = 0; i < a.numel(); i++) {
            double d = a.getDouble(i) - b.getDouble(i);
            num += d * d;
            den += b.getDouble(i) * b.getDouble(i);
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    // ---- float32 against float64 on the device, awkward sizes (batch 1 and 16, odd widths) -----------------------

    static HostTensor random(SplittableRandom r, double scale, long... shape) {
        float[] a = new float[Math.toIntExact(HostTensor.numel(shape))];
        for (int i = 0; i < a.length; i++) a[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        return HostTensor.of(a, shape);
    }

    private void selfConsistency(CudaBackend be, String tag) {
        SplittableRandom rnd = new SplittableRandom(4);
        for (int n : new int[]{1, 16}) {
            HostTensor x = random(rnd, 1, n, 13, 11, 17), w3 = random(rnd, 0.3, 9, 13, 3, 3), w1 = random(rnd, 0.3, 9, 13, 1, 1);
            HostTensor wd = random(rnd, 0.3, 13, 7, 2, 2);
            record Case(String name, HostTensor w, int stride, int pad) {}
            for (Case c : List.of(new Case("conv k3s1p1", w3, 1, 1), new Case("conv k3s2p1", w3, 2, 1), new Case("conv k1s1", w1, 1, 0))) {
                Function<DType, HostTensor> fwd = dt -> be.conv2d(be.fromHost(conv(x, dt)), be.fromHost(conv(c.w(), dt)), c.stride(), c.pad()).toHost();
                HostTensor y64 = fwd.apply(DType.FLOAT64);
                check(c.name() + " N=" + n + " f32 vs f64" + tag, fwd.apply(DType.FLOAT32), y64, LAYER);
                HostTensor gy = random(rnd, 1, y64.shape());
                Function<DType, HostTensor> bd = dt -> be.conv2dBackwardData(be.fromHost(conv(gy, dt)), be.fromHost(conv(c.w(), dt)), x.shape(), c.stride(), c.pad()).toHost();
                check(c.name() + " grad x N=" + n + " f32 vs f64" + tag, bd.apply(DType.FLOAT32), bd.apply(DType.FLOAT64), NETWORK);
                Function<DType, HostTensor> bf = dt -> be.conv2dBackwardFilter(be.fromHost(conv(x, dt)), be.fromHost(conv(gy, dt)), c.w().shape(), c.stride(), c.pad()).toHost();
                check(c.name() + " grad w N=" + n + " f32 vs f64" + tag, bf.apply(DType.FLOAT32), bf.apply(DType.FLOAT64), NETWORK);
            }
            Function<DType, HostTensor> dc = dt -> be.deconv2x2(be.fromHost(conv(x, dt)), be.fromHost(conv(wd, dt))).toHost();
            check("deconv N=" + n + " f32 vs f64" + tag, dc.apply(DType.FLOAT32), dc.apply(DType.FLOAT64), LAYER);
        }
    }

    private static HostTensor conv(HostTensor h, DType dt) { return dt == DType.FLOAT64 ? h.toFloat64() : h.toFloat32(); }

    // ---- kernels against crd4j's Java code -------------------------------------------------------------------------

    private void kernels(CudaBackend be) {
        SplittableRandom rnd = new SplittableRandom(9);
        for (int[] hw : new int[][]{{256, 256}, {37, 11}, {5, 3}}) {
            int h = hw[0], w = hw[1];
            double[] map = new double[h * w];
            for (int i = 0; i < map.length; i++) map[i] = rnd.nextDouble() * 3 - 1;
            double[] kernel = GaussianFilter.kernel(GaussianFilter.CRD_SIGMA, GaussianFilter.DEFAULT_TRUNCATE);
            Tensor d = be.gaussianFilter(be.fromHost(HostTensor.of(map, 1, h, w)), kernel);
            check("gaussian sigma4 " + h + "x" + w + " vs GaussianFilter", d.toHost(), HostTensor.of(GaussianFilter.apply(map, h, w), 1, h, w), 1e-15);
        }
        for (int n : new int[]{1, 16}) {
            List<Var> fused = new ArrayList<>(), teacher = new ArrayList<>();
            for (int k = 0; k < 3; k++) {
                int s = 16 >> k;
                fused.add(new Var(be.fromHost(random(rnd, 1, n, 8 << k, s, s + 1)), false));
                teacher.add(new Var(be.fromHost(random(rnd, 1, n, 8 << k, s, s + 1)), false));
            }
            HostTensor device = AnomalyMap.raw(be, fused, teacher, 64);
            // the generic path: the same backend's per-op kernels, accumulated on the host
            double[] acc = new double[Math.toIntExact(device.numel())];
            for (int k = 0; k < 3; k++) {
                HostTensor u = be.upsampleBilinearAlignCorners(be.cosineDistanceMap(fused.get(k).value(), teacher.get(k).value()), 64, 64).toHost();
                for (int i = 0; i < acc.length; i++) acc[i] += u.getDouble(i);
            }
            check("raw anomaly map fused kernel N=" + n + " vs per-op path", device, HostTensor.of(acc, n, 64, 64), 1e-15);
            Tensor gy = be.fromHost(random(rnd, 1, n, 7, 9, 11)), r = be.fromHost(random(rnd, 1, n, 7, 9, 11)), q = be.fromHost(random(rnd, 1, n, 7, 9, 11));
            var fg = be.fusionBackward(gy, r, q, 0.3, 0.7, true, true, true);
            check("fusion backward dr N=" + n + " vs axpby", fg.dr(), be.axpby(0.3, gy, 0, gy).toHost(), 0);
            check("fusion backward <gy,r> N=" + n + " vs dot", HostTensor.of(new double[]{fg.dotR(), fg.dotQ()}, 2),
                    HostTensor.of(new double[]{be.dot(gy, r), be.dot(gy, q)}, 2), 1e-12);
        }
    }

    // ---- the whole network against PyTorch --------------------------------------------------------------------------

    private void network(CudaBackend be, Path dir, Preset preset, String tag) throws Exception {
        for (DType dt : new DType[]{DType.FLOAT64, DType.FLOAT32}) {
            CrdModel model = new CrdModel(new NnContext(be, dt, 0), preset, Modality.DEPTH);
            Checkpoints.loadTeacher(model.teacher(), Checkpoints.readTeacher(dir.resolve("teacher.pth")), dir.resolve("teacher.pth"));
            Checkpoints.loadReference(model, dir.resolve("checkpoint.pth"));
            HostTensor rgb = Npy.read(dir.resolve("rgb.npy")), depth = Npy.read(dir.resolve("depth.npy"));
            Map<String, HostTensor> outs = Inspection.run(be, model, be.fromHost(conv(rgb, dt)), be.fromHost(conv(depth, dt)), true);
            for (Map.Entry<String, HostTensor> e : outs.entrySet()) {
                HostTensor exact = Npy.read(dir.resolve("ref").resolve(e.getKey() + ".npy"));
                if (dt == DType.FLOAT64) {
                    check(tag + " f64 " + e.getKey(), e.getValue().toFloat32(), exact, 1e-7);
                } else {
                    Path t32 = dir.resolve("ref_f32").resolve(e.getKey() + ".npy");
                    double torchErr = Files.exists(t32) ? relL2(Npy.read(t32), exact) : 0;
                    check(tag + " f32 " + e.getKey(), e.getValue(), exact, torchErr > 5e-5 ? 2 * torchErr : NETWORK);
                }
            }
        }
    }

    // ---- Detector: CUDA graph replay and steady-state memory ------------------------------------------------------

    private void detector(CudaBackend be) {
        CrdModel model = new CrdModel(new NnContext(be, DType.FLOAT32, 0), Preset.SMALL, Modality.DEPTH);
        SplittableRandom rnd = new SplittableRandom(3);
        int s = Preset.SMALL.size();
        HostTensor x = random(rnd, 2, 1, 3, s, s), y = random(rnd, 2, 1, 3, s, s);
        try (Detector eager = new Detector(be, model, NormalizationStats.of("depth", 1.0, 0.2, 1.1, 0.3))) {
            Detector.Result first = eager.score(x, y);      // eager (chooses convolution algorithms)
            Detector.Result second = eager.score(x, y);     // eager, then captures
            Detector.Result replay = eager.score(x, y);     // graph replay
            check("detector graph replay vs eager map", HostTensor.of(replay.map(), s, s), HostTensor.of(first.map(), s, s), 0);
            check("detector eager repeat", HostTensor.of(second.map(), s, s), HostTensor.of(first.map(), s, s), 0);
            int before = be.deviceAllocations();
            for (int i = 0; i < 10; i++) eager.score(x, y);
            int grown = be.deviceAllocations() - before;
            report(grown == 0 ? "PASS" : "FAIL", "detector steady state: no cuMemAlloc in 10 scores", grown, 0, "");
        }
    }
}
