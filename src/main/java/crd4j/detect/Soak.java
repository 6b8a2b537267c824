package crd4j.detect;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * A load and soak run of one {@link Detector}: what {@code crd soak} and the load test run. It scores a fixed set of
 * inputs once on one thread (the reference), then {@code sequential} calls on one thread and {@code threads} ×
 * {@code callsPerThread} calls on a fixed pool of threads sharing the detector, and checks every result bit for bit
 * (score, fused map, every branch map) against the reference. It reports latency percentiles, throughput and the
 * process's resource use: resident memory ({@code VmRSS} of {@code /proc/self/status}), open file descriptors
 * ({@code /proc/self/fd}) and JavaCPP's count of native bytes ({@code Pointer.totalBytes()}, where ND4J allocates).
 *
 * <p>Resources are read after the warm-up (the baseline) and at the end, each right after a {@code System.gc()}, so
 * that the comparison is about what stays allocated, not about garbage not yet collected; the largest resident size
 * seen during the run (sampled every 25 calls, without a GC) is reported beside them.
 */
public final class Soak {
    private Soak() {}

    /** The counts of one run; {@code warmup} calls come first and are not timed. */
    public record Config(int sequential, int threads, int callsPerThread, int inputs, int warmup) {
        public Config {
            if (sequential < 0 || threads < 1 || callsPerThread < 0 || inputs < 1 || warmup < 0) {
                throw new IllegalArgumentException("soak: counts must be >= 0, threads and inputs >= 1");
            }
        }
    }

    /** Resident memory, open file descriptors, JavaCPP native bytes and the Java heap in use, at one moment. */
    public record Resources(long rssBytes, long fds, long nativeBytes, long heapUsedBytes) {
        /** Reads them now (−1 where the platform does not say: no /proc, no JavaCPP). */
        public static Resources now() {
            Runtime rt = Runtime.getRuntime();
            return new Resources(Soak.rss(), Soak.fds(), Soak.nativeBytes(), rt.totalMemory() - rt.freeMemory());
        }

        /** After a full collection, so that garbage does not count. */
        public static Resources afterGc() {
            System.gc();
            System.runFinalization();
            System.gc();
            return now();
        }
    }

