// Flattened per-sample cosine loss of spec §4.3 for one level, and its gradient with respect to the student s.
//
//   cos_n = <s_n, t_n> / (max(‖s_n‖, eps) · max(‖t_n‖, eps)),  loss_n = 1 − cos_n,  eps = 1e-8
//   d(mean_n loss_n)/ds_n = −1/N · (t̂ − cos·s/‖s‖)/‖s‖   (‖s‖ > eps),   −1/N · t̂/eps otherwise,   t̂ = t/max(‖t‖, eps)
//
// Two launches, both deterministic (same inputs, same bits, on every run and grid size of a given GPU):
//  1. cosine_loss_partials: grid (P, N). Block b of sample n owns the contiguous chunk [b·chunk, (b+1)·chunk) of the
//     D = C·H·W flattened values. Each thread sums its strided elements (i = chunkStart + tid + k·blockDim) in
//     float64, the block reduces its 256 thread sums by a fixed binary tree, and writes (Σs², Σt², Σs·t) for (n, b).
//  2. cosine_loss_finish: grid (G, N). Every block re-adds the P partials of its sample in index order b = 0..P−1
//     (the same order in every block, so every block sees the same cos), block (0, n) writes loss_n, and each
//     thread writes the gradient of its elements. The host sums loss_n in order n = 0..N−1 and divides by N.
// All arithmetic is float64; the gradient is rounded to the tensor's dtype once.

#define EPS 1e-8
#include "crd4j_kernels.h"

__device__ __forceinline__ void block_sum3(double* sh, double a, double b, double c, double* out) {
    int t = threadIdx.x;
    sh[t] = a; sh[THREADS + t] = b; sh[2 * THREADS + t] = c;
    __syncthreads();
    for (int s = THREADS / 2; s > 0; s >>= 1) {
        if (t < s) {
            sh[t] += sh[t + s];
            sh[THREADS + t] += sh[THREADS + t + s];
            sh[2 * THREADS + t] += sh[2 * THREADS + t + s];
        }
        __syncthreads();
    }
    if (t == 0) { out[0] = sh[0]; out[1] = sh[THREADS]; out[2] = sh[2 * THREADS]; }
}

template <typename T>
__device__ void partials(const T* __restrict__ s, const T* __restrict__ t, long long d, long long chunk,
                         double* __restrict__ partial) {
    __shared__ double sh[3 * THREADS];
    int n = blockIdx.y, b = blockIdx.x, P = gridDim.x;
    const T* sn = s + (long long) n * d;
    const T* tn = t + (long long) n * d;
    long long start = (long long) b * chunk, end = min(start + chunk, d);
    double ss = 0, tt = 0, st = 0;
    for (long long i = start + threadIdx.x; i < end; i += THREADS) {
        double a = (double) sn[i], c = (double) tn[i];
        ss += a * a; tt += c * c; st += a * c;
    }
    block_sum3(sh, ss, tt, st, partial + 3 * ((long long) n * P + b));
}

template <typename T>
__device__ void finish(const T* __restrict__ s, const T* __restrict__ t, long long d, const double* __restrict__ partial,
                       int P, int batch, double* __restrict__ loss, T* __restrict__ grad) {
    __shared__ double stats[3];
    int n = blockIdx.y;
    if (threadIdx.x == 0) {
        double ss = 0, tt = 0, st = 0;
        const double* p = partial + 3LL * n * P;
        for (int b = 0; b < P; b++) { ss += p[3 * b]; tt += p[3 * b + 1]; st += p[3 * b + 2]; }
        double sn = sqrt(ss), tn = sqrt(tt);
        double cs = st / (fmax(sn, EPS) * fmax(tn, EPS));
        stats[0] = sn; stats[1] = fmax(tn, EPS); stats[2] = cs;
        if (blockIdx.x == 0) loss[n] = 1.0 - cs;
    }
    if (grad == nullptr) return;
    __syncthreads();
    double sn = stats[0], nt = stats[1], cs = stats[2], scale = -1.0 / batch;
    const T* sp = s + (long long) n * d;
    const T* tp = t + (long long) n * d;
    T* gp = grad + (long long) n * d;
    for (long long i = (long long) blockIdx.x * THREADS + threadIdx.x; i < d; i += (long long) gridDim.x * THREADS) {
        double that = (double) tp[i] / nt;
        double dc = sn > EPS ? (that - cs * (double) sp[i] / sn) / sn : that / EPS;
        gp[i] = (T) (scale * dc);
    }
}

extern "C" {
__global__ void cosine_loss_partials_f32(const float* s, const float* t, long long d, long long chunk, double* partial) {
    partials<float>(s, t, d, chunk, partial);
}
__global__ void cosine_loss_partials_f64(const double* s, const double* t, long long d, long long chunk, double* partial) {
    partials<double>(s, t, d, chunk, partial);
}
__global__ void cosine_loss_finish_f32(const float* s, const float* t, long long d, const double* partial, int P,
                                       int batch, double* loss, float* grad) {
    finish<float>(s, t, d, partial, P, batch, loss, grad);
}
__global__ void cosine_loss_finish_f64(const double* s, const double* t, long long d, const double* partial, int P,
                                       int batch, double* loss, double* grad) {
    finish<double>(s, t, d, partial, P, batch, loss, grad);
}
}
