package crd4j.backend.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * cuDNN error lines name cuDNN's own text for the status and its number (issue: JCudnn 11.7's status table predates
 * cuDNN 9's renumbering). Runs without a GPU: the library call is passed in.
 */
class CudaErrorTextTest {
    @Test
    void theLibrarysTextAndTheNumber() {
        assertEquals("CUDNN_STATUS_BAD_PARAM (cuDNN status 2000)", Cuda.cudnnMessage(2000, rc -> "CUDNN_STATUS_BAD_PARAM"));
    }

    @Test
    void noTextOrNoLibraryStillGivesTheNumber() {
        assertEquals("unknown cuDNN status (cuDNN status 3000)", Cuda.cudnnMessage(3000, rc -> ""));
        assertEquals("unknown cuDNN status (cuDNN status 4000)", Cuda.cudnnMessage(4000, rc -> { throw new UnsatisfiedLinkError("no libcudnn"); }));
    }

    @Test
    void aFailedCallThrowsWithTheCallsName() {
        Cuda.CudaError e = org.junit.jupiter.api.Assertions.assertThrows(Cuda.CudaError.class, () -> Cuda.checkCudnn(2000, "cudnnConvolutionForward"));
        assertEquals(2000, e.status);
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().startsWith("cudnnConvolutionForward: ") && e.getMessage().endsWith("(cuDNN status 2000)"),
                e.getMessage());
    }
}
