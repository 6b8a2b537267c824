package crd4j.backend.cuda;

import crd4j.backend.Tensor;
import crd4j.tensor.DType;
import jcuda.Pointer;

import java.util.List;

import static crd4j.backend.cuda.CudaArgs.alignScale;
import static crd4j.backend.cuda.CudaArgs.f64v;
import static crd4j.backend.cuda.CudaArgs.i32;
import static crd4j.backend.cuda.CudaArgs.i64;
import static crd4j.backend.cuda.CudaArgs.p;
import static crd4j.backend.cuda.CudaArgs.sameShape;

/**
 * The launchers of src/main/cuda/cosine_map.cu: the per-pixel cosine distance map, align_corners bilinear
 * upsampling, the fused raw anomaly map (upsample and accumulate in float64) and the normalise-and-sum of the branch
 * maps.
 */
final class CosineMapKernels {
    static final KernelFamily FAMILY = new KernelFamily("cosine_map");
    static final KernelFamily.Typed DISTANCE_MAP = FAMILY.typed("cosine_distance_map"),
            UPSAMPLE = FAMILY.typed("upsample_bilinear_ac"), UPSAMPLE_ACCUMULATE = FAMILY.typed("upsample_accumulate");
    static final Kernel NORMALISE_ACCUMULATE = FAMILY.kernel("normalise_accumulate");

    private final CudaBackend be;

    CosineMapKernels(CudaBackend be) { this.be = be; }

    Tensor cosineDistanceMap(Tensor st, Tensor tt) {
        sameShape(st, tt);
        long[] s = st.shape();
        long hw = s[2] * s[3];
        CudaTensor out = be.allocate(st.dtype(), s[0], 1, s[2], s[3]);
        be.kernels.launch(DISTANCE_MAP.of(st), CudaKernels.blocks(s[0] * hw), 1, CudaKernels.THREADS,
                p(st), p(tt), i32(s[0]), i32(s[1]), i64(hw), p(out));
        return out;
    }

    Tensor upsampleBilinearAlignCorners(Tensor xt, int outH, int outW) {
        long[] s = xt.shape();
        CudaTensor y = be.allocate(xt.dtype(), s[0], s[1], outH, outW);
        be.kernels.launch(UPSAMPLE.of(xt), CudaKernels.blocks(y.numel()), 1, CudaKernels.THREADS,
                p(xt), i32(s[0] * s[1]), i32(s[2]), i32(s[3]), i32(outH), i32(outW), alignScale(xt, s[2], outH),
                alignScale(xt, s[3], outW), p(y));
        return y;
    }

    /** Σ_k upsample(1 − cos(fused[k], teacher[k])) in float64, [N, size, size]. */
    Tensor rawAnomalyMap(List<Tensor> fused, List<Tensor> teacher, int size) {
        long n = fused.get(0).dim(0);
        CudaTensor acc = (CudaTensor) be.zeros(DType.FLOAT64, n, size, size);
        for (int k = 0; k < fused.size(); k++) {
            Tensor d = cosineDistanceMap(fused.get(k), teacher.get(k));
            long[] s = d.shape();
            be.kernels.launch(UPSAMPLE_ACCUMULATE.of(d), CudaKernels.blocks(acc.numel()), 1, CudaKernels.THREADS,
                    p(d), i32(n), i32(s[2]), i32(s[3]), i32(size), alignScale(d, s[2], size), alignScale(d, s[3], size), p(acc));
            d.close();
        }
        return acc;
    }

    /**
     * planes[0] = Σ_b (raw[b] − mean[b]) / std[b] and planes[1 + b] = (raw[b] − mean[b]) / std[b], float64
     * [1 + B, S, S], from [1, S, S] raw maps.
     */
    CudaTensor normalisedPlanes(List<Tensor> raw, double[] mean, double[] std) {
        if (raw.isEmpty() || mean.length != raw.size() || std.length != raw.size()) {
            throw new IllegalArgumentException("normalisedSmoothedMaps: one mean and one std per map");
        }
        long[] s = raw.get(0).shape();
        if (s[0] != 1) throw new IllegalArgumentException("normalisedSmoothedMaps takes [1,S,S] maps");
        long count = raw.get(0).numel();
        CudaTensor planes = be.allocate(DType.FLOAT64, 1 + raw.size(), s[1], s[2]);
        for (int b = 0; b < raw.size(); b++) {
            sameShape(raw.get(0), raw.get(b));
            be.kernels.launch(NORMALISE_ACCUMULATE, CudaKernels.blocks(count), 1, CudaKernels.THREADS,
                    p(raw.get(b)), i64(count), f64v(mean[b]), f64v(std[b]), i32(b == 0 ? 1 : 0), p(planes),
                    Pointer.to(planes.ptr().withByteOffset((long) (b + 1) * count * Double.BYTES)));
        }
        return planes;
    }
}
