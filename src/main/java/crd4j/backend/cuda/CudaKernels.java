package crd4j.backend.cuda;

import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.util.HashMap;
import java.util.Map;

/**
 * The hand-written kernels of src/main/cuda, loaded from the committed fatbins with {@code cuModuleLoadData} (one
 * module per .cu file, loaded on first use) and launched on the backend's stream.
 */
final class CudaKernels {
    static final int THREADS = 256;
    private final Map<String, CUmodule> modules = new HashMap<>();
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final CUstream stream;

    CudaKernels(CUstream stream) { this.stream = stream; }

    synchronized CUfunction function(String op, String kernel) {
        return functions.computeIfAbsent(kernel, k -> {
            CUmodule m = modules.computeIfAbsent(op, o -> {
                CUmodule mod = new CUmodule();
                Cuda.check(JCudaDriver.cuModuleLoadData(mod, KernelManifest.binary(o)), "cuModuleLoadData(" + o + ".fatbin)");
                return mod;
            });
            CUfunction f = new CUfunction();
            Cuda.check(JCudaDriver.cuModuleGetFunction(f, m, k), "cuModuleGetFunction(" + k + ")");
            return f;
        });
    }

    /** Launches a 2-D grid of 1-D blocks. Each argument is a Pointer to the value (Pointer.to(...)). */
    void launch(String op, String kernel, int gridX, int gridY, int block, Pointer... args) {
        if (gridX <= 0 || gridY <= 0) return;
        Cuda.check(JCudaDriver.cuLaunchKernel(function(op, kernel), gridX, gridY, 1, block, 1, 1, 0, stream,
                Pointer.to(args), null), "cuLaunchKernel(" + kernel + ")");
    }

    /** One thread per element, 256 per block (grid-stride kernels take min(blocks, cap)). */
    static int blocks(long n) {
        return (int) Math.max(1, Math.min((n + THREADS - 1) / THREADS, Integer.MAX_VALUE));
    }

    static int cappedBlocks(long n, int cap) {
        return (int) Math.max(1, Math.min((n + THREADS - 1) / THREADS, cap));
    }
}
