// Per-branch raw anomaly map of spec §8.1 and the detector's normalisation/fusion (§8.3 step 1).
//
// cosine_distance_map: [N,C,H,W] × [N,C,H,W] → [N,1,H,W], 1 − cos over channels per pixel (eps 1e-8). One thread
//   per (n, pixel); the channel sums run c = 0..C−1 in float64 (the CPU reference's order), consecutive threads
//   read consecutive pixels (coalesced). The result is rounded to the tensor's dtype, as on the CPU.
// upsample_bilinear_ac: align_corners=True bilinear resize in the tensor's dtype. For float32 the scale, the source
//   coordinate, λ and 1−λ are float32 values and each of the two interpolation steps is evaluated in float64 and
//   rounded to float32 once, exactly as crd4j's CPU reference (Nd4jBackend) does; __dmul_rn/__dadd_rn keep nvcc from
//   contracting the products into FMAs, so the GPU reproduces the CPU bits.
// upsample_accumulate: the same interpolation of a [N,1,h,w] level map, added into a float64 [N,S,S] accumulator
//   (levels are launched in order 64², 32², 16², as §8.1 requires).
// normalise_accumulate: one branch's (M_b − μ_b)/σ_b into its own plane and into the fused sum (any number of branches).

#include "crd4j_kernels.h"

#define EPS 1e-8

template <typename T>
__device__ void distance(const T* __restrict__ s, const T* __restrict__ t, int N, int C, long long HW, T* __restrict__ out) {
    long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long) N * HW) return;
    long long n = i / HW, p = i % HW;
    const T* sp = s + n * C * HW + p;
    const T* tp = t + n * C * HW + p;
    double ss = 0, tt = 0, st = 0;
    for (int c = 0; c < C; c++) {
        double a = (double) sp[c * HW], b = (double) tp[c * HW];
        ss = __dadd_rn(ss, __dmul_rn(a, a));
        tt = __dadd_rn(tt, __dmul_rn(b, b));
        st = __dadd_rn(st, __dmul_rn(a, b));
    }
    out[i] = (T) (1.0 - st / (fmax(sqrt(ss), EPS) * fmax(sqrt(tt), EPS)));
}

// One bilinear sample at (i, j) of plane `in` (h×w), with CPU-identical rounding.
__device__ __forceinline__ double sample_f32(const float* in, int h, int w, float sh, float sw, int i, int j) {
    float src = __fmul_rn(sh, (float) i);
    int y0 = (int) src, y1 = y0 + (y0 < h - 1 ? 1 : 0);
    float ly = __fsub_rn(src, (float) y0), ly0 = __fsub_rn(1.0f, ly);
    float srcx = __fmul_rn(sw, (float) j);
    int x0 = (int) srcx, x1 = x0 + (x0 < w - 1 ? 1 : 0);
    float lx = __fsub_rn(srcx, (float) x0), lx0 = __fsub_rn(1.0f, lx);
    float top = (float) __dadd_rn(__dmul_rn(lx0, in[y0 * w + x0]), __dmul_rn(lx, in[y0 * w + x1]));
    float bottom = (float) __dadd_rn(__dmul_rn(lx0, in[y1 * w + x0]), __dmul_rn(lx, in[y1 * w + x1]));
    return (double) (float) __dadd_rn(__dmul_rn(ly0, top), __dmul_rn(ly, bottom));
}

__device__ __forceinline__ double sample_f64(const double* in, int h, int w, double sh, double sw, int i, int j) {
    double src = __dmul_rn(sh, (double) i);
    int y0 = (int) src, y1 = y0 + (y0 < h - 1 ? 1 : 0);
    double ly = __dsub_rn(src, (double) y0), ly0 = __dsub_rn(1.0, ly);
    double srcx = __dmul_rn(sw, (double) j);
    int x0 = (int) srcx, x1 = x0 + (x0 < w - 1 ? 1 : 0);
    double lx = __dsub_rn(srcx, (double) x0), lx0 = __dsub_rn(1.0, lx);
    double top = __dadd_rn(__dmul_rn(lx0, in[y0 * w + x0]), __dmul_rn(lx, in[y0 * w + x1]));
    double bottom = __dadd_rn(__dmul_rn(lx0, in[y1 * w + x0]), __dmul_rn(lx, in[y1 * w + x1]));
    return __dadd_rn(__dmul_rn(ly0, top), __dmul_rn(ly, bottom));
}

extern "C" {
__global__ void cosine_distance_map_f32(const float* s, const float* t, int N, int C, long long HW, float* out) {
    distance<float>(s, t, N, C, HW, out);
}
__global__ void cosine_distance_map_f64(const double* s, const double* t, int N, int C, long long HW, double* out) {
    distance<double>(s, t, N, C, HW, out);
}

// planes = N·C; sh, sw: (in−1)/(out−1) rounded to the dtype by the host (0 when out == 1)
__global__ void upsample_bilinear_ac_f32(const float* in, int planes, int h, int w, int oh, int ow, float sh, float sw, float* out) {
    long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long) planes * oh * ow) return;
    int p = (int) (i / ((long long) oh * ow)), r = (int) (i % ((long long) oh * ow));
    out[i] = (float) sample_f32(in + (long long) p * h * w, h, w, sh, sw, r / ow, r % ow);
}
__global__ void upsample_bilinear_ac_f64(const double* in, int planes, int h, int w, int oh, int ow, double sh, double sw, double* out) {
    long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long) planes * oh * ow) return;
    int p = (int) (i / ((long long) oh * ow)), r = (int) (i % ((long long) oh * ow));
    out[i] = sample_f64(in + (long long) p * h * w, h, w, sh, sw, r / ow, r % ow);
}
__global__ void upsample_accumulate_f32(const float* in, int planes, int h, int w, int size, float sh, float sw, double* acc) {
    long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long) planes * size * size) return;
    int p = (int) (i / ((long long) size * size)), r = (int) (i % ((long long) size * size));
    acc[i] = __dadd_rn(acc[i], sample_f32(in + (long long) p * h * w, h, w, sh, sw, r / size, r % size));
}
__global__ void upsample_accumulate_f64(const double* in, int planes, int h, int w, int size, double sh, double sw, double* acc) {
    long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long) planes * size * size) return;
    int p = (int) (i / ((long long) size * size)), r = (int) (i % ((long long) size * size));
    acc[i] = __dadd_rn(acc[i], sample_f64(in + (long long) p * h * w, h, w, sh, sw, r / size, r % size));
}

// One branch of the fused map: alone[i] = (raw[i] − μ)/σ, and fused[i] = alone[i] (first branch) or
// fused[i] + alone[i] (later branches). Launched once per branch in branch order, so the sum has the CPU's order.
__global__ void normalise_accumulate(const double* raw, long long count, double mu, double sd, int first,
                                     double* fused, double* alone) {
    long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count) return;
    double n = __ddiv_rn(__dsub_rn(raw[i], mu), sd);
    alone[i] = n;
    fused[i] = first ? n : __dadd_rn(fused[i], n);
}
}
