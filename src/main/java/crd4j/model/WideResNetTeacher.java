package crd4j.model;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.nn.BatchNorm2d;
import crd4j.nn.Bottleneck;
import crd4j.nn.Conv2d;
import crd4j.nn.Module;
import crd4j.nn.NnContext;
import crd4j.nn.Sequential;
import crd4j.nn.StateDictException;
import crd4j.tensor.HostTensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The frozen teacher (§3): torchvision's Wide ResNet-50-2 up to layer3, always in eval mode (BN with running
 * statistics), returning [T1, T2, T3]. One instance serves both modalities, as both reference teachers load the same
 * file. State-dict names are torchvision's; {@code layer4.*} and {@code fc.*} are accepted and ignored.
 */
public final class WideResNetTeacher extends Module {
    final Conv2d conv1;
    final BatchNorm2d bn1;
    final Sequential layer1, layer2, layer3;

    public WideResNetTeacher(NnContext ctx, Preset p) {
        super(ctx);
        int b = p.base();
        conv1 = child("conv1", new Conv2d(ctx, 3, b, 7, 2, 3, false));
        bn1 = child("bn1", new BatchNorm2d(ctx, b, false));
        // wide: width = planes·2; out = planes·4
        layer1 = child("layer1", Bottleneck.stage(ctx, b, 2 * b, 4 * b, 3, 1, false));
        layer2 = child("layer2", Bottleneck.stage(ctx, 4 * b, 4 * b, 8 * b, 4, 2, false));
        layer3 = child("layer3", Bottleneck.stage(ctx, 8 * b, 8 * b, 16 * b, 6, 2, false));
        train(false);
    }

    @Override
    public void train(boolean on) {
        super.train(false); // frozen: the reference keeps the teachers in eval() (§7)
    }

    /**
     * Re-estimates every batch-norm running statistic as the cumulative average over {@code batches} (each layer
     * normalised with batch statistics, as in PyTorch's train mode with momentum=None), then returns to eval mode.
     * Used for a randomly initialised teacher, whose default statistics (mean 0, var 1) let activations drift
     * through 16 blocks; never needed for ImageNet weights.
     */
    public void calibrateBatchNorm(crd4j.backend.Backend be, List<crd4j.backend.Tensor> batches) {
        List<BatchNorm2d> bns = modules().stream().filter(m -> m instanceof BatchNorm2d).map(m -> (BatchNorm2d) m).toList();
        for (BatchNorm2d bn : bns) bn.train(true);
        for (int k = 0; k < batches.size(); k++) {
            for (BatchNorm2d bn : bns) bn.setMomentum(1.0 / (k + 1));
            Graph g = Graph.inference(be);
            forward(g, g.constant(batches.get(k)));
            g.release();
        }
        for (BatchNorm2d bn : bns) {
            bn.setMomentum(BatchNorm2d.MOMENTUM);
            bn.train(false);
        }
    }

    public List<Var> forward(Graph g, Var x) {
        Var y = bn1.forward(g, conv1.forward(g, x), null, true);
        y = g.maxPool3x3s2p1(y);
        Var t1 = layer1.forward(g, y);
        Var t2 = layer2.forward(g, t1);
        Var t3 = layer3.forward(g, t2);
        return List.of(t1, t2, t3);
    }

    /**
     * Loads torchvision's state dict (§13.1): keys without prefix or under {@code encoder.}; layer4 and fc ignored;
     * any other unknown key is an error, like PyTorch's strict loading.
     */
    public void loadTorchvision(Map<String, HostTensor> sd, String source) throws StateDictException {
        Map<String, HostTensor> stripped = new LinkedHashMap<>();
        for (Map.Entry<String, HostTensor> e : sd.entrySet()) {
            String k = e.getKey().startsWith("encoder.") ? e.getKey().substring("encoder.".length()) : e.getKey();
            if (k.startsWith("layer4.") || k.startsWith("fc.")) continue;
            stripped.put(k, e.getValue());
        }
        List<String> extra = unexpectedKeys(stripped, "");
        if (!extra.isEmpty()) {
            throw new StateDictException(source + ": unexpected key '" + extra.get(0) + "' (not a Wide ResNet-50-2 state dict)");
        }
        loadStateDict(stripped, "", source);
    }
}
