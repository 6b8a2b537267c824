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

    /**
     * acc[i] += element i widened to float64, for every element in row-major order (what adding {@code
     * toHost().getDouble(i)} gives); a backend may do it without a host copy of the whole tensor.
     */
    default void addTo(double[] acc) {
        HostTensor h = toHost();
        long n = h.numel();
        if (acc.length < n) throw new IllegalArgumentException("addTo: " + acc.length + " < " + n + " elements");
        for (int i = 0; i < n; i++) acc[i] += h.getDouble(i);
    }

    default long dim(int i) { return shape()[i]; }

    default int rank() { return shape().length; }

    default long numel() { return HostTensor.numel(shape()); }

    /** Releases backend memory early; using the tensor afterwards is an error. Optional for the CPU backend. */
    @Override
    default void close() {}
}
