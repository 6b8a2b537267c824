package crd4j.backend.cuda;

import jcuda.driver.CUresult;

/** Status checks for the CUDA driver, cuDNN and cuBLAS calls: a failed call throws with the call's name. */
final class Cuda {
    private Cuda() {}

    static void check(int rc, String call) {
        if (rc != CUresult.CUDA_SUCCESS) throw new CudaError(call + ": " + CUresult.stringFor(rc), rc);
    }

    static void checkCudnn(int rc, String call) {
        if (rc != 0) throw new CudaError(call + ": " + jcuda.jcudnn.cudnnStatus.stringFor(rc), rc);
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
