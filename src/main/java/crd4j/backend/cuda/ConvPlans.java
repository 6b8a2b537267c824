package crd4j.backend.cuda;

import jcuda.jcudnn.JCudnn;
import jcuda.jcudnn.cudnnConvolutionBwdDataAlgoPerf;
import jcuda.jcudnn.cudnnConvolutionBwdFilterAlgoPerf;
import jcuda.jcudnn.cudnnConvolutionDescriptor;
import jcuda.jcudnn.cudnnConvolutionFwdAlgoPerf;
import jcuda.jcudnn.cudnnFilterDescriptor;
import jcuda.jcudnn.cudnnHandle;
import jcuda.jcudnn.cudnnTensorDescriptor;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import static jcuda.jcudnn.cudnnConvolutionBwdDataAlgo.CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
import static jcuda.jcudnn.cudnnConvolutionBwdDataAlgo.CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT;
import static jcuda.jcudnn.cudnnConvolutionBwdDataAlgo.CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING;
import static jcuda.jcudnn.cudnnConvolutionBwdDataAlgo.CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED;
import static jcuda.jcudnn.cudnnConvolutionBwdFilterAlgo.CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0;
import static jcuda.jcudnn.cudnnConvolutionBwdFilterAlgo.CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT;
import static jcuda.jcudnn.cudnnConvolutionBwdFilterAlgo.CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING;
import static jcuda.jcudnn.cudnnConvolutionBwdFilterAlgo.CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED;
import static jcuda.jcudnn.cudnnConvolutionFwdAlgo.CUDNN_CONVOLUTION_FWD_ALGO_FFT;
import static jcuda.jcudnn.cudnnConvolutionFwdAlgo.CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING;
import static jcuda.jcudnn.cudnnConvolutionFwdAlgo.CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
import static jcuda.jcudnn.cudnnConvolutionFwdAlgo.CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
import static jcuda.jcudnn.cudnnConvolutionMode.CUDNN_CROSS_CORRELATION;
import static jcuda.jcudnn.cudnnDataType.CUDNN_DATA_DOUBLE;
import static jcuda.jcudnn.cudnnDataType.CUDNN_DATA_FLOAT;
import static jcuda.jcudnn.cudnnMathType.CUDNN_DEFAULT_MATH;
import static jcuda.jcudnn.cudnnMathType.CUDNN_FMA_MATH;
import static jcuda.jcudnn.cudnnMathType.CUDNN_TENSOR_OP_MATH;
import static jcuda.jcudnn.cudnnStatus.CUDNN_STATUS_SUCCESS;
import static jcuda.jcudnn.cudnnTensorFormat.CUDNN_TENSOR_NCHW;

/**
 * cuDNN descriptors and the algorithm for each convolution shape, chosen once (cudnnFind*, i.e. measured) and
 * cached. Without {@code --tf32} the convolution descriptors use CUDNN_FMA_MATH (CUDNN_DEFAULT_MATH would allow TF32
 * on Ampere and newer) and the FFT and non-fused Winograd algorithms are skipped: their float32 error is larger than
 * the 1e-5 per-op parity bound. With {@code --tf32} every algorithm and tensor-op maths are allowed.
 */
final class ConvPlans {
    enum Kind { FORWARD, BACKWARD_DATA, BACKWARD_FILTER }

    /** x: the convolution's input [N,C,H,W]; w: filter [K,C,k,k]; y: output [N,K,oH,oW]. */
    static final class Plan {
        final cudnnTensorDescriptor x = new cudnnTensorDescriptor(), y = new cudnnTensorDescriptor();
        final cudnnFilterDescriptor w = new cudnnFilterDescriptor();
        final cudnnConvolutionDescriptor conv = new cudnnConvolutionDescriptor();
        int algo;
        long workspace;
    }

    private final cudnnHandle handle;
    private final boolean tf32;
    private final Map<String, Plan> plans = new HashMap<>();
    /** While a CUDA graph is being captured, cudnnFind (which allocates and synchronises) must not run. */
    boolean capturing;

    ConvPlans(cudnnHandle handle, boolean tf32) {
        this.handle = handle;
        this.tf32 = tf32;
    }

