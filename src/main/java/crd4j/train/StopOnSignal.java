package crd4j.train;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Turns SIGTERM and Ctrl-C (SIGINT) into a stop request for a training run: a JVM shutdown hook sets the flag that
 * {@link TrainingRun#run(crd4j.backend.Backend, TrainingRun.Config, TrainingRun.Listener, BooleanSupplier)} polls
 * before every step, then waits (at most {@code grace}) until the run has written its training state and
 * {@link #close()} is called; only then does the JVM exit (status 143 after SIGTERM, 130 after Ctrl-C).
 *
 * <p>Use it in a try-with-resources around the run; {@code close()} releases a waiting hook and removes the hook, so
 * a run that ends normally leaves nothing installed. A second signal while the checkpoint is written is ignored by the
 * JVM; SIGKILL still stops it at once (and the previous checkpoint stays valid: every file is replaced atomically).
 */
public final class StopOnSignal implements BooleanSupplier, AutoCloseable {
    private volatile boolean requested;
    private final CountDownLatch finished = new CountDownLatch(1);
    private final Thread hook;

    private StopOnSignal(long graceSeconds) {
        hook = new Thread(() -> {
            requested = true;
            try {
                finished.await(graceSeconds, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }, "crd4j-stop-training");
    }

    /** Installs the hook; {@code graceSeconds} bounds how long a signal waits for the checkpoint. */
    public static StopOnSignal install(long graceSeconds) {
        StopOnSignal s = new StopOnSignal(graceSeconds);
        Runtime.getRuntime().addShutdownHook(s.hook);
        return s;
    }

    /** True once a stop was requested. */
    @Override
    public boolean getAsBoolean() { return requested; }

    /**
     * After a stop by signal, once everything is written and said: lets the JVM's shutdown finish and waits for it, so
     * that the process ends with the signal's own status (143, 130) rather than racing it with an exit status of its
     * own. Returns only if no shutdown is under way (the stop came from elsewhere) or it takes longer than
     * {@code seconds}.
     */
    public void releaseAndAwaitExit(long seconds) {
        close();
        if (!requested) return;
        try {
            Thread.sleep(TimeUnit.SECONDS.toMillis(seconds));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The run is over (finished, stopped after its checkpoint, or failed): a waiting signal may end the JVM now. */
    @Override
    public void close() {
        finished.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running: it returns now that the latch is open
        }
    }
}
