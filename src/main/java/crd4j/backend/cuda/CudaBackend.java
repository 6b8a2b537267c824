package crd4j.backend.cuda;

import crd4j.backend.Backend;
import crd4j.backend.DeviceMaps;
import crd4j.backend.DeviceUnavailableException;
import crd4j.backend.FusionOps;
import crd4j.backend.GraphCapture;
import crd4j.backend.Tensor;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import jcuda.driver.CUDA_MEMCPY2D;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUmemorytype;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;
import jcuda.jcudnn.JCudnn;
import jcuda.runtime.cudaStream_t;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * The CUDA backend (issue 4): cuDNN convolutions (algorithm measured once per shape, FMA maths unless TF32 is asked
 * for), cuBLAS GEMMs for 1×1 convolutions and the k2 s2 transposed convolution when libcublas loads (cuDNN otherwise),
 * and the hand-written kernels of src/main/cuda for everything else; every op has the semantics of the CPU
 * reference {@code Nd4jBackend}, whose javadoc-level contract is {@link Backend}. float32 and float64.
 *
 * <p>This class owns the device, the stream, the memory and the lifecycle, and dispatches each op to the class that
 * implements it, split the way the kernels are: {@link CudaConvolutions} (cuDNN/cuBLAS), {@link CudaStaging} (host
 * transfers), and one launcher per .cu family — {@link ElementwiseKernels}, {@link BatchNormKernels},
 * {@link CosineLossKernels}, {@link CosineMapKernels}, {@link AdamKernels}, {@link FusionKernels},
 * {@link GaussianKernels} — which launch their kernels by typed handle ({@link Kernel}). A failing op on the device
 * thus names the launcher and the .cu it comes from.
 *
 * <p>Memory: tensors live in a size-bucketed {@link DeviceArena} (no cuMemAlloc in a steady-state loop); host
 * transfers go through a pinned staging buffer; all work runs on one stream. {@link #capture} records a device-only
 * computation as a CUDA graph ({@link GraphCapture}).
 *
 * <p>Not thread-safe for concurrent calls (like the CPU backend, callers serialise, e.g. Detector.score); any thread
 * may call it, the device context is made current per thread.
 */
public final class CudaBackend implements Backend, DeviceMaps, FusionOps, GraphCapture {
    final CudaDevice device;
    final CUstream stream = new CUstream();
    final DeviceArena arena;
    final CudaKernels kernels;
    final CudaStaging staging;
    final ElementwiseKernels elementwise;
    private final BatchNormKernels batchNorm;
    private final CosineLossKernels cosineLoss;
    private final CosineMapKernels cosineMap;
    private final AdamKernels adam;
    private final FusionKernels fusion;
    private final GaussianKernels gaussian;
    private final CudaConvolutions conv;
    private final boolean tf32;
    private final ThreadLocal<Boolean> current = ThreadLocal.withInitial(() -> false);
    private boolean closed;

    private CudaBackend(CudaDevice device, boolean tf32) {
        this.device = device;
        this.tf32 = tf32;
        current.set(true);
        Cuda.check(JCudaDriver.cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        arena = new DeviceArena(stream);
        kernels = new CudaKernels(stream);
        staging = new CudaStaging(this, stream);
        elementwise = new ElementwiseKernels(this);
        batchNorm = new BatchNormKernels(this);
        cosineLoss = new CosineLossKernels(this);
        cosineMap = new CosineMapKernels(this);
        adam = new AdamKernels(this);
        fusion = new FusionKernels(this);
        gaussian = new GaussianKernels(this);
        conv = new CudaConvolutions(this, new cudaStream_t(stream), tf32);   // throws when cuDNN is missing
    }

    /**
     * Opens device {@code CRD4J_CUDA_DEVICE} (default 0). Embedding code normally calls
     * {@code crd4j.backend.Backends.open("cuda")} (or {@code "auto"}) instead.
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
        String cublas = conv.usesCublas() ? "cuBLAS" : conv.cublasStatus.equals("cuBLAS") ? "cuBLAS off (CRD4J_CUBLAS=0)" : conv.cublasStatus;
        return "cuda (" + device.name + ", sm_" + device.computeMajor + device.computeMinor + ", cuDNN " + JCudnn.cudnnGetVersion()
                + ", " + cublas + (tf32 ? ", TF32 on" : ", TF32 off") + ")";
    }

    public boolean cublasAvailable() { return conv.cublasAvailable(); }

    /** Routes GEMM-shaped ops through cuBLAS (when it loaded) or cuDNN; for tests comparing both paths. */
    public void setUseCublas(boolean on) { conv.setUseCublas(on); }

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

    static CudaTensor t(Tensor x) { return CudaArgs.t(x); }

    @Override
    public Tensor fromHost(HostTensor h) {
        CudaTensor d = allocate(h.dtype(), h.shape());
        upload(h, d.ptr(), 0);
        return d;
    }

    /** Copies h into device memory at dst through the pinned staging buffer. */
    void upload(HostTensor h, CUdeviceptr dst, long dstOffset) { staging.upload(h, dst, dstOffset); }

    HostTensor download(CudaTensor d) { return staging.download(d); }

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

    // ---- elementwise (ElementwiseKernels) ----------------------------------------------------------------------

    @Override
    public Tensor add(Tensor a, Tensor b) { return elementwise.add(a, b); }

    @Override
    public void addInPlace(Tensor acc, Tensor x) { elementwise.addInPlace(acc, x); }

    @Override
    public Tensor axpby(double alpha, Tensor a, double beta, Tensor b) { return elementwise.axpby(alpha, a, beta, b); }

    @Override
    public double dot(Tensor a, Tensor b) { return elementwise.dot(a, b); }

    @Override
    public Tensor relu(Tensor x) { return elementwise.relu(x); }

    @Override
    public Tensor reluBackward(Tensor y, Tensor gy) { return elementwise.reluBackward(y, gy); }

    // ---- convolutions (CudaConvolutions) -----------------------------------------------------------------------

    @Override
    public Tensor conv2d(Tensor x, Tensor w, int stride, int pad) { return conv.conv2d(x, w, stride, pad); }

    @Override
    public Tensor conv2dBackwardData(Tensor gy, Tensor w, long[] xShape, int stride, int pad) {
        return conv.conv2dBackwardData(gy, w, xShape, stride, pad);
    }

    @Override
    public Tensor conv2dBackwardFilter(Tensor x, Tensor gy, long[] wShape, int stride, int pad) {
        return conv.conv2dBackwardFilter(x, gy, wShape, stride, pad);
    }

    @Override
    public Tensor deconv2x2(Tensor x, Tensor w) { return conv.deconv2x2(x, w); }

    @Override
    public Tensor deconv2x2BackwardData(Tensor gy, Tensor w) { return conv.deconv2x2BackwardData(gy, w); }

    @Override
    public Tensor deconv2x2BackwardFilter(Tensor x, Tensor gy) { return conv.deconv2x2BackwardFilter(x, gy); }

    // ---- batch norm (BatchNormKernels) -------------------------------------------------------------------------

    @Override
    public BatchNormForward batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                           double momentum, double eps) {
        return batchNorm.train(x, gamma, beta, runningMean, runningVar, momentum, eps);
    }

    @Override
    public Tensor batchNormEval(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps) {
        return batchNorm.eval(x, gamma, beta, runningMean, runningVar, eps);
    }

    @Override
    public BatchNormGrads batchNormBackward(Tensor x, Tensor gy, Tensor gamma, BatchNormForward saved) {
        return batchNorm.backward(x, gy, gamma, saved);
    }

    // ---- pooling, resampling -----------------------------------------------------------------------------------

    @Override
    public Tensor maxPool3x3s2p1(Tensor x) { return elementwise.maxPool3x3s2p1(x); }

    @Override
    public Tensor upsampleBilinearAlignCorners(Tensor x, int outH, int outW) { return cosineMap.upsampleBilinearAlignCorners(x, outH, outW); }

    // ---- CRD specific ------------------------------------------------------------------------------------------

    @Override
    public CosineLoss cosineLoss(Tensor s, Tensor t, boolean withGrad) { return cosineLoss.cosineLoss(s, t, withGrad); }

    @Override
    public Tensor cosineDistanceMap(Tensor s, Tensor t) { return cosineMap.cosineDistanceMap(s, t); }

    @Override
    public void adamStep(Tensor p, Tensor g, Tensor m, Tensor v, double lr, double beta1, double beta2, double eps, long step) {
        adam.step(p, g, m, v, lr, beta1, beta2, eps, step);
    }

    // ---- optional capabilities ---------------------------------------------------------------------------------

    @Override
    public Tensor rawAnomalyMap(List<Tensor> fused, List<Tensor> teacher, int size) { return cosineMap.rawAnomalyMap(fused, teacher, size); }

    /** scipy-style separable filter with reflect borders on float64 maps [M, H, W] (gaussian.cu). */
    public Tensor gaussianFilter(Tensor maps, double[] kernel) { return gaussian.filter(maps, kernel); }

    @Override
    public Tensor normalisedSmoothedMaps(List<Tensor> raw, double[] mean, double[] std, double[] kernel) {
        CudaTensor planes = cosineMap.normalisedPlanes(raw, mean, std);
        Tensor out = gaussian.filter(planes, kernel);
        planes.close();
        return out;
    }

    @Override
    public FusionGrads fusionBackward(Tensor gy, Tensor r, Tensor q, double w0, double w1, boolean wantDr, boolean wantDq,
                                      boolean wantDots) {
        return fusion.backward(gy, r, q, w0, w1, wantDr, wantDq, wantDots);
    }

    /** The fused-map forward ω0·r + ω1·q (fusion.cu; the same values as axpby). */
    public Tensor fusionForward(Tensor r, Tensor q, double w0, double w1) { return fusion.forward(r, q, w0, w1); }

    // ---- CUDA graph capture ------------------------------------------------------------------------------------

    @Override
    public CapturedRun capture(List<HostTensor> exampleInputs, Function<List<Tensor>, List<Tensor>> body) {
        return CudaGraphRun.capture(this, exampleInputs, body);
    }

    void setCapturing(boolean on) { conv.plans.capturing = on; }

    // ---- lifecycle ---------------------------------------------------------------------------------------------

    @Override
    public synchronized void close() {
        if (closed) return;
        enter();
        JCudaDriver.cuStreamSynchronize(stream);
        gaussian.close();
        arena.close();
        staging.close();
        conv.close();
        JCudaDriver.cuStreamDestroy(stream);
        closed = true;
    }
}
