package crd4j.backend.cuda;

import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Host ↔ device transfers through one pinned staging buffer (cuMemAllocHost), in chunks of at most 32 MiB, on the
 * backend's stream. The buffer grows to the largest chunk seen and is reused, so each chunk waits for its copy.
 */
final class CudaStaging {
    private static final long CHUNK = 32L << 20;

    private final CudaBackend be;
    private final CUstream stream;
    private Pointer staging;
    private ByteBuffer buffer;
    private long bytes;

    CudaStaging(CudaBackend be, CUstream stream) {
        this.be = be;
        this.stream = stream;
    }

    private ByteBuffer buffer(long need) {
        if (bytes < need) {
            if (staging != null) JCudaDriver.cuMemFreeHost(staging);
            staging = new Pointer();
            Cuda.check(JCudaDriver.cuMemAllocHost(staging, need), "cuMemAllocHost(" + need + ")");
            bytes = need;
            buffer = staging.getByteBuffer(0, need).order(ByteOrder.nativeOrder());
        }
        return buffer;
    }

    /** Copies h into device memory at dst + dstOffset bytes. */
    void upload(HostTensor h, CUdeviceptr dst, long dstOffset) {
        be.enter();
        int es = h.dtype().bytes();
        long n = h.numel();
        long perChunk = CHUNK / es;
        ByteBuffer buf = buffer(Math.min(n, perChunk) * es);
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
        be.enter();
        DType dt = d.dtype();
        int es = dt.bytes();
        long n = d.numel();
        int total = Math.toIntExact(n);
        float[] f = dt == DType.FLOAT32 ? new float[total] : null;
        double[] g = dt == DType.FLOAT64 ? new double[total] : null;
        long[] l = dt == DType.INT64 ? new long[total] : null;
        int[] k = dt == DType.INT32 ? new int[total] : null;
        byte[] b = dt == DType.UINT8 ? new byte[total] : null;
        long perChunk = CHUNK / es;
        ByteBuffer buf = buffer(Math.min(Math.max(n, 1), perChunk) * es);
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

    /** The first {@code count} float64 values of a device block (reduction results). */
    double[] downloadDoubles(DeviceArena.Block b, int count) {
        ByteBuffer buf = buffer((long) count * 8);
        Cuda.check(JCudaDriver.cuMemcpyDtoHAsync(staging, b.ptr, (long) count * 8, stream), "cuMemcpyDtoHAsync");
        Cuda.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
        double[] out = new double[count];
        buf.clear();
        buf.asDoubleBuffer().get(out);
        return out;
    }

    void close() {
        if (staging != null) JCudaDriver.cuMemFreeHost(staging);
        staging = null;
    }
}
