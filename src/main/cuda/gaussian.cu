// Separable Gaussian smoothing with scipy.ndimage.gaussian_filter semantics (SciPy 1.10, spec §8.3 step 2) on
// float64 maps [M, H, W]: axis 0 (down the columns) into a temporary, then axis 1 (along the rows).
// Border mode 'reflect' (half-sample symmetric, periodic with period 2n, so lines shorter than the radius work too),
// exactly crd4j.eval.GaussianFilter.reflect. Each output is w[r]·x[c] + Σ_{j=1..r} (x[c+j] + x[c−j])·w[r+j], added
// in that order with explicitly rounded operations (no FMA contraction), the CPU implementation's bits.
// The weights (2r+1 doubles, σ=4, truncate 4 → r=16, 33 taps) come from the host (GaussianFilter.kernel).

#include "crd4j_kernels.h"

__device__ __forceinline__ int reflect_index(int i, int n) {
    int period = 2 * n;
    int m = i % period;
    if (m < 0) m += period;
    return m < n ? m : period - 1 - m;
}

extern "C" {
__global__ void gaussian_axis0(const double* in, int M, int H, int W, const double* w, int r, double* out) {
    long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long) M * H * W) return;
    long long plane = i / ((long long) H * W);
    int rem = (int) (i % ((long long) H * W)), row = rem / W, col = rem % W;
    const double* p = in + plane * H * W + col;
    double acc = __dmul_rn(p[(long long) row * W], w[r]);
    for (int j = 1; j <= r; j++) {
        double a = p[(long long) reflect_index(row + j, H) * W], b = p[(long long) reflect_index(row - j, H) * W];
        acc = __dadd_rn(acc, __dmul_rn(__dadd_rn(a, b), w[r + j]));
    }
    out[i] = acc;
}

__global__ void gaussian_axis1(const double* in, int M, int H, int W, const double* w, int r, double* out) {
    long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long) M * H * W) return;
    long long rowStart = (i / W) * W;
    int col = (int) (i % W);
    const double* p = in + rowStart;
    double acc = __dmul_rn(p[col], w[r]);
    for (int j = 1; j <= r; j++) {
        acc = __dadd_rn(acc, __dmul_rn(__dadd_rn(p[reflect_index(col + j, W)], p[reflect_index(col - j, W)]), w[r + j]));
    }
    out[i] = acc;
}
}
