package crd4j.cli;

import crd4j.train.CrdTrainer;
import crd4j.train.TrainingRun;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Locale;

/**
 * Training progress on stderr. On a terminal (or with {@code bar}): one progress bar over all samples of all remaining
 * epochs (library: me.tongfei progressbar) showing epoch, the running mean loss per branch, samples/s and the ETA,
 * plus a line per finished epoch above it. Otherwise ({@code lines}: logs, CI, pipes) one line per epoch with the
 * same figures, so log files carry no carriage returns.
 */
final class TrainProgress implements TrainingRun.Listener, AutoCloseable {
    private final String prefix;
    private final boolean bar;
    private ProgressBar pb;
    private int samplesPerEpoch, startEpoch;
    private double rgbSum, otherSum;
    private int steps;
    private String otherKey = "other";

    private TrainProgress(String prefix, boolean bar) {
        this.prefix = prefix;
        this.bar = bar;
    }

    static TrainProgress create(String mode, String prefix) {
        return switch (mode) {
            case "auto" -> new TrainProgress(prefix, System.console() != null);
            case "bar" -> new TrainProgress(prefix, true);
            case "lines" -> new TrainProgress(prefix, false);
            default -> throw new IllegalArgumentException("--progress: expected auto, bar or lines, found '" + mode + "'");
        };
    }

    @Override
    public void started(int startEpoch, int epochs, int samplesPerEpoch, String otherModality) {
        this.otherKey = otherModality;
        this.samplesPerEpoch = samplesPerEpoch;
        this.startEpoch = startEpoch;
        if (bar) {
            pb = new ProgressBarBuilder()
                    .setTaskName("train")
                    .setInitialMax((long) (epochs - startEpoch) * samplesPerEpoch)
                    .setUnit(" samples", 1)
                    .showSpeed()
                    .setSpeedUnit(ChronoUnit.SECONDS)
                    .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                    // without a terminal (forced 'bar') the library cannot measure the width; keep the message whole
                    .setConsumer(new ConsoleProgressBarConsumer(System.err, System.console() == null ? 150 : -1))
                    .setUpdateIntervalMillis(250)
                    .setEtaFunction(state -> java.util.Optional.of(eta(state.getCurrent(), state.getMax(),
                            Duration.between(state.getStartInstant(), java.time.Instant.now()))))
                    .build();
        }
    }

    private static Duration eta(long current, long max, Duration elapsed) {
        if (current <= 0) return Duration.ZERO;
        return Duration.ofMillis((long) (elapsed.toMillis() * (double) (max - current) / current));
    }

    @Override
    public void step(int epoch, int samplesDone, CrdTrainer.StepLosses losses) {
        rgbSum += losses.rgb().total();
        otherSum += losses.other().total();
        steps++;
        if (pb != null) {
            pb.stepTo((long) (epoch - 1 - startEpoch) * samplesPerEpoch + samplesDone);
            pb.setExtraMessage(String.format(Locale.ROOT, "  epoch %d  loss rgb %.4f %s %.4f", epoch, rgbSum / steps, otherKey, otherSum / steps));
        }
    }

    @Override
    public void epochDone(TrainingRun.EpochReport r) {
        rgbSum = 0;
        otherSum = 0;
        steps = 0;
        String line = String.format(Locale.ROOT, "epoch %d/%d  lr %.4g  loss rgb %.5f  %s %.5f  %.1f samples/s  ETA %s",
                r.epoch(), r.epochs(), r.lr(), r.rgbLoss(), otherKey, r.otherLoss(), r.samples() / r.seconds(),
                TrainingRun.hms(r.etaSeconds()));
        if (pb == null) System.err.println(line);
        if (pb != null && r.epoch() == r.epochs()) {
            // training is over: finish the bar before the validation statistics are logged
            pb.stepTo(pb.getMax());
            pb.close();
            pb = null;
            System.err.println(line);
        }
    }

    @Override
    public void log(String message) {
        if (pb != null) {
            // the bar redraws itself on the next update
            System.err.print("\r\033[2K");
        }
        System.err.println(prefix + ": " + message);
    }

    @Override
    public void close() {
        if (pb != null) pb.close();
    }
}
