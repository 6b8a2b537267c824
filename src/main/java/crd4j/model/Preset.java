package crd4j.model;

import java.util.List;

/**
 * A model size. {@code base} is the teacher's stem width b: every channel count of teacher and student scales with it
 * (teacher features 4b, 8b, 16b; bottleneck 32b), and {@code size} is the square input side S (features at S/4,
 * S/8, S/16; bottleneck at S/32). Topology (block counts, strides, kernel sizes) never changes, so the smaller
 * presets exercise exactly the code paths of the reference architecture.
 */
public record Preset(String name, int base, int size) {
    /** The reference architecture exactly: WRN50-2, 256×256 input (§3–§5). */
    public static final Preset PAPER = new Preset("paper", 64, 256);
    /** A CPU demo size: b=16, 128×128. */
    public static final Preset SMALL = new Preset("small", 16, 128);
    /** For tests: b=4, 64×64. */
    public static final Preset TINY = new Preset("tiny", 4, 64);

    public Preset {
        if (base <= 0 || size <= 0 || size % 32 != 0) {
            throw new IllegalArgumentException("preset " + name + ": base must be > 0 and size a positive multiple of 32");
        }
    }

    public static List<Preset> all() { return List.of(PAPER, SMALL, TINY); }

    public static Preset byName(String name) {
        for (Preset p : all()) if (p.name.equals(name)) return p;
        throw new IllegalArgumentException("unknown preset '" + name + "' (expected one of paper, small, tiny)");
    }

    /** Teacher feature channels per level: 4b, 8b, 16b. */
    public int channels(int level) { return base * (2 << level); }

    /** Teacher feature side per level 1..3: S/4, S/8, S/16. */
    public int side(int level) { return size >> (level + 1); }

    /** OCBE output channels 32b (2048 for the paper). */
    public int bottleneckChannels() { return 32 * base; }
}
