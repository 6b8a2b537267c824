package crd4j.backend.cuda;

import jcuda.driver.CUresult;

/** Status checks for the CUDA driver, cuDNN and cuBLAS calls: a failed call throws with the call's name. */
final class Cuda {
    private Cuda() {}

    static void check(int rc, String call) {
        if (rc != CUresult.CUDA_SUCCESS) throw new CudaError(call + ": " + CUresult.stringFor(rc), rc);
    }

    /**
     * cuDNN's own text for the status (cudnnGetErrorString of the loaded library) and the number: JCudnn 11.7's
     * {@code cudnnStatus} table predates cuDNN 9's renumbering (e.g. 2000 = BAD_PARAM), so it would name the wrong
     * status.
     */
    static void checkCudnn(int rc, String call) {
        if (rc != 0) throw new CudaError(call + ": " + cudnnMessage(rc, jcuda.jcudnn.JCudnn::cudnnGetErrorString), rc);
    }

    /** "<library text> (cuDNN status N)"; "unknown cuDNN status" when the library gives no text or cannot be asked. */
    static String cudnnMessage(int rc, java.util.function.IntFunction<String> library) {
        String text;
        try {
            text = library.apply(rc);
        } catch (RuntimeException | LinkageError e) {
            text = null;
        }
        return (text == null || text.isBlank() ? "unknown cuDNN status" : text.strip()) + " (cuDNN status " + rc + ")";
    }

    static void checkCublas(int rc, String call) {
        if (rc != 0) throw new CudaError(call + ": " + jcuda.jcublas.cublasStatus.stringFor(rc), rc);
    }

    /** A CUDA, cuDNN or cuBLAS call failed after the backend was set up (a bug or an exhausted device). */
    static final class CudaError extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int status;

        CudaError(String message, int status) {
            super(message);
            this.status = status;
        }
    }
}
