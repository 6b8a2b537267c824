package crd4j.backend;

/**
 * A backend cannot run on this machine: its device, driver or libraries are missing. The message is one line that
 * names what is missing (for example {@code --device cuda: no CUDA driver (libcuda.so.1 not loadable)}); the CLI
 * prints it without a stack trace and exits with status 1.
 */
public final class DeviceUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public DeviceUnavailableException(String oneLine) {
        super(oneLine);
    }
}
