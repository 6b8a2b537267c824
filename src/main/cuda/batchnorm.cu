// Batch norm (spec §1, §7; crd4j.backend.Backend#batchNormTrain/Eval/Backward) with the CPU reference's numerics:
// statistics in float64 by two passes (mean, then the mean of squared deviations = biased variance), running
// statistics updated with the unbiased variance and momentum (r ← (1−m)·r + m·batch, in float64, rounded to the
// buffer's dtype), normalisation evaluated in float64 and rounded once. cuDNN's batch norm accumulates in float32
// and fuses the update differently, so these kernels replace it (issue 4 allows own kernels where semantics differ).
//
// Reductions over one channel (count = N·H·W values) run on a grid (C, P): block b of channel c takes the
// contiguous index range [b·chunk, (b+1)·chunk) of that channel's values (index e ↦ n = e / HW, p = e % HW),
// thread-strided float64 sums, a fixed binary tree in the block, partial[c][b]; a one-thread-per-channel kernel then
// adds partial[c][0..P−1] in order. Deterministic for a given P; the host chooses P from count alone.

#include "crd4j_kernels.h"

__device__ __forceinline__ double tree(double* sh, double v) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

#define CHANNEL_LOOP(e) long long chunk = (count + gridDim.y - 1) / gridDim.y; \
    long long e0 = (long long) blockIdx.y * chunk, e1 = min(e0 + chunk, count); \
    for (long long e = e0 + threadIdx.x; e < e1; e += THREADS)
#define AT(x, e) x[((e) / HW * C + c) * HW + (e) % HW]

// pass 1: Σx per (c, b) (mean == nullptr) or pass 2: Σ(x − mean_c)²
template <typename T> __device__ void stats_k(const T* x, int C, long long HW, long long count, const double* mean, double* partial) {
    __shared__ double sh[THREADS];
    int c = blockIdx.x;
    double s = 0;
    double mu = mean ? mean[c] : 0.0;
    CHANNEL_LOOP(e) {
        double v = (double) AT(x, e);
        if (mean) { v -= mu; s += v * v; } else s += v;
    }
    double r = tree(sh, s);
    if (threadIdx.x == 0) partial[(long long) c * gridDim.y + blockIdx.y] = r;
}

// pass 2 of backward: Σgy and Σgy·x̂ per (c, b), x̂ = (x − mean)·invStd in float64
template <typename T> __device__ void back_stats_k(const T* x, const T* gy, int C, long long HW, long long count,
                                                   const double* mean, const double* invStd, double* partial) {
    __shared__ double sh[THREADS];
    int c = blockIdx.x;
    double sg = 0, sgx = 0, mu = mean[c], is = invStd[c];
    CHANNEL_LOOP(e) {
        double g = (double) AT(gy, e), xh = ((double) AT(x, e) - mu) * is;
        sg += g;
        sgx += g * xh;
    }
    double a = tree(sh, sg), b = tree(sh, sgx);
    if (threadIdx.x == 0) {
        partial[2 * ((long long) c * gridDim.y + blockIdx.y)] = a;
        partial[2 * ((long long) c * gridDim.y + blockIdx.y) + 1] = b;
    }
}

// y = (x − mean)·(invStd·γ) + β in float64, rounded once (train mode)
template <typename T, typename P> __device__ void apply_train_k(const T* x, int C, long long HW, long long total,
        const double* mean, const double* invStd, const P* gamma, const P* beta, T* y) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        int c = (int) ((i / HW) % C);
        double scale = invStd[c] * (double) gamma[c];
        y[i] = (T) (((double) x[i] - mean[c]) * scale + (double) beta[c]);
    }
}

// eval mode, two launches: bn_eval_prepare computes per channel α = (rv + eps)^−½·γ and shift = β − rm·α in float64
// and rounds both to T (one thread per channel: the float64 work is C operations, not one per element, which
// matters on GPUs with slow float64); bn_eval_apply then computes y = x·α + shift in T, as the CPU reference does.
template <typename T> __device__ void prepare_eval_k(const T* gamma, const T* beta, const T* rm, const T* rv, int C, double eps, T* ab) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double a = pow((double) rv[c] + eps, -0.5) * (double) gamma[c];
    ab[c] = (T) a;
    ab[C + c] = (T) ((double) beta[c] - (double) rm[c] * a);
}
template <typename T> __device__ void apply_eval_k(const T* x, int C, long long HW, long long total, const T* ab, T* y) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        int c = (int) ((i / HW) % C);
        T prod = x[i] * ab[c];
        y[i] = prod + ab[C + c];
    }
}

// dx = (M·gy − Σgy − x̂·Σ(gy·x̂)) · (γ·invStd/M), float64, rounded once
template <typename T, typename P> __device__ void apply_back_k(const T* x, const T* gy, int C, long long HW, long long total,
        double M, const double* mean, const double* invStd, const P* gamma, const double* sums, T* dx) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        int c = (int) ((i / HW) % C);
        double is = invStd[c];
        double xh = ((double) x[i] - mean[c]) * is;
        double v = (double) gy[i] * M - sums[2 * c] - xh * sums[2 * c + 1];
        dx[i] = (T) (v * ((double) gamma[c] * is / M));
    }
}

