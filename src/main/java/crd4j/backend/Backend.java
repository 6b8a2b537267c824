package crd4j.backend;

import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

import java.util.List;

/**
 * The operations the CRD network needs, forward and backward, on one kind of device. Every method allocates its
 * result unless it says "in place". Shapes are NCHW; convolution weights use PyTorch's layouts
 * ({@code [C_out, C_in, k, k]} for convolutions, {@code [C_in, C_out, 2, 2]} for the k2 s2 transposed convolution)
 * so weights move between PyTorch, the model file and every backend unchanged.
 *
 * <p>Implementations: {@code crd4j.backend.nd4j.Nd4jBackend} (CPU, the numerical reference); a CUDA backend must
 * implement the same contract without depending on ND4J.
 */
public interface Backend extends AutoCloseable {
    String name();

    /**
     * How many independent halves of a computation (the two modalities' teacher passes, the two branches) may run at
     * once on this backend from different threads ({@link BranchParallel}); 1 = one after the other (the default).
     */
    default int branchParallelism() { return 1; }

    Tensor fromHost(HostTensor host);

    Tensor zeros(DType dtype, long... shape);

    Tensor copy(Tensor x);

    // ---- elementwise -------------------------------------------------------------------------------------------

    /** a + b (same shape). */
    Tensor add(Tensor a, Tensor b);

    /** acc += x, in place. */
    void addInPlace(Tensor acc, Tensor x);

    /** alpha·a + beta·b (same shape). */
    Tensor axpby(double alpha, Tensor a, double beta, Tensor b);

    /** Σ a·b over all elements, accumulated in double. */
    double dot(Tensor a, Tensor b);

    Tensor relu(Tensor x);

    /** gy where y &gt; 0, else 0 (y is the ReLU output). */
    Tensor reluBackward(Tensor y, Tensor gy);

    /** Channel concatenation (dim 1). */
    Tensor concatChannels(List<Tensor> parts);

    /** Splits dim 1 into consecutive parts of the given sizes. */
    List<Tensor> splitChannels(Tensor x, long... sizes);

    // ---- convolutions ------------------------------------------------------------------------------------------

    /** Cross-correlation without bias, square kernel w [C_out, C_in, k, k], symmetric zero padding. */
    Tensor conv2d(Tensor x, Tensor w, int stride, int pad);

    /**
     * The same convolution for scoring (no gradient will be asked of it): a backend may compute it by a faster
     * algorithm whose float32 rounding differs from {@link #conv2d}'s within the per-layer parity tolerance (the CPU
     * backend's Winograd F(2×2, 3×3) for 3×3 stride-1 layers). Default: {@link #conv2d}.
     */
    default Tensor conv2dInference(Tensor x, Tensor w, int stride, int pad) { return conv2d(x, w, stride, pad); }

    Tensor conv2dBackwardData(Tensor gy, Tensor w, long[] xShape, int stride, int pad);

    Tensor conv2dBackwardFilter(Tensor x, Tensor gy, long[] wShape, int stride, int pad);

    /** ConvTranspose2d k2 s2 p0 without bias: out[n,o,2i+a,2j+b] = Σ_c x[n,c,i,j]·w[c,o,a,b]. */
    Tensor deconv2x2(Tensor x, Tensor w);

    /**
     * The same transposed convolution for scoring (no gradient will be asked of it), possibly by a faster route whose
     * float32 rounding differs from {@link #deconv2x2}'s within the per-layer parity tolerance. Default: {@link #deconv2x2}.
     */
    default Tensor deconv2x2Inference(Tensor x, Tensor w) { return deconv2x2(x, w); }

    Tensor deconv2x2BackwardData(Tensor gy, Tensor w);

    Tensor deconv2x2BackwardFilter(Tensor x, Tensor gy);

    // ---- batch norm --------------------------------------------------------------------------------------------

    /**
     * Training-mode batch norm (§1): normalises with the batch mean and biased variance, and updates the running
     * statistics in place with the unbiased variance: r ← (1−momentum)·r + momentum·batch.
     */
    BatchNormForward batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                    double momentum, double eps);

    /** Eval-mode batch norm with the running statistics. */
    Tensor batchNormEval(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps);

    /** Gradients of training-mode batch norm given what the forward saved. */
    BatchNormGrads batchNormBackward(Tensor x, Tensor gy, Tensor gamma, BatchNormForward saved);

    record BatchNormForward(Tensor out, Tensor mean, Tensor invStd) {}

    record BatchNormGrads(Tensor dx, Tensor dgamma, Tensor dbeta) {}

    // ---- pooling, resampling -----------------------------------------------------------------------------------

    /** Max pooling 3×3, stride 2, padding 1 with −∞ padding (the teacher's stem). */
    Tensor maxPool3x3s2p1(Tensor x);

    /** Bilinear resize with align_corners=True (§8.1), in the tensor's dtype. */
    Tensor upsampleBilinearAlignCorners(Tensor x, int outH, int outW);

    // ---- CRD specific ------------------------------------------------------------------------------------------

    /**
     * The flattened per-sample cosine loss of §4.3 for one level: mean over the batch of 1 − cos(vec(s[n]),
     * vec(t[n])), with PyTorch's normalise-then-dot cosine (eps 1e-8), and its gradient with respect to s.
     */
    CosineLoss cosineLoss(Tensor s, Tensor t, boolean withGrad);

    record CosineLoss(double loss, Tensor gradS) {}

    /** Per-pixel 1 − cos over channels (§8.1): [N,C,H,W] × [N,C,H,W] → [N,1,H,W]. */
    Tensor cosineDistanceMap(Tensor s, Tensor t);

    /**
     * One Adam step (PyTorch 2.x single-tensor form), in place on p, m, v:
     * m ← m + (1−β1)(g − m); v ← β2·v + (1−β2)·g²; p ← p − lr/(1−β1^t) · m / (√v/√(1−β2^t) + eps).
     */
    void adamStep(Tensor p, Tensor g, Tensor m, Tensor v, double lr, double beta1, double beta2, double eps, long step);

    @Override
    default void close() {}
}