    /** {@code count} seeded random inputs of side {@code size} (both modalities, values uniform in [−2, 2)). */
    public static List<Sample> randomInputs(int count, int size, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Sample> out = new ArrayList<>();
        for (int k = 0; k < count; k++) {
            float[] a = new float[3 * size * size], b = new float[a.length];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) (r.nextDouble() * 4 - 2);
                b[i] = (float) (r.nextDouble() * 4 - 2);
            }
            out.add(Sample.of(HostTensor.of(a, 1, 3, size, size), HostTensor.of(b, 1, 3, size, size)));
        }
        return out;
    }

    /** Runs the soak and returns its figures as JSON (see {@code crd soak --help} for the fields). */
    public static ObjectNode run(Detector det, List<Sample> inputs, Config c, Consumer<String> progress) throws Exception {
        int k = inputs.size();
        Detector.Result[] ref = new Detector.Result[k];
        for (int i = 0; i < k; i++) ref[i] = det.score(inputs.get(i));
        ExecutorService pool = Executors.newFixedThreadPool(c.threads());
        try {
            return run(det, inputs, c, progress, ref, pool);
        } finally {
            pool.shutdown();
        }
    }

    private static ObjectNode run(Detector det, List<Sample> inputs, Config c, Consumer<String> progress, Detector.Result[] ref,
                                  ExecutorService pool) throws Exception {
        int k = inputs.size();
        // warm-up of both phases, so that the baseline includes what the pool's threads keep for their lifetime (their
        // stacks, scratch buffers and malloc arenas) and the JIT's compiled code
        for (int i = 0; i < c.warmup(); i++) check(ref, i % k, det.score(inputs.get(i % k)));
        int perThread = Math.max(1, c.warmup() / c.threads());
        inParallel(pool, c.threads(), perThread, det, inputs, ref, new double[c.threads() * perThread], null);
        Resources start = Resources.afterGc();
        Map<String, Long> nmtStart = nmt();
        long[] maxRss = {start.rssBytes()};
        progress.accept(String.format(Locale.ROOT, "baseline after %d warm-up calls: RSS %.1f MB, %d fds, native %.1f MB",
                c.warmup(), start.rssBytes() / 1e6, start.fds(), start.nativeBytes() / 1e6));

        double[] seq = new double[c.sequential()];
        long t0 = System.nanoTime();
        for (int i = 0; i < c.sequential(); i++) {
            long a = System.nanoTime();
            Detector.Result r = det.score(inputs.get(i % k));
            seq[i] = (System.nanoTime() - a) / 1e6;
            check(ref, i % k, r);
            if (i % 25 == 0) maxRss[0] = Math.max(maxRss[0], rss());
            if ((i + 1) % Math.max(1, c.sequential() / 10) == 0) {
                progress.accept(String.format(Locale.ROOT, "sequential %d/%d: RSS %.1f MB, native %.1f MB, %d fds", i + 1, c.sequential(),
                        rss() / 1e6, nativeBytes() / 1e6, fds()));
            }
        }
        double seqWall = (System.nanoTime() - t0) / 1e9;
        Resources mid = Resources.afterGc();

        double[] par = new double[c.threads() * c.callsPerThread()];
        long t1 = System.nanoTime();
        inParallel(pool, c.threads(), c.callsPerThread(), det, inputs, ref, par, maxRss);
        double parWall = (System.nanoTime() - t1) / 1e9;
        Resources end = Resources.afterGc();
        Map<String, Long> nmtEnd = nmt();

        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("preset", det.presetName());
        o.put("inputs", k);
        o.put("warmup_calls", c.warmup());
        ObjectNode s = o.putObject("sequential");
        s.put("calls", c.sequential());
        latency(s, seq);
        s.put("calls_per_s", c.sequential() / Math.max(seqWall, 1e-9));
        s.put("identical", true);
        ObjectNode p = o.putObject("parallel");
        p.put("threads", c.threads());
        p.put("calls", par.length);
        latency(p, par);
        p.put("calls_per_s", par.length / Math.max(parWall, 1e-9));
        p.put("identical", true);
        ObjectNode m = o.putObject("resources");
        resources(m.putObject("baseline"), start);
        resources(m.putObject("after_sequential"), mid);
        resources(m.putObject("end"), end);
        m.put("rss_max_mb", maxRss[0] / 1e6);
        m.put("rss_growth_pct", 100.0 * (end.rssBytes() - start.rssBytes()) / start.rssBytes());
        m.put("fd_growth", end.fds() - start.fds());
        m.put("native_growth_mb", (end.nativeBytes() - start.nativeBytes()) / 1e6);
        if (nmtStart != null && nmtEnd != null) {
            // with -XX:NativeMemoryTracking=summary: where the JVM's own memory grew (what is not here is native code
            // outside the JVM's accounting, e.g. ND4J's own allocations and malloc arenas)
            ObjectNode g = m.putObject("jvm_committed_growth_mb");
            nmtEnd.forEach((cat, kb) -> {
                long d = kb - nmtStart.getOrDefault(cat, 0L);
                if (Math.abs(d) >= 256 || cat.equals("Total")) g.put(cat, d / 1024.0);
            });
        }
        Runtime rt = Runtime.getRuntime();
        o.putObject("jvm").put("max_heap_mb", rt.maxMemory() / 1e6).put("javacpp_maxbytes_mb", maxBytes() / 1e6)
                .put("cores", rt.availableProcessors());
        return o;
    }

    /** {@code threads} tasks of {@code calls} calls each on {@code pool}; latencies into {@code ms}. */
    private static void inParallel(ExecutorService pool, int threads, int calls, Detector det, List<Sample> inputs,
                                   Detector.Result[] ref, double[] ms, long[] maxRss) throws Exception {
        int k = inputs.size();
        List<Future<?>> fs = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int tt = t;
            fs.add(pool.submit(() -> {
                for (int i = 0; i < calls; i++) {
                    int in = (tt * 7 + i) % k;   // the threads score different inputs at the same moment
                    long a = System.nanoTime();
                    Detector.Result r = det.score(inputs.get(in));
                    ms[tt * calls + i] = (System.nanoTime() - a) / 1e6;
                    check(ref, in, r);
                    if (maxRss != null && i % 25 == 0) synchronized (maxRss) { maxRss[0] = Math.max(maxRss[0], rss()); }
                }
                return null;
            }));
        }
        for (Future<?> f : fs) {
            try {
                f.get();
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof RuntimeException re) throw re;
                throw e;
            }
        }
    }

    /** A result must equal the reference bit for bit: score, fused map and each branch's name, mode, score and map. */
    static void check(Detector.Result[] ref, int i, Detector.Result r) {
        Detector.Result e = ref[i];
        boolean same = Double.doubleToRawLongBits(e.score()) == Double.doubleToRawLongBits(r.score()) && Arrays.equals(e.map(), r.map())
                && e.branches().size() == r.branches().size();
        for (int b = 0; same && b < e.branches().size(); b++) {
            AnomalyScoring.BranchScore x = e.branches().get(b), y = r.branches().get(b);
            same = x.branch().equals(y.branch()) && x.mode() == y.mode()
                    && Double.doubleToRawLongBits(x.score()) == Double.doubleToRawLongBits(y.score()) && Arrays.equals(x.map(), y.map());
        }
        if (!same) {
            throw new IllegalStateException("input " + i + ": a result differs from the single-threaded reference (score "
                    + r.score() + " vs " + e.score() + ")");
        }
    }

    private static void latency(ObjectNode n, double[] ms) {
        if (ms.length == 0) return;
        double[] v = ms.clone();
        Arrays.sort(v);
        n.put("p50_ms", pct(v, 50));
        n.put("p99_ms", pct(v, 99));
        n.put("max_ms", v[v.length - 1]);
    }

    /** Nearest-rank percentile of sorted values. */
    static double pct(double[] sorted, double p) {
        int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    private static void resources(ObjectNode n, Resources r) {
        n.put("rss_mb", r.rssBytes() / 1e6);
        n.put("fds", r.fds());
        n.put("native_mb", r.nativeBytes() / 1e6);
        n.put("heap_used_mb", r.heapUsedBytes() / 1e6);
    }

    /**
     * The JVM's committed memory per category in KB, from Native Memory Tracking (only when the JVM runs with
     * {@code -XX:NativeMemoryTracking=summary}), else null.
     */
    static Map<String, Long> nmt() {
        try {
            Object text = java.lang.management.ManagementFactory.getPlatformMBeanServer().invoke(
                    new javax.management.ObjectName("com.sun.management:type=DiagnosticCommand"), "vmNativeMemory",
                    new Object[]{new String[]{"summary"}}, new String[]{String[].class.getName()});
            Map<String, Long> out = new java.util.LinkedHashMap<>();
            java.util.regex.Matcher mt = java.util.regex.Pattern.compile("Total: reserved=\\d+KB, committed=(\\d+)KB").matcher(text.toString());
            if (mt.find()) out.put("Total", Long.parseLong(mt.group(1)));
            java.util.regex.Matcher mc = java.util.regex.Pattern.compile("-\\s+([A-Za-z][A-Za-z ]*?) \\(reserved=\\d+KB, committed=(\\d+)KB\\)")
                    .matcher(text.toString());
            while (mc.find()) out.put(mc.group(1).strip(), Long.parseLong(mc.group(2)));
            return out.isEmpty() ? null : out;
        } catch (Exception | LinkageError e) {
            return null;
        }
    }

    /** VmRSS of this process in bytes, or −1 without /proc. */
    public static long rss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    /** Open file descriptors of this process, or −1 without /proc. */
    public static long fds() {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count() - 1;   // the listing's own descriptor
        } catch (IOException e) {
            return -1;
        }
    }

    /**
     * Native bytes held by ND4J's buffers (its {@code AllocationsTracker}, host memory of device 0) plus those JavaCPP
     * tracks itself ({@code Pointer.totalBytes()}), by reflection so that a class path without ND4J works; −1 if
     * neither is there.
     */
    public static long nativeBytes() {
        long nd4j = -1;
        try {
            Object t = Class.forName("org.nd4j.linalg.api.memory.AllocationsTracker").getMethod("getInstance").invoke(null);
            nd4j = (long) t.getClass().getMethod("bytesOnDevice", Integer.class).invoke(t, 0);
        } catch (ReflectiveOperationException | LinkageError e) {
            // not on the class path
        }
        long cpp = javacpp("totalBytes");
        return nd4j < 0 && cpp < 0 ? -1 : Math.max(nd4j, 0) + Math.max(cpp, 0);
    }

    private static long maxBytes() {
        return javacpp("maxBytes");
    }

    private static long javacpp(String method) {
        try {
            return (long) Class.forName("org.bytedeco.javacpp.Pointer").getMethod(method).invoke(null);
        } catch (ReflectiveOperationException | LinkageError e) {
            return -1;
        }
    }
}
