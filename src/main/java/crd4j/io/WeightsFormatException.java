package crd4j.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A weights, array or model file is not what crd4j expected: wrong container, truncated, corrupted, an unsupported
 * dtype, a missing key or a shape mismatch, or a pickle that asks for something a plain state_dict never needs.
 *
 * <p>The message is always a single line of the form {@code <file>: <what is wrong, naming the key or field and what
 * was expected>}, because it is shown to users as-is by the command line tool. Low-level exceptions (EOF, zip, index
 * errors) are attached as the cause rather than shown.
 */
public class WeightsFormatException extends IOException {
    private static final long serialVersionUID = 1L;
    private static final int MAX_QUOTED = 200;

    private final transient Path file;
    private final String detail;

    public WeightsFormatException(Path file, String detail) {
        this(file, detail, null);
    }

    public WeightsFormatException(Path file, String detail, Throwable cause) {
        super(oneLine(file + ": " + detail), cause);
        this.file = file;
        this.detail = detail;
    }

    /** The offending file as it was given to the reader. */
    public Path file() { return file; }

    /** The message without the leading file name. */
    public String detail() { return detail; }

    /**
     * Quotes text taken from a file (a key, a global name) for a message: single quotes, control characters escaped
     * and long text shortened, so a hostile file cannot break the one-line message or flood the log.
     */
    public static String quote(String text) {
        if (text == null) return "None";
        StringBuilder sb = new StringBuilder(Math.min(text.length(), MAX_QUOTED) + 2).append('\'');
        int n = Math.min(text.length(), MAX_QUOTED);
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            if (c == '\'' || c == '\\') sb.append('\\').append(c);
            else if (c < 0x20 || c == 0x7f || Character.isISOControl(c)) sb.append(String.format("\\x%02x", (int) c));
            else sb.append(c);
        }
        if (text.length() > MAX_QUOTED) sb.append("...");
        return sb.append('\'').toString();
    }

    private static String oneLine(String s) {
        return s.replace('\r', ' ').replace('\n', ' ');
    }
}
