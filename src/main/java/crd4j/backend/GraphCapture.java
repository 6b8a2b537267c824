package crd4j.backend;

import crd4j.tensor.HostTensor;

import java.util.List;
import java.util.function.Function;

/**
 * Optional capability: record a fixed computation once (a CUDA graph) and replay it with new inputs. The body must
 * be device-only (no {@code toHost}, no host-dependent control flow) and must already have run once with the same
 * shapes, so that every plan, algorithm choice and buffer size is known.
 */
public interface GraphCapture {
    /**
     * Captures {@code body} applied to device input tensors of the given shapes and dtypes. The returned run owns
     * the inputs, the outputs and every intermediate buffer until it is closed.
     */
    CapturedRun capture(List<HostTensor> exampleInputs, Function<List<Tensor>, List<Tensor>> body);

    interface CapturedRun extends AutoCloseable {
        /** Copies the inputs in (through pinned host memory), replays the graph, copies the outputs back. */
        List<HostTensor> run(List<HostTensor> inputs);

        @Override
        void close();
    }
}
