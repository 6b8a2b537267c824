package crd4j.nn;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
import crd4j.backend.BatchNormEpilogue;
import crd4j.backend.Tensor;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

/**
 * BatchNorm2d with PyTorch's defaults (§1): eps 1e-5, momentum 0.1, affine, running statistics. Training mode
 * normalises with batch statistics and updates the running ones; eval mode uses the running ones.
 */
public final class BatchNorm2d extends Module implements Layer {
    public static final double EPS = 1e-5;
    public static final double MOMENTUM = 0.1;

    public final int channels;
    public final Var weight, bias;
    private Tensor runningMean, runningVar;
    private long numBatchesTracked;
    private double momentum = MOMENTUM;

    public BatchNorm2d(NnContext ctx, int channels, boolean trainable) {
        super(ctx);
        this.channels = channels;
        weight = parameter("weight", Init.filled(channels, 1f), trainable);
        bias = parameter("bias", Init.filled(channels, 0f), trainable);
        runningMean = toBackend(Init.filled(channels, 0f));
        runningVar = toBackend(Init.filled(channels, 1f));
        long[] shape = {channels};
        buffer("running_mean", shape, DType.FLOAT32, () -> runningMean.toHost(), h -> runningMean = toBackend(h));
        buffer("running_var", shape, DType.FLOAT32, () -> runningVar.toHost(), h -> runningVar = toBackend(h));
        buffer("num_batches_tracked", new long[0], DType.INT64,
                () -> HostTensor.of(new long[]{numBatchesTracked}),
                h -> numBatchesTracked = (long) h.getDouble(0));
    }

    @Override
    public Var forward(Graph g, Var x) {
        if (isTraining()) {
            numBatchesTracked++;
            return g.batchNormTrain(x, weight, bias, runningMean, runningVar, momentum, EPS);
        }
        return g.batchNormEval(x, weight, bias, runningMean, runningVar, EPS);
    }

    /**
     * This BN applied to {@code convOut}, the fresh output of the convolution before it, then {@code + residual} (when
     * not null), then ReLU (when {@code relu}): what {@code relu(add(forward(convOut), residual))} computes. In eval
     * mode, when no gradient is wanted and the backend has {@link BatchNormEpilogue}, the three steps run in place in
     * convOut's buffer, with the same float operations (bit-identical; no folded weights are stored, so there is
     * nothing to invalidate when weights, statistics or the mode change). Otherwise the ops run one by one.
     */
    public Var forward(Graph g, Var convOut, Var residual, boolean relu) {
        boolean noGrad = !convOut.requiresGrad() && !weight.requiresGrad() && !bias.requiresGrad()
                && (residual == null || !residual.requiresGrad());
        if (!isTraining() && (!g.recording() || noGrad) && g.backend() instanceof BatchNormEpilogue e) {
            e.batchNormEvalInPlace(convOut.value(), weight.value(), bias.value(), runningMean, runningVar, EPS,
                    residual == null ? null : residual.value(), relu);
            return convOut;
        }
        Var y = forward(g, convOut);
        if (residual != null) y = g.add(y, residual);
        return relu ? g.relu(y) : y;
    }

    public long numBatchesTracked() { return numBatchesTracked; }

    /** Running-statistics momentum; 1/(k+1) for the k-th batch gives PyTorch's cumulative average (momentum=None). */
    public void setMomentum(double momentum) { this.momentum = momentum; }
}
