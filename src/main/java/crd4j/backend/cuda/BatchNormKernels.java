package crd4j.backend.cuda;

import crd4j.backend.Backend.BatchNormForward;
import crd4j.backend.Backend.BatchNormGrads;
import crd4j.backend.Tensor;
import crd4j.tensor.DType;

import java.util.Arrays;

import static crd4j.backend.cuda.CudaArgs.GRID_CAP;
import static crd4j.backend.cuda.CudaArgs.NULL;
import static crd4j.backend.cuda.CudaArgs.f64v;
import static crd4j.backend.cuda.CudaArgs.i32;
import static crd4j.backend.cuda.CudaArgs.i64;
import static crd4j.backend.cuda.CudaArgs.p;

/**
 * The launchers of src/main/cuda/batchnorm.cu: training-mode batch norm (float64 statistics, unbiased running
 * variance), eval mode, and the backward pass.
 */
final class BatchNormKernels {
    static final KernelFamily FAMILY = new KernelFamily("batchnorm");
    static final KernelFamily.Typed STATS = FAMILY.typed("bn_stats");
    static final Kernel FINISH_MEAN = FAMILY.kernel("bn_finish_mean");
    static final KernelFamily.Typed FINISH_VAR = FAMILY.typed("bn_finish_var"), APPLY_TRAIN = FAMILY.typed("bn_apply_train"),
            EVAL_PREPARE = FAMILY.typed("bn_eval_prepare"), EVAL_APPLY = FAMILY.typed("bn_eval_apply"),
            BACK_STATS = FAMILY.typed("bn_back_stats"), BACK_FINISH = FAMILY.typed("bn_back_finish"),
            APPLY_BACK = FAMILY.typed("bn_apply_back");

    private final CudaBackend be;

    BatchNormKernels(CudaBackend be) { this.be = be; }

    /** Blocks per channel for the per-channel reductions: a function of the count alone (deterministic sums). */
    private static int channelParts(long count) {
        return (int) Math.max(1, Math.min(256, count / (CudaKernels.THREADS * 16L)));
    }

    private static int channelBlocks(int c) { return (c + CudaKernels.THREADS - 1) / CudaKernels.THREADS; }

    private static void sameDtypeParams(Tensor x, Tensor... ps) {
        for (Tensor q : ps) {
            if (q.dtype() != x.dtype()) throw new IllegalArgumentException("batch norm: parameter dtype " + q.dtype() + " != input dtype " + x.dtype());
        }
    }

    BatchNormForward train(Tensor xt, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double momentum, double eps) {
        sameDtypeParams(xt, gamma, beta, runningMean, runningVar);
        long[] s = xt.shape();
        int c = Math.toIntExact(s[1]);
        long hw = s[2] * s[3], count = s[0] * hw;
        if (count < 2) {
            throw new IllegalArgumentException("batch norm in training mode needs more than one value per channel, got input " + Arrays.toString(s));
        }
        int parts = channelParts(count);
        CudaTensor mean = be.allocate(DType.FLOAT64, c), invStd = be.allocate(DType.FLOAT64, c);
        CudaTensor y = be.allocate(xt.dtype(), s);
        DeviceArena.Block partial = be.arena.allocate((long) c * parts * 8);
        try {
            int cb = channelBlocks(c);
            be.kernels.launch(STATS.of(xt), c, parts, CudaKernels.THREADS, p(xt), i32(c), i64(hw), i64(count), NULL, p(partial));
            be.kernels.launch(FINISH_MEAN, cb, 1, CudaKernels.THREADS, p(partial), i32(c), i32(parts), i64(count), p(mean));
            be.kernels.launch(STATS.of(xt), c, parts, CudaKernels.THREADS, p(xt), i32(c), i64(hw), i64(count), p(mean), p(partial));
            be.kernels.launch(FINISH_VAR.of(xt), cb, 1, CudaKernels.THREADS, p(partial), i32(c), i32(parts), i64(count), p(mean),
                    f64v(eps), f64v(momentum), p(invStd), p(runningMean), p(runningVar));
            be.kernels.launch(APPLY_TRAIN.of(xt), CudaKernels.cappedBlocks(y.numel(), GRID_CAP), 1, CudaKernels.THREADS,
                    p(xt), i32(c), i64(hw), i64(y.numel()), p(mean), p(invStd), p(gamma), p(beta), p(y));
        } finally {
            be.arena.release(partial);
        }
        return new BatchNormForward(y, mean, invStd);
    }

    Tensor eval(Tensor xt, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps) {
        sameDtypeParams(xt, gamma, beta, runningMean, runningVar);
        long[] s = xt.shape();
        int c = Math.toIntExact(s[1]);
        CudaTensor y = be.allocate(xt.dtype(), s);
        DeviceArena.Block ab = be.arena.allocate(2L * c * xt.dtype().bytes());
        try {
            be.kernels.launch(EVAL_PREPARE.of(xt), channelBlocks(c), 1, CudaKernels.THREADS,
                    p(gamma), p(beta), p(runningMean), p(runningVar), i32(c), f64v(eps), p(ab));
            be.kernels.launch(EVAL_APPLY.of(xt), CudaKernels.cappedBlocks(y.numel(), GRID_CAP), 1, CudaKernels.THREADS,
                    p(xt), i32(c), i64(s[2] * s[3]), i64(y.numel()), p(ab), p(y));
        } finally {
            be.arena.release(ab);
        }
        return y;
    }

    BatchNormGrads backward(Tensor xt, Tensor gyt, Tensor gamma, BatchNormForward saved) {
        long[] s = xt.shape();
        int c = Math.toIntExact(s[1]);
        long hw = s[2] * s[3], count = s[0] * hw;
        int parts = channelParts(count);
        CudaTensor dx = be.allocate(gyt.dtype(), s), dgamma = be.allocate(gamma.dtype(), c), dbeta = be.allocate(gamma.dtype(), c);
        DeviceArena.Block partial = be.arena.allocate((long) c * parts * 16), sums = be.arena.allocate((long) c * 16);
        try {
            be.kernels.launch(BACK_STATS.of(xt), c, parts, CudaKernels.THREADS, p(xt), p(gyt), i32(c), i64(hw), i64(count),
                    p(saved.mean()), p(saved.invStd()), p(partial));
            be.kernels.launch(BACK_FINISH.of(xt), channelBlocks(c), 1, CudaKernels.THREADS, p(partial), i32(c), i32(parts), p(sums),
                    p(dgamma), p(dbeta));
            be.kernels.launch(APPLY_BACK.of(xt), CudaKernels.cappedBlocks(dx.numel(), GRID_CAP), 1, CudaKernels.THREADS,
                    p(xt), p(gyt), i32(c), i64(hw), i64(dx.numel()), f64v((double) count), p(saved.mean()), p(saved.invStd()),
                    p(gamma), p(sums), p(dx));
        } finally {
            be.arena.release(partial);
            be.arena.release(sums);
        }
        return new BatchNormGrads(dx, dgamma, dbeta);
    }
}
