package crd4j.backend.cuda;

import org.junit.jupiter.api.Assumptions;

/** Skips a GPU test with the reason this machine cannot run the CUDA backend (computed once per JVM). */
final class GpuAvailable {
    private static String reason;
    private static boolean probed;

    private GpuAvailable() {}

    static synchronized String reason() {
        if (!probed) {
            reason = CudaBackend.unavailableReason();
            probed = true;
        }
        return reason;
    }

    static void assume() {
        String r = reason();
        Assumptions.assumeTrue(r == null, () -> "skipped: " + r);
    }
}
