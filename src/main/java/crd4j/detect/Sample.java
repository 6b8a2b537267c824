package crd4j.detect;

import crd4j.tensor.HostTensor;

/**
 * One part to score: its preprocessed RGB input and its preprocessed second-modality input ([1,3,S,S] each), either
 * of which may be missing (few-modal inference, §17), but not both.
 */
public record Sample(HostTensor rgb, HostTensor second) {
    public Sample {
        if (rgb == null && second == null) throw new IllegalArgumentException("a sample needs an RGB input, a second-modality input, or both");
    }

    public static Sample of(HostTensor rgb, HostTensor second) { return new Sample(rgb, second); }

    public static Sample rgbOnly(HostTensor rgb) { return new Sample(java.util.Objects.requireNonNull(rgb, "rgb"), null); }

    public static Sample secondOnly(HostTensor second) { return new Sample(null, java.util.Objects.requireNonNull(second, "second")); }

    public boolean hasRgb() { return rgb != null; }

    public boolean hasSecond() { return second != null; }

    public boolean complete() { return rgb != null && second != null; }

    /** The input of branch {@code i} (0 = RGB, 1 = second modality), null when missing. */
    public HostTensor input(int i) { return i == 0 ? rgb : second; }
}
