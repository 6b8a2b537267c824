package crd4j.detect;

/**
 * What a branch's anomaly map was computed from (§17.2): with both modalities ({@link #REAL}); with real own
 * features and a stand-in for the missing helper modality ({@code ASSIST_*}); or on estimated own features, scored
 * against the estimate ({@code ESTIMATED_*}). Each mode has its own validation statistics (§17.2 item 3), stored in
 * the model file under the mode's {@link #key()}.
 */
public enum BranchMode {
    REAL("real", false),
    ASSIST_FILTER("assist-filter", false),
    ASSIST_AMPLIFIER("assist-amplifier", false),
    ASSIST_MAPPING("assist-mapping", false),
    ASSIST_ZERO("assist-zero", false),
    ASSIST_DROPPED("assist-dropped", false),
    ESTIMATED_FILTER("estimated-filter", true),
    ESTIMATED_AMPLIFIER("estimated-amplifier", true),
    ESTIMATED_MAPPING("estimated-mapping", true);

    private final String key;
    private final boolean estimated;

    BranchMode(String key, boolean estimated) {
        this.key = key;
        this.estimated = estimated;
    }

    /** The name in model files, results and reports. */
    public String key() { return key; }

    /** True when the branch ran on estimated features of its own modality (its modality was missing). */
    public boolean estimated() { return estimated; }

    /** The mode of the present modality's branch under {@code s}. */
    public static BranchMode assist(MissingStrategy s) {
        return switch (s) {
            case FILTER -> ASSIST_FILTER;
            case AMPLIFIER -> ASSIST_AMPLIFIER;
            case MAPPING -> ASSIST_MAPPING;
            case ZERO -> ASSIST_ZERO;
            case DROP -> ASSIST_DROPPED;
        };
    }

    /** The mode of the missing modality's branch under {@code s}; {@code null} when {@code s} does not score it. */
    public static BranchMode estimated(MissingStrategy s) {
        return switch (s) {
            case FILTER -> ESTIMATED_FILTER;
            case AMPLIFIER -> ESTIMATED_AMPLIFIER;
            case MAPPING -> ESTIMATED_MAPPING;
            case ZERO, DROP -> null;
        };
    }

    public static BranchMode parse(String s) {
        for (BranchMode m : values()) if (m.key.equals(s)) return m;
        throw new IllegalArgumentException("unknown branch mode '" + s + "'");
    }
}
