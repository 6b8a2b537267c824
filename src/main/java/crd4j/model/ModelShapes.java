package crd4j.model;

import crd4j.backend.Backend;
import crd4j.io.WeightsFormatException;
import crd4j.nn.Module;
import crd4j.nn.NnContext;
import crd4j.nn.StateEntry;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The state-dict shapes a preset needs, known without building the model: a model file's metadata names a preset,
 * and building a {@link CrdModel} for it allocates every parameter, so a checksum-valid file whose metadata claims a
 * huge preset (base 4096) would allocate gigabytes before any shape is compared. {@link #check} compares the file's
 * tensors with the preset's shapes first; once they agree, the model needs as much memory as the tensors already
 * read.
 *
 * <p>How the shapes are known: every dimension of every teacher and branch tensor is an affine function of the base
 * width b (channel counts are multiples of b; kernel sizes, fusion logits and counters do not depend on it), so the
 * shapes of models built once at b = 1 and b = 2 give every dimension at any b, computed with overflow checks. A third
 * model at b = 3 verifies the affine assumption when the table is first built.
 */
public final class ModelShapes {
    /** Largest input side accepted from a model file: 16 times the paper's 256; maps are S × S float64. */
    public static final int MAX_SIZE = 4096;

    /** Per state-dict key (without prefix): its dimensions at b = 1 and at b = 2. */
    private record Dims(long[] at1, long[] at2) {}

    private static Map<String, Dims> teacher;
    private static Map<String, Dims> branch;

    private ModelShapes() {}

    /**
     * Checks that {@code tensors} hold every {@code teacher.*}, {@code rgb.*} and {@code <second>.*} tensor that
     * {@code preset} needs with exactly its shape, and that the preset's size is sensible, without allocating the
     * model. {@code file} names the source in errors.
     */
    public static void check(Map<String, HostTensor> tensors, Preset preset, Modality second, Path file, Backend backend)
            throws WeightsFormatException {
        if (preset.size() > MAX_SIZE) {
            throw new WeightsFormatException(file, "metadata 'preset.size': " + preset.size()
                    + " is too large (expected a multiple of 32 up to " + MAX_SIZE + ")");
        }
        table(backend);
        checkPart(tensors, "teacher.", teacher, preset, file);
        checkPart(tensors, "rgb.", branch, preset, file);
        checkPart(tensors, second.key() + ".", branch, preset, file);
    }

    /** The shapes of every entry under {@code prefix} at {@code base}; for tests. */
    static Map<String, long[]> expected(String part, int base, Backend backend) throws WeightsFormatException {
        table(backend);
        Map<String, long[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, Dims> e : (part.equals("teacher") ? teacher : branch).entrySet()) {
            out.put(e.getKey(), shapeAt(e.getValue(), base));
        }
        return out;
    }

    private static void checkPart(Map<String, HostTensor> tensors, String prefix, Map<String, Dims> dims, Preset preset,
                                  Path file) throws WeightsFormatException {
        for (Map.Entry<String, Dims> e : dims.entrySet()) {
            String key = prefix + e.getKey();
            long[] want = shapeAt(e.getValue(), preset.base());
            if (want == null) {
                throw new WeightsFormatException(file, "metadata 'preset.base': " + preset.base()
                        + " is too large (tensor '" + key + "' would overflow)");
            }
            HostTensor t = tensors.get(key);
            if (t == null) {
                throw new WeightsFormatException(file, "tensor '" + key + "' missing (preset '" + preset.name() + "', base "
                        + preset.base() + ", needs shape " + Arrays.toString(want) + ")");
            }
            if (!Arrays.equals(want, t.shape())) {
                throw new WeightsFormatException(file, "tensor '" + key + "': shape " + Arrays.toString(t.shape())
                        + " in the file, but the metadata's preset '" + preset.name() + "' (base " + preset.base()
                        + ") needs " + Arrays.toString(want));
            }
        }
    }

    /** The shape at base b, or null when a dimension overflows a long. */
    private static long[] shapeAt(Dims d, long b) {
        long[] out = new long[d.at1().length];
        try {
            for (int i = 0; i < out.length; i++) {
                out[i] = Math.addExact(d.at1()[i], Math.multiplyExact(d.at2()[i] - d.at1()[i], b - 1));
            }
        } catch (ArithmeticException e) {
            return null;
        }
        return out;
    }

    private static synchronized void table(Backend backend) {
        if (teacher != null) return;
        NnContext ctx = new NnContext(backend, DType.FLOAT32, 0);
        Preset p1 = new Preset("b1", 1, 32), p2 = new Preset("b2", 2, 32), p3 = new Preset("b3", 3, 32);
        Map<String, Dims> t = dims(new WideResNetTeacher(ctx, p1), new WideResNetTeacher(ctx, p2));
        Map<String, Dims> br = dims(new CrdBranch(ctx, p1), new CrdBranch(ctx, p2));
        verify(t, new WideResNetTeacher(ctx, p3));
        verify(br, new CrdBranch(ctx, p3));
        teacher = t;
        branch = br;
    }

    private static Map<String, Dims> dims(Module a, Module b) {
        List<StateEntry> ea = a.stateEntries(), eb = b.stateEntries();
        Map<String, Dims> out = new LinkedHashMap<>();
        for (int i = 0; i < ea.size(); i++) {
            if (!ea.get(i).name().equals(eb.get(i).name()) || ea.get(i).shape().length != eb.get(i).shape().length) {
                throw new IllegalStateException("state dict layout depends on the base width: " + ea.get(i).name());
            }
            out.put(ea.get(i).name(), new Dims(ea.get(i).shape().clone(), eb.get(i).shape().clone()));
        }
        if (ea.size() != eb.size()) throw new IllegalStateException("state dict size depends on the base width");
        return out;
    }

    private static void verify(Map<String, Dims> dims, Module at3) {
        List<StateEntry> e = at3.stateEntries();
        if (e.size() != dims.size()) throw new IllegalStateException("state dict size depends on the base width");
        for (StateEntry s : e) {
            Dims d = dims.get(s.name());
            if (d == null || !Arrays.equals(shapeAt(d, 3), s.shape())) {
                throw new IllegalStateException("shape of " + s.name() + " is not affine in the base width");
            }
        }
    }
}
