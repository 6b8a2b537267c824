// Shared by every kernel source of crd4j (src/main/cuda/*.cu) and mirrored by the Java launchers: THREADS is the
// block size every launch uses (crd4j.backend.cuda.CudaKernels.THREADS; KernelBuildCheckTest checks they agree) and
// the size of the per-block shared-memory reductions. A change here changes the hash of every .cu that includes it
// (build.sh hashes a source together with the local headers it includes), so every kernel is rebuilt.
#ifndef CRD4J_KERNELS_H
#define CRD4J_KERNELS_H

#define THREADS 256

#endif
