// Softmax fusion of one decoder stage (spec §5.4, crd4j.autograd.Graph#fuse): ω = softmax(w) computed on the host
// (two scalars, crd4j.autograd.FusionWeights), out = ω0·r + ω1·q.
// fusion_forward: out = (T)ω0·r + (T)ω1·q, each product and the sum rounded in the tensor's dtype, as the CPU's
//   axpby does.
// fusion_backward: one pass over gy, r, q giving dr = ω0·gy, dq = ω1·gy (either may be skipped with a null pointer)
//   and, when `partial` is given, per-block float64 partial sums of <gy, r> and <gy, q> for the logits' gradient
//   (dL/dw0 = ω0ω1(<gy,r> − <gy,q>) = −dL/dw1), reduced in a fixed order: thread-strided sums, a binary tree in the
//   block, then the host (or reduce_partials in elementwise.cu) adds the blocks in index order.

#include "crd4j_kernels.h"

template <typename T>
__device__ void forward(const T* r, const T* q, long long n, T w0, T w1, T* out) {
    long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    T a = r[i] * w0, b = q[i] * w1;   // separate statements: no FMA across the sum
    out[i] = a + b;
}

template <typename T>
__device__ void backward(const T* gy, const T* r, const T* q, long long n, T w0, T w1, T* dr, T* dq, double* partial) {
    __shared__ double sh[2 * THREADS];
    double sr = 0, sq = 0;
    long long stride = (long long) gridDim.x * THREADS;
    for (long long i = (long long) blockIdx.x * THREADS + threadIdx.x; i < n; i += stride) {
        T g = gy[i];
        if (dr) dr[i] = g * w0;
        if (dq) dq[i] = g * w1;
        if (partial) { sr += (double) g * (double) r[i]; sq += (double) g * (double) q[i]; }
    }
    if (!partial) return;
    int t = threadIdx.x;
    sh[t] = sr; sh[THREADS + t] = sq;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (t < s) { sh[t] += sh[t + s]; sh[THREADS + t] += sh[THREADS + t + s]; }
        __syncthreads();
    }
    if (t == 0) { partial[2 * blockIdx.x] = sh[0]; partial[2 * blockIdx.x + 1] = sh[THREADS]; }
}

extern "C" {
__global__ void fusion_forward_f32(const float* r, const float* q, long long n, float w0, float w1, float* out) {
    forward<float>(r, q, n, w0, w1, out);
}
__global__ void fusion_forward_f64(const double* r, const double* q, long long n, double w0, double w1, double* out) {
    forward<double>(r, q, n, w0, w1, out);
}
__global__ void fusion_backward_f32(const float* gy, const float* r, const float* q, long long n, float w0, float w1,
                                    float* dr, float* dq, double* partial) {
    backward<float>(gy, r, q, n, w0, w1, dr, dq, partial);
}
__global__ void fusion_backward_f64(const double* gy, const double* r, const double* q, long long n, double w0, double w1,
                                    double* dr, double* dq, double* partial) {
    backward<double>(gy, r, q, n, w0, w1, dr, dq, partial);
}
}
