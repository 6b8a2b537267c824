package crd4j.backend.nd4j;

import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_dgemm;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;

/**
 * Row-major GEMM straight on the buffers of dense ND4J arrays, through the OpenBLAS that ND4J itself calls (the same
 * library instance, so the same thread setting and the same kernels: the results are bit-identical to
 * {@code Nd4j.gemm} on the same operands, checked by {@code BlasTest} for both dtypes and all four transpose
 * combinations).
 *
 * <p>Why: a convolution is one GEMM per sample, and going through {@code Nd4j.gemm} costs a view array per operand
 * (a native shape buffer each) and a custom-op context per call. At the tiny preset those costs were larger than the
 * multiplications themselves (a 2026-12-01 profile of a training step: 7% in creating sample views, 20% in the
 * custom-op calls that hold the GEMMs, most of the rest of ND4J's share in shape buffers and op contexts;
 * benchmarks/RESULTS.md). Here an operand is a native buffer, an element offset into it and a leading dimension;
 * the caller is the one who knows how its elements are laid out (a dense C-order array's buffer, or a scratch buffer).
 */
final class Blas {
    private Blas() {}

    /**
     * C[m×n] ← alpha·op(A)·op(B) + beta·C, all row-major; op(A) is m×k (stored k×m when {@code ta}), op(B) is k×n
     * (stored n×k when {@code tb}); each operand starts {@code *Off} elements into its buffer with leading dimension
     * {@code ld*}. The buffers must be float32 or float64, of one dtype, start at their own first element, and hold
     * each matrix (checked: a wrong extent here would write outside native memory, not throw).
     */
    static void gemm(boolean ta, boolean tb, long m, long n, long k, double alpha,
                     DataBuffer a, long aOff, long lda, DataBuffer b, long bOff, long ldb,
                     double beta, DataBuffer c, long cOff, long ldc) {
        DataType dt = c.dataType();
        if (a.dataType() != dt || b.dataType() != dt) {
            throw new IllegalArgumentException("gemm: mixed dtypes " + a.dataType() + ", " + b.dataType() + ", " + dt);
        }
        check("A", a, aOff, ta ? k : m, ta ? m : k, lda);
        check("B", b, bOff, tb ? n : k, tb ? k : n, ldb);
        check("C", c, cOff, m, n, ldc);
        if (m == 0 || n == 0) return;
        int opA = ta ? CblasTrans : CblasNoTrans, opB = tb ? CblasTrans : CblasNoTrans;
        if (dt == DataType.FLOAT) {
            cblas_sgemm(CblasRowMajor, opA, opB, (int) m, (int) n, (int) k, (float) alpha,
                    NativeMemory.floats(a, aOff, 0), (int) lda, NativeMemory.floats(b, bOff, 1), (int) ldb, (float) beta,
                    NativeMemory.floats(c, cOff, 2), (int) ldc);
        } else {
            cblas_dgemm(CblasRowMajor, opA, opB, (int) m, (int) n, (int) k, alpha,
                    NativeMemory.doubles(a, aOff, 0), (int) lda, NativeMemory.doubles(b, bOff, 1), (int) ldb, beta,
                    NativeMemory.doubles(c, cOff, 2), (int) ldc);
        }
    }

    private static void check(String name, DataBuffer x, long off, long rows, long cols, long ld) {
        if ((x.dataType() != DataType.FLOAT && x.dataType() != DataType.DOUBLE) || x.offset() != 0) {
            throw new IllegalArgumentException("gemm: operand " + name + " is a " + x.dataType() + " buffer at offset "
                    + x.offset() + "; float32 or float64 from its first element expected");
        }
        if (rows < 0 || cols < 0 || off < 0 || ld < Math.max(1, cols) || rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE
                || ld > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("gemm: operand " + name + " has an invalid shape " + rows + "x" + cols + " (ld " + ld + ")");
        }
        long end = rows == 0 || cols == 0 ? off : Math.addExact(off, Math.addExact(Math.multiplyExact(rows - 1, ld), cols));
        if (end > x.length()) {
            throw new IllegalArgumentException("gemm: operand " + name + " (" + rows + "x" + cols + " at " + off + ", ld " + ld
                    + ") reaches element " + end + " of " + x.length());
        }
    }

}
