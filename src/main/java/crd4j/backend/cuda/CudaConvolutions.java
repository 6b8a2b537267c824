package crd4j.backend.cuda;

import crd4j.backend.Tensor;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcudnn.JCudnn;
import jcuda.jcudnn.cudnnHandle;
import jcuda.runtime.cudaStream_t;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static crd4j.backend.cuda.CudaArgs.f64;
import static crd4j.backend.cuda.CudaArgs.outSize;
import static crd4j.backend.cuda.CudaArgs.scalar;
import static crd4j.backend.cuda.CudaArgs.t;
import static jcuda.jcublas.cublasOperation.CUBLAS_OP_N;
import static jcuda.jcublas.cublasOperation.CUBLAS_OP_T;

/**
 * Convolutions and the k2 s2 transposed convolution, forward and backward: cuDNN (algorithm measured once per shape,
 * {@link ConvPlans}; one growing workspace), and cuBLAS GEMMs for the GEMM-shaped cases (1×1 stride-1 convolutions,
 * the transposed convolution as a GEMM plus a scatter/gather kernel) when libcublas loads and is not switched off.
 * Owns the cuDNN and cuBLAS handles.
 */
final class CudaConvolutions {
    private final CudaBackend be;
    private final cudnnHandle cudnn = new cudnnHandle();
    private final cublasHandle cublas;
    final String cublasStatus;
    final ConvPlans plans;
    private boolean useCublas;
    private DeviceArena.Block workspace;
    private final List<DeviceArena.Block> retiredWorkspaces = new ArrayList<>();

    /** @throws crd4j.backend.DeviceUnavailableException when cuDNN 9 does not load or initialise */
    CudaConvolutions(CudaBackend be, cudaStream_t stream, boolean tf32) {
        this.be = be;
        try {
            JCudnn.setExceptionsEnabled(false);
            int rc = JCudnn.cudnnCreate(cudnn);
            if (rc != 0) throw CudaDevice.unavailable("cuDNN 9 failed to initialise (cudnnCreate: " + Cuda.cudnnMessage(rc, JCudnn::cudnnGetErrorString) + ")");
        } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
            String why = "cuDNN 9 not loadable (libcudnn.so.9; put its lib folder on LD_LIBRARY_PATH)";
            throw CudaDevice.unavailable(String.valueOf(e.getMessage()).startsWith("Could not initialize class")
                    ? CudaDevice.remembered("cudnn", why)
                    : CudaDevice.remember("cudnn", CudaDevice.nativeLoadReason(e, "libcudnn", why)));
        }
        Cuda.checkCudnn(JCudnn.cudnnSetStream(cudnn, stream), "cudnnSetStream");
        plans = new ConvPlans(cudnn, tf32);
        cublasHandle h = null;
        String status;
        try {
            JCublas2.setExceptionsEnabled(false);
            cublasHandle c = new cublasHandle();
            int rc = JCublas2.cublasCreate(c);
            if (rc == 0) {
                Cuda.checkCublas(JCublas2.cublasSetStream(c, stream), "cublasSetStream");
                Cuda.checkCublas(JCublas2.cublasSetMathMode(c, tf32 ? jcuda.jcublas.cublasMath.CUBLAS_TF32_TENSOR_OP_MATH
                        : jcuda.jcublas.cublasMath.CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
                h = c;
                status = "cuBLAS";
            } else {
                status = "no cuBLAS (cublasCreate: " + jcuda.jcublas.cublasStatus.stringFor(rc) + "), cuDNN for GEMM-shaped ops";
            }
        } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
            status = "no cuBLAS (libcublas.so.12 not loadable), cuDNN for GEMM-shaped ops";
        }
        cublas = h;
        cublasStatus = status;
        useCublas = h != null && !"0".equals(System.getenv("CRD4J_CUBLAS"));
    }

    boolean cublasAvailable() { return cublas != null; }

    boolean usesCublas() { return useCublas; }

    void setUseCublas(boolean on) { useCublas = on && cublas != null; }

    private static Pointer one(Tensor like) { return scalar(like, 1.0); }

    private static Pointer zero(Tensor like) { return scalar(like, 0.0); }

