package crd4j.model;

/**
 * Which gradients the decoder's per-stage fusion passes (§6.3). Forward values are identical.
 */
public enum FusionSemantics {
    /**
     * Paper-era reference (Dec 2024, default): the map forwarded to the next stage uses ω as a constant; the returned
     * fused map uses detached R and Q, so L_fuse trains only the fusion logits.
     */
    DETACHED,
    /** Reference after May 2025: one fused tensor, forwarded and returned; every loss reaches every parameter. */
    JOINT;

    public static FusionSemantics parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "detached", "paper" -> DETACHED;
            case "joint" -> JOINT;
            default -> throw new IllegalArgumentException("unknown fusion semantics '" + s + "' (expected detached or joint)");
        };
    }
}
