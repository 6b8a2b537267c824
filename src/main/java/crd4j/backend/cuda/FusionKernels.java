package crd4j.backend.cuda;

import crd4j.backend.FusionOps.FusionGrads;
import crd4j.backend.Tensor;

import static crd4j.backend.cuda.CudaArgs.NULL;
import static crd4j.backend.cuda.CudaArgs.i64;
import static crd4j.backend.cuda.CudaArgs.p;
import static crd4j.backend.cuda.CudaArgs.sameShape;
import static crd4j.backend.cuda.CudaArgs.scalar;

/** The launchers of src/main/cuda/fusion.cu: the softmax fusion ω0·r + ω1·q and its fused backward pass. */
final class FusionKernels {
    static final KernelFamily FAMILY = new KernelFamily("fusion");
    static final KernelFamily.Typed FORWARD = FAMILY.typed("fusion_forward"), BACKWARD = FAMILY.typed("fusion_backward");

    private final CudaBackend be;

    FusionKernels(CudaBackend be) { this.be = be; }

    FusionGrads backward(Tensor gy, Tensor r, Tensor q, double w0, double w1, boolean wantDr, boolean wantDq, boolean wantDots) {
        sameShape(gy, r);
        sameShape(gy, q);
        be.enter();
        long n = gy.numel();
        CudaTensor dr = wantDr ? be.allocate(gy.dtype(), gy.shape()) : null, dq = wantDq ? be.allocate(gy.dtype(), gy.shape()) : null;
        int blocks = CudaKernels.cappedBlocks(n, 1024);
        DeviceArena.Block partial = wantDots ? be.arena.allocate((long) blocks * 16) : null, out = wantDots ? be.arena.allocate(16) : null;
        try {
            be.kernels.launch(BACKWARD.of(gy), blocks, 1, CudaKernels.THREADS, p(gy), p(r), p(q), i64(n),
                    scalar(gy, w0), scalar(gy, w1), dr == null ? NULL : p(dr), dq == null ? NULL : p(dq), partial == null ? NULL : p(partial));
            double[] dots = {0, 0};
            if (wantDots) {
                be.elementwise.reducePartials(partial, blocks, 2, out);
                dots = be.staging.downloadDoubles(out, 2);
            }
            return new FusionGrads(dr, dq, dots[0], dots[1]);
        } finally {
            if (partial != null) be.arena.release(partial);
            if (out != null) be.arena.release(out);
        }
    }

    Tensor forward(Tensor r, Tensor q, double w0, double w1) {
        sameShape(r, q);
        CudaTensor y = be.allocate(r.dtype(), r.shape());
        be.kernels.launch(FORWARD.of(r), CudaKernels.blocks(y.numel()), 1, CudaKernels.THREADS,
                p(r), p(q), i64(y.numel()), scalar(r, w0), scalar(r, w1), p(y));
        return y;
    }
}