    Plan plan(Kind kind, boolean f64, long[] x, long[] w, long[] y, int stride, int pad) {
        String key = kind + (f64 ? " f64 " : " f32 ") + Arrays.toString(x) + Arrays.toString(w) + Arrays.toString(y) + " " + stride + " " + pad;
        Plan p = plans.get(key);
        if (p != null) return p;
        if (capturing) throw new IllegalStateException("convolution " + key + " was not run before the CUDA graph capture");
        p = new Plan();
        int dt = f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
        Cuda.checkCudnn(JCudnn.cudnnCreateTensorDescriptor(p.x), "cudnnCreateTensorDescriptor");
        Cuda.checkCudnn(JCudnn.cudnnCreateTensorDescriptor(p.y), "cudnnCreateTensorDescriptor");
        Cuda.checkCudnn(JCudnn.cudnnCreateFilterDescriptor(p.w), "cudnnCreateFilterDescriptor");
        Cuda.checkCudnn(JCudnn.cudnnCreateConvolutionDescriptor(p.conv), "cudnnCreateConvolutionDescriptor");
        Cuda.checkCudnn(JCudnn.cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NCHW, dt, i(x[0]), i(x[1]), i(x[2]), i(x[3])), "cudnnSetTensor4dDescriptor(x)");
        Cuda.checkCudnn(JCudnn.cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NCHW, dt, i(y[0]), i(y[1]), i(y[2]), i(y[3])), "cudnnSetTensor4dDescriptor(y)");
        Cuda.checkCudnn(JCudnn.cudnnSetFilter4dDescriptor(p.w, dt, CUDNN_TENSOR_NCHW, i(w[0]), i(w[1]), i(w[2]), i(w[3])), "cudnnSetFilter4dDescriptor");
        Cuda.checkCudnn(JCudnn.cudnnSetConvolution2dDescriptor(p.conv, pad, pad, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION, dt),
                "cudnnSetConvolution2dDescriptor");
        // float64: default maths (IEEE double, no reduced precision exists for it); float32: FMA unless TF32 is asked for
        int math = f64 ? CUDNN_DEFAULT_MATH : tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
        Cuda.checkCudnn(JCudnn.cudnnSetConvolutionMathType(p.conv, math), "cudnnSetConvolutionMathType");
        long[] ws = {0};
        int[] n = {0};
        switch (kind) {
            case FORWARD -> {
                cudnnConvolutionFwdAlgoPerf[] perf = new cudnnConvolutionFwdAlgoPerf[8];
                for (int k = 0; k < perf.length; k++) perf[k] = new cudnnConvolutionFwdAlgoPerf();
                Cuda.checkCudnn(JCudnn.cudnnFindConvolutionForwardAlgorithm(handle, p.x, p.w, p.conv, p.y, perf.length, n, perf),
                        "cudnnFindConvolutionForwardAlgorithm");
                p.algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
                for (int k = 0; k < n[0]; k++) {
                    if (perf[k].status == CUDNN_STATUS_SUCCESS && allowed(perf[k].algo, perf[k].mathType, f64,
                            CUDNN_CONVOLUTION_FWD_ALGO_FFT, CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING, CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED)) {
                        p.algo = perf[k].algo;
                        break;
                    }
                }
                Cuda.checkCudnn(JCudnn.cudnnGetConvolutionForwardWorkspaceSize(handle, p.x, p.w, p.conv, p.y, p.algo, ws),
                        "cudnnGetConvolutionForwardWorkspaceSize");
            }
            case BACKWARD_DATA -> {
                cudnnConvolutionBwdDataAlgoPerf[] perf = new cudnnConvolutionBwdDataAlgoPerf[8];
                for (int k = 0; k < perf.length; k++) perf[k] = new cudnnConvolutionBwdDataAlgoPerf();
                Cuda.checkCudnn(JCudnn.cudnnFindConvolutionBackwardDataAlgorithm(handle, p.w, p.y, p.conv, p.x, perf.length, n, perf),
                        "cudnnFindConvolutionBackwardDataAlgorithm");
                p.algo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
                for (int k = 0; k < n[0]; k++) {
                    if (perf[k].status == CUDNN_STATUS_SUCCESS && allowed(perf[k].algo, perf[k].mathType, f64,
                            CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT, CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING, CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED)) {
                        p.algo = perf[k].algo;
                        break;
                    }
                }
                Cuda.checkCudnn(JCudnn.cudnnGetConvolutionBackwardDataWorkspaceSize(handle, p.w, p.y, p.conv, p.x, p.algo, ws),
                        "cudnnGetConvolutionBackwardDataWorkspaceSize");
            }
            case BACKWARD_FILTER -> {
                cudnnConvolutionBwdFilterAlgoPerf[] perf = new cudnnConvolutionBwdFilterAlgoPerf[8];
                for (int k = 0; k < perf.length; k++) perf[k] = new cudnnConvolutionBwdFilterAlgoPerf();
                Cuda.checkCudnn(JCudnn.cudnnFindConvolutionBackwardFilterAlgorithm(handle, p.x, p.y, p.conv, p.w, perf.length, n, perf),
                        "cudnnFindConvolutionBackwardFilterAlgorithm");
                p.algo = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0;
                for (int k = 0; k < n[0]; k++) {
                    if (perf[k].status == CUDNN_STATUS_SUCCESS && allowed(perf[k].algo, perf[k].mathType, f64,
                            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED)) {
                        p.algo = perf[k].algo;
                        break;
                    }
                }
                Cuda.checkCudnn(JCudnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, p.x, p.y, p.conv, p.w, p.algo, ws),
                        "cudnnGetConvolutionBackwardFilterWorkspaceSize");
            }
        }
        p.workspace = ws[0];
        plans.put(key, p);
        return p;
    }

    /** Strict float32 parity: FMA maths only, no FFT / non-fused Winograd. With TF32 everything goes. */
    private boolean allowed(int algo, int mathType, boolean f64, int... inexact) {
        if (tf32 && !f64) return true;
        if (!f64 && (mathType == CUDNN_TENSOR_OP_MATH || mathType == jcuda.jcudnn.cudnnMathType.CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)) return false;
        for (int a : inexact) if (a == algo) return false;
        return true;
    }

    int size() { return plans.size(); }

    private static int i(long v) { return Math.toIntExact(v); }
}
