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
     * §8.3: (M_rgb − μ_rgb)/σ_rgb + (M_o − μ_o)/σ_o, and each normalised map alone, each smoothed by the separable
     * filter {@code kernel} (2r+1 taps, scipy 'reflect' borders). Inputs [1, S, S] FLOAT64; returns [3, S, S]
     * FLOAT64: {fused, rgb alone, other alone}.
     */
    Tensor normalisedSmoothedMaps(Tensor rawRgb, Tensor rawOther, double muRgb, double sdRgb, double muOther,
                                  double sdOther, double[] kernel);
}
