package crd4j.backend;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * The one way to get a compute backend, for the CLI and for embedding code alike:
 *
 * <pre>{@code
 * try (Backend be = Backends.open("auto")) {          // "cpu", "cuda" or "auto"
 *     ...
 * }
 * }</pre>
 *
 * <ul>
 *   <li>{@code "cpu"}: ND4J on the CPU, the numerical reference (needs nd4j-native on the class path);</li>
 *   <li>{@code "cuda"}: the GPU (needs JCuda's jars, the NVIDIA driver, a device and cuDNN 9); on a machine
 *   without them it fails with one line naming what is missing ({@link DeviceUnavailableException});</li>
 *   <li>{@code "auto"}: CUDA when it opens, else the CPU; which one it chose, and why CUDA was not used, is logged
 *   at INFO (SLF4J logger {@code crd4j.backend.Backends}) and returned by {@link #select}.</li>
 * </ul>
 *
 * Backends are found with {@link ServiceLoader} ({@link BackendProvider}), so neither needs the other's libraries:
 * the CUDA backend runs with ND4J absent from the class path and the CPU backend with JCuda absent.
 */
public final class Backends {
    private static final Logger LOG = LoggerFactory.getLogger(Backends.class);

    private Backends() {}

    /**
     * Options every backend is opened with.
     *
     * @param tf32    CUDA only: allow TF32 tensor-core maths (~1e-3 relative error instead of float32's); asking for it
     *                with {@code "cpu"} is an error
     * @param threads CPU only: threads for ND4J's native ops and BLAS, 0 = ND4J's default (one per core)
     */
    public record Options(boolean tf32, int threads) {
        public static final Options DEFAULT = new Options(false, 0);
    }

    /** What {@link #select} opened, and for {@code "auto"} the line saying which backend it chose and why. */
    public record Selection(Backend backend, String note) {}

    /** {@link #open(String, Options)} with the default options. */
    public static Backend open(String device) {
        return open(device, Options.DEFAULT);
    }

    /**
     * Opens {@code "cpu"}, {@code "cuda"} or {@code "auto"} (case-insensitive).
     *
     * @throws DeviceUnavailableException one line naming what this machine lacks for the requested backend
     * @throws IllegalArgumentException   an unknown device name or an option the backend cannot honour
     */
    public static Backend open(String device, Options options) {
        Selection s = select(device, options);
        if (s.note() != null) LOG.info(s.note());
        return s.backend();
    }

    /** The ids of the installed providers, in {@code auto}'s order (normally {@code [cuda, cpu]}). */
    public static List<String> available() {
        return providers().stream().map(BackendProvider::id).toList();
    }

    /** Like {@link #open(String, Options)}, but returns {@code auto}'s note instead of logging it. */
    public static Selection select(String device, Options options) {
        String d = device == null ? "" : device.trim().toLowerCase(Locale.ROOT);
        List<BackendProvider> all = providers();
        if (d.equals("auto")) {
            if (all.isEmpty()) throw new DeviceUnavailableException("--device auto: no backend is installed (META-INF/services lists none)");
            // every provider but the last (the CPU) is tried; the last is opened with the reasons the others gave
            List<String> why = new ArrayList<>();
            for (BackendProvider p : all.subList(0, all.size() - 1)) {
                try {
                    Backend be = p.open("--device " + p.id(), options);
                    return new Selection(be, "device auto -> " + be.name());
                } catch (DeviceUnavailableException e) {
                    why.add(e.getMessage().replaceFirst("^--device " + p.id() + ": ", ""));
                }
            }
            BackendProvider last = all.get(all.size() - 1);
            String reasons = String.join("; ", why);
            Backend be = last.open(why.isEmpty() ? "--device auto" : "--device auto: no usable GPU (" + reasons + ")", options);
            String what = last.id().equals("cpu") ? "cpu (ND4J reference backend" : be.name() + " (";
            return new Selection(be, "device auto -> " + what + (why.isEmpty() ? "" : (what.endsWith("(") ? "" : "; ")
                    + "CUDA not used: " + reasons) + ")");
        }
        for (BackendProvider p : all) {
            if (p.id().equals(d)) {
                if (options.tf32() && !d.equals("cuda")) throw new IllegalArgumentException("--tf32 applies to the CUDA backend only");
                return new Selection(p.open("--device " + d, options), null);
            }
        }
        if (d.equals("cpu") || d.equals("cuda")) {
            throw new DeviceUnavailableException("--device " + d + ": this build of crd4j has no " + d + " backend (installed: "
                    + String.join(", ", available()) + ")");
        }
        throw new IllegalArgumentException("--device: expected cpu, cuda or auto, found '" + device + "'");
    }

    /** Why {@code device} cannot be opened here, or null when it can (opens and closes it). */
    public static String unavailableReason(String device) {
        try {
            open(device).close();
            return null;
        } catch (DeviceUnavailableException e) {
            return e.getMessage().replaceFirst("^--device [a-z]+: ", "");
        }
    }

    private static List<BackendProvider> providers() {
        List<BackendProvider> out = new ArrayList<>();
        var it = ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader()).iterator();
        while (true) {
            try {
                if (!it.hasNext()) break;
                out.add(it.next());
            } catch (ServiceConfigurationError e) {
                LOG.debug("backend provider skipped: {}", e.toString());
            }
        }
        out.sort(Comparator.comparingInt(BackendProvider::autoOrder));
        return out;
    }

    /**
     * {@code java -cp … crd4j.backend.Backends [cpu|cuda|auto]} (default cuda): prints the backend's one-line
     * description and exits 0, or the one line saying why it cannot open and exits 3. The GPU script's first check.
     */
    public static void main(String[] args) {
        String device = args.length > 0 ? args[0] : "cuda";
        try (Backend be = open(device)) {
            System.out.println("# " + be.name());
            System.exit(0);
        } catch (DeviceUnavailableException | IllegalArgumentException e) {
            System.out.println(e.getMessage());
            System.exit(3);
        }
    }
}
