package crd4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code crd}: the command-line entry point. */
@Command(name = "crd", mixinStandardHelpOptions = true, versionProvider = CrdCli.Version.class,
        description = "Crossmodal Reverse Distillation (CRD) RGB-D anomaly detection on the JVM.",
        subcommands = {SynthCommand.class, TrainCommand.class, EvalCommand.class, DetectCommand.class, CalibrateCommand.class, InspectCommand.class, StatsCommand.class,
                DemoCommand.class, BenchCommand.class, SoakCommand.class, CommandLine.HelpCommand.class})
public final class CrdCli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns the exit code (0 ok, 1 failure, 2 bad usage or bad input). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new CrdCli());
        cl.setExecutionExceptionHandler(new Errors());
        Common.deviceNote = null;
        int code = cl.execute(args);
        String note = Common.deviceNote;
        if (code == 0 && note != null) System.err.println(note);
        Common.deviceNote = null;
        return code;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = CrdCli.class.getPackage().getImplementationVersion();
            return new String[]{"crd4j " + (v == null ? "dev" : v)};
        }
    }

    /**
     * Bad input gets one line on stderr naming the file and what was expected, and exit code 2; a stack trace only
     * with {@code --verbose}.
     */
    static final class Errors implements CommandLine.IExecutionExceptionHandler {
        @Override
        public int handleExecutionException(Exception ex, CommandLine cl, CommandLine.ParseResult parsed) {
            String name = cl.getCommandName();
            String msg = message(ex);
            cl.getErr().println("crd " + name + ": error: " + msg.lines().findFirst().orElse(""));
            if (verbose(parsed)) ex.printStackTrace(cl.getErr());
            boolean badInput = ex instanceof java.io.IOException || ex instanceof IllegalArgumentException;
            return badInput ? 2 : 1;
        }

        /** --verbose is a subcommand option (the Common mixin), so it is matched in the subcommand's parse result. */
        private static boolean verbose(CommandLine.ParseResult parsed) {
            for (CommandLine.ParseResult p = parsed; p != null; p = p.hasSubcommand() ? p.subcommand() : null) {
                if (p.hasMatchedOption("--verbose")) return true;
            }
            return false;
        }

        /** The JDK's file exceptions carry only the path as message; say what is wrong with it. */
        private static String message(Exception ex) {
            if (ex instanceof java.nio.file.NoSuchFileException e && e.getReason() == null) return e.getMessage() + ": no such file";
            if (ex instanceof java.nio.file.AccessDeniedException e && e.getReason() == null) return e.getMessage() + ": permission denied";
            return ex.getMessage() == null ? ex.toString() : ex.getMessage();
        }
    }
}
