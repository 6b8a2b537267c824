package crd4j.backend.cuda;

import crd4j.backend.Backend;
import crd4j.backend.BackendProvider;
import crd4j.backend.Backends;
import crd4j.backend.DeviceUnavailableException;

/**
 * The CUDA backend ({@link CudaBackend}): needs JCuda's jars, the NVIDIA driver ({@code libcuda.so.1}), a device and
 * cuDNN 9. This class refers to {@link CudaBackend} only inside {@link #open}, so that it loads without JCuda.
 */
public final class CudaBackendProvider implements BackendProvider {
    @Override
    public String id() { return "cuda"; }

    @Override
    public int autoOrder() { return 0; }

    @Override
    public Backend open(String context, Backends.Options options) {
        try {
            return CudaBackend.open(options.tf32());
        } catch (DeviceUnavailableException e) {
            throw new DeviceUnavailableException(e.getMessage().replaceFirst("^--device cuda", context));
        } catch (NoClassDefFoundError | UnsatisfiedLinkError | ExceptionInInitializerError e) {
            throw new DeviceUnavailableException(context + ": the CUDA backend's classes (JCuda jars) are not on the class path ("
                    + e + ")");
        }
    }
}
