package crd4j.backend;

/**
 * One kind of compute backend, found by {@link Backends} through {@link java.util.ServiceLoader} (listed in
 * {@code META-INF/services/crd4j.backend.BackendProvider}). A provider must be constructible on any machine: it may
 * not touch its native libraries (ND4J, JCuda) before {@link #open}, so that listing the providers works where a
 * backend cannot run.
 */
public interface BackendProvider {
    /** The name users pick it by: {@code "cpu"} or {@code "cuda"}. */
    String id();

    /**
     * Preference for {@code auto}: providers are tried in increasing order, the first that opens wins (CUDA 0,
     * CPU 100).
     */
    int autoOrder();

    /**
     * Opens the backend.
     *
     * @param context how the request is named in a message, e.g. {@code "--device cuda"}
     * @throws DeviceUnavailableException one line naming what is missing on this machine (driver, device, library,
     *                                    jars on the class path), starting with {@code context}
     * @throws IllegalArgumentException   an option this backend cannot honour
     */
    Backend open(String context, Backends.Options options);
}
