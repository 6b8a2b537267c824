package crd4j.backend.cuda;

import crd4j.backend.Tensor;

import static crd4j.backend.cuda.CudaArgs.GRID_CAP;
import static crd4j.backend.cuda.CudaArgs.i32;
import static crd4j.backend.cuda.CudaArgs.i64;
import static crd4j.backend.cuda.CudaArgs.outSize;
import static crd4j.backend.cuda.CudaArgs.p;
import static crd4j.backend.cuda.CudaArgs.sameShape;
import static crd4j.backend.cuda.CudaArgs.scalar;

/** The launchers of src/main/cuda/elementwise.cu: add, axpby, ReLU, max pooling, the deconv scatter/gather, dot. */
final class ElementwiseKernels {
    static final KernelFamily FAMILY = new KernelFamily("elementwise");
    static final KernelFamily.Typed ADD = FAMILY.typed("add"), AXPBY = FAMILY.typed("axpby"), RELU = FAMILY.typed("relu"),
            RELU_BACKWARD = FAMILY.typed("relu_backward"), MAXPOOL = FAMILY.typed("maxpool3x3s2p1"),
            DECONV_SCATTER = FAMILY.typed("deconv_scatter"), DECONV_GATHER = FAMILY.typed("deconv_gather"),
            DOT_PARTIALS = FAMILY.typed("dot_partials");
    /** Sums {@code count} interleaved float64 partial sums per output (fixed order: deterministic). */
    static final Kernel REDUCE_PARTIALS = FAMILY.kernel("reduce_partials");

    private final CudaBackend be;

    ElementwiseKernels(CudaBackend be) { this.be = be; }

    /** Grid-stride launch over n elements. */
    private void grid(Kernel k, long n, jcuda.Pointer... args) {
        be.kernels.launch(k, CudaKernels.cappedBlocks(n, GRID_CAP), 1, CudaKernels.THREADS, args);
    }

    Tensor add(Tensor a, Tensor b) {
        sameShape(a, b);
        CudaTensor y = be.allocate(a.dtype(), a.shape());
        grid(ADD.of(a), y.numel(), p(a), p(b), p(y), i64(y.numel()));
        return y;
    }

    void addInPlace(Tensor acc, Tensor x) {
        sameShape(acc, x);
        be.enter();
        grid(ADD.of(acc), acc.numel(), p(acc), p(x), p(acc), i64(acc.numel()));
    }

    Tensor axpby(double alpha, Tensor a, double beta, Tensor b) {
        sameShape(a, b);
        CudaTensor y = be.allocate(a.dtype(), a.shape());
        grid(AXPBY.of(a), y.numel(), scalar(a, alpha), p(a), scalar(a, beta), p(b), p(y), i64(y.numel()));
        return y;
    }

    double dot(Tensor a, Tensor b) {
        sameShape(a, b);
        be.enter();
        long n = a.numel();
        int blocks = CudaKernels.cappedBlocks(n, 1024);   // a function of n only: the same partials on every call
        DeviceArena.Block partial = be.arena.allocate((long) blocks * 8), out = be.arena.allocate(8);
        try {
            be.kernels.launch(DOT_PARTIALS.of(a), blocks, 1, CudaKernels.THREADS, p(a), p(b), i64(n), p(partial));
            reducePartials(partial, blocks, 1, out);
            return be.staging.downloadDoubles(out, 1)[0];
        } finally {
            be.arena.release(partial);
            be.arena.release(out);
        }
    }

    /** out[k] = Σ_b partial[b·count + k] for k &lt; count, over {@code blocks} partial rows. */
    void reducePartials(DeviceArena.Block partial, int blocks, int count, DeviceArena.Block out) {
        be.kernels.launch(REDUCE_PARTIALS, 1, 1, 32, p(partial), i32(blocks), i32(count), p(out));
    }

    Tensor relu(Tensor x) {
        CudaTensor y = be.allocate(x.dtype(), x.shape());
        grid(RELU.of(x), y.numel(), p(x), p(y), i64(y.numel()));
        return y;
    }

    Tensor reluBackward(Tensor y, Tensor gy) {
        sameShape(y, gy);
        CudaTensor gx = be.allocate(gy.dtype(), gy.shape());
        grid(RELU_BACKWARD.of(gy), gx.numel(), p(y), p(gy), p(gx), i64(gx.numel()));
        return gx;
    }

    Tensor maxPool3x3s2p1(Tensor xt) {
        long[] s = xt.shape();
        long oh = outSize(s[2], 3, 2, 1), ow = outSize(s[3], 3, 2, 1);
        CudaTensor y = be.allocate(xt.dtype(), s[0], s[1], oh, ow);
        grid(MAXPOOL.of(xt), y.numel(), p(xt), i32(s[0] * s[1]), i32(s[2]), i32(s[3]), i32(oh), i32(ow), p(y));
        return y;
    }

    /** cols[n][o][a][b][i][j] → out[n][o][2i+a][2j+b] (the k2 s2 transposed convolution after its GEMM). */
    void deconvScatter(CudaTensor cols, long n, long o, long h, long w, CudaTensor out) {
        grid(DECONV_SCATTER.of(cols), cols.numel(), p(cols), i32(n), i32(o), i32(h), i32(w), p(out));
    }

    /** The inverse: gy[n][o][2i+a][2j+b] → cols[n][o][a][b][i][j]. */
    void deconvGather(Tensor gy, long n, long o, long h, long w, CudaTensor cols) {
        grid(DECONV_GATHER.of(gy), cols.numel(), p(gy), i32(n), i32(o), i32(h), i32(w), p(cols));
    }
}
