package crd4j.backend;

/**
 * Optional capability: eval-mode batch norm, a residual add and ReLU applied in place to a convolution's fresh output
 * (crd4j.nn's conv → BN [→ + shortcut] [→ ReLU] pairs use it when the BN is in eval mode and nothing needs a
 * gradient, else they call {@code batchNormEval}, {@code add} and {@code relu} one by one). It performs exactly the
 * float operations of that sequence, in the same order, so its result is bit-identical to it; what it saves is the
 * two or three freshly allocated outputs and their passes over memory.
 */
public interface BatchNormEpilogue {
    /**
     * y ← γ·(y − mean)/√(var + eps) + β, then y ← y + residual when residual is not null, then y ← max(y, 0) when
     * relu; in place in y, which the caller owns and nobody else reads.
     */
    void batchNormEvalInPlace(Tensor y, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps,
                              Tensor residual, boolean relu);
}