    private CUdeviceptr workspace(long bytes) {
        if (bytes == 0 && workspace == null) return new CUdeviceptr();   // null with size 0
        if (workspace == null || workspace.size < bytes) {
            // an old workspace may be referenced by a captured graph: keep it until close()
            if (workspace != null) retiredWorkspaces.add(workspace);
            workspace = be.arena.allocate(bytes);
        }
        return workspace.ptr;
    }

    private long workspaceSize() { return workspace == null ? 0 : workspace.size; }

    private static boolean pointwise(long[] w, int stride, int pad) { return w[2] == 1 && w[3] == 1 && stride == 1 && pad == 0; }

    Tensor conv2d(Tensor xt, Tensor wt, int stride, int pad) {
        long[] x = xt.shape(), w = wt.shape();
        if (x.length != 4 || w.length != 4 || w[2] != w[3] || x[1] != w[1] || xt.dtype() != wt.dtype()) {
            throw new IllegalArgumentException("conv2d: input " + Arrays.toString(x) + " does not fit weight " + Arrays.toString(w));
        }
        long[] y = {x[0], w[0], outSize(x[2], w[2], stride, pad), outSize(x[3], w[3], stride, pad)};
        CudaTensor out = be.allocate(xt.dtype(), y);
        if (useCublas && pointwise(w, stride, pad)) {
            // y[n] (O×HW) = W (O×C) · x[n] (C×HW), column-major view: y_cm (HW×O) = x_cm (HW×C) · W_cm (C×O)
            long hw = x[2] * x[3];
            gemmStrided(CUBLAS_OP_N, CUBLAS_OP_N, hw, w[0], x[1], t(xt), hw, x[1] * hw, t(wt), x[1], 0, out, hw, w[0] * hw, x[0], false);
            return out;
        }
        ConvPlans.Plan pl = plans.plan(ConvPlans.Kind.FORWARD, f64(xt), x, w, y, stride, pad);
        CUdeviceptr ws = workspace(pl.workspace);
        Cuda.checkCudnn(JCudnn.cudnnConvolutionForward(cudnn, one(xt), pl.x, t(xt).ptr(), pl.w, t(wt).ptr(), pl.conv, pl.algo,
                ws, workspaceSize(), zero(xt), pl.y, out.ptr()), "cudnnConvolutionForward");
        return out;
    }

    Tensor conv2dBackwardData(Tensor gyt, Tensor wt, long[] xShape, int stride, int pad) {
        long[] w = wt.shape(), y = gyt.shape();
        CudaTensor dx = be.allocate(gyt.dtype(), xShape);
        if (useCublas && pointwise(w, stride, pad)) {
            // dx[n] (C×HW) = Wᵀ (C×O) · gy[n] (O×HW): dx_cm (HW×C) = gy_cm (HW×O) · (W_cm (C×O))ᵀ
            long hw = xShape[2] * xShape[3];
            gemmStrided(CUBLAS_OP_N, CUBLAS_OP_T, hw, w[1], w[0], t(gyt), hw, w[0] * hw, t(wt), w[1], 0, dx, hw, w[1] * hw, xShape[0], false);
            return dx;
        }
        ConvPlans.Plan pl = plans.plan(ConvPlans.Kind.BACKWARD_DATA, f64(gyt), xShape, w, y, stride, pad);
        CUdeviceptr ws = workspace(pl.workspace);
        Cuda.checkCudnn(JCudnn.cudnnConvolutionBackwardData(cudnn, one(gyt), pl.w, t(wt).ptr(), pl.y, t(gyt).ptr(), pl.conv, pl.algo,
                ws, workspaceSize(), zero(gyt), pl.x, dx.ptr()), "cudnnConvolutionBackwardData");
        return dx;
    }

