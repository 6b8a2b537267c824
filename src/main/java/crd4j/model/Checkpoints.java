package crd4j.model;

import crd4j.io.TorchCheckpoint;
import crd4j.io.WeightsFormatException;
import crd4j.nn.StateDictException;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Reading PyTorch weights into crd4j modules (§13): torchvision teacher files and reference CRD checkpoints. */
public final class Checkpoints {
    private Checkpoints() {}

    /** The tensors of a (possibly nested) state dict; non-tensor entries (e.g. {@code _metadata}) are skipped. */
    public static Map<String, HostTensor> tensors(Map<String, ?> sd) {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, ?> e : sd.entrySet()) if (e.getValue() instanceof HostTensor t) out.put(e.getKey(), t);
        return out;
    }

    /** Reads a torchvision Wide ResNet-50-2 file (either container format). */
    public static Map<String, HostTensor> readTeacher(Path file) throws IOException {
        Map<String, HostTensor> sd = tensors(TorchCheckpoint.read(file));
        if (sd.isEmpty()) throw new WeightsFormatException(file, "no tensors found (expected a torchvision state dict)");
        return sd;
    }

    /**
     * The stem width b of a teacher state dict ({@code conv1.weight} is [b, 3, 7, 7]), which selects the preset's
     * channel scale; the paper's file gives 64.
     */
    public static int teacherBase(Map<String, HostTensor> sd, Path file) throws WeightsFormatException {
        HostTensor w = sd.containsKey("conv1.weight") ? sd.get("conv1.weight") : sd.get("encoder.conv1.weight");
        if (w == null) throw new WeightsFormatException(file, "key 'conv1.weight' missing (not a Wide ResNet-50-2 state dict)");
        long[] s = w.shape();
        if (s.length != 4 || s[1] != 3 || s[2] != 7 || s[3] != 7 || s[0] % 1 != 0 || s[0] <= 0) {
            throw new WeightsFormatException(file, "key 'conv1.weight': expected shape [b, 3, 7, 7], found " + java.util.Arrays.toString(s));
        }
        return Math.toIntExact(s[0]);
    }

    public static void loadTeacher(WideResNetTeacher teacher, Map<String, HostTensor> sd, Path file) throws StateDictException {
        teacher.loadTorchvision(sd, file.getFileName().toString());
    }

    /**
     * Loads a reference checkpoint {@code {'student_rgb': sd, 'student_depth': sd}} (§13.2) into both branches.
     * For a normals model the second key may also be {@code student_normals}.
     */
    public static void loadReference(CrdModel model, Path file) throws IOException {
        Map<String, Object> top = TorchCheckpoint.read(file);
        Map<String, HostTensor> rgb = tensors(TorchCheckpoint.requireDict(top, "student_rgb", file));
        String otherKey = "student_" + model.secondModality().key();
        if (!top.containsKey(otherKey)) otherKey = "student_depth";
        Map<String, HostTensor> other = tensors(TorchCheckpoint.requireDict(top, otherKey, file));
        model.loadReferenceBranches(rgb, other, file.getFileName().toString());
    }
}
