package crd4j.nn;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;
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

    public long numBatchesTracked() { return numBatchesTracked; }

    /** Running-statistics momentum; 1/(k+1) for the k-th batch gives PyTorch's cumulative average (momentum=None). */
    public void setMomentum(double momentum) { this.momentum = momentum; }
}
