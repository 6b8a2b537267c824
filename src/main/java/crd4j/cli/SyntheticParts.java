package crd4j.cli;

import crd4j.tensor.HostTensor;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * In-memory synthetic RGB-D parts for the demo: a textured disc on a plain background with a smooth dome as depth.
 * Defects live in one modality (a colour stain: RGB only; a dent: depth only) or in both (a hole). Inputs are
 * ImageNet-normalised like §2.2/§2.3 (depth repeated to 3 channels, background 0 before normalisation).
 */
final class SyntheticParts {
    static final float[] MEAN = {0.485f, 0.456f, 0.406f};
    static final float[] STD = {0.229f, 0.224f, 0.225f};

    record Sample(String defect, float[] rgb, float[] depth, int size) {}

    private final int size;
    private final long seed;

    SyntheticParts(int size, long seed) {
        this.size = size;
        this.seed = seed;
    }

    List<Sample> good(int n, int offset) {
        List<Sample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(make(offset + i, "good"));
        return out;
    }

    List<Sample> defective(int n, int offset) {
        String[] kinds = {"stain", "dent", "hole"};
        List<Sample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(make(offset + i, kinds[i % kinds.length]));
        return out;
    }

    private Sample make(int index, String defect) {
        SplittableRandom r = new SplittableRandom(seed * 1_000_003L + index);
        int s = size;
        double cx = s / 2.0 + (r.nextDouble() - 0.5) * s * 0.06, cy = s / 2.0 + (r.nextDouble() - 0.5) * s * 0.06;
        double radius = s * (0.36 + r.nextDouble() * 0.02);
        double phase = r.nextDouble() * Math.PI * 2, freq = 2 * Math.PI * 6 / s;
        double[] base = {0.55 + r.nextDouble() * 0.04, 0.42 + r.nextDouble() * 0.04, 0.30 + r.nextDouble() * 0.04};
        // defect position inside the disc
        double ang = r.nextDouble() * Math.PI * 2, dist = radius * 0.45 * r.nextDouble();
        double dx = cx + Math.cos(ang) * dist, dy = cy + Math.sin(ang) * dist, dr = s * 0.07;
        float[] rgb = new float[3 * s * s], depth = new float[3 * s * s];
        for (int y = 0; y < s; y++) {
            for (int x = 0; x < s; x++) {
                double rr = Math.hypot(x - cx, y - cy);
                boolean inside = rr < radius;
                double tex = 0.05 * Math.sin(freq * x + phase) * Math.sin(freq * y - phase) + 0.01 * (r.nextDouble() - 0.5);
                double[] c = inside ? new double[]{base[0] + tex, base[1] + tex, base[2] + tex} : new double[]{0.12, 0.12, 0.14};
                double z = inside ? 0.1 + 0.8 * Math.sqrt(Math.max(0, 1 - (rr / radius) * (rr / radius))) : 0;
                double dd = Math.hypot(x - dx, y - dy);
                if (inside && dd < dr) {
                    double w = 1 - dd / dr;
                    switch (defect) {
                        case "stain" -> c = new double[]{c[0] * (1 - 0.8 * w) + 0.1 * w, c[1] * (1 - 0.8 * w) + 0.5 * w, c[2] * (1 - 0.8 * w) + 0.6 * w};
                        case "dent" -> z = Math.max(0.1, z - 0.35 * w);
                        case "hole" -> {
                            c = new double[]{0.05, 0.05, 0.05};
                            z = 0;
                        }
                        default -> { }
                    }
                }
                for (int ch = 0; ch < 3; ch++) {
                    int i = (ch * s + y) * s + x;
                    rgb[i] = ((float) Math.min(1, Math.max(0, c[ch])) - MEAN[ch]) / STD[ch];
                    depth[i] = ((float) z - MEAN[ch]) / STD[ch];
                }
            }
        }
        return new Sample(defect, rgb, depth, s);
    }

    static HostTensor stack(List<Sample> samples, boolean rgb) {
        int s = samples.get(0).size(), per = 3 * s * s;
        float[] out = new float[samples.size() * per];
        for (int i = 0; i < samples.size(); i++) System.arraycopy(rgb ? samples.get(i).rgb() : samples.get(i).depth(), 0, out, i * per, per);
        return HostTensor.of(out, samples.size(), 3, s, s);
    }
}
