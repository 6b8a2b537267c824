package crd4j.detect;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How a CRD model trained on both modalities stands in for a modality that a sample lacks (few-modal inference,
 * §17.2). With P the present modality and M the missing one:
 * <ul>
 *   <li>{@link #FILTER} (default): T̂_M = BP_M(T_P), the M branch's Crossmodal Filter projection, which training
 *   fitted to map P's teacher features onto M's (loss term 2 of §6.1). The P branch runs with T̂_M as its assist
 *   and is scored against the real T_P; the M branch runs on T̂_M (assist T_P) and is scored against T̂_M.</li>
 *   <li>{@link #AMPLIFIER}: the same with T̂_M = IBP_M(T_P), the M branch's Crossmodal Amplifier projection.</li>
 *   <li>{@link #MAPPING}: the same with T̂_M from the optional per-level mapping network trained after the
 *   students ({@code crd train --mapping}).</li>
 *   <li>{@link #ZERO}: T̂_M = 0 (zero-filled teacher features). The P branch runs with a zero assist; the M branch
 *   is not scored, because 1 − cos against an all-zero target is the constant 1 at every pixel.</li>
 *   <li>{@link #DROP}: the M branch is dropped and the P branch runs with its assist signals themselves (the
 *   Filter's and the Amplifier's projections) set to zero, i.e. without any crossmodal input.</li>
 * </ul>
 * A sample with both modalities is scored the same way whatever the strategy.
 */
public enum MissingStrategy {
    FILTER, AMPLIFIER, MAPPING, ZERO, DROP;

    /** The option value: {@code filter}, {@code amplifier}, {@code mapping}, {@code zero}, {@code drop}. */
    public String key() { return name().toLowerCase(Locale.ROOT); }

    /** Whether the strategy estimates the missing teacher features (and so also scores the missing branch). */
    public boolean estimates() { return this == FILTER || this == AMPLIFIER || this == MAPPING; }

    public static MissingStrategy parse(String s) {
        for (MissingStrategy m : values()) if (m.key().equalsIgnoreCase(s)) return m;
        throw new IllegalArgumentException("--missing-strategy: expected one of "
                + Arrays.stream(values()).map(MissingStrategy::key).collect(Collectors.joining(", ")) + ", found '" + s + "'");
    }
}