    Tensor conv2dBackwardFilter(Tensor xt, Tensor gyt, long[] wShape, int stride, int pad) {
        long[] x = xt.shape(), y = gyt.shape();
        CudaTensor dw = be.allocate(gyt.dtype(), wShape);
        if (useCublas && pointwise(wShape, stride, pad)) {
            // dW (O×C) = Σ_n gy[n] (O×HW) · x[n]ᵀ: dW_cm (C×O) = Σ_n x_cm[n]ᵀ (C×HW) · gy_cm[n] (HW×O)
            long hw = x[2] * x[3];
            gemmStrided(CUBLAS_OP_T, CUBLAS_OP_N, x[1], wShape[0], hw, t(xt), hw, x[1] * hw, t(gyt), hw, wShape[0] * hw, dw, x[1], 0, x[0], true);
            return dw;
        }
        ConvPlans.Plan pl = plans.plan(ConvPlans.Kind.BACKWARD_FILTER, f64(xt), x, wShape, y, stride, pad);
        CUdeviceptr ws = workspace(pl.workspace);
        Cuda.checkCudnn(JCudnn.cudnnConvolutionBackwardFilter(cudnn, one(xt), pl.x, t(xt).ptr(), pl.y, t(gyt).ptr(), pl.conv, pl.algo,
                ws, workspaceSize(), zero(xt), pl.w, dw.ptr()), "cudnnConvolutionBackwardFilter");
        return dw;
    }

    /**
     * Column-major C = op(A)·op(B) for `batch` samples with the given strides. With `accumulate` the batch is summed
     * into one C (stride 0) by successive GEMMs with β = 1 (a strided-batched GEMM cannot reduce over the batch).
     */
    private void gemmStrided(int ta, int tb, long m, long n, long k, CudaTensor a, long lda, long strideA, CudaTensor b,
                             long ldb, long strideB, CudaTensor c, long ldc, long strideC, long batch, boolean accumulate) {
        be.enter();
        boolean d = f64(a);
        Pointer one = one(a), zero = zero(a);
        int M = Math.toIntExact(m), N = Math.toIntExact(n), K = Math.toIntExact(k);
        int la = Math.toIntExact(lda), lb = Math.toIntExact(ldb), lc = Math.toIntExact(ldc);
        if (accumulate) {
            int es = d ? 8 : 4;
            for (long i = 0; i < batch; i++) {
                Pointer ai = a.ptr().withByteOffset(i * strideA * es), bi = b.ptr().withByteOffset(i * strideB * es);
                Pointer beta = i == 0 ? zero : one;
                int rc = d ? JCublas2.cublasDgemm(cublas, ta, tb, M, N, K, one, ai, la, bi, lb, beta, c.ptr(), lc)
                        : JCublas2.cublasSgemm(cublas, ta, tb, M, N, K, one, ai, la, bi, lb, beta, c.ptr(), lc);
                Cuda.checkCublas(rc, "cublas gemm");
            }
            return;
        }
        int rc = d ? JCublas2.cublasDgemmStridedBatched(cublas, ta, tb, M, N, K, one, a.ptr(), la, strideA, b.ptr(), lb, strideB,
                zero, c.ptr(), lc, strideC, Math.toIntExact(batch))
                : JCublas2.cublasSgemmStridedBatched(cublas, ta, tb, M, N, K, one, a.ptr(), la, strideA, b.ptr(), lb, strideB,
                zero, c.ptr(), lc, strideC, Math.toIntExact(batch));
        Cuda.checkCublas(rc, "cublas gemmStridedBatched");
    }

    private static void checkDeconv(long[] x, long[] w) {
        if (x.length != 4 || w.length != 4 || w[0] != x[1] || w[2] != 2 || w[3] != 2) {
            throw new IllegalArgumentException("deconv2x2: input " + Arrays.toString(x) + " does not fit weight " + Arrays.toString(w));
        }
    }

    Tensor deconv2x2(Tensor xt, Tensor wt) {
        long[] x = xt.shape(), w = wt.shape();
        checkDeconv(x, w);
        long n = x[0], c = x[1], h = x[2], wd = x[3], o = w[1];
        long[] y = {n, o, 2 * h, 2 * wd};
        CudaTensor out = be.allocate(xt.dtype(), y);
        if (useCublas) {
            // cols[n] (4O×HW) = Wᵀ (4O×C) · x[n] (C×HW), then scatter cols[n][o][a][b][i][j] → out[n][o][2i+a][2j+b]
            long hw = h * wd;
            CudaTensor cols = be.allocate(xt.dtype(), n, o * 4, h, wd);
            gemmStrided(CUBLAS_OP_N, CUBLAS_OP_T, hw, o * 4, c, t(xt), hw, c * hw, t(wt), o * 4, 0, cols, hw, o * 4 * hw, n, false);
            be.elementwise.deconvScatter(cols, n, o, h, wd, out);
            cols.close();
            return out;
        }
        // the transposed convolution is the backward-data pass of a k2 s2 convolution whose filter is w [C, O, 2, 2]
        ConvPlans.Plan pl = plans.plan(ConvPlans.Kind.BACKWARD_DATA, f64(xt), y, w, x, 2, 0);
        CUdeviceptr ws = workspace(pl.workspace);
        Cuda.checkCudnn(JCudnn.cudnnConvolutionBackwardData(cudnn, one(xt), pl.w, t(wt).ptr(), pl.y, t(xt).ptr(), pl.conv, pl.algo,
                ws, workspaceSize(), zero(xt), pl.x, out.ptr()), "cudnnConvolutionBackwardData (deconv)");
        return out;
    }

