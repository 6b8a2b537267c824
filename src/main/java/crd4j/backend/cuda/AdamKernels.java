package crd4j.backend.cuda;

import crd4j.backend.Tensor;

import static crd4j.backend.cuda.CudaArgs.i64;
import static crd4j.backend.cuda.CudaArgs.p;
import static crd4j.backend.cuda.CudaArgs.sameShape;
import static crd4j.backend.cuda.CudaArgs.scalar;

/** The launcher of src/main/cuda/adam.cu: one Adam step in place. */
final class AdamKernels {
    static final KernelFamily FAMILY = new KernelFamily("adam");
    static final KernelFamily.Typed STEP = FAMILY.typed("adam_step");

    private final CudaBackend be;

    AdamKernels(CudaBackend be) { this.be = be; }

    void step(Tensor pt, Tensor gt, Tensor mt, Tensor vt, double lr, double beta1, double beta2, double eps, long step) {
        sameShape(pt, gt);
        be.enter();
        double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
        long n = pt.numel();
        be.kernels.launch(STEP.of(pt), CudaKernels.blocks(n), 1, CudaKernels.THREADS,
                p(pt), p(gt), p(mt), p(vt), i64(n), scalar(pt, 1 - beta1), scalar(pt, beta2), scalar(pt, 1 - beta2),
                scalar(pt, Math.sqrt(bc2)), scalar(pt, eps), scalar(pt, lr / bc1));
    }
}
