package crd4j.backend.cuda;

import crd4j.backend.GraphCapture;
import crd4j.backend.Tensor;
import crd4j.tensor.HostTensor;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * A computation recorded once as a CUDA graph (stream capture, relaxed mode) and replayed with new inputs: the
 * inputs are copied into fixed device tensors through pinned host memory, the graph is launched with one call, and
 * the outputs come back through pinned memory. What is captured is everything {@code body} enqueues: for the
 * Detector, both teachers, both student branches, the cosine maps, the upsampling/accumulation and the
 * normalisation + Gaussian smoothing; only the final maps leave the device.
 *
 * <p>Rules: the body must have run once with the same shapes (convolution algorithms are chosen then; cudnnFind
 * cannot run inside a capture), must not read anything back to the host, and must not depend on values that change
 * between replays other than the inputs (the fusion weights ω are baked in as kernel arguments). Every device block
 * the body allocates or frees stays reserved for the graph until {@link #close()}; the parameters (and the backend)
 * must outlive it.
 */
final class CudaGraphRun implements GraphCapture.CapturedRun {
    private final CudaBackend be;
    private final List<CudaTensor> inputs;
    private final List<CudaTensor> outputs;
    private final List<DeviceArena.Block> blocks;
    private final CUgraph graph;
    private final CUgraphExec exec;
    private boolean closed;

    private CudaGraphRun(CudaBackend be, List<CudaTensor> inputs, List<CudaTensor> outputs, List<DeviceArena.Block> blocks,
                         CUgraph graph, CUgraphExec exec) {
        this.be = be;
        this.inputs = inputs;
        this.outputs = outputs;
        this.blocks = blocks;
        this.graph = graph;
        this.exec = exec;
    }

    static CudaGraphRun capture(CudaBackend be, List<HostTensor> examples, Function<List<Tensor>, List<Tensor>> body) {
        be.enter();
        List<CudaTensor> in = new ArrayList<>();
        for (HostTensor h : examples) in.add((CudaTensor) be.fromHost(h));
        be.synchronize();
        be.arena.beginCapture();
        be.setCapturing(true);
        CUgraph graph = new CUgraph();
        List<Tensor> out;
        List<DeviceArena.Block> blocks;
        Cuda.check(JCudaDriver.cuStreamBeginCapture(be.stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_RELAXED), "cuStreamBeginCapture");
        try {
            out = body.apply(new ArrayList<>(in));
        } catch (RuntimeException e) {
            JCudaDriver.cuStreamEndCapture(be.stream, graph);
            be.setCapturing(false);
            be.arena.returnCaptured(be.arena.endCapture());
            throw e;
        }
        Cuda.check(JCudaDriver.cuStreamEndCapture(be.stream, graph), "cuStreamEndCapture");
        be.setCapturing(false);
        blocks = be.arena.endCapture();
        CUgraphExec exec = new CUgraphExec();
        Cuda.check(JCudaDriver.cuGraphInstantiate(exec, graph, 0), "cuGraphInstantiate");
        List<CudaTensor> outs = new ArrayList<>();
        for (Tensor t : out) outs.add(CudaBackend.t(t));
        return new CudaGraphRun(be, in, outs, blocks, graph, exec);
    }

    @Override
    public synchronized List<HostTensor> run(List<HostTensor> hostInputs) {
        if (closed) throw new IllegalStateException("captured graph is closed");
        if (hostInputs.size() != inputs.size()) throw new IllegalArgumentException("expected " + inputs.size() + " inputs");
        be.enter();
        for (int i = 0; i < inputs.size(); i++) {
            HostTensor h = hostInputs.get(i);
            CudaTensor d = inputs.get(i);
            if (!Arrays.equals(h.shape(), d.shape()) || h.dtype() != d.dtype()) {
                throw new IllegalArgumentException("input " + i + ": expected " + Arrays.toString(d.shape()) + " " + d.dtype()
                        + ", got " + Arrays.toString(h.shape()) + " " + h.dtype());
            }
            be.upload(h, d.ptr(), 0);
        }
        Cuda.check(JCudaDriver.cuGraphLaunch(exec, be.stream), "cuGraphLaunch");
        List<HostTensor> res = new ArrayList<>();
        for (CudaTensor o : outputs) res.add(be.download(o));
        return res;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        be.enter();
        be.synchronize();
        JCudaDriver.cuGraphExecDestroy(exec);
        JCudaDriver.cuGraphDestroy(graph);
        for (CudaTensor t : inputs) t.close();
        for (CudaTensor t : outputs) t.close();
        be.arena.returnCaptured(blocks);
    }
}
