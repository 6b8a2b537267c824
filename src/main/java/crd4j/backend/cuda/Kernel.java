package crd4j.backend.cuda;

/**
 * A typed handle for one {@code extern "C" __global__} kernel of one .cu family ({@link KernelFamily}): the backend
 * launches kernels by handle ({@link CudaKernels#launch}), never by a name string, so every kernel it can launch is
 * a declared constant that KernelBuildCheckTest checks against the source.
 */
record Kernel(KernelFamily family, String name) {
    @Override
    public String toString() { return family.module() + ".cu:" + name; }
}
