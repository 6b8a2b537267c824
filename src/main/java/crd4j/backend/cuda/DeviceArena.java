package crd4j.backend.cuda;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Device memory for tensors without cuMemAlloc/cuMemFree in the steady state: blocks are rounded up to a size bucket
 * and, when their tensor is closed (or garbage-collected), go back on that bucket's free list for the next tensor of a
 * similar size. Buckets: multiples of 512 B up to 1 MiB, above that multiples of 1/8 of the next lower power of two
 * (at most 12.5 % slack). Because there is one stream and every kernel is enqueued on it, a block freed on the host
 * may be handed out again at once: work that still reads it was enqueued earlier and runs first.
 *
 * <p>When cuMemAlloc fails, the arena synchronises the stream, frees every cached block, asks the JVM to collect
 * tensors nobody closed, and tries once more.
 *
 * <p>Capture: between {@link #beginCapture} and {@link #endCapture}, blocks that are freed are not reused and are
 * handed to the captured graph instead, which owns every block its kernels touched until it is closed.
 */
final class DeviceArena {
    static final class Block {
        final CUdeviceptr ptr;
        final long size;
        boolean free;
        boolean captured;

        Block(CUdeviceptr ptr, long size) {
            this.ptr = ptr;
            this.size = size;
        }
    }

    private final CUstream stream;
    private final Map<Long, ArrayDeque<Block>> freeLists = new HashMap<>();
    private long reserved, inUse;
    private int deviceAllocations;
    private List<Block> capture;

    DeviceArena(CUstream stream) { this.stream = stream; }

    static long bucket(long bytes) {
        long b = Math.max(bytes, 1);
        if (b <= (1 << 20)) return (b + 511) / 512 * 512;
        long step = Long.highestOneBit(b) / 8;
        return (b + step - 1) / step * step;
    }

    synchronized Block allocate(long bytes) {
        long size = bucket(bytes);
        ArrayDeque<Block> q = freeLists.get(size);
        Block b = q == null ? null : q.pollLast();
        if (b == null) b = fresh(size);
        b.free = false;
        inUse += size;
        if (capture != null) {
            b.captured = true;
            capture.add(b);
        }
        return b;
    }

    private Block fresh(long size) {
        CUdeviceptr p = new CUdeviceptr();
        int rc = JCudaDriver.cuMemAlloc(p, size);
        if (rc == CUresult.CUDA_ERROR_OUT_OF_MEMORY && capture == null) {
            trim();
            System.gc();   // tensors nobody closed return their blocks through the Cleaner
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            trim();
            rc = JCudaDriver.cuMemAlloc(p, size);
        }
        if (rc == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            throw new Cuda.CudaError("out of GPU memory allocating " + size + " bytes (" + inUse + " bytes in use by tensors)", rc);
        }
        Cuda.check(rc, "cuMemAlloc(" + size + ")");
        deviceAllocations++;
        reserved += size;
        return new Block(p, size);
    }

    synchronized void release(Block b) {
        if (b.free) return;
        b.free = true;
        inUse -= b.size;
        if (capture != null && !b.captured) {   // freed during a capture: the graph may still read it at replay
            b.captured = true;
            capture.add(b);
        }
        if (b.captured) return;          // owned by a captured graph until CapturedRun.close()
        freeLists.computeIfAbsent(b.size, k -> new ArrayDeque<>()).addLast(b);
    }

    /** Frees all cached (unused) blocks back to the driver. */
    synchronized void trim() {
        Cuda.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
        for (ArrayDeque<Block> q : freeLists.values()) {
            for (Block b : q) {
                JCudaDriver.cuMemFree(b.ptr);
                reserved -= b.size;
            }
        }
        freeLists.clear();
    }

    synchronized void beginCapture() {
        if (capture != null) throw new IllegalStateException("a capture is already in progress");
        capture = new ArrayList<>();
    }

    /** The blocks handed out during the capture; they stay out of circulation until {@link #returnCaptured}. */
    synchronized List<Block> endCapture() {
        List<Block> c = capture;
        capture = null;
        return c;
    }

    /** Puts a closed graph's blocks back into circulation (those whose tensors are closed). */
    synchronized void returnCaptured(List<Block> blocks) {
        for (Block b : blocks) {
            b.captured = false;
            if (b.free) freeLists.computeIfAbsent(b.size, k -> new ArrayDeque<>()).addLast(b);
        }
    }

    /** Number of cuMemAlloc calls so far (a steady-state loop must not increase it). */
    synchronized int deviceAllocations() { return deviceAllocations; }

    synchronized long reservedBytes() { return reserved; }

    synchronized long inUseBytes() { return inUse; }

    synchronized void close() {
        trim();
    }
}
