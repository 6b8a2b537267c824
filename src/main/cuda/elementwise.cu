// Elementwise glue, pooling, the k2s2 transposed-convolution scatter/gather for the cuBLAS path, and the float64
// dot-product reduction. Each op rounds in the tensor's dtype as the CPU reference (Nd4jBackend) does, every product
// and sum rounded on its own: build.sh compiles every kernel with -fmad=false, so nvcc never contracts a·b + c into
// one FMA (the CPU reference does not either).

#include "crd4j_kernels.h"

#define GRID_LOOP(i, n) for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
                             i += (long long) gridDim.x * blockDim.x)

template <typename T> __device__ void add_k(const T* a, const T* b, T* y, long long n) { GRID_LOOP(i, n) y[i] = a[i] + b[i]; }
template <typename T> __device__ void axpby_k(T alpha, const T* a, T beta, const T* b, T* y, long long n) {
    GRID_LOOP(i, n) y[i] = a[i] * alpha + b[i] * beta;
}
template <typename T> __device__ void relu_k(const T* x, T* y, long long n) {
    GRID_LOOP(i, n) { T v = x[i]; y[i] = v > (T) 0 ? v : (v != v ? v : (T) 0); }
}
template <typename T> __device__ void relu_back_k(const T* y, const T* gy, T* gx, long long n) {
    GRID_LOOP(i, n) gx[i] = y[i] > (T) 0 ? gy[i] : gy[i] * (T) 0;
}

// 3×3, stride 2, padding 1, −∞ padding; a NaN in the window wins (the CPU reference's rule).
template <typename T> __device__ void maxpool_k(const T* x, int planes, int h, int w, int oh, int ow, T* y) {
    GRID_LOOP(i, (long long) planes * oh * ow) {
        int p = (int) (i / ((long long) oh * ow)), r = (int) (i % ((long long) oh * ow)), oi = r / ow, oj = r % ow;
        const T* xp = x + (long long) p * h * w;
        T m = -INFINITY;
        for (int dy = -1; dy <= 1; dy++) {
            int yy = 2 * oi + dy;
            if (yy < 0 || yy >= h) continue;
            for (int dx = -1; dx <= 1; dx++) {
                int xx = 2 * oj + dx;
                if (xx < 0 || xx >= w) continue;
                T v = xp[yy * w + xx];
                if (v > m || v != v) m = v;
            }
        }
        y[i] = m;
    }
}

// cuBLAS path of ConvTranspose2d k2 s2: the GEMM gives cols[n][o][a][b][h·w] (= Wᵀ·x per sample); scatter places
// out[n][o][2i+a][2j+b] = cols[n][o][a][b][i][j]. gather is its adjoint (for the backward-data GEMM).
template <typename T> __device__ void deconv_scatter_k(const T* cols, int N, int O, int h, int w, T* out) {
    GRID_LOOP(i, (long long) N * O * 4 * h * w) {
        long long hw = (long long) h * w;
        int j = (int) (i % w), ii = (int) ((i / w) % h);
        int ab = (int) ((i / hw) % 4);
        long long no = i / (4 * hw);
        out[no * 4 * hw + (long long) (2 * ii + ab / 2) * (2 * w) + 2 * j + ab % 2] = cols[i];
    }
}
template <typename T> __device__ void deconv_gather_k(const T* gy, int N, int O, int h, int w, T* cols) {
    GRID_LOOP(i, (long long) N * O * 4 * h * w) {
        long long hw = (long long) h * w;
        int j = (int) (i % w), ii = (int) ((i / w) % h);
        int ab = (int) ((i / hw) % 4);
        long long no = i / (4 * hw);
        cols[i] = gy[no * 4 * hw + (long long) (2 * ii + ab / 2) * (2 * w) + 2 * j + ab % 2];
    }
}

// Σ a·b in float64: per-block partials (thread-strided sums, fixed binary tree); reduce_partials adds the block
// partials in index order with one thread, so the result does not depend on scheduling.
template <typename T> __device__ void dot_k(const T* a, const T* b, long long n, double* partial) {
    __shared__ double sh[THREADS];
    double s = 0;
    for (long long i = (long long) blockIdx.x * THREADS + threadIdx.x; i < n; i += (long long) gridDim.x * THREADS)
        s += (double) a[i] * (double) b[i];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = sh[0];
}

extern "C" {
__global__ void add_f32(const float* a, const float* b, float* y, long long n) { add_k(a, b, y, n); }
__global__ void add_f64(const double* a, const double* b, double* y, long long n) { add_k(a, b, y, n); }
__global__ void axpby_f32(float al, const float* a, float be, const float* b, float* y, long long n) { axpby_k(al, a, be, b, y, n); }
__global__ void axpby_f64(double al, const double* a, double be, const double* b, double* y, long long n) { axpby_k(al, a, be, b, y, n); }
__global__ void relu_f32(const float* x, float* y, long long n) { relu_k(x, y, n); }
__global__ void relu_f64(const double* x, double* y, long long n) { relu_k(x, y, n); }
__global__ void relu_backward_f32(const float* y, const float* gy, float* gx, long long n) { relu_back_k(y, gy, gx, n); }
__global__ void relu_backward_f64(const double* y, const double* gy, double* gx, long long n) { relu_back_k(y, gy, gx, n); }
__global__ void maxpool3x3s2p1_f32(const float* x, int planes, int h, int w, int oh, int ow, float* y) { maxpool_k(x, planes, h, w, oh, ow, y); }
__global__ void maxpool3x3s2p1_f64(const double* x, int planes, int h, int w, int oh, int ow, double* y) { maxpool_k(x, planes, h, w, oh, ow, y); }
__global__ void deconv_scatter_f32(const float* c, int N, int O, int h, int w, float* y) { deconv_scatter_k(c, N, O, h, w, y); }
__global__ void deconv_scatter_f64(const double* c, int N, int O, int h, int w, double* y) { deconv_scatter_k(c, N, O, h, w, y); }
__global__ void deconv_gather_f32(const float* g, int N, int O, int h, int w, float* c) { deconv_gather_k(g, N, O, h, w, c); }
__global__ void deconv_gather_f64(const double* g, int N, int O, int h, int w, double* c) { deconv_gather_k(g, N, O, h, w, c); }
__global__ void dot_partials_f32(const float* a, const float* b, long long n, double* partial) { dot_k(a, b, n, partial); }
__global__ void dot_partials_f64(const double* a, const double* b, long long n, double* partial) { dot_k(a, b, n, partial); }
// out[k] = Σ_b partial[b·width + k] for k < width, b = 0..count−1 in order (one thread per k).
__global__ void reduce_partials(const double* partial, int count, int width, double* out) {
    int k = threadIdx.x;
    if (k >= width) return;
    double s = 0;
    for (int b = 0; b < count; b++) s += partial[(long long) b * width + k];
    out[k] = s;
}
}
