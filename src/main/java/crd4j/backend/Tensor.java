package crd4j.backend;

import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

/**
 * A tensor owned by a {@link Backend}: host memory for the CPU reference, device memory for CUDA. Layout is
 * always dense NCHW (row-major). Tensors are mutable only through the backend's in-place operations.
 */
public interface Tensor extends AutoCloseable {
    long[] shape();

    DType dtype();

    /** Copies the contents to the host. */
    HostTensor toHost();

    default long dim(int i) { return shape()[i]; }

    default int rank() { return shape().length; }

    default long numel() { return HostTensor.numel(shape()); }

    /** Releases backend memory early; using the tensor afterwards is an error. Optional for the CPU backend. */
    @Override
    default void close() {}
}
