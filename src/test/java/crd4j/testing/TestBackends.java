package crd4j.testing;

import crd4j.backend.Backend;
import crd4j.backend.Backends;
import crd4j.backend.DeviceUnavailableException;
import org.junit.jupiter.api.Assumptions;

import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The backends the parity suite runs on, as JUnit parameters ({@code @MethodSource("crd4j.testing.TestBackends#all")}):
 * every parity test runs once per case with the same PyTorch fixtures and the same tolerances.
 *
 * <ul>
 *   <li>{@code cpu}: ND4J, the numerical reference;</li>
 *   <li>{@code cuda}: the CUDA backend as {@code Backends.open("cuda")} gives it (cuBLAS for GEMM-shaped ops when
 *   libcublas loads, cuDNN otherwise), TF32 off;</li>
 *   <li>{@code cuda-cudnn}: the same backend with cuBLAS switched off, so that the cuDNN path of the GEMM-shaped ops
 *   is checked too on a machine that has cuBLAS.</li>
 * </ul>
 *
 * Each backend is opened once per JVM, on first use, through {@link Backends} (the entry point embedding code uses).
 * A case whose backend does not open here is skipped, saying why (a JUnit assumption with the backend's one-line
 * reason), so the CPU cases cost CI nothing extra and the CUDA cases skip at once without a GPU.
 */
public final class TestBackends {
    private TestBackends() {}

    /** One backend case. {@link #get} returns the opened backend, or skips the calling test with the reason. */
    public static final class Case {
        private final String label, device;
        private final boolean cublas;

        private Case(String label, String device, boolean cublas) {
            this.label = label;
            this.device = device;
            this.cublas = cublas;
        }

        public String label() { return label; }

        public boolean isCpu() { return device.equals("cpu"); }

        public Backend get() {
            Opened o = open(device);
            Assumptions.assumeTrue(o.backend() != null, () -> label + " skipped: " + o.reason());
            if (!isCpu()) {
                crd4j.backend.cuda.CudaBackend cuda = (crd4j.backend.cuda.CudaBackend) o.backend();
                if (!cublas) {
                    Assumptions.assumeTrue(cuda.cublasAvailable(), () -> label + " skipped: cuBLAS did not load here, so the "
                            + "cuda case already ran the cuDNN path of the GEMM-shaped ops");
                }
                cuda.setUseCublas(cublas);
            }
            return o.backend();
        }

        @Override
        public String toString() { return label; }
    }

    public static final Case CPU = new Case("cpu", "cpu", false);
    public static final Case CUDA = new Case("cuda", "cuda", true);
    public static final Case CUDA_CUDNN = new Case("cuda-cudnn", "cuda", false);

    /** Every case, CPU first. */
    public static Stream<Case> all() {
        return Stream.of(CPU, CUDA, CUDA_CUDNN);
    }

    private record Opened(Backend backend, String reason) {}

    private static final Map<String, Opened> OPENED = new HashMap<>();

    private static synchronized Opened open(String device) {
        return OPENED.computeIfAbsent(device, d -> {
            try {
                return new Opened(Backends.open(d), null);
            } catch (DeviceUnavailableException e) {
                return new Opened(null, e.getMessage().replaceFirst("^--device [a-z]+: ", ""));
            }
        });
    }
}
