package crd4j.backend.cuda;

import crd4j.backend.Tensor;
import crd4j.tensor.DType;
import jcuda.Pointer;

import java.util.Arrays;

/** Kernel-argument and tensor-check helpers shared by the launcher classes. */
final class CudaArgs {
    private CudaArgs() {}

    /** A null pointer argument. */
    static final Pointer NULL = Pointer.to(new Pointer());

    /** Grid cap of the grid-stride elementwise kernels. */
    static final int GRID_CAP = 65535;

    static CudaTensor t(Tensor x) {
        if (!(x instanceof CudaTensor c)) throw new IllegalArgumentException("tensor " + x + " does not belong to the CUDA backend");
        return c;
    }

    static boolean f64(Tensor x) {
        DType d = x.dtype();
        if (d != DType.FLOAT32 && d != DType.FLOAT64) throw new UnsupportedOperationException("CUDA ops take float32 or float64 tensors, not " + d);
        return d == DType.FLOAT64;
    }

    /** v in {@code like}'s dtype. */
    static Pointer scalar(Tensor like, double v) {
        return f64(like) ? Pointer.to(new double[]{v}) : Pointer.to(new float[]{(float) v});
    }

    static Pointer p(CudaTensor x) { return Pointer.to(x.ptr()); }

    static Pointer p(Tensor x) { return Pointer.to(t(x).ptr()); }

    static Pointer p(DeviceArena.Block b) { return Pointer.to(b.ptr); }

    static Pointer i32(long v) { return Pointer.to(new int[]{Math.toIntExact(v)}); }

    static Pointer i64(long v) { return Pointer.to(new long[]{v}); }

    static Pointer f64v(double v) { return Pointer.to(new double[]{v}); }

    static void sameShape(Tensor a, Tensor b) {
        if (!Arrays.equals(a.shape(), b.shape()) || a.dtype() != b.dtype()) {
            throw new IllegalArgumentException("shape mismatch: " + Arrays.toString(a.shape()) + " " + a.dtype() + " vs "
                    + Arrays.toString(b.shape()) + " " + b.dtype());
        }
    }

    static long outSize(long in, long k, int stride, int pad) {
        long o = (in + 2L * pad - k) / stride + 1;
        if (o <= 0) throw new IllegalArgumentException("convolution output would be empty for input size " + in);
        return o;
    }

    /** The align_corners scale (in−1)/(out−1), rounded to the dtype as PyTorch and the CPU reference do. */
    static Pointer alignScale(Tensor like, long in, long out) {
        double s = out > 1 ? (double) (in - 1) / (out - 1) : 0;
        return scalar(like, s);
    }
}
