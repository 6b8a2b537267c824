package crd4j.backend;

import java.util.List;

/**
 * Optional capability of a device backend: the anomaly-map tail of §8.1–§8.3 computed where the features are, so
 * that only the final S×S maps travel to the host. {@code crd4j.model.AnomalyMap} and {@code crd4j.detect.Detector}
 * use it when the backend has it and compute the same values on the host otherwise.
 */
public interface DeviceMaps {
    /**
     * M = Σ_k up_S(1 − cos_c(fused_k, teacher_k)) (§8.1): per-pixel cosine distance over channels, align_corners
     * bilinear upsampling in the compute dtype, accumulated in float64 in level order. Returns [N, S, S] FLOAT64.
     */
    Tensor rawAnomalyMap(List<Tensor> fused, List<Tensor> teacher, int size);

    /**
     * §8.3 for B ≥ 1 branch maps: each normalised, (M_b − μ_b)/σ_b, their sum in list order, and each normalised map
     * alone, all smoothed by the separable filter {@code kernel} (2r+1 taps, scipy 'reflect' borders). Inputs
     * [1, S, S] FLOAT64, one per branch; returns [1 + B, S, S] FLOAT64: {fused, branch 0 alone, branch 1 alone, …}.
     */
    Tensor normalisedSmoothedMaps(List<Tensor> raw, double[] mean, double[] std, double[] kernel);
}
