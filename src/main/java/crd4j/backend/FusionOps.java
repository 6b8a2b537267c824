package crd4j.backend;

/**
 * Optional capability: the backward pass of the softmax fusion (§5.4) in one pass over gy, r and q
 * ({@code crd4j.autograd.Graph#fuse} uses it when the backend has it, else two axpby and two dot calls).
 */
public interface FusionOps {
    /** dr = ω0·gy and dq = ω1·gy (each only when asked; else null), and &lt;gy, r&gt;, &lt;gy, q&gt; in float64 when asked. */
    FusionGrads fusionBackward(Tensor gy, Tensor r, Tensor q, double w0, double w1, boolean wantDr, boolean wantDq,
                               boolean wantDots);

    record FusionGrads(Tensor dr, Tensor dq, double dotR, double dotQ) {}
}
