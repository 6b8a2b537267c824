package crd4j.backend;

import crd4j.backend.nd4j.Nd4jBackend;

/**
 * The CPU backend (ND4J, the numerical reference). Needs nd4j-native on the class path; the check is done by name
 * first, because {@link Nd4jBackend} itself loads without ND4J and only its first operation would fail.
 */
public final class CpuBackendProvider implements BackendProvider {
    @Override
    public String id() { return "cpu"; }

    @Override
    public int autoOrder() { return 100; }

    @Override
    public Backend open(String context, Backends.Options options) {
        if (options.threads() < 0) throw new IllegalArgumentException("--threads: expected >= 0, found " + options.threads());
        String missing = context + ": the CPU backend needs ND4J (nd4j-native), which is not on the class path";
        try {
            Class.forName("org.nd4j.linalg.factory.Nd4j", false, CpuBackendProvider.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw new DeviceUnavailableException(missing);
        }
        try {
            Nd4jBackend be = new Nd4jBackend();
            if (options.threads() > 0) Nd4jBackend.setThreads(options.threads());
            return be;
        } catch (NoClassDefFoundError | UnsatisfiedLinkError | ExceptionInInitializerError e) {
            throw new DeviceUnavailableException(missing + " (" + e + ")");
        }
    }
}
