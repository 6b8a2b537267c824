package crd4j.report;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Which test samples lose a modality in a random-missing evaluation (§17.3, the protocol of MISDD-MM and RADAR): of
 * {@code n} samples, exactly {@code round(rate·n)} chosen by a shuffle seeded with {@code seed}
 * ({@code java.util.Random}, so the same seed gives the same mask on every machine) lose their RGB ({@link Type#RGB}),
 * their 3D input ({@link Type#SECOND}), or, for {@link Type#BOTH}, the first half of the chosen (rounded down) lose
 * RGB and the rest lose 3D. No sample loses both.
 */
public final class MissingMask {
    private MissingMask() {}

    /** The missing type: which modality the chosen samples lose. */
    public enum Type {
        RGB("rgb"), SECOND("3d"), BOTH("both");

        private final String key;

        Type(String key) { this.key = key; }

        public String key() { return key; }

        public static Type parse(String s) {
            return switch (s.toLowerCase(java.util.Locale.ROOT)) {
                case "rgb" -> RGB;
                case "3d", "depth", "normals", "second" -> SECOND;
                case "both" -> BOTH;
                default -> throw new IllegalArgumentException("--missing-type: expected rgb, 3d or both, found '" + s + "'");
            };
        }
    }

    public static Evaluation.Withheld[] of(int n, double rate, Type type, long seed) {
        if (!(rate >= 0 && rate <= 1)) throw new IllegalArgumentException("--missing-rate: expected rates in [0, 1], found " + rate);
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < n; i++) order.add(i);
        Collections.shuffle(order, new Random(seed));
        int k = (int) Math.round(rate * n);
        Evaluation.Withheld[] w = new Evaluation.Withheld[n];
        Arrays.fill(w, Evaluation.Withheld.NONE);
        for (int j = 0; j < k; j++) {
            Evaluation.Withheld lose = switch (type) {
                case RGB -> Evaluation.Withheld.RGB;
                case SECOND -> Evaluation.Withheld.SECOND;
                case BOTH -> j < k / 2 ? Evaluation.Withheld.RGB : Evaluation.Withheld.SECOND;
            };
            w[order.get(j)] = lose;
        }
        return w;
    }
}
