package crd4j.backend.cuda;

import crd4j.backend.Tensor;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import jcuda.driver.CUdeviceptr;

import java.lang.ref.Cleaner;
import java.util.Arrays;

/**
 * A dense NCHW tensor in device memory, float32 or float64. Its block returns to the backend's arena on
 * {@link #close()} or, for a tensor nobody closed, when it is garbage-collected.
 */
final class CudaTensor implements Tensor {
    private static final Cleaner CLEANER = Cleaner.create();

    final CudaBackend backend;
    private final long[] shape;
    private final DType dtype;
    private final State state;
    private final Cleaner.Cleanable cleanable;

    /** What the cleaner needs; it must not reference the tensor. */
    private static final class State implements Runnable {
        final DeviceArena arena;
        DeviceArena.Block block;

        State(DeviceArena arena, DeviceArena.Block block) {
            this.arena = arena;
            this.block = block;
        }

        @Override
        public synchronized void run() {
            if (block != null) arena.release(block);
            block = null;
        }
    }

    CudaTensor(CudaBackend backend, DeviceArena.Block block, DType dtype, long[] shape) {
        this.backend = backend;
        this.shape = shape.clone();
        this.dtype = dtype;
        this.state = new State(backend.arena, block);
        this.cleanable = CLEANER.register(this, state);
    }

    CUdeviceptr ptr() {
        DeviceArena.Block b = state.block;
        if (b == null) throw new IllegalStateException("tensor " + this + " was closed");
        return b.ptr;
    }

    DeviceArena.Block block() { return state.block; }

    long bytes() { return numel() * dtype.bytes(); }

    @Override
    public long[] shape() { return shape.clone(); }

    @Override
    public DType dtype() { return dtype; }

    @Override
    public long numel() { return HostTensor.numel(shape); }

    @Override
    public HostTensor toHost() { return backend.download(this); }

    @Override
    public void close() { cleanable.clean(); }

    boolean closed() { return state.block == null; }

    @Override
    public String toString() { return "CudaTensor" + Arrays.toString(shape) + " " + dtype; }
}
