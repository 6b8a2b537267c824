package crd4j.nn;

import crd4j.tensor.HostTensor;

import java.util.function.Consumer;
import java.util.function.Supplier;

/** One named state-dict entry (parameter or buffer) with PyTorch's name, shape and dtype. */
public record StateEntry(String name, long[] shape, crd4j.tensor.DType dtype, boolean trainable,
                         Supplier<HostTensor> reader, Consumer<HostTensor> writer) {}
