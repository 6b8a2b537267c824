package crd4j.model;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.backend.Backend;
import crd4j.backend.nd4j.Nd4jBackend;
import crd4j.io.Npy;
import crd4j.io.TorchCheckpoint;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import crd4j.testing.Parity;
import crd4j.testing.PyReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The RD baseline modules (§4.1 OCBE with its unused conv4/bn4, §4.2 plain decoder) against PyTorch
 * ({@code crd_reference.py rd}, tiny preset): float64 equals PyTorch float64 (1e-7 on the float32-stored outputs);
 * float32 within 1e-4 of exact, or twice PyTorch float32's own error where that exceeds 5e-5.
 */
class ReverseDistillationParityTest {
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "FLOAT64"})
    void ocbeAndPlainDecoderMatchPyTorch(DType dtype) throws Exception {
        Path dir = PyReference.generate("rd-tiny", "rd", "--base", "4", "--size", "64");
        Backend be = new Nd4jBackend();
        NnContext ctx = new NnContext(be, dtype, 0);
        WideResNetTeacher teacher = new WideResNetTeacher(ctx, Preset.TINY);
        teacher.loadTorchvision(Checkpoints.readTeacher(dir.resolve("teacher.pth")), "teacher.pth");
        Map<String, Object> rd = TorchCheckpoint.read(dir.resolve("rd.pth"));
        ReverseDistillationOcbe ocbe = new ReverseDistillationOcbe(ctx, Preset.TINY);
        ocbe.loadStateDict(Checkpoints.tensors(TorchCheckpoint.requireDict(rd, "bn", dir)), "", "rd.pth [bn]");
        Decoder decoder = new Decoder(ctx, Preset.TINY);
        Map<String, HostTensor> dsd = new LinkedHashMap<>(Checkpoints.tensors(TorchCheckpoint.requireDict(rd, "decoder", dir)));
        // RD's decoder has no fusion logits; CRD's Decoder class carries them, unused by forwardPlain
        for (String w : List.of("w_a", "w_b", "w_c")) dsd.put(w, HostTensor.of(new float[]{1, 1}, 2));
        decoder.loadStateDict(dsd, "", "rd.pth [decoder]");
        ocbe.train(false);
        decoder.train(false);

        HostTensor x = Npy.read(dir.resolve("rgb.npy"));
        Graph g = Graph.inference(be);
        List<Var> t = teacher.forward(g, g.constant(be.fromHost(dtype == DType.FLOAT64 ? x.toFloat64() : x)));
        Var z = ocbe.forward(g, t);
        List<Var> s = decoder.forwardPlain(g, z);
        Map<String, HostTensor> mine = new LinkedHashMap<>();
        mine.put("ocbe", z.value().toHost().toFloat32());
        for (int k = 0; k < 3; k++) mine.put("s_" + (k + 1), s.get(k).value().toHost().toFloat32());
        for (Map.Entry<String, HostTensor> e : mine.entrySet()) {
            HostTensor exact = Npy.read(dir.resolve("ref").resolve(e.getKey() + ".npy"));
            if (dtype == DType.FLOAT64) {
                Parity.assertClose("rd f64 " + e.getKey(), e.getValue(), exact, 1e-7);
            } else {
                double torchErr = Parity.relL2(Npy.read(dir.resolve("ref_f32").resolve(e.getKey() + ".npy")), exact);
                Parity.record("rd pytorch-f32-vs-exact " + e.getKey(), torchErr, Double.NaN);
                Parity.assertClose("rd crd4j-f32-vs-exact " + e.getKey(), e.getValue(), exact,
                        torchErr > 5e-5 ? 2 * torchErr : Parity.NETWORK);
            }
        }
    }
}
