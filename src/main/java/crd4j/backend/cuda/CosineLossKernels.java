package crd4j.backend.cuda;

import crd4j.backend.Backend.CosineLoss;
import crd4j.backend.Tensor;

import static crd4j.backend.cuda.CudaArgs.NULL;
import static crd4j.backend.cuda.CudaArgs.i32;
import static crd4j.backend.cuda.CudaArgs.i64;
import static crd4j.backend.cuda.CudaArgs.p;
import static crd4j.backend.cuda.CudaArgs.sameShape;

/** The launchers of src/main/cuda/cosine_loss.cu: the flattened per-sample cosine loss and its gradient. */
final class CosineLossKernels {
    static final KernelFamily FAMILY = new KernelFamily("cosine_loss");
    static final KernelFamily.Typed PARTIALS = FAMILY.typed("cosine_loss_partials"), FINISH = FAMILY.typed("cosine_loss_finish");

    private final CudaBackend be;

    CosineLossKernels(CudaBackend be) { this.be = be; }

    CosineLoss cosineLoss(Tensor st, Tensor tt, boolean withGrad) {
        sameShape(st, tt);
        be.enter();
        long n = st.dim(0), d = st.numel() / n;
        int parts = (int) Math.max(1, Math.min(1024, d / (CudaKernels.THREADS * 32L)));   // a function of d alone
        long chunk = (d + parts - 1) / parts;
        CudaTensor grad = withGrad ? be.allocate(st.dtype(), st.shape()) : null;
        DeviceArena.Block partial = be.arena.allocate(n * parts * 3 * 8), loss = be.arena.allocate(n * 8);
        try {
            be.kernels.launch(PARTIALS.of(st), parts, Math.toIntExact(n), CudaKernels.THREADS, p(st), p(tt), i64(d), i64(chunk), p(partial));
            int g = withGrad ? CudaKernels.cappedBlocks(d, 1024) : 1;
            be.kernels.launch(FINISH.of(st), g, Math.toIntExact(n), CudaKernels.THREADS,
                    p(st), p(tt), i64(d), p(partial), i32(parts), i32(n), p(loss), withGrad ? p(grad) : NULL);
            double[] per = be.staging.downloadDoubles(loss, Math.toIntExact(n));
            double sum = 0;
            for (double v : per) sum += v;
            return new CosineLoss(sum / n, grad);
        } finally {
            be.arena.release(partial);
            be.arena.release(loss);
        }
    }
}
