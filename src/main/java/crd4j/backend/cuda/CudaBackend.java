package crd4j.backend.cuda;

import crd4j.backend.Backend;
import crd4j.backend.DeviceMaps;
import crd4j.backend.DeviceUnavailableException;
import crd4j.backend.FusionOps;
import crd4j.backend.GraphCapture;
import crd4j.backend.Tensor;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import jcuda.Pointer;
import jcuda.driver.CUDA_MEMCPY2D;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUmemorytype;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcudnn.JCudnn;
import jcuda.jcudnn.cudnnHandle;
import jcuda.runtime.cudaStream_t;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

import static jcuda.jcublas.cublasOperation.CUBLAS_OP_N;
import static jcuda.jcublas.cublasOperation.CUBLAS_OP_T;

/**
 * The CUDA backend (issue 4): cuDNN convolutions (algorithm measured once per shape, FMA maths unless TF32 is asked
 * for), cuBLAS GEMMs for 1×1 convolutions and the k2 s2 transposed convolution when libcublas loads (cuDNN otherwise),
 * and the hand-written kernels of src/main/cuda for everything else; every op has the semantics of the CPU
 * reference {@code Nd4jBackend}, whose javadoc-level contract is {@link Backend}. float32 and float64.
 *
 * <p>Memory: tensors live in a size-bucketed {@link DeviceArena} (no cuMemAlloc in a steady-state loop); host
 * transfers go through a pinned staging buffer; all work runs on one stream. {@link #capture} records a device-only
 * computation as a CUDA graph ({@link GraphCapture}).
 *
 * <p>Not thread-safe for concurrent calls (like the CPU backend, callers serialise, e.g. Detector.score); any thread
 * may call it, the device context is made current per thread.
 */
public final class CudaBackend implements Backend, DeviceMaps, FusionOps, GraphCapture {
    private static final long STAGING_CHUNK = 32L << 20;

    final CudaDevice device;
    final CUstream stream = new CUstream();
    private final cudaStream_t runtimeStream;
    final DeviceArena arena;
    final CudaKernels kernels;
    private final cudnnHandle cudnn = new cudnnHandle();
    private final cublasHandle cublas;
    private final String cublasStatus;
    private final boolean tf32;
    private boolean useCublas;
    private final ConvPlans plans;
    private final ThreadLocal<Boolean> current = ThreadLocal.withInitial(() -> false);
    private DeviceArena.Block workspace;
    private final List<DeviceArena.Block> retiredWorkspaces = new ArrayList<>();
    private Pointer staging;
    private ByteBuffer stagingBuffer;
    private long stagingBytes;
    private boolean closed;