extern "C" {
__global__ void bn_stats_f32(const float* x, int C, long long HW, long long count, const double* mean, double* partial) { stats_k(x, C, HW, count, mean, partial); }
__global__ void bn_stats_f64(const double* x, int C, long long HW, long long count, const double* mean, double* partial) { stats_k(x, C, HW, count, mean, partial); }

// One thread per channel: mean (pass 1) → mean[c]; or, after pass 2, var → invStd[c] and the running statistics.
__global__ void bn_finish_mean(const double* partial, int C, int P, long long count, double* mean) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double s = 0;
    for (int b = 0; b < P; b++) s += partial[(long long) c * P + b];
    mean[c] = s / (double) count;
}
__global__ void bn_finish_var_f32(const double* partial, int C, int P, long long count, const double* mean, double eps,
                                  double momentum, double* invStd, float* runMean, float* runVar) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double s = 0;
    for (int b = 0; b < P; b++) s += partial[(long long) c * P + b];
    double var = s / (double) count;
    invStd[c] = pow(var + eps, -0.5);
    double unbiased = var * ((double) count / (double) (count - 1));
    runMean[c] = (float) ((double) runMean[c] * (1 - momentum) + mean[c] * momentum);
    runVar[c] = (float) ((double) runVar[c] * (1 - momentum) + unbiased * momentum);
}
__global__ void bn_finish_var_f64(const double* partial, int C, int P, long long count, const double* mean, double eps,
                                  double momentum, double* invStd, double* runMean, double* runVar) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double s = 0;
    for (int b = 0; b < P; b++) s += partial[(long long) c * P + b];
    double var = s / (double) count;
    invStd[c] = pow(var + eps, -0.5);
    double unbiased = var * ((double) count / (double) (count - 1));
    runMean[c] = runMean[c] * (1 - momentum) + mean[c] * momentum;
    runVar[c] = runVar[c] * (1 - momentum) + unbiased * momentum;
}

__global__ void bn_apply_train_f32(const float* x, int C, long long HW, long long total, const double* mean, const double* invStd,
                                   const float* gamma, const float* beta, float* y) { apply_train_k(x, C, HW, total, mean, invStd, gamma, beta, y); }
__global__ void bn_apply_train_f64(const double* x, int C, long long HW, long long total, const double* mean, const double* invStd,
                                   const double* gamma, const double* beta, double* y) { apply_train_k(x, C, HW, total, mean, invStd, gamma, beta, y); }
__global__ void bn_eval_prepare_f32(const float* gamma, const float* beta, const float* rm, const float* rv, int C, double eps, float* ab) {
    prepare_eval_k(gamma, beta, rm, rv, C, eps, ab);
}
__global__ void bn_eval_prepare_f64(const double* gamma, const double* beta, const double* rm, const double* rv, int C, double eps, double* ab) {
    prepare_eval_k(gamma, beta, rm, rv, C, eps, ab);
}
__global__ void bn_eval_apply_f32(const float* x, int C, long long HW, long long total, const float* ab, float* y) { apply_eval_k(x, C, HW, total, ab, y); }
__global__ void bn_eval_apply_f64(const double* x, int C, long long HW, long long total, const double* ab, double* y) { apply_eval_k(x, C, HW, total, ab, y); }

__global__ void bn_back_stats_f32(const float* x, const float* gy, int C, long long HW, long long count, const double* mean,
                                  const double* invStd, double* partial) { back_stats_k(x, gy, C, HW, count, mean, invStd, partial); }
__global__ void bn_back_stats_f64(const double* x, const double* gy, int C, long long HW, long long count, const double* mean,
                                  const double* invStd, double* partial) { back_stats_k(x, gy, C, HW, count, mean, invStd, partial); }
// sums[2c] = Σgy (dβ), sums[2c+1] = Σgy·x̂ (dγ) in float64; dgamma/dbeta rounded to the parameter dtype
__global__ void bn_back_finish_f32(const double* partial, int C, int P, double* sums, float* dgamma, float* dbeta) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double a = 0, b = 0;
    for (int k = 0; k < P; k++) { a += partial[2 * ((long long) c * P + k)]; b += partial[2 * ((long long) c * P + k) + 1]; }
    sums[2 * c] = a; sums[2 * c + 1] = b;
    dbeta[c] = (float) a; dgamma[c] = (float) b;
}
__global__ void bn_back_finish_f64(const double* partial, int C, int P, double* sums, double* dgamma, double* dbeta) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double a = 0, b = 0;
    for (int k = 0; k < P; k++) { a += partial[2 * ((long long) c * P + k)]; b += partial[2 * ((long long) c * P + k) + 1]; }
    sums[2 * c] = a; sums[2 * c + 1] = b;
    dbeta[c] = a; dgamma[c] = b;
}
__global__ void bn_apply_back_f32(const float* x, const float* gy, int C, long long HW, long long total, double M, const double* mean,
                                  const double* invStd, const float* gamma, const double* sums, float* dx) {
    apply_back_k(x, gy, C, HW, total, M, mean, invStd, gamma, sums, dx);
}
__global__ void bn_apply_back_f64(const double* x, const double* gy, int C, long long HW, long long total, double M, const double* mean,
                                  const double* invStd, const double* gamma, const double* sums, double* dx) {
    apply_back_k(x, gy, C, HW, total, M, mean, invStd, gamma, sums, dx);
}
}
