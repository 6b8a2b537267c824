package crd4j.backend.cuda;

import crd4j.backend.Tensor;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import jcuda.Pointer;

import java.util.Arrays;

import static crd4j.backend.cuda.CudaArgs.i32;
import static crd4j.backend.cuda.CudaArgs.p;

/** The launchers of src/main/cuda/gaussian.cu: SciPy's separable Gaussian filter with reflect borders, float64. */
final class GaussianKernels {
    static final KernelFamily FAMILY = new KernelFamily("gaussian");
    static final Kernel AXIS0 = FAMILY.kernel("gaussian_axis0"), AXIS1 = FAMILY.kernel("gaussian_axis1");

    private final CudaBackend be;
    private CudaTensor weights;
    private double[] weightsHost;

    GaussianKernels(CudaBackend be) { this.be = be; }

    Tensor filter(Tensor maps, double[] kernel) {
        if (maps.dtype() != DType.FLOAT64 || maps.rank() != 3) throw new IllegalArgumentException("gaussianFilter takes [M,H,W] float64 maps");
        if (kernel.length % 2 != 1) throw new IllegalArgumentException("the kernel needs an odd number of taps");
        be.enter();
        if (weightsHost == null || !Arrays.equals(weightsHost, kernel)) {
            if (weights != null) weights.close();
            weights = (CudaTensor) be.fromHost(HostTensor.of(kernel.clone(), kernel.length));
            weightsHost = kernel.clone();
        }
        long[] s = maps.shape();
        CudaTensor tmp = be.allocate(DType.FLOAT64, s), out = be.allocate(DType.FLOAT64, s);
        int r = kernel.length / 2;
        Pointer[] common = {i32(s[0]), i32(s[1]), i32(s[2]), p(weights), i32(r)};
        be.kernels.launch(AXIS0, CudaKernels.blocks(out.numel()), 1, CudaKernels.THREADS,
                p(maps), common[0], common[1], common[2], common[3], common[4], p(tmp));
        be.kernels.launch(AXIS1, CudaKernels.blocks(out.numel()), 1, CudaKernels.THREADS,
                p(tmp), common[0], common[1], common[2], common[3], common[4], p(out));
        tmp.close();
        return out;
    }

    void close() {
        if (weights != null) weights.close();
    }
}
