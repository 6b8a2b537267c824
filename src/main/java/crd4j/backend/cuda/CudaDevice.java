package crd4j.backend.cuda;

import crd4j.backend.DeviceUnavailableException;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

import java.nio.charset.StandardCharsets;

/**
 * Finds a usable GPU: loads the CUDA driver through JCuda, initialises it, picks device {@code CRD4J_CUDA_DEVICE}
 * (default 0) and makes its primary context current (the one the CUDA runtime, cuDNN and cuBLAS use too). Every
 * failure becomes a {@link DeviceUnavailableException} whose message is one line naming what is missing.
 */
final class CudaDevice {
    final CUdevice device;
    final CUcontext context;
    final int ordinal;
    final String name;
    final int computeMajor, computeMinor;
    final long totalMemory;

    private CudaDevice(CUdevice device, CUcontext context, int ordinal, String name, int major, int minor, long total) {
        this.device = device;
        this.context = context;
        this.ordinal = ordinal;
        this.name = name;
        this.computeMajor = major;
        this.computeMinor = minor;
        this.totalMemory = total;
    }

    static CudaDevice open() {
        try {
            JCudaDriver.setExceptionsEnabled(false);
        } catch (NoClassDefFoundError e) {
            String missing = String.valueOf(e.getMessage());
            if (missing.startsWith("Could not initialize class")) {   // the native library failed earlier in this JVM
                throw unavailable(remembered("driver", "no CUDA driver (libcuda.so.1 not loadable)"));
            }
            throw unavailable(missing.startsWith("jcuda/") ? "JCuda (org.jcuda:jcuda) is not on the class path"
                    : "JCuda cannot initialise: class " + missing + " is missing from this Java runtime");
        } catch (UnsatisfiedLinkError | ExceptionInInitializerError e) {
            throw unavailable(remember("driver", nativeLoadReason(e, "libcuda.so.1", "no CUDA driver (libcuda.so.1 not loadable)")));
        }
        int rc;
        try {
            rc = JCudaDriver.cuInit(0);
        } catch (UnsatisfiedLinkError e) {
            throw unavailable(nativeLoadReason(e, "libcuda.so.1", "no CUDA driver (libcuda.so.1 not loadable)"));
        }
        if (rc == CUresult.CUDA_ERROR_NO_DEVICE) throw unavailable("no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)");
        if (rc != CUresult.CUDA_SUCCESS) throw unavailable("the CUDA driver failed to initialise (cuInit: " + CUresult.stringFor(rc) + ")");
        int[] count = {0};
        rc = JCudaDriver.cuDeviceGetCount(count);
        if (rc != CUresult.CUDA_SUCCESS || count[0] == 0) throw unavailable("no CUDA device (cuDeviceGetCount: " + count[0] + ")");
        int ordinal = 0;
        String env = System.getenv("CRD4J_CUDA_DEVICE");
        if (env != null && !env.isBlank()) {
            try {
                ordinal = Integer.parseInt(env.trim());
            } catch (NumberFormatException e) {
                throw unavailable("CRD4J_CUDA_DEVICE='" + env + "' is not a device number");
            }
            if (ordinal < 0 || ordinal >= count[0]) {
                throw unavailable("CRD4J_CUDA_DEVICE=" + ordinal + " but only " + count[0] + " CUDA device(s) exist");
            }
        }
        CUdevice dev = new CUdevice();
        Cuda.check(JCudaDriver.cuDeviceGet(dev, ordinal), "cuDeviceGet");
        byte[] nameBytes = new byte[256];
        Cuda.check(JCudaDriver.cuDeviceGetName(nameBytes, nameBytes.length, dev), "cuDeviceGetName");
        int len = 0;
        while (len < nameBytes.length && nameBytes[len] != 0) len++;
        int[] major = {0}, minor = {0};
        JCudaDriver.cuDeviceGetAttribute(major, jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
        JCudaDriver.cuDeviceGetAttribute(minor, jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
        CUcontext ctx = new CUcontext();
        rc = JCudaDriver.cuDevicePrimaryCtxRetain(ctx, dev);
        if (rc != CUresult.CUDA_SUCCESS) throw unavailable("cannot create a CUDA context on device " + ordinal + " (" + CUresult.stringFor(rc) + ")");
        Cuda.check(JCudaDriver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
        long[] free = {0}, total = {0};
        JCudaDriver.cuMemGetInfo(free, total);
        return new CudaDevice(dev, ctx, ordinal, new String(nameBytes, 0, len, StandardCharsets.UTF_8), major[0], minor[0], total[0]);
    }

    /** Makes this device's context current on the calling thread (cheap; the driver keeps one per thread). */
    void makeCurrent() {
        Cuda.check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    /**
     * A JCuda class whose native library failed to load cannot be initialised again in the same JVM (later uses
     * throw "Could not initialize class"); the first failure's reason is kept so every later attempt names it too.
     */
    private static final java.util.Map<String, String> FIRST_FAILURE = new java.util.concurrent.ConcurrentHashMap<>();

    static String remember(String library, String reason) {
        FIRST_FAILURE.putIfAbsent(library, reason);
        return reason;
    }

    static String remembered(String library, String fallback) {
        return FIRST_FAILURE.getOrDefault(library, fallback);
    }

    static DeviceUnavailableException unavailable(String what) {
        return new DeviceUnavailableException("--device cuda: " + what);
    }

    /**
     * JCuda reports a missing system library as an UnsatisfiedLinkError somewhere in a cause chain; name the
     * library when the chain mentions it, else quote the first line of the loader's message.
     */
    static String nativeLoadReason(Throwable e, String library, String whenNamed) {
        StringBuilder all = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) all.append(t).append(' ');
        String text = all.toString();
        if (text.contains(library)) return whenNamed;
        String first = String.valueOf(e.getMessage()).lines().findFirst().orElse(e.toString());
        return whenNamed.replaceFirst(" \\(.*", "") + " (" + library + " or a JCuda native library failed to load: " + first + ")";
    }
}