    private CudaBackend(CudaDevice device, boolean tf32) {
        this.device = device;
        this.tf32 = tf32;
        current.set(true);
        Cuda.check(JCudaDriver.cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        runtimeStream = new cudaStream_t(stream);
        arena = new DeviceArena(stream);
        kernels = new CudaKernels(stream);
        try {
            JCudnn.setExceptionsEnabled(false);
            int rc = JCudnn.cudnnCreate(cudnn);
            if (rc != 0) throw CudaDevice.unavailable("cuDNN 9 failed to initialise (cudnnCreate: " + jcuda.jcudnn.cudnnStatus.stringFor(rc) + ")");
        } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
            String why = "cuDNN 9 not loadable (libcudnn.so.9; put its lib folder on LD_LIBRARY_PATH)";
            throw CudaDevice.unavailable(String.valueOf(e.getMessage()).startsWith("Could not initialize class")
                    ? CudaDevice.remembered("cudnn", why)
                    : CudaDevice.remember("cudnn", CudaDevice.nativeLoadReason(e, "libcudnn", why)));
        }
        Cuda.checkCudnn(JCudnn.cudnnSetStream(cudnn, runtimeStream), "cudnnSetStream");
        plans = new ConvPlans(cudnn, tf32);
        cublasHandle h = null;
        String status;
        try {
            JCublas2.setExceptionsEnabled(false);
            cublasHandle c = new cublasHandle();
            int rc = JCublas2.cublasCreate(c);
            if (rc == 0) {
                Cuda.checkCublas(JCublas2.cublasSetStream(c, runtimeStream), "cublasSetStream");
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

    /**
     * Opens device {@code CRD4J_CUDA_DEVICE} (default 0).
     *
     * @param tf32 allow TF32 tensor-core maths (convolutions and GEMMs); off gives float32 parity with the CPU
     * @throws DeviceUnavailableException with one line naming what is missing (driver, device, cuDNN)
     */
    public static CudaBackend open(boolean tf32) {
        return new CudaBackend(CudaDevice.open(), tf32);
    }

    /** Why this machine cannot run the CUDA backend, or null when it can (opens and closes a backend). */
    public static String unavailableReason() {
        try {
            open(false).close();
            return null;
        } catch (DeviceUnavailableException e) {
            return e.getMessage().replaceFirst("^--device cuda: ", "");
        } catch (NoClassDefFoundError e) {
            return "JCuda is not on the class path";
        }
    }

    @Override
    public String name() {
        return "cuda (" + device.name + ", sm_" + device.computeMajor + device.computeMinor + ", cuDNN " + JCudnn.cudnnGetVersion()
                + ", " + (useCublas ? "cuBLAS" : cublasStatus.equals("cuBLAS") ? "cuBLAS off (CRD4J_CUBLAS=0)" : cublasStatus)
                + (tf32 ? ", TF32 on" : ", TF32 off") + ")";
    }

    public boolean cublasAvailable() { return cublas != null; }

    /** Routes GEMM-shaped ops through cuBLAS (when it loaded) or cuDNN; for tests comparing both paths. */
    public void setUseCublas(boolean on) { useCublas = on && cublas != null; }

    public boolean tf32() { return tf32; }

    /** cuMemAlloc calls so far: constant once a loop has reached its steady state. */
    public int deviceAllocations() { return arena.deviceAllocations(); }

    public long reservedBytes() { return arena.reservedBytes(); }

    /** Waits for all enqueued work. */
    public void synchronize() {
        enter();
        Cuda.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
    }

    void enter() {
        if (closed) throw new IllegalStateException("the CUDA backend is closed");
        if (!current.get()) {
            device.makeCurrent();
            current.set(true);
        }
    }

    // ---- tensors, transfers ------------------------------------------------------------------------------------

    CudaTensor allocate(DType dt, long... shape) {
        enter();
        return new CudaTensor(this, arena.allocate(HostTensor.numel(shape) * dt.bytes()), dt, shape);
    }

    static CudaTensor t(Tensor x) {
        if (!(x instanceof CudaTensor c)) throw new IllegalArgumentException("tensor " + x + " does not belong to the CUDA backend");
        return c;
    }

    private static boolean f64(Tensor x) {
        DType d = x.dtype();
        if (d != DType.FLOAT32 && d != DType.FLOAT64) throw new UnsupportedOperationException("CUDA ops take float32 or float64 tensors, not " + d);
        return d == DType.FLOAT64;
    }

    private static String sfx(Tensor x) { return f64(x) ? "_f64" : "_f32"; }

    private static Pointer scalar(Tensor like, double v) {
        return f64(like) ? Pointer.to(new double[]{v}) : Pointer.to(new float[]{(float) v});
    }

    private static Pointer p(CudaTensor x) { return Pointer.to(x.ptr()); }

    private static Pointer p(DeviceArena.Block b) { return Pointer.to(b.ptr); }

    private static Pointer i32(long v) { return Pointer.to(new int[]{Math.toIntExact(v)}); }

    private static Pointer i64(long v) { return Pointer.to(new long[]{v}); }

    private static Pointer f64v(double v) { return Pointer.to(new double[]{v}); }

    private static final Pointer NULL = Pointer.to(new Pointer());

    private ByteBuffer staging(long bytes) {
        if (stagingBytes < bytes) {
            if (staging != null) JCudaDriver.cuMemFreeHost(staging);
            staging = new Pointer();
            Cuda.check(JCudaDriver.cuMemAllocHost(staging, bytes), "cuMemAllocHost(" + bytes + ")");
            stagingBytes = bytes;
            stagingBuffer = staging.getByteBuffer(0, bytes).order(ByteOrder.nativeOrder());
        }
        return stagingBuffer;
    }

    @Override
    public Tensor fromHost(HostTensor h) {
        CudaTensor d = allocate(h.dtype(), h.shape());
        upload(h, d.ptr(), 0);
        return d;
    }

    /** Copies h into device memory at dst through the pinned staging buffer, in chunks of at most 32 MiB. */
    void upload(HostTensor h, CUdeviceptr dst, long dstOffset) {
        enter();
        int es = h.dtype().bytes();
        long n = h.numel();
        long perChunk = STAGING_CHUNK / es;
        ByteBuffer buf = staging(Math.min(n, perChunk) * es);
        for (long start = 0; start < n; start += perChunk) {
            int len = (int) Math.min(perChunk, n - start);
            buf.clear();
            int s = (int) start;
            switch (h.dtype()) {
                case FLOAT32 -> buf.asFloatBuffer().put(h.floats(), s, len);
                case FLOAT64 -> buf.asDoubleBuffer().put(h.doubles(), s, len);
                case INT64 -> buf.asLongBuffer().put(h.longs(), s, len);
                case INT32 -> buf.asIntBuffer().put(h.ints(), s, len);
                case UINT8 -> buf.put(h.bytes(), s, len);
            }
            Cuda.check(JCudaDriver.cuMemcpyHtoDAsync(dst.withByteOffset(dstOffset + start * es), staging, (long) len * es, stream),
                    "cuMemcpyHtoDAsync");
            Cuda.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");   // the staging buffer is reused
        }
    }

    HostTensor download(CudaTensor d) {
        enter();
        DType dt = d.dtype();
        int es = dt.bytes();
        long n = d.numel();
        int total = Math.toIntExact(n);
        float[] f = dt == DType.FLOAT32 ? new float[total] : null;
        double[] g = dt == DType.FLOAT64 ? new double[total] : null;
        long[] l = dt == DType.INT64 ? new long[total] : null;
        int[] k = dt == DType.INT32 ? new int[total] : null;
        byte[] b = dt == DType.UINT8 ? new byte[total] : null;
        long perChunk = STAGING_CHUNK / es;
        ByteBuffer buf = staging(Math.min(Math.max(n, 1), perChunk) * es);
        for (long start = 0; start < n; start += perChunk) {
            int len = (int) Math.min(perChunk, n - start);
            Cuda.check(JCudaDriver.cuMemcpyDtoHAsync(staging, d.ptr().withByteOffset(start * es), (long) len * es, stream), "cuMemcpyDtoHAsync");
            Cuda.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
            buf.clear();
            int s = (int) start;
            switch (dt) {
                case FLOAT32 -> buf.asFloatBuffer().get(f, s, len);
                case FLOAT64 -> buf.asDoubleBuffer().get(g, s, len);
                case INT64 -> buf.asLongBuffer().get(l, s, len);
                case INT32 -> buf.asIntBuffer().get(k, s, len);
                case UINT8 -> buf.get(b, s, len);
            }
        }
        long[] shape = d.shape();
        return switch (dt) {
            case FLOAT32 -> HostTensor.of(f, shape);
            case FLOAT64 -> HostTensor.of(g, shape);
            case INT64 -> HostTensor.of(l, shape);
            case INT32 -> HostTensor.of(k, shape);
            case UINT8 -> HostTensor.of(b, shape);
        };
    }

    private double[] downloadDoubles(DeviceArena.Block b, int count) {
        ByteBuffer buf = staging((long) count * 8);
        Cuda.check(JCudaDriver.cuMemcpyDtoHAsync(staging, b.ptr, (long) count * 8, stream), "cuMemcpyDtoHAsync");
        Cuda.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
        double[] out = new double[count];
        buf.clear();
        buf.asDoubleBuffer().get(out);
        return out;
    }

    @Override
    public Tensor zeros(DType dtype, long... shape) {
        CudaTensor z = allocate(dtype, shape);
        Cuda.check(JCudaDriver.cuMemsetD8Async(z.ptr(), (byte) 0, z.bytes(), stream), "cuMemsetD8Async");
        return z;
    }

    @Override
    public Tensor copy(Tensor x) {
        CudaTensor s = t(x);
        CudaTensor c = allocate(s.dtype(), s.shape());
        Cuda.check(JCudaDriver.cuMemcpyDtoDAsync(c.ptr(), s.ptr(), s.bytes(), stream), "cuMemcpyDtoDAsync");
        return c;
    }

    // ---- elementwise -------------------------------------------------------------------------------------------

    private static final int GRID_CAP = 65535;

    private static void sameShape(Tensor a, Tensor b) {
        if (!Arrays.equals(a.shape(), b.shape()) || a.dtype() != b.dtype()) {
            throw new IllegalArgumentException("shape mismatch: " + Arrays.toString(a.shape()) + " " + a.dtype() + " vs "
                    + Arrays.toString(b.shape()) + " " + b.dtype());
        }
    }

    private void elementwise(String kernel, long n, Pointer... args) {
        kernels.launch("elementwise", kernel, CudaKernels.cappedBlocks(n, GRID_CAP), 1, CudaKernels.THREADS, args);
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        sameShape(a, b);
        CudaTensor y = allocate(a.dtype(), a.shape());
        elementwise("add" + sfx(a), y.numel(), p(t(a)), p(t(b)), p(y), i64(y.numel()));
        return y;
    }

    @Override
    public void addInPlace(Tensor acc, Tensor x) {
        sameShape(acc, x);
        enter();
        elementwise("add" + sfx(acc), acc.numel(), p(t(acc)), p(t(x)), p(t(acc)), i64(acc.numel()));
    }

    @Override
    public Tensor axpby(double alpha, Tensor a, double beta, Tensor b) {
        sameShape(a, b);
        CudaTensor y = allocate(a.dtype(), a.shape());
        elementwise("axpby" + sfx(a), y.numel(), scalar(a, alpha), p(t(a)), scalar(a, beta), p(t(b)), p(y), i64(y.numel()));
        return y;
    }

    @Override
    public double dot(Tensor a, Tensor b) {
        sameShape(a, b);
        enter();
        long n = a.numel();
        int blocks = CudaKernels.cappedBlocks(n, 1024);   // a function of n only: the same partials on every call
        DeviceArena.Block partial = arena.allocate((long) blocks * 8), out = arena.allocate(8);
        try {
            kernels.launch("elementwise", "dot_partials" + sfx(a), blocks, 1, CudaKernels.THREADS, p(t(a)), p(t(b)), i64(n), p(partial));
            kernels.launch("elementwise", "reduce_partials", 1, 1, 32, p(partial), i32(blocks), i32(1), p(out));
            return downloadDoubles(out, 1)[0];
        } finally {
            arena.release(partial);
            arena.release(out);
        }
    }

    @Override
    public Tensor relu(Tensor x) {
        CudaTensor y = allocate(x.dtype(), x.shape());
        elementwise("relu" + sfx(x), y.numel(), p(t(x)), p(y), i64(y.numel()));
        return y;
    }

    @Override
    public Tensor reluBackward(Tensor y, Tensor gy) {
        sameShape(y, gy);
        CudaTensor gx = allocate(gy.dtype(), gy.shape());
        elementwise("relu_backward" + sfx(gy), gx.numel(), p(t(y)), p(t(gy)), p(gx), i64(gx.numel()));
        return gx;
    }

    /** Copies `height` rows of `width` bytes between pitched device layouts (channel slices of NCHW tensors). */
    private void copy2d(CUdeviceptr src, long srcX, long srcPitch, CUdeviceptr dst, long dstX, long dstPitch, long width, long height) {
        if (width == 0 || height == 0) return;
        CUDA_MEMCPY2D c = new CUDA_MEMCPY2D();
        c.srcMemoryType = CUmemorytype.CU_MEMORYTYPE_DEVICE;
        c.srcDevice = src;
        c.srcXInBytes = srcX;
        c.srcPitch = srcPitch;
        c.dstMemoryType = CUmemorytype.CU_MEMORYTYPE_DEVICE;
        c.dstDevice = dst;
        c.dstXInBytes = dstX;
        c.dstPitch = dstPitch;
        c.WidthInBytes = width;
        c.Height = height;
        Cuda.check(JCudaDriver.cuMemcpy2DAsync(c, stream), "cuMemcpy2DAsync");
    }

    @Override
    public Tensor concatChannels(List<Tensor> parts) {
        if (parts.isEmpty()) throw new IllegalArgumentException("concatChannels: no parts");
        long[] s0 = parts.get(0).shape();
        long total = 0;
        for (Tensor p : parts) {
            long[] s = p.shape();
            if (s.length != 4 || s[0] != s0[0] || s[2] != s0[2] || s[3] != s0[3] || p.dtype() != parts.get(0).dtype()) {
                throw new IllegalArgumentException("concatChannels: " + Arrays.toString(s) + " does not fit " + Arrays.toString(s0));
            }
            total += s[1];
        }
        DType dt = parts.get(0).dtype();
        long plane = s0[2] * s0[3] * dt.bytes();
        CudaTensor y = allocate(dt, s0[0], total, s0[2], s0[3]);
        long off = 0;
        for (Tensor p : parts) {
            long c = p.dim(1);
            copy2d(t(p).ptr(), 0, c * plane, y.ptr(), off * plane, total * plane, c * plane, s0[0]);
            off += c;
        }
        return y;
    }

    @Override
    public List<Tensor> splitChannels(Tensor x, long... sizes) {
        long[] s = x.shape();
        if (Arrays.stream(sizes).sum() != s[1]) {
            throw new IllegalArgumentException("split sizes " + Arrays.toString(sizes) + " do not add up to " + s[1]);
        }
        long plane = s[2] * s[3] * x.dtype().bytes();
        List<Tensor> out = new ArrayList<>();
        long off = 0;
        for (long c : sizes) {
            CudaTensor part = allocate(x.dtype(), s[0], c, s[2], s[3]);
            copy2d(t(x).ptr(), off * plane, s[1] * plane, part.ptr(), 0, c * plane, c * plane, s[0]);
            out.add(part);
            off += c;
        }
        return out;
    }

    // ---- convolutions ------------------------------------------------------------------------------------------

    private static long outSize(long in, long k, int stride, int pad) {
        long o = (in + 2L * pad - k) / stride + 1;
        if (o <= 0) throw new IllegalArgumentException("convolution output would be empty for input size " + in);
        return o;
    }

    private Pointer one(Tensor like) { return scalar(like, 1.0); }

    private Pointer zero(Tensor like) { return scalar(like, 0.0); }

    private CUdeviceptr workspace(long bytes) {
        if (bytes == 0 && workspace == null) return new CUdeviceptr();   // null with size 0
        if (workspace == null || workspace.size < bytes) {
            // an old workspace may be referenced by a captured graph: keep it until close()
            if (workspace != null) retiredWorkspaces.add(workspace);
            workspace = arena.allocate(bytes);
        }
        return workspace.ptr;
    }

    private long workspaceSize() { return workspace == null ? 0 : workspace.size; }

    private static boolean pointwise(long[] w, int stride, int pad) { return w[2] == 1 && w[3] == 1 && stride == 1 && pad == 0; }

    @Override
    public Tensor conv2d(Tensor xt, Tensor wt, int stride, int pad) {
        long[] x = xt.shape(), w = wt.shape();
        if (x.length != 4 || w.length != 4 || w[2] != w[3] || x[1] != w[1] || xt.dtype() != wt.dtype()) {
            throw new IllegalArgumentException("conv2d: input " + Arrays.toString(x) + " does not fit weight " + Arrays.toString(w));
        }
        long[] y = {x[0], w[0], outSize(x[2], w[2], stride, pad), outSize(x[3], w[3], stride, pad)};
        CudaTensor out = allocate(xt.dtype(), y);
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

    @Override
    public Tensor conv2dBackwardData(Tensor gyt, Tensor wt, long[] xShape, int stride, int pad) {
        long[] w = wt.shape(), y = gyt.shape();
        CudaTensor dx = allocate(gyt.dtype(), xShape);
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

    @Override
    public Tensor conv2dBackwardFilter(Tensor xt, Tensor gyt, long[] wShape, int stride, int pad) {
        long[] x = xt.shape(), y = gyt.shape();
        CudaTensor dw = allocate(gyt.dtype(), wShape);
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
        enter();
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

    @Override
    public Tensor deconv2x2(Tensor xt, Tensor wt) {
        long[] x = xt.shape(), w = wt.shape();
        checkDeconv(x, w);
        long n = x[0], c = x[1], h = x[2], wd = x[3], o = w[1];
        long[] y = {n, o, 2 * h, 2 * wd};
        CudaTensor out = allocate(xt.dtype(), y);
        if (useCublas) {
            // cols[n] (4O×HW) = Wᵀ (4O×C) · x[n] (C×HW), then scatter cols[n][o][a][b][i][j] → out[n][o][2i+a][2j+b]
            long hw = h * wd;
            CudaTensor cols = allocate(xt.dtype(), n, o * 4, h, wd);
            gemmStrided(CUBLAS_OP_N, CUBLAS_OP_T, hw, o * 4, c, t(xt), hw, c * hw, t(wt), o * 4, 0, cols, hw, o * 4 * hw, n, false);
            elementwise("deconv_scatter" + sfx(xt), cols.numel(), p(cols), i32(n), i32(o), i32(h), i32(wd), p(out));
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

    @Override
    public Tensor deconv2x2BackwardData(Tensor gyt, Tensor wt) {
        long[] g = gyt.shape(), w = wt.shape();
        long n = g[0], o = g[1], h = g[2] / 2, wd = g[3] / 2, c = w[0];
        long[] x = {n, c, h, wd};
        CudaTensor dx = allocate(gyt.dtype(), x);
        if (useCublas) {
            // gather gy into cols[n] (4O×HW), then dx[n] (C×HW) = W (C×4O) · cols[n]
            long hw = h * wd;
            CudaTensor cols = allocate(gyt.dtype(), n, o * 4, h, wd);
            elementwise("deconv_gather" + sfx(gyt), cols.numel(), p(t(gyt)), i32(n), i32(o), i32(h), i32(wd), p(cols));
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

    @Override
    public Tensor deconv2x2BackwardFilter(Tensor xt, Tensor gyt) {
        long[] x = xt.shape(), g = gyt.shape();
        long n = x[0], c = x[1], h = x[2], wd = x[3], o = g[1];
        long[] w = {c, o, 2, 2};
        CudaTensor dw = allocate(xt.dtype(), w);
        if (useCublas) {
            // dW (C×4O) = Σ_n x[n] (C×HW) · cols[n]ᵀ: dW_cm (4O×C) = Σ_n cols_cm[n]ᵀ (4O×HW) · x_cm[n] (HW×C)
            long hw = h * wd;
            CudaTensor cols = allocate(gyt.dtype(), n, o * 4, h, wd);
            elementwise("deconv_gather" + sfx(gyt), cols.numel(), p(t(gyt)), i32(n), i32(o), i32(h), i32(wd), p(cols));
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

    // ---- batch norm --------------------------------------------------------------------------------------------

    /** Blocks per channel for the per-channel reductions: a function of the count alone (deterministic sums). */
    private static int channelParts(long count) {
        return (int) Math.max(1, Math.min(256, count / (CudaKernels.THREADS * 16L)));
    }

    private static void sameDtypeParams(Tensor x, Tensor... ps) {
        for (Tensor p : ps) {
            if (p.dtype() != x.dtype()) throw new IllegalArgumentException("batch norm: parameter dtype " + p.dtype() + " != input dtype " + x.dtype());
        }
    }

    @Override
    public BatchNormForward batchNormTrain(Tensor xt, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                           double momentum, double eps) {
        sameDtypeParams(xt, gamma, beta, runningMean, runningVar);
        long[] s = xt.shape();
        int c = Math.toIntExact(s[1]);
        long hw = s[2] * s[3], count = s[0] * hw;
        if (count < 2) {
            throw new IllegalArgumentException("batch norm in training mode needs more than one value per channel, got input " + Arrays.toString(s));
        }
        String x = sfx(xt);
        int parts = channelParts(count);
        CudaTensor mean = allocate(DType.FLOAT64, c), invStd = allocate(DType.FLOAT64, c);
        CudaTensor y = allocate(xt.dtype(), s);
        DeviceArena.Block partial = arena.allocate((long) c * parts * 8);
        try {
            int cb = (c + CudaKernels.THREADS - 1) / CudaKernels.THREADS;
            kernels.launch("batchnorm", "bn_stats" + x, c, parts, CudaKernels.THREADS, p(t(xt)), i32(c), i64(hw), i64(count), NULL, p(partial));
            kernels.launch("batchnorm", "bn_finish_mean", cb, 1, CudaKernels.THREADS, p(partial), i32(c), i32(parts), i64(count), p(mean));
            kernels.launch("batchnorm", "bn_stats" + x, c, parts, CudaKernels.THREADS, p(t(xt)), i32(c), i64(hw), i64(count), p(mean), p(partial));
            kernels.launch("batchnorm", "bn_finish_var" + x, cb, 1, CudaKernels.THREADS, p(partial), i32(c), i32(parts), i64(count), p(mean),
                    f64v(eps), f64v(momentum), p(invStd), p(t(runningMean)), p(t(runningVar)));
            kernels.launch("batchnorm", "bn_apply_train" + x, CudaKernels.cappedBlocks(y.numel(), GRID_CAP), 1, CudaKernels.THREADS,
                    p(t(xt)), i32(c), i64(hw), i64(y.numel()), p(mean), p(invStd), p(t(gamma)), p(t(beta)), p(y));
        } finally {
            arena.release(partial);
        }
        return new BatchNormForward(y, mean, invStd);
    }

    @Override
    public Tensor batchNormEval(Tensor xt, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps) {
        sameDtypeParams(xt, gamma, beta, runningMean, runningVar);
        long[] s = xt.shape();
        int c = Math.toIntExact(s[1]);
        CudaTensor y = allocate(xt.dtype(), s);
        DeviceArena.Block ab = arena.allocate(2L * c * xt.dtype().bytes());
        try {
            kernels.launch("batchnorm", "bn_eval_prepare" + sfx(xt), (c + CudaKernels.THREADS - 1) / CudaKernels.THREADS, 1, CudaKernels.THREADS,
                    p(t(gamma)), p(t(beta)), p(t(runningMean)), p(t(runningVar)), i32(c), f64v(eps), p(ab));
            kernels.launch("batchnorm", "bn_eval_apply" + sfx(xt), CudaKernels.cappedBlocks(y.numel(), GRID_CAP), 1, CudaKernels.THREADS,
                    p(t(xt)), i32(c), i64(s[2] * s[3]), i64(y.numel()), p(ab), p(y));
        } finally {
            arena.release(ab);
        }
        return y;
    }

    @Override
    public BatchNormGrads batchNormBackward(Tensor xt, Tensor gyt, Tensor gamma, BatchNormForward saved) {
        long[] s = xt.shape();
        int c = Math.toIntExact(s[1]);
        long hw = s[2] * s[3], count = s[0] * hw;
        String x = sfx(xt);
        int parts = channelParts(count);
        CudaTensor dx = allocate(gyt.dtype(), s), dgamma = allocate(gamma.dtype(), c), dbeta = allocate(gamma.dtype(), c);
        DeviceArena.Block partial = arena.allocate((long) c * parts * 16), sums = arena.allocate((long) c * 16);
        try {
            int cb = (c + CudaKernels.THREADS - 1) / CudaKernels.THREADS;
            kernels.launch("batchnorm", "bn_back_stats" + x, c, parts, CudaKernels.THREADS, p(t(xt)), p(t(gyt)), i32(c), i64(hw), i64(count),
                    p(t(saved.mean())), p(t(saved.invStd())), p(partial));
            kernels.launch("batchnorm", "bn_back_finish" + x, cb, 1, CudaKernels.THREADS, p(partial), i32(c), i32(parts), p(sums), p(dgamma), p(dbeta));
            kernels.launch("batchnorm", "bn_apply_back" + x, CudaKernels.cappedBlocks(dx.numel(), GRID_CAP), 1, CudaKernels.THREADS,
                    p(t(xt)), p(t(gyt)), i32(c), i64(hw), i64(dx.numel()), f64v((double) count), p(t(saved.mean())), p(t(saved.invStd())),
                    p(t(gamma)), p(sums), p(dx));
        } finally {
            arena.release(partial);
            arena.release(sums);
        }
        return new BatchNormGrads(dx, dgamma, dbeta);
    }

    // ---- pooling, resampling -----------------------------------------------------------------------------------

    @Override
    public Tensor maxPool3x3s2p1(Tensor xt) {
        long[] s = xt.shape();
        long oh = outSize(s[2], 3, 2, 1), ow = outSize(s[3], 3, 2, 1);
        CudaTensor y = allocate(xt.dtype(), s[0], s[1], oh, ow);
        elementwise("maxpool3x3s2p1" + sfx(xt), y.numel(), p(t(xt)), i32(s[0] * s[1]), i32(s[2]), i32(s[3]), i32(oh), i32(ow), p(y));
        return y;
    }

    /** The align_corners scale (in−1)/(out−1), rounded to the dtype as PyTorch and the CPU reference do. */
    private static Pointer alignScale(Tensor like, long in, long out) {
        double s = out > 1 ? (double) (in - 1) / (out - 1) : 0;
        return scalar(like, s);
    }

    @Override
    public Tensor upsampleBilinearAlignCorners(Tensor xt, int outH, int outW) {
        long[] s = xt.shape();
        CudaTensor y = allocate(xt.dtype(), s[0], s[1], outH, outW);
        kernels.launch("cosine_map", "upsample_bilinear_ac" + sfx(xt), CudaKernels.blocks(y.numel()), 1, CudaKernels.THREADS,
                p(t(xt)), i32(s[0] * s[1]), i32(s[2]), i32(s[3]), i32(outH), i32(outW), alignScale(xt, s[2], outH),
                alignScale(xt, s[3], outW), p(y));
        return y;
    }

    // ---- CRD specific ------------------------------------------------------------------------------------------

    @Override
    public CosineLoss cosineLoss(Tensor st, Tensor tt, boolean withGrad) {
        sameShape(st, tt);
        enter();
        long n = st.dim(0), d = st.numel() / n;
        int parts = (int) Math.max(1, Math.min(1024, d / (CudaKernels.THREADS * 32L)));   // a function of d alone
        long chunk = (d + parts - 1) / parts;
        String x = sfx(st);
        CudaTensor grad = withGrad ? allocate(st.dtype(), st.shape()) : null;
        DeviceArena.Block partial = arena.allocate(n * parts * 3 * 8), loss = arena.allocate(n * 8);
        try {
            kernels.launch("cosine_loss", "cosine_loss_partials" + x, parts, Math.toIntExact(n), CudaKernels.THREADS,
                    p(t(st)), p(t(tt)), i64(d), i64(chunk), p(partial));
            int g = withGrad ? CudaKernels.cappedBlocks(d, 1024) : 1;
            kernels.launch("cosine_loss", "cosine_loss_finish" + x, g, Math.toIntExact(n), CudaKernels.THREADS,
                    p(t(st)), p(t(tt)), i64(d), p(partial), i32(parts), i32(n), p(loss), withGrad ? p(grad) : NULL);
            double[] per = downloadDoubles(loss, Math.toIntExact(n));
            double sum = 0;
            for (double v : per) sum += v;
            return new CosineLoss(sum / n, grad);
        } finally {
            arena.release(partial);
            arena.release(loss);
        }
    }

    @Override
    public Tensor cosineDistanceMap(Tensor st, Tensor tt) {
        sameShape(st, tt);
        long[] s = st.shape();
        long hw = s[2] * s[3];
        CudaTensor out = allocate(st.dtype(), s[0], 1, s[2], s[3]);
        kernels.launch("cosine_map", "cosine_distance_map" + sfx(st), CudaKernels.blocks(s[0] * hw), 1, CudaKernels.THREADS,
                p(t(st)), p(t(tt)), i32(s[0]), i32(s[1]), i64(hw), p(out));
        return out;
    }

    @Override
    public void adamStep(Tensor pt, Tensor gt, Tensor mt, Tensor vt, double lr, double beta1, double beta2, double eps, long step) {
        sameShape(pt, gt);
        enter();
        double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
        long n = pt.numel();
        kernels.launch("adam", "adam_step" + sfx(pt), CudaKernels.blocks(n), 1, CudaKernels.THREADS,
                p(t(pt)), p(t(gt)), p(t(mt)), p(t(vt)), i64(n), scalar(pt, 1 - beta1), scalar(pt, beta2), scalar(pt, 1 - beta2),
                scalar(pt, Math.sqrt(bc2)), scalar(pt, eps), scalar(pt, lr / bc1));
    }

    // ---- optional capabilities ---------------------------------------------------------------------------------

    @Override
    public Tensor rawAnomalyMap(List<Tensor> fused, List<Tensor> teacher, int size) {
        long n = fused.get(0).dim(0);
        CudaTensor acc = (CudaTensor) zeros(DType.FLOAT64, n, size, size);
        for (int k = 0; k < fused.size(); k++) {
            Tensor d = cosineDistanceMap(fused.get(k), teacher.get(k));
            long[] s = d.shape();
            kernels.launch("cosine_map", "upsample_accumulate" + sfx(d), CudaKernels.blocks(acc.numel()), 1, CudaKernels.THREADS,
                    p(t(d)), i32(n), i32(s[2]), i32(s[3]), i32(size), alignScale(d, s[2], size), alignScale(d, s[3], size), p(acc));
            d.close();
        }
        return acc;
    }

    private CudaTensor gaussianWeights;
    private double[] gaussianWeightsHost;

    /** scipy-style separable filter with reflect borders on float64 maps [M, H, W] (gaussian.cu). */
    public Tensor gaussianFilter(Tensor maps, double[] kernel) {
        if (maps.dtype() != DType.FLOAT64 || maps.rank() != 3) throw new IllegalArgumentException("gaussianFilter takes [M,H,W] float64 maps");
        if (kernel.length % 2 != 1) throw new IllegalArgumentException("the kernel needs an odd number of taps");
        enter();
        if (gaussianWeightsHost == null || !Arrays.equals(gaussianWeightsHost, kernel)) {
            if (gaussianWeights != null) gaussianWeights.close();
            gaussianWeights = (CudaTensor) fromHost(HostTensor.of(kernel.clone(), kernel.length));
            gaussianWeightsHost = kernel.clone();
        }
        long[] s = maps.shape();
        CudaTensor tmp = allocate(DType.FLOAT64, s), out = allocate(DType.FLOAT64, s);
        int r = kernel.length / 2;
        Pointer[] common = {i32(s[0]), i32(s[1]), i32(s[2]), p(gaussianWeights), i32(r)};
        kernels.launch("gaussian", "gaussian_axis0", CudaKernels.blocks(out.numel()), 1, CudaKernels.THREADS,
                p(t(maps)), common[0], common[1], common[2], common[3], common[4], p(tmp));
        kernels.launch("gaussian", "gaussian_axis1", CudaKernels.blocks(out.numel()), 1, CudaKernels.THREADS,
                p(tmp), common[0], common[1], common[2], common[3], common[4], p(out));
        tmp.close();
        return out;
    }

    @Override
    public Tensor normalisedSmoothedMaps(List<Tensor> raw, double[] mean, double[] std, double[] kernel) {
        if (raw.isEmpty() || mean.length != raw.size() || std.length != raw.size()) {
            throw new IllegalArgumentException("normalisedSmoothedMaps: one mean and one std per map");
        }
        long[] s = raw.get(0).shape();
        if (s[0] != 1) throw new IllegalArgumentException("normalisedSmoothedMaps takes [1,S,S] maps");
        long count = raw.get(0).numel();
        CudaTensor planes = allocate(DType.FLOAT64, 1 + raw.size(), s[1], s[2]);
        for (int b = 0; b < raw.size(); b++) {
            sameShape(raw.get(0), raw.get(b));
            kernels.launch("cosine_map", "normalise_accumulate", CudaKernels.blocks(count), 1, CudaKernels.THREADS,
                    p(t(raw.get(b))), i64(count), f64v(mean[b]), f64v(std[b]), i32(b == 0 ? 1 : 0), p(planes),
                    Pointer.to(planes.ptr().withByteOffset((long) (b + 1) * count * Double.BYTES)));
        }
        Tensor out = gaussianFilter(planes, kernel);
        planes.close();
        return out;
    }

    @Override
    public FusionGrads fusionBackward(Tensor gy, Tensor r, Tensor q, double w0, double w1, boolean wantDr, boolean wantDq,
                                      boolean wantDots) {
        sameShape(gy, r);
        sameShape(gy, q);
        enter();
        long n = gy.numel();
        CudaTensor dr = wantDr ? allocate(gy.dtype(), gy.shape()) : null, dq = wantDq ? allocate(gy.dtype(), gy.shape()) : null;
        int blocks = CudaKernels.cappedBlocks(n, 1024);
        DeviceArena.Block partial = wantDots ? arena.allocate((long) blocks * 16) : null, out = wantDots ? arena.allocate(16) : null;
        try {
            kernels.launch("fusion", "fusion_backward" + sfx(gy), blocks, 1, CudaKernels.THREADS, p(t(gy)), p(t(r)), p(t(q)), i64(n),
                    scalar(gy, w0), scalar(gy, w1), dr == null ? NULL : p(dr), dq == null ? NULL : p(dq), partial == null ? NULL : p(partial));
            double[] dots = {0, 0};
            if (wantDots) {
                kernels.launch("elementwise", "reduce_partials", 1, 1, 32, p(partial), i32(blocks), i32(2), p(out));
                dots = downloadDoubles(out, 2);
            }
            return new FusionGrads(dr, dq, dots[0], dots[1]);
        } finally {
            if (partial != null) arena.release(partial);
            if (out != null) arena.release(out);
        }
    }

    /** The fused-map forward ω0·r + ω1·q (fusion.cu; the same values as axpby). */
    public Tensor fusionForward(Tensor r, Tensor q, double w0, double w1) {
        sameShape(r, q);
        CudaTensor y = allocate(r.dtype(), r.shape());
        kernels.launch("fusion", "fusion_forward" + sfx(r), CudaKernels.blocks(y.numel()), 1, CudaKernels.THREADS,
                p(t(r)), p(t(q)), i64(y.numel()), scalar(r, w0), scalar(r, w1), p(y));
        return y;
    }

    // ---- CUDA graph capture ------------------------------------------------------------------------------------

    @Override
    public CapturedRun capture(List<HostTensor> exampleInputs, Function<List<Tensor>, List<Tensor>> body) {
        return CudaGraphRun.capture(this, exampleInputs, body);
    }

    void setCapturing(boolean on) { plans.capturing = on; }

    // ---- lifecycle ---------------------------------------------------------------------------------------------

    @Override
    public synchronized void close() {
        if (closed) return;
        enter();
        JCudaDriver.cuStreamSynchronize(stream);
        if (gaussianWeights != null) gaussianWeights.close();
        arena.close();
        if (staging != null) JCudaDriver.cuMemFreeHost(staging);
        JCudnn.cudnnDestroy(cudnn);
        if (cublas != null) JCublas2.cublasDestroy(cublas);
        JCudaDriver.cuStreamDestroy(stream);
        closed = true;
    }
}
