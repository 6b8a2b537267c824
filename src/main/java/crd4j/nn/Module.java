package crd4j.nn;

import crd4j.autograd.FusionWeights;
import crd4j.autograd.Var;
import crd4j.backend.Tensor;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A named tree of layers with PyTorch-compatible state-dict names, so that weights move between PyTorch
 * checkpoints, crd4j model files and every backend by name.
 */
public abstract class Module {
    protected final NnContext ctx;
    private final Map<String, Module> children = new LinkedHashMap<>();
    private final List<StateEntry> own = new ArrayList<>();
    private final List<Var> ownParams = new ArrayList<>();
    private final List<FusionWeights> ownFusion = new ArrayList<>();
    private boolean training;

    protected Module(NnContext ctx) { this.ctx = ctx; }

    protected final <M extends Module> M child(String name, M m) {
        if (children.putIfAbsent(name, m) != null) throw new IllegalStateException("duplicate child " + name);
        return m;
    }

    /** Registers a parameter initialised from {@code init} (converted to the context dtype). */
    protected final Var parameter(String name, HostTensor init, boolean trainable) {
        Var v = new Var(ctx.backend().fromHost(convert(init)), trainable);
        long[] shape = init.shape();
        own.add(new StateEntry(name, shape, DType.FLOAT32, trainable,
                () -> v.value().toHost(),
                h -> v.setValue(ctx.backend().fromHost(convert(h)))));
        if (trainable) ownParams.add(v);
        return v;
    }

    /** Registers a buffer whose storage the caller manages. */
    protected final void buffer(String name, long[] shape, DType dtype, Supplier<HostTensor> reader, Consumer<HostTensor> writer) {
        own.add(new StateEntry(name, shape, dtype, false, reader, writer));
    }

    protected final void fusionParameter(String name, FusionWeights w) {
        own.add(new StateEntry(name, new long[]{2}, DType.FLOAT32, true,
                () -> {
                    double[] l = w.logits();
                    return HostTensor.of(new float[]{(float) l[0], (float) l[1]}, 2);
                },
                h -> w.setLogits(h.getDouble(0), h.getDouble(1))));
        ownFusion.add(w);
    }

    protected HostTensor convert(HostTensor h) {
        return ctx.dtype() == DType.FLOAT64 ? h.toFloat64() : h.toFloat32();
    }

    protected Tensor toBackend(HostTensor h) { return ctx.backend().fromHost(convert(h)); }

    // ---- modes -------------------------------------------------------------------------------------------------

    public void train(boolean on) {
        training = on;
        for (Module m : children.values()) m.train(on);
    }

    public boolean isTraining() { return training; }

    // ---- state dict --------------------------------------------------------------------------------------------

    /** All entries in PyTorch's registration order, with dotted names. */
    public List<StateEntry> stateEntries() {
        List<StateEntry> out = new ArrayList<>();
        collect("", out);
        return out;
    }

    private void collect(String prefix, List<StateEntry> out) {
        for (StateEntry e : own) {
            out.add(new StateEntry(prefix + e.name(), e.shape(), e.dtype(), e.trainable(), e.reader(), e.writer()));
        }
        for (Map.Entry<String, Module> c : children.entrySet()) c.getValue().collect(prefix + c.getKey() + ".", out);
    }

    public Map<String, HostTensor> stateDict() {
        Map<String, HostTensor> sd = new LinkedHashMap<>();
        for (StateEntry e : stateEntries()) sd.put(e.name(), e.reader().get());
        return sd;
    }

    /** Trainable tensor parameters (fusion logits excluded; see {@link #fusionWeights()}). */
    public List<Var> parameters() {
        List<Var> out = new ArrayList<>(ownParams);
        for (Module m : children.values()) out.addAll(m.parameters());
        return out;
    }

    public List<FusionWeights> fusionWeights() {
        List<FusionWeights> out = new ArrayList<>(ownFusion);
        for (Module m : children.values()) out.addAll(m.fusionWeights());
        return out;
    }

    /**
     * Loads every entry from {@code sd} under {@code prefix}; a missing key or a wrong shape is an error naming the
     * key and the expected shape. Keys in {@code sd} that this module does not have are ignored by the caller's choice
     * of prefix (use {@link #unexpectedKeys}).
     */
    public void loadStateDict(Map<String, HostTensor> sd, String prefix, String source) throws StateDictException {
        for (StateEntry e : stateEntries()) {
            String key = prefix + e.name();
            HostTensor h = sd.get(key);
            if (h == null) throw new StateDictException(source + ": missing key '" + key + "' (expected shape " + Arrays.toString(e.shape()) + ")");
            if (!Arrays.equals(h.shape(), e.shape())) {
                throw new StateDictException(source + ": key '" + key + "': expected shape " + Arrays.toString(e.shape())
                        + ", found " + Arrays.toString(h.shape()));
            }
            if (e.dtype() == DType.INT64 ? h.dtype() != DType.INT64 : !h.dtype().isFloating()) {
                throw new StateDictException(source + ": key '" + key + "': expected " + e.dtype() + ", found " + h.dtype());
            }
            e.writer().accept(h);
        }
    }

    /** Keys under {@code prefix} in {@code sd} that this module does not define. */
    public List<String> unexpectedKeys(Map<String, HostTensor> sd, String prefix) {
        var names = new java.util.HashSet<String>();
        for (StateEntry e : stateEntries()) names.add(prefix + e.name());
        List<String> out = new ArrayList<>();
        for (String k : sd.keySet()) if (k.startsWith(prefix) && !names.contains(k)) out.add(k);
        return out;
    }

    /** This module and all its descendants, depth first. */
    public List<Module> modules() {
        List<Module> out = new ArrayList<>();
        out.add(this);
        for (Module m : children.values()) out.addAll(m.modules());
        return out;
    }

    public long parameterCount() {
        long n = 0;
        for (StateEntry e : stateEntries()) if (e.trainable()) n += HostTensor.numel(e.shape());
        return n;
    }
}
