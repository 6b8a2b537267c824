package crd4j.model;

import crd4j.autograd.Var;
import crd4j.backend.Backend;
import crd4j.backend.Tensor;
import crd4j.tensor.HostTensor;

import java.util.List;

/** The raw per-branch anomaly map of §8.1. */
public final class AnomalyMap {
    private AnomalyMap() {}

    /**
     * M = Σ_k up_S(1 − cos_c(G_k, T_k)): per-pixel cosine distance over channels in the compute dtype, bilinear
     * upsampling with align_corners=True, accumulated in float64 in level order 1, 2, 3. Returns [N, S, S] FLOAT64.
     */
    public static HostTensor raw(Backend be, List<Var> fused, List<Var> teacher, int size) {
        if (be instanceof crd4j.backend.DeviceMaps dm) {   // the same sums on the device (cosine_map.cu)
            Tensor m = dm.rawAnomalyMap(fused.stream().map(Var::value).toList(), teacher.stream().map(Var::value).toList(), size);
            HostTensor h = m.toHost();
            m.close();
            return h;
        }
        double[] acc = null;
        long n = 0;
        for (int k = 0; k < 3; k++) {
            Tensor d = be.cosineDistanceMap(fused.get(k).value(), teacher.get(k).value());
            Tensor up = be.upsampleBilinearAlignCorners(d, size, size);
            n = up.dim(0);
            if (acc == null) acc = new double[Math.toIntExact(up.numel())];
            up.addTo(acc);   // acc[i] += (double) up[i]
            d.close();
            up.close();
        }
        return HostTensor.of(acc, n, size, size);
    }
}
