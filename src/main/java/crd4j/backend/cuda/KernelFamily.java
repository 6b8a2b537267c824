package crd4j.backend.cuda;

import crd4j.backend.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The kernels of one source file {@code src/main/cuda/<module>.cu}, compiled into {@code <module>.fatbin} and loaded
 * as one CUDA module. Each launcher class (ElementwiseKernels, BatchNormKernels, …) owns one family and declares its
 * kernels as constants; {@link CudaKernels#FAMILIES} lists them all.
 */
final class KernelFamily {
    private final String module;
    private final List<Kernel> kernels = new ArrayList<>();

    KernelFamily(String module) { this.module = module; }

    String module() { return module; }

    /** Every kernel declared so far (all of them once the owning launcher class is initialised). */
    List<Kernel> kernels() { return Collections.unmodifiableList(kernels); }

    Kernel kernel(String name) {
        Kernel k = new Kernel(this, name);
        kernels.add(k);
        return k;
    }

    /** A kernel instantiated for float32 ({@code name_f32}) and float64 ({@code name_f64}). */
    Typed typed(String name) { return new Typed(kernel(name + "_f32"), kernel(name + "_f64")); }

    record Typed(Kernel f32, Kernel f64) {
        /** The instantiation for {@code like}'s dtype (float32 or float64; any other is an error). */
        Kernel of(Tensor like) { return CudaArgs.f64(like) ? f64 : f32; }
    }

    @Override
    public String toString() { return module + ".cu"; }
}
