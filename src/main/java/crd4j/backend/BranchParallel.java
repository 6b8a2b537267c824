package crd4j.backend;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs the two independent halves of a CRD computation — the teacher on each modality, then each student branch —
 * at the same time when the backend says it can ({@link Backend#branchParallelism()} ≥ 2), else one after the other.
 *
 * <p>Why: the two halves do the same amount of work and share nothing they write (each branch has its own modules,
 * optimiser and graph; the frozen teacher and the other modality's features are only read), so two cores each running
 * one half with single-threaded operations are busy all the time, while one half at a time with two-threaded operations
 * is not: most of the network's operations are too small for the library's threads to pay off (tiny preset), and at the
 * paper preset the library's two-thread convolution was measured no faster than one thread (benchmarks/RESULTS.md).
 * Each half runs exactly the operations it runs sequentially, in the same order, so the results are bit-identical to
 * sequential execution (BranchParallelTest).
 *
 * <p>Exceptions: both halves always finish before this returns (neither is left running on tensors the caller may
 * free); the first half's failure is rethrown before the second's, as sequential execution would have.
 */
public final class BranchParallel {
    private BranchParallel() {}

    /**
     * The workers that run first halves: at most one per core, created on first use and kept for the life of the
     * process (they never time out). A first half that finds every worker busy runs on the caller, before its second
     * half: the same operations in the same order, so the same bits, only not at once.
     *
     * <p>Why fixed: each worker keeps per-thread scratch buffers (the backend's im2col columns) and a malloc arena. A
     * cached pool's idle workers die after 60 s and new ones start on the next burst of parallel calls, each
     * allocating its scratch anew while the dead ones' memory lingers until a collection and fragments the native
     * heap; `crd soak` showed it as a 12–17 MB step in resident memory when its 4-thread phase followed a minute of
     * sequential calls (docs/RELIABILITY.md). With a fixed set the resident size after the warm-up stays put.
     */
    static final int WORKERS = Math.max(1, Runtime.getRuntime().availableProcessors());

    private static final AtomicInteger THREADS = new AtomicInteger();
    private static final ThreadPoolExecutor POOL = new ThreadPoolExecutor(WORKERS, WORKERS, 0L, TimeUnit.MILLISECONDS,
            new SynchronousQueue<>(), r -> {
                Thread t = new Thread(r, "crd4j-branch-" + THREADS.incrementAndGet());
                t.setDaemon(true);
                return t;
            }, (r, ex) -> { throw new RejectedExecutionException("all branch workers busy"); });

    /** How many worker threads have been started so far (never more than {@link #WORKERS}; for the tests). */
    static int workersStarted() {
        return THREADS.get();
    }

    /** Runs {@code first} and {@code second}; at the same time when {@code be} allows it. */
    public static void run(Backend be, Runnable first, Runnable second) {
        if (be.branchParallelism() < 2) {
            first.run();
            second.run();
            return;
        }
        Future<?> f;
        try {
            f = POOL.submit(first);
        } catch (RejectedExecutionException busy) {
            first.run();
            second.run();
            return;
        }
        Throwable secondFailure = null;
        try {
            second.run();
        } catch (Throwable t) {
            secondFailure = t;
        }
        Throwable firstFailure = null;
        boolean interrupted = false;
        while (true) {
            try {
                f.get();
                break;
            } catch (ExecutionException e) {
                firstFailure = e.getCause();
                break;
            } catch (InterruptedException e) {
                interrupted = true; // keep waiting: the first half may still be using the caller's tensors
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        Throwable t = firstFailure != null ? firstFailure : secondFailure;
        if (t == null) return;
        if (firstFailure != null && secondFailure != null) firstFailure.addSuppressed(secondFailure);
        if (t instanceof RuntimeException re) throw re;
        if (t instanceof Error er) throw er;
        throw new IllegalStateException(t);
    }
}
