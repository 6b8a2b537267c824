package crd4j.backend.cuda;

import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Loads the hand-written kernels of src/main/cuda from the committed fatbins with {@code cuModuleLoadData} (one
 * module per .cu family, loaded on first use) and launches them on the backend's stream, by typed handle
 * ({@link Kernel}). The launchers, one class per .cu: {@link ElementwiseKernels}, {@link BatchNormKernels},
 * {@link CosineLossKernels}, {@link CosineMapKernels}, {@link AdamKernels}, {@link FusionKernels},
 * {@link GaussianKernels}.
 */
final class CudaKernels {
    /** The block size of every launch: THREADS in src/main/cuda/crd4j_kernels.h (KernelBuildCheckTest checks it). */
    static final int THREADS = 256;

    /** Every kernel family the backend launches from, one per .cu file. */
    static List<KernelFamily> families() {
        return List.of(ElementwiseKernels.FAMILY, BatchNormKernels.FAMILY, CosineLossKernels.FAMILY, CosineMapKernels.FAMILY,
                AdamKernels.FAMILY, FusionKernels.FAMILY, GaussianKernels.FAMILY);
    }

    private final Map<KernelFamily, CUmodule> modules = new HashMap<>();
    private final Map<Kernel, CUfunction> functions = new HashMap<>();
    private final CUstream stream;

    CudaKernels(CUstream stream) { this.stream = stream; }

    synchronized CUfunction function(Kernel k) {
        return functions.computeIfAbsent(k, key -> {
            CUmodule m = modules.computeIfAbsent(key.family(), fam -> {
                CUmodule mod = new CUmodule();
                Cuda.check(JCudaDriver.cuModuleLoadData(mod, KernelManifest.binary(fam.module())), "cuModuleLoadData(" + fam.module() + ".fatbin)");
                return mod;
            });
            CUfunction f = new CUfunction();
            Cuda.check(JCudaDriver.cuModuleGetFunction(f, m, key.name()), "cuModuleGetFunction(" + key + ")");
            return f;
        });
    }

    /** Launches a 2-D grid of 1-D blocks. Each argument is a Pointer to the value (Pointer.to(...)). */
    void launch(Kernel kernel, int gridX, int gridY, int block, Pointer... args) {
        if (gridX <= 0 || gridY <= 0) return;
        Cuda.check(JCudaDriver.cuLaunchKernel(function(kernel), gridX, gridY, 1, block, 1, 1, 0, stream,
                Pointer.to(args), null), "cuLaunchKernel(" + kernel + ")");
    }

    /** One thread per element, THREADS per block. */
    static int blocks(long n) {
        return (int) Math.max(1, Math.min((n + THREADS - 1) / THREADS, Integer.MAX_VALUE));
    }

    /** As {@link #blocks} but at most {@code cap} (grid-stride kernels). */
    static int cappedBlocks(long n, int cap) {
        return (int) Math.max(1, Math.min((n + THREADS - 1) / THREADS, cap));
    }
}
