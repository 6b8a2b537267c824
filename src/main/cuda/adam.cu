// One Adam step in place (PyTorch 2.x single-tensor form; spec §7; crd4j.backend.Backend#adamStep):
//   m ← m + (1−β1)(g − m);  v ← β2·v + (1−β2)·g²;  p ← p − lr/(1−β1^t) · m / (√v/√(1−β2^t) + eps)
// The scalars (1−β1, β2, 1−β2, √(1−β2^t), eps, lr/(1−β1^t)) are computed in float64 by the host and rounded to the
// tensor's dtype, and every operation is rounded in the tensor's dtype in the order written (no FMA contraction),
// which is what the CPU reference does elementwise.

#include "crd4j_kernels.h"

template <typename T> __device__ __forceinline__ T add_(T a, T b);
template <typename T> __device__ __forceinline__ T sub_(T a, T b);
template <typename T> __device__ __forceinline__ T mul_(T a, T b);
template <typename T> __device__ __forceinline__ T div_(T a, T b);
template <> __device__ __forceinline__ float add_(float a, float b) { return __fadd_rn(a, b); }
template <> __device__ __forceinline__ float sub_(float a, float b) { return __fsub_rn(a, b); }
template <> __device__ __forceinline__ float mul_(float a, float b) { return __fmul_rn(a, b); }
template <> __device__ __forceinline__ float div_(float a, float b) { return __fdiv_rn(a, b); }
template <> __device__ __forceinline__ double add_(double a, double b) { return __dadd_rn(a, b); }
template <> __device__ __forceinline__ double sub_(double a, double b) { return __dsub_rn(a, b); }
template <> __device__ __forceinline__ double mul_(double a, double b) { return __dmul_rn(a, b); }
template <> __device__ __forceinline__ double div_(double a, double b) { return __ddiv_rn(a, b); }

template <typename T>
__device__ void step(T* p, const T* g, T* m, T* v, long long n, T oneMinusB1, T b2, T oneMinusB2, T sqrtBc2, T eps, T stepSize) {
    long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    T gi = g[i];
    T mi = add_(m[i], mul_(sub_(gi, m[i]), oneMinusB1));
    T vi = add_(mul_(v[i], b2), mul_(mul_(gi, gi), oneMinusB2));
    m[i] = mi;
    v[i] = vi;
    T denom = add_(div_((T) sqrt(vi), sqrtBc2), eps);
    p[i] = sub_(p[i], mul_(div_(mi, denom), stepSize));
}

extern "C" {
__global__ void adam_step_f32(float* p, const float* g, float* m, float* v, long long n, float oneMinusB1, float b2,
                              float oneMinusB2, float sqrtBc2, float eps, float stepSize) {
    step<float>(p, g, m, v, n, oneMinusB1, b2, oneMinusB2, sqrtBc2, eps, stepSize);
}
__global__ void adam_step_f64(double* p, const double* g, double* m, double* v, long long n, double oneMinusB1, double b2,
                              double oneMinusB2, double sqrtBc2, double eps, double stepSize) {
    step<double>(p, g, m, v, n, oneMinusB1, b2, oneMinusB2, sqrtBc2, eps, stepSize);
}
}