    Tensor deconv2x2BackwardData(Tensor gyt, Tensor wt) {
        long[] g = gyt.shape(), w = wt.shape();
        long n = g[0], o = g[1], h = g[2] / 2, wd = g[3] / 2, c = w[0];
        long[] x = {n, c, h, wd};
        CudaTensor dx = be.allocate(gyt.dtype(), x);
        if (useCublas) {
            // gather gy into cols[n] (4O×HW), then dx[n] (C×HW) = W (C×4O) · cols[n]
            long hw = h * wd;
            CudaTensor cols = be.allocate(gyt.dtype(), n, o * 4, h, wd);
            be.elementwise.deconvGather(gyt, n, o, h, wd, cols);
            gemmStrided(CUBLAS_OP_N, CUBLAS_OP_N, hw, c, o * 4, cols, hw, o * 4 * hw, t(wt), o * 4, 0, dx, hw, c * hw, n, false);
            cols.close();
            return dx;
        }
        ConvPlans.Plan pl = plans.plan(ConvPlans.Kind.FORWARD, f64(gyt), g, w, x, 2, 0);
        CUdeviceptr ws = workspace(pl.workspace);
        Cuda.checkCudnn(JCudnn.cudnnConvolutionForward(cudnn, one(gyt), pl.x, t(gyt).ptr(), pl.w, t(wt).ptr(), pl.conv, pl.algo,
                ws, workspaceSize(), zero(gyt), pl.y, dx.ptr()), "cudnnConvolutionForward (deconv backward data)");
        return dx;
    }

    Tensor deconv2x2BackwardFilter(Tensor xt, Tensor gyt) {
        long[] x = xt.shape(), g = gyt.shape();
        long n = x[0], c = x[1], h = x[2], wd = x[3], o = g[1];
        long[] w = {c, o, 2, 2};
        CudaTensor dw = be.allocate(xt.dtype(), w);
        if (useCublas) {
            // dW (C×4O) = Σ_n x[n] (C×HW) · cols[n]ᵀ: dW_cm (4O×C) = Σ_n cols_cm[n]ᵀ (4O×HW) · x_cm[n] (HW×C)
            long hw = h * wd;
            CudaTensor cols = be.allocate(gyt.dtype(), n, o * 4, h, wd);
            be.elementwise.deconvGather(gyt, n, o, h, wd, cols);
            gemmStrided(CUBLAS_OP_T, CUBLAS_OP_N, o * 4, c, hw, cols, hw, o * 4 * hw, t(xt), hw, c * hw, dw, o * 4, 0, n, true);
            cols.close();
            return dw;
        }
        ConvPlans.Plan pl = plans.plan(ConvPlans.Kind.BACKWARD_FILTER, f64(xt), g, w, x, 2, 0);
        CUdeviceptr ws = workspace(pl.workspace);
        Cuda.checkCudnn(JCudnn.cudnnConvolutionBackwardFilter(cudnn, one(xt), pl.x, t(gyt).ptr(), pl.y, t(xt).ptr(), pl.conv, pl.algo,
                ws, workspaceSize(), zero(xt), pl.w, dw.ptr()), "cudnnConvolutionBackwardFilter (deconv)");
        return dw;
    }

    void close() {
        JCudnn.cudnnDestroy(cudnn);
        if (cublas != null) JCublas2.cublasDestroy(cublas);
    }
}
