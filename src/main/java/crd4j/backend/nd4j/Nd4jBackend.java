package crd4j.backend.nd4j;

import crd4j.backend.Backend;
import crd4j.backend.BatchNormEpilogue;
import crd4j.backend.Tensor;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.convolution.Convolution;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The CPU reference backend on ND4J. Convolutions are im2col + GEMM written out here (forward and both
 * backward passes share the same column layout), never SameDiff autodiff. Batch-norm statistics, cosine
 * reductions and dot products accumulate in float64, as PyTorch's CPU kernels accumulate float32 reductions in a
 * wider type; everything else runs in the tensors' own dtype (FLOAT32, or FLOAT64 for gradient checks).
 */
public final class Nd4jBackend implements Backend, BatchNormEpilogue {

    /** An ND4J array in C order that this backend owns. */
    static final class Nd4jTensor implements Tensor {
        final INDArray a;

        /** The buffer came from {@link BufferPool} and goes back there on close. */
        private final boolean pooled;

        /**
         * Bumped by every backend op that writes this tensor in place ({@link #changed}), so that values derived from
         * its contents (the batch-norm coefficients cached on a γ tensor) can tell that they are stale.
         */
        private long version;

        /** The eval-mode batch-norm coefficients last derived with this tensor as γ, or null. */
        private BatchNormCoefficients bnCache;

        /** The Winograd filter transform last derived from this tensor as a 3×3 weight ({@link Winograd}), or null. */
        private INDArray winogradU;
        private long winogradVersion;

        private boolean closed;

        Nd4jTensor(INDArray a) {
            this.a = a.ordering() == 'c' && !a.isView() ? a : a.dup('c');
            this.pooled = false;
        }

        private Nd4jTensor(INDArray a, boolean pooled) {
            this.a = a;
            this.pooled = pooled;
        }

        /**
         * Frees the native buffer now instead of at the next garbage collection; a pooled buffer is handed back to
         * the pool for the next tensor of the same size.
         */
        @Override
        public synchronized void close() {
            if (closed) return;
            closed = true;
            if (bnCache != null) bnCache.close();
            bnCache = null;
            if (winogradU != null && winogradU.closeable()) winogradU.close();
            winogradU = null;
            if (pooled) BufferPool.give(a);
            else if (a.closeable()) a.close();
        }

        INDArray array() {
            // a pooled buffer may already hold another tensor's values: reading it after close would be silently wrong
            if (pooled && closed) throw new IllegalStateException("tensor " + this + " used after close()");
            return a;
        }

        @Override
        public long[] shape() { return a.shape().clone(); }

        @Override
        public DType dtype() { return fromNd4j(a.dataType()); }

        /** Float32 and float64 through a per-thread block of 4096 elements: no host copy of the whole tensor. */
        @Override
        public void addTo(double[] acc) {
            INDArray a = array();
            long len = a.length();
            if (acc.length < len) throw new IllegalArgumentException("addTo: " + acc.length + " < " + len + " elements");
            if (a.dataType() != DataType.FLOAT && a.dataType() != DataType.DOUBLE) {
                Tensor.super.addTo(acc);
                return;
            }
            boolean single = a.dataType() == DataType.FLOAT;
            float[] f = single ? wideF(0, ADD_BLOCK) : null;
            double[] d = single ? null : wide(0, ADD_BLOCK);
            for (int at = 0; at < len; at += ADD_BLOCK) {
                int n = (int) Math.min(ADD_BLOCK, len - at);
                if (single) {
                    NativeMemory.read(a.data(), at, f, 0, n);
                    for (int i = 0; i < n; i++) acc[at + i] += f[i];
                } else {
                    NativeMemory.read(a.data(), at, d, 0, n);
                    for (int i = 0; i < n; i++) acc[at + i] += d[i];
                }
            }
        }

        @Override
        public HostTensor toHost() {
            INDArray a = array();
            long[] shape = a.shape();
            if (a.length() == 0 && a.dataType() == DataType.FLOAT) return HostTensor.of(new float[0], shape);
            if (a.length() == 0 && a.dataType() == DataType.DOUBLE) return HostTensor.of(new double[0], shape);
            return switch (a.dataType()) {
                case FLOAT -> {
                    float[] v = new float[Math.toIntExact(a.length())];
                    NativeMemory.read(a.data(), 0, v, 0, v.length);
                    yield HostTensor.of(v, shape);
                }
                case DOUBLE -> {
                    double[] v = new double[Math.toIntExact(a.length())];
                    NativeMemory.read(a.data(), 0, v, 0, v.length);
                    yield HostTensor.of(v, shape);
                }
                case LONG -> HostTensor.of(a.data().asLong(), shape);
                case INT -> HostTensor.of(a.data().asInt(), shape);
                default -> throw new IllegalStateException("unsupported dtype " + a.dataType());
            };
        }

        @Override
        public String toString() { return "Nd4jTensor" + Arrays.toString(a.shape()) + " " + a.dataType(); }
    }

    /**
     * The thread budget {@code n} (process-wide); {@code n <= 0} keeps the library defaults (one thread per core for
     * ND4J's native ops and its BLAS, one branch at a time). With 2 or 3 threads the two halves of each computation
     * (teacher per modality, student branch per modality) run at once on two threads, each with single-threaded
     * operations ({@link crd4j.backend.BranchParallel}); with 1 thread, or 4 and more, one half runs at a time and the
     * operations get all {@code n} threads. Why: on the 2-core development machine ND4J's and OpenBLAS's two-thread
     * operations were measured no faster than one thread for this network, while the two halves are independent and
     * equal in size (benchmarks/RESULTS.md); above 3 threads concurrent multi-threaded BLAS calls have not been
     * measured or checked here, so the library's own parallelism is kept.
     */
    public static void setThreads(int n) {
        if (n <= 0) return;
        configured = true;
        // -Dcrd4j.branchParallel=off keeps one half at a time with n-thread operations (to compare the schedules)
        boolean branches = (n == 2 || n == 3) && !"off".equals(System.getProperty("crd4j.branchParallel"));
        int ops = branches ? 1 : n;
        Nd4j.getEnvironment().setMaxThreads(ops);
        Nd4j.getEnvironment().setMaxMasterThreads(ops);
        Nd4j.factory().blas().setMaxThreads(ops);
        branchWorkers = branches ? 2 : 1;
    }

    private static volatile int branchWorkers = 1;
    private static volatile boolean configured;

    /**
     * A backend with the process's thread budget: what {@link #setThreads} set, or else one thread per core under the
     * same rule (so on 1–3 cores every operation runs single-threaded and the results do not depend on how many
     * cores the machine has, nor on whether a thread count was given; ND4J's own default ran each op on every core,
     * which changes float32 sums at the 1e-7 level).
     */
    public Nd4jBackend() {
        if (!configured) {
            synchronized (Nd4jBackend.class) {
                if (!configured) setThreads(Runtime.getRuntime().availableProcessors());
            }
        }
    }

    /** The threads {@link crd4j.backend.BranchParallel} may use: 2 with a 2- or 3-thread budget, else 1. */
    @Override
    public int branchParallelism() { return branchWorkers; }

    /**
     * Sets the branch parallelism alone (tests and benchmarks comparing the two schedules at the same operation
     * threads).
     */
    public static void setBranchParallelism(int workers) { branchWorkers = Math.max(1, workers); }

    @Override
    public String name() { return "cpu (ND4J " + Nd4j.getBackend().getClass().getSimpleName() + ")"; }

    static INDArray arr(Tensor t) {
        if (!(t instanceof Nd4jTensor nt)) {
            throw new IllegalArgumentException("tensor " + t + " does not belong to the ND4J backend");
        }
        return nt.array();
    }

    private static Tensor wrap(INDArray a) { return new Nd4jTensor(a); }

    /**
     * Recycles the native buffers of activations (convolution, transposed-convolution, concatenation and fusion
     * outputs). A forward pass allocates hundreds of large buffers; fresh native memory is zero-filled and
     * page-faulted on first touch, which cost more than a third of a paper-preset forward pass (2026-12-01 profile,
     * benchmarks/RESULTS.md). Buffers are matched by dtype and exact length, so the repeated shapes of steady-state
     * scoring and training always find one. A buffer returns here only when its tensor is closed (Graph.release,
     * Var.zeroGrad, ...); at most {@link #CAPACITY} bytes are kept, the rest is freed as before. Pooled bytes stay
     * allocated, so they count against JavaCPP's native limit ({@code org.bytedeco.javacpp.maxbytes}): the default
     * capacity is a third of that limit, at most 4 GiB (1 GiB under the demo's 3 GB). Property
     * {@code crd4j.nd4j.poolBytes} sets it (0 turns pooling off).
     */
    static final class BufferPool {
        static final long CAPACITY = Long.getLong("crd4j.nd4j.poolBytes",
                Math.min(4L << 30, org.bytedeco.javacpp.Pointer.maxBytes() > 0 ? org.bytedeco.javacpp.Pointer.maxBytes() / 3 : 1L << 30));

        private record Key(DataType dtype, long length) {}

        /**
         * Pooled arrays by dtype and length. The array itself is kept, not only its buffer: an array of the same
         * shape is handed out again as it is, because a new array over the buffer costs a native shape buffer, and
         * every native buffer costs ND4J and JavaCPP a deallocator registration that lives until the next garbage
         * collection — those registrations were what the young collections of steady-state scoring spent their
         * time copying (benchmarks/RESULTS.md, 2026-12-01 evening §5).
         */
        private static final java.util.Map<Key, java.util.ArrayDeque<INDArray>> FREE = new java.util.HashMap<>();
        private static long held;

        /** A pooled C-order array of dtype dt and this shape (contents undefined), or null when none is free. */
        static synchronized INDArray take(DataType dt, long length, long[] shape) {
            java.util.ArrayDeque<INDArray> q = FREE.get(new Key(dt, length));
            if (q == null || q.isEmpty()) return null;
            held -= length * dt.width();
            for (java.util.Iterator<INDArray> it = q.iterator(); it.hasNext(); ) {
                INDArray a = it.next();
                if (Arrays.equals(a.shape(), shape)) {
                    it.remove();
                    return a;
                }
            }
            INDArray other = q.pop();
            return Nd4j.create(other.data(), shape, Nd4j.getStrides(shape, 'c'), 0, 'c', dt);
        }

        static void give(INDArray a) {
            org.nd4j.linalg.api.buffer.DataBuffer b = a.data();
            long bytes = b.length() * b.dataType().width();
            synchronized (BufferPool.class) {
                if (held + bytes <= CAPACITY) {
                    FREE.computeIfAbsent(new Key(b.dataType(), b.length()), k -> new java.util.ArrayDeque<>()).push(a);
                    held += bytes;
                    return;
                }
            }
            b.close();
        }

        /** Frees every pooled buffer. */
        static synchronized void clear() {
            for (var q : FREE.values()) for (var a : q) a.data().close();
            FREE.clear();
            held = 0;
        }
    }

    /** A C-order array for a new activation, its contents undefined (every caller overwrites all of it). */
    private static INDArray pooledArray(DataType dt, long... shape) {
        long len = 1;
        for (long d : shape) len *= d;
        INDArray pooled = BufferPool.take(dt, len, shape);
        if (pooled == null) {
            try {
                return Nd4j.createUninitialized(dt, shape);
            } catch (OutOfMemoryError e) {
                BufferPool.clear(); // pooled buffers of other sizes count against the native limit: give them back
                return Nd4j.createUninitialized(dt, shape);
            }
        }
        return pooled;
    }

    /** Wraps an array made by {@link #pooledArray}: its buffer returns to the pool when the tensor is closed. */
    private static Tensor wrapPooled(INDArray a) { return new Nd4jTensor(a, BufferPool.CAPACITY > 0); }

    static DType fromNd4j(DataType d) {
        return switch (d) {
            case FLOAT -> DType.FLOAT32;
            case DOUBLE -> DType.FLOAT64;
            case LONG -> DType.INT64;
            case INT -> DType.INT32;
            case UBYTE -> DType.UINT8;
            default -> throw new IllegalArgumentException("unsupported ND4J dtype " + d);
        };
    }

    static DataType toNd4j(DType d) {
        return switch (d) {
            case FLOAT32 -> DataType.FLOAT;
            case FLOAT64 -> DataType.DOUBLE;
            case INT64 -> DataType.LONG;
            case INT32 -> DataType.INT;
            case UINT8 -> DataType.UBYTE;
        };
    }

    @Override
    public Tensor fromHost(HostTensor h) {
        long[] shape = h.shape();
        if (h.numel() == 0 && h.dtype().isFloating()) {
            return wrap(h.dtype() == DType.FLOAT32 ? Nd4j.create(h.floats(), shape, 'c') : Nd4j.create(h.doubles(), shape, 'c'));
        }
        INDArray a = switch (h.dtype()) {
            // one bulk copy into native memory: Nd4j.create(float[], …) stored element by element (2.7 s of building
            // the paper model's 412 M parameters, 2026-12-01 profile)
            case FLOAT32 -> {
                INDArray f = Nd4j.createUninitialized(DataType.FLOAT, shape, 'c');
                NativeMemory.write(f.data(), 0, h.floats(), 0, h.floats().length);
                yield f;
            }
            case FLOAT64 -> {
                INDArray d = Nd4j.createUninitialized(DataType.DOUBLE, shape, 'c');
                NativeMemory.write(d.data(), 0, h.doubles(), 0, h.doubles().length);
                yield d;
            }
            case INT64 -> Nd4j.createFromArray(h.longs()).reshape(shape);
            case INT32 -> Nd4j.createFromArray(h.ints()).reshape(shape);
            case UINT8 -> throw new IllegalArgumentException("uint8 tensors are host-only");
        };
        return wrap(a);
    }

    @Override
    public Tensor zeros(DType dtype, long... shape) { return wrap(Nd4j.create(toNd4j(dtype), shape)); }

    @Override
    public Tensor copy(Tensor x) { return wrap(arr(x).dup('c')); }

    // ---- elementwise -------------------------------------------------------------------------------------------

    @Override
    public Tensor add(Tensor a, Tensor b) {
        requireSameShape(a, b);
        return wrap(arr(a).add(arr(b)));
    }

    @Override
    public void addInPlace(Tensor acc, Tensor x) {
        requireSameShape(acc, x);
        arr(acc).addi(arr(x));
        changed(acc);
    }

    @Override
    public Tensor axpby(double alpha, Tensor a, double beta, Tensor b) {
        requireSameShape(a, b);
        // the same two scalings and one add as a.mul(α).addi(b.mul(β)), into a pooled output and a scratch temporary
        INDArray x = arr(a), y = arr(b);
        INDArray out = pooledArray(x.dataType(), x.shape());
        x.mul(alpha, out);
        out.addi(y.mul(beta, scratch(y.dataType(), 0, y.shape())));
        return wrapPooled(out);
    }

    @Override
    public double dot(Tensor a, Tensor b) {
        requireSameShape(a, b);
        double[] x = readAll(arr(a), 0);
        double[] y = readAll(arr(b), 1);
        int len = (int) arr(a).length();
        double s = 0;
        for (int i = 0; i < len; i++) s += x[i] * y[i];
        return s;
    }

    @Override
    public Tensor relu(Tensor x) { return wrap(Transforms.relu(arr(x), true)); }

    @Override
    public Tensor reluBackward(Tensor y, Tensor gy) {
        requireSameShape(y, gy);
        INDArray ya = arr(y), ga = arr(gy);
        if (ya.dataType() == DataType.FLOAT && ga.dataType() == DataType.FLOAT) {
            // gy·(y > 0 ? 1 : 0) in float32, one pass: the product the mask-and-multiply ops computed (so −0 for a
            // negative gradient where y ≤ 0, NaN where gy is not finite and the mask 0), without their three arrays
            ya = dense(ya);
            ga = dense(ga);
            int len = (int) ya.length();
            float[] yv = wideF(1, len), gv = wideF(2, len);
            NativeMemory.read(ya.data(), 0, yv, 0, len);
            NativeMemory.read(ga.data(), 0, gv, 0, len);
            for (int i = 0; i < len; i++) gv[i] = gv[i] * positiveAsOne(yv[i]);
            INDArray out = pooledArray(DataType.FLOAT, ya.shape());
            NativeMemory.write(out.data(), 0, gv, 0, len);
            return wrapPooled(out);
        }
        INDArray mask = ya.gt(0).castTo(ga.dataType());
        return wrap(ga.mul(mask));
    }

    @Override
    public Tensor concatChannels(List<Tensor> parts) {
        INDArray first = arr(parts.get(0));
        long n = first.size(0), h = first.size(2), w = first.size(3), channels = 0;
        for (Tensor p : parts) {
            INDArray a = arr(p);
            if (a.rank() != 4 || a.size(0) != n || a.size(2) != h || a.size(3) != w || a.dataType() != first.dataType()) {
                throw new IllegalArgumentException("concatChannels: part " + Arrays.toString(a.shape()) + " " + a.dataType()
                        + " does not fit " + Arrays.toString(first.shape()) + " " + first.dataType());
            }
            channels += a.size(1);
        }
        INDArray out = pooledArray(first.dataType(), n, channels, h, w);
        long start = 0;
        if (first.dataType() == DataType.FLOAT || first.dataType() == DataType.DOUBLE) {
            // each part's [c_i, h, w] block of every sample copied into place (the same bits as the assign below)
            long hw = h * w;
            for (Tensor p : parts) {
                INDArray a = dense(arr(p));
                long ci = a.size(1);
                for (long s = 0; s < n; s++) NativeMemory.copy(a.data(), s * ci * hw, out.data(), (s * channels + start) * hw, ci * hw);
                start += ci;
            }
            return wrapPooled(out);
        }
        for (Tensor p : parts) {
            INDArray a = arr(p);
            out.get(NDArrayIndex.all(), NDArrayIndex.interval(start, start + a.size(1)), NDArrayIndex.all(), NDArrayIndex.all())
                    .assign(a);
            start += a.size(1);
        }
        return wrapPooled(out);
    }

    @Override
    public List<Tensor> splitChannels(Tensor x, long... sizes) {
        INDArray a = arr(x);
        long total = Arrays.stream(sizes).sum();
        if (total != a.size(1)) {
            throw new IllegalArgumentException("split sizes " + Arrays.toString(sizes) + " do not add up to " + a.size(1));
        }
        List<Tensor> out = new ArrayList<>();
        long start = 0;
        for (long s : sizes) {
            out.add(wrap(a.get(NDArrayIndex.all(), NDArrayIndex.interval(start, start + s)).dup('c')));
            start += s;
        }
        return out;
    }

    // ---- convolutions ------------------------------------------------------------------------------------------

    /**
     * Per-thread, grow-only scratch buffers (per dtype and slot, shared by all instances) for the im2col column
     * matrices and the transposed convolution's temporaries. The columns are a
     * temporary of every convolution, often tens of MB at the paper preset; allocating them per call cost 16% of a
     * paper-preset forward pass (zero-filling and page-faulting fresh native memory; benchmarks/RESULTS.md,
     * 2026-12-01 profile). A view of the scratch lives only inside one backend call and is never handed out.
     */
    private static final ThreadLocal<java.util.Map<ScratchKey, INDArray>> SCRATCH = ThreadLocal.withInitial(java.util.HashMap::new);

    private record ScratchKey(DataType dtype, int slot) {}

    /**
     * A C-order view of this thread's scratch buffer number {@code slot} for dtype with the given shape (contents
     * undefined); one call uses different slots for temporaries it needs at the same time.
     */
    private static INDArray scratch(DataType dt, int slot, long... shape) {
        long len = 1;
        for (long d : shape) len *= d;
        return Nd4j.create(scratchBuffer(dt, slot, len), shape, Nd4j.getStrides(shape, 'c'), 0, 'c', dt);
    }

    /**
     * This thread's scratch buffer number {@code slot} for dtype, at least {@code len} elements (contents
     * undefined): for callers that address it themselves ({@link Blas}), so that no view array (and no native shape
     * buffer) is made per call.
     */
    private static org.nd4j.linalg.api.buffer.DataBuffer scratchBuffer(DataType dt, int slot, long len) {
        java.util.Map<ScratchKey, INDArray> m = SCRATCH.get();
        ScratchKey key = new ScratchKey(dt, slot);
        INDArray buf = m.get(key);
        if (buf == null || buf.length() < len) {
            if (buf != null && buf.closeable()) buf.close();
            buf = Nd4j.createUninitialized(dt, len);
            m.put(key, buf);
        }
        return buf.data();
    }

    /**
     * The column matrix of sample i as {@link #sampleColumns} makes it, as a buffer for {@link Blas}: x's own buffer
     * (the matrix at element offset {@code offset[0]}) for a 1×1 stride-1 convolution, else this thread's scratch
     * buffer 0 (offset 0), written by {@link #im2col} without a view array where it can.
     */
    private static org.nd4j.linalg.api.buffer.DataBuffer columnBuffer(INDArray x, long i, int k, int stride, int pad, long oH, long oW,
                                                                      long[] offset) {
        long c = x.size(1), h = x.size(2), w = x.size(3);
        offset[0] = 0;
        if (k == 1 && pad == 0 && stride == 1) {
            offset[0] = i * c * h * w;
            return x.data();
        }
        if (k == 1 && pad == 0) return sampleColumns(x, i, k, stride, pad, oH, oW).data();   // strided 1×1: a copy
        org.nd4j.linalg.api.buffer.DataBuffer col = scratchBuffer(x.dataType(), 0, c * k * k * oH * oW);
        im2col(x, i, k, stride, pad, oH, oW, col);
        return col;
    }

    /**
     * The column matrix [C·k·k, oH·oW] of sample i of x (rows ordered (c, ky, kx) like PyTorch's flattened weight),
     * in this thread's scratch buffer: valid until the next call of this method on this thread. A 1×1 stride-1
     * convolution needs no copy: the sample itself is that matrix.
     */
    private static INDArray sampleColumns(INDArray x, long i, int k, int stride, int pad, long oH, long oW) {
        long c = x.size(1), h = x.size(2), w = x.size(3);
        if (k == 1 && pad == 0 && stride == 1) return sample(x.reshape(x.size(0), c, h * w), i);
        if (k == 1 && pad == 0) {
            INDArray col = scratch(x.dataType(), 0, c, oH, oW);
            col.assign(x.get(NDArrayIndex.point(i), NDArrayIndex.all(),
                    NDArrayIndex.interval(0, stride, h), NDArrayIndex.interval(0, stride, w)));
            return col.reshape(c, oH * oW);
        }
        INDArray col = scratch(x.dataType(), 0, c * k * k, oH * oW);
        if (x.dataType() == DataType.FLOAT || x.dataType() == DataType.DOUBLE) {
            im2col(x, i, k, stride, pad, oH, oW, col);
            return col;
        }
        // im2col writes every element (zero where the window covers padding), so the scratch needs no clearing
        Convolution.im2col(x.get(NDArrayIndex.interval(i, i + 1), NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.all()),
                k, k, stride, stride, pad, pad, 1, 1, false, col.reshape(1, c, k, k, oH, oW));
        return col;
    }

    /**
     * Per-thread heap copies of one input sample and of its column matrix for {@link #im2col}, and a row of zeros
     * to pad with (grow-only; float32 and float64).
     */
    private static final ThreadLocal<Object[]> SAMPLE_F = ThreadLocal.withInitial(() -> new Object[]{new float[0], new float[0], new float[0]});
    private static final ThreadLocal<Object[]> SAMPLE_D = ThreadLocal.withInitial(() -> new Object[]{new double[0], new double[0], new double[0]});

    /**
     * The column matrix of sample i into {@code col} ([C·k·k, oH·oW], C order): col[(c,ky,kx), (oy,ox)] =
     * x[i, c, oy·s − p + ky, ox·s − p + kx], 0 outside the image — the same values as ND4J's im2col op (pure
     * copies, so bit-identical: Im2colTest), built on the heap with one array copy per output row where the stride is
     * 1 and handed to the native buffer in one bulk copy. ND4J's op computes every element's index on its own and was
     * 11–15% of a forward pass (2026-12-01 profiles, benchmarks/RESULTS.md).
     */
    static void im2col(INDArray x, long i, int k, int stride, int pad, long oHl, long oWl, INDArray col) {
        im2col(x, i, k, stride, pad, oHl, oWl, col.data());
    }

    /** {@link #im2col(INDArray, long, int, int, int, long, long, INDArray)} into a buffer, from its first element. */
    static void im2col(INDArray x, long i, int k, int stride, int pad, long oHl, long oWl, org.nd4j.linalg.api.buffer.DataBuffer col) {
        x = dense(x);
        int c = (int) x.size(1), h = (int) x.size(2), w = (int) x.size(3), oH = (int) oHl, oW = (int) oWl;
        int plane = h * w, len = c * plane, colLen = Math.toIntExact((long) c * k * k * oH * oW);
        int base = Math.toIntExact(i * (long) len);
        boolean single = x.dataType() == DataType.FLOAT;
        Object[] t = single ? SAMPLE_F.get() : SAMPLE_D.get();
        if (java.lang.reflect.Array.getLength(t[0]) < len) t[0] = single ? new float[len] : new double[len];
        if (java.lang.reflect.Array.getLength(t[1]) < colLen) t[1] = single ? new float[colLen] : new double[colLen];
        if (java.lang.reflect.Array.getLength(t[2]) < oW) t[2] = single ? new float[oW] : new double[oW];   // stays all zeros
        Object src = t[0], dst = t[1], zeros = t[2];
        if (single) NativeMemory.read(x.data(), base, (float[]) src, 0, len);
        else NativeMemory.read(x.data(), base, (double[]) src, 0, len);
        int pos = 0;
        for (int ch = 0; ch < c; ch++) {
            for (int ky = 0; ky < k; ky++) {
                for (int kx = 0; kx < k; kx++) {
                    // output columns ox whose input column ix = ox·s − p + kx lies inside [0, w)
                    int lo = Math.max(0, ceilDiv(pad - kx, stride)), hi = Math.min(oW, ceilDiv(w + pad - kx, stride));
                    for (int oy = 0; oy < oH; oy++, pos += oW) {
                        int iy = oy * stride - pad + ky;
                        if (iy < 0 || iy >= h || lo >= hi) {
                            System.arraycopy(zeros, 0, dst, pos, oW);
                            continue;
                        }
                        int from = ch * plane + iy * w + lo * stride - pad + kx;
                        System.arraycopy(zeros, 0, dst, pos, lo);
                        if (stride == 1) System.arraycopy(src, from, dst, pos + lo, hi - lo);
                        else if (single) for (int ox = lo; ox < hi; ox++, from += stride) ((float[]) dst)[pos + ox] = ((float[]) src)[from];
                        else for (int ox = lo; ox < hi; ox++, from += stride) ((double[]) dst)[pos + ox] = ((double[]) src)[from];
                        System.arraycopy(zeros, 0, dst, pos + hi, oW - hi);
                    }
                }
            }
        }
        if (single) NativeMemory.write(col, 0, (float[]) dst, 0, colLen);
        else NativeMemory.write(col, 0, (double[]) dst, 0, colLen);
    }

    /** ⌈a / b⌉ for b > 0 (a of either sign). */
    private static int ceilDiv(int a, int b) { return -Math.floorDiv(-a, b); }

    private static long outSize(long in, int k, int stride, int pad) {
        long o = (in + 2L * pad - k) / stride + 1;
        if (o <= 0) throw new IllegalArgumentException("convolution output would be empty for input size " + in);
        return o;
    }

    /** Row n of a C-order [N, a, b] array as an [a, b] view (contiguous, no copy). */
    private static INDArray sample(INDArray a3, long n) {
        return a3.get(NDArrayIndex.point(n), NDArrayIndex.all(), NDArrayIndex.all());
    }

    /**
     * {@link #conv2d}, or where {@link #winograd} allows it the same convolution by Winograd's F(2×2, 3×3) algorithm
     * ({@link Winograd}: 4/9 of the multiplications, a different float32 rounding within the per-layer tolerance).
     */
    @Override
    public Tensor conv2dInference(Tensor xt, Tensor wt, int stride, int pad) {
        INDArray x = arr(xt), w = arr(wt);
        checkConv(x, w);
        int k = (int) w.size(2);
        long n = x.size(0), o = w.size(0);
        long oH = outSize(x.size(2), k, stride, pad), oW = outSize(x.size(3), k, stride, pad);
        if (!winograd(x, w, k, stride, oH, oW)) return conv2d(xt, wt, stride, pad);
        // every element is written by the output transform: no zero-fill
        INDArray y = pooledArray(x.dataType(), n, o, oH, oW);
        x = dense(x);
        int c = (int) x.size(1);
        long[] len = Winograd.scratchLength((int) n, c, (int) o, (int) oH, (int) oW);
        Winograd.conv(x.data(), (int) n, c, (int) x.size(2), (int) x.size(3), pad, winogradFilter(wt, w), (int) o,
                scratchBuffer(DataType.FLOAT, 10, len[0]), scratchBuffer(DataType.FLOAT, 11, len[1]), y.data());
        return wrapPooled(y);
    }

    /** The convolution by im2col + GEMM, for every shape and dtype: the reference path (training always takes it). */
    @Override
    public Tensor conv2d(Tensor xt, Tensor wt, int stride, int pad) {
        INDArray x = arr(xt), w = arr(wt);
        checkConv(x, w);
        int k = (int) w.size(2);
        long n = x.size(0), o = w.size(0);
        long oH = outSize(x.size(2), k, stride, pad), oW = outSize(x.size(3), k, stride, pad);
        // every element is written by the GEMMs (beta 0): no zero-fill
        INDArray y = pooledArray(x.dataType(), n, o, oH, oW);
        if (direct(x, w)) {
            // y_i[o, oH·oW] = W[o, C·k·k] · columns_i[C·k·k, oH·oW], straight on the buffers (Blas)
            x = dense(x);
            w = dense(w);
            long kk = w.length() / o, cols = oH * oW;
            long[] at = new long[1];
            for (long i = 0; i < n; i++) {
                org.nd4j.linalg.api.buffer.DataBuffer col = columnBuffer(x, i, k, stride, pad, oH, oW, at);
                Blas.gemm(false, false, o, cols, kk, 1.0, w.data(), 0, kk, col, at[0], cols, 0.0, y.data(), i * o * cols, cols);
            }
            return wrapPooled(y);
        }
        INDArray w2 = w.reshape(o, w.length() / o);
        INDArray y3 = y.reshape(n, o, oH * oW); // a view of y's buffer: the GEMMs write straight into y
        for (long i = 0; i < n; i++) {
            Nd4j.gemm(w2, sampleColumns(x, i, k, stride, pad, oH, oW), sample(y3, i), false, false, 1.0, 0.0);
        }
        return wrapPooled(y);
    }

    /**
     * Whether a forward convolution takes {@link Winograd} F(2×2, 3×3): float32, 3×3, stride 1, at least
     * {@link #WINOGRAD_MIN_CHANNELS} input and output channels and {@link #WINOGRAD_MIN_TILES} output tiles over the
     * batch, an output of at least 2×2, and its scratch within int indexing. Below 16 tiles each of its 16 GEMMs is too
     * narrow (1.6× slower than im2col + GEMM at 512 channels on 4×4 in one sample); at 16 tiles (8×8 in one sample) it
     * saves little (0.7–0.85× the time) while the cached filter transform of the paper preset's wide 8×8 layers would
     * hold 268 MB, hence 32 (benchmarks/RESULTS.md). {@code -Dcrd4j.winograd=off} sends every convolution through im2col + GEMM (the
     * float64 path always does).
     */
    private static boolean winograd(INDArray x, INDArray w, int k, int stride, long oH, long oW) {
        if (!WINOGRAD || k != 3 || stride != 1 || x.dataType() != DataType.FLOAT || w.dataType() != DataType.FLOAT) return false;
        long n = x.size(0), c = x.size(1), o = w.size(0);
        if (c < WINOGRAD_MIN_CHANNELS || o < WINOGRAD_MIN_CHANNELS || oH < 2 || oW < 2) return false;
        long t = n * ((oH + 1) / 2) * ((oW + 1) / 2);
        if (t < WINOGRAD_MIN_TILES) return false;
        return 16 * Math.max(c, o) * t < Integer.MAX_VALUE && n * Math.max(c, o) * x.size(2) * x.size(3) < Integer.MAX_VALUE
                && n * o * oH * oW < Integer.MAX_VALUE;
    }

    private static final boolean WINOGRAD = !"off".equals(System.getProperty("crd4j.winograd"));
    static final int WINOGRAD_MIN_CHANNELS = Integer.getInteger("crd4j.winograd.minChannels", 8);
    static final int WINOGRAD_MIN_TILES = 32;

    /**
     * The Winograd transform of 3×3 weight {@code wt} as a native buffer, cached on the tensor while its version
     * is unchanged (an optimiser step or another in-place write bumps it; loading weights makes new tensors).
     */
    private static org.nd4j.linalg.api.buffer.DataBuffer winogradFilter(Tensor wt, INDArray w) {
        if (!(wt instanceof Nd4jTensor nt)) return winogradTransform(w).data();
        synchronized (nt) {
            if (nt.winogradU == null || nt.winogradVersion != nt.version) {
                if (nt.winogradU != null && nt.winogradU.closeable()) nt.winogradU.close();
                nt.winogradU = winogradTransform(w);
                nt.winogradVersion = nt.version;
            }
            return nt.winogradU.data();
        }
    }

    private static INDArray winogradTransform(INDArray w) {
        w = dense(w);
        int o = (int) w.size(0), c = (int) w.size(1);
        float[] g = new float[9 * o * c];
        NativeMemory.read(w.data(), 0, g, 0, g.length);
        float[] u = Winograd.transformFilter(g, o, c);
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, u.length);
        NativeMemory.write(out.data(), 0, u, 0, u.length);
        return out;
    }

    /** Whether the convolution GEMMs go straight to OpenBLAS ({@link Blas}): float32/float64 operands of one dtype. */
    private static boolean direct(INDArray a, INDArray b) {
        DataType dt = a.dataType();
        return DIRECT_GEMM && (dt == DataType.FLOAT || dt == DataType.DOUBLE) && b.dataType() == dt;
    }

    /** {@code -Dcrd4j.directGemm=off} sends the convolution GEMMs through {@code Nd4j.gemm} again (to compare). */
    private static final boolean DIRECT_GEMM = !"off".equals(System.getProperty("crd4j.directGemm"));

    @Override
    public Tensor conv2dBackwardData(Tensor gyt, Tensor wt, long[] xShape, int stride, int pad) {
        INDArray gy = arr(gyt), w = arr(wt);
        int k = (int) w.size(2);
        long n = xShape[0], c = xShape[1], h = xShape[2], wd = xShape[3];
        long o = w.size(0), oH = gy.size(2), oW = gy.size(3);
        long kk = w.length() / o, cols = oH * oW;
        boolean direct = direct(gy, w);
        if (direct) {
            gy = dense(gy);
            w = dense(w);
        }
        // the column gradients dcol_i[C·k·k, oH·oW] = Wᵀ[C·k·k, o] · gy_i[o, oH·oW] (beta 0 writes every element);
        // for a 1×1 stride-1 convolution they are dx itself
        boolean plain = k == 1 && pad == 0 && stride == 1;
        long[] dcolShape = plain ? xShape : new long[] {n, kk, cols};
        INDArray dcol = direct ? Nd4j.createUninitialized(gy.dataType(), dcolShape) : Nd4j.create(gy.dataType(), dcolShape);
        if (direct) {
            for (long i = 0; i < n; i++) {
                Blas.gemm(true, false, kk, cols, o, 1.0, w.data(), 0, kk, gy.data(), i * o * cols, cols, 0.0, dcol.data(), i * kk * cols, cols);
            }
        } else {
            INDArray gy3 = gy.reshape(n, o, cols), w2 = w.reshape(o, kk), dcol3 = dcol.reshape(n, kk, cols);
            for (long i = 0; i < n; i++) Nd4j.gemm(w2, sample(gy3, i), sample(dcol3, i), true, false, 1.0, 0.0);
        }
        if (plain) return wrap(dcol);
        if (k == 1 && pad == 0) {
            INDArray dx = Nd4j.create(gy.dataType(), xShape);
            dx.get(NDArrayIndex.all(), NDArrayIndex.all(),
                    NDArrayIndex.interval(0, stride, h), NDArrayIndex.interval(0, stride, wd)).assign(dcol.reshape(n, c, oH, oW));
            dcol.close();
            return wrap(dx);
        }
        INDArray dx = Nd4j.create(gy.dataType(), xShape);
        Convolution.col2im(dcol.reshape(n, c, k, k, oH, oW), dx, stride, stride, pad, pad, (int) h, (int) wd, 1, 1);
        dcol.close();
        return wrap(dx);
    }

    @Override
    public Tensor conv2dBackwardFilter(Tensor xt, Tensor gyt, long[] wShape, int stride, int pad) {
        INDArray x = arr(xt), gy = arr(gyt);
        int k = (int) wShape[2];
        long o = wShape[0], oH = gy.size(2), oW = gy.size(3), n = x.size(0);
        INDArray dw = Nd4j.createUninitialized(gy.dataType(), wShape);
        if (direct(x, gy)) {
            // dW[o, C·k·k] = Σ_i gy_i[o, oH·oW] · columns_iᵀ (the first sample with beta 0, the rest accumulate)
            x = dense(x);
            gy = dense(gy);
            long kk = wShape[1] * k * k, cols = oH * oW;
            long[] at = new long[1];
            for (long i = 0; i < n; i++) {
                org.nd4j.linalg.api.buffer.DataBuffer col = columnBuffer(x, i, k, stride, pad, oH, oW, at);
                Blas.gemm(false, true, o, kk, cols, 1.0, gy.data(), i * o * cols, cols, col, at[0], cols,
                        i == 0 ? 0.0 : 1.0, dw.data(), 0, kk);
            }
            return wrap(dw);
        }
        INDArray gy3 = gy.reshape(n, o, oH * oW);
        INDArray dw2 = dw.reshape(o, wShape[1] * k * k);
        for (long i = 0; i < n; i++) {
            Nd4j.gemm(sample(gy3, i), sampleColumns(x, i, k, stride, pad, oH, oW), dw2, false, true, 1.0, i == 0 ? 0.0 : 1.0);
        }
        return wrap(dw);
    }

    private static void checkConv(INDArray x, INDArray w) {
        if (x.rank() != 4 || w.rank() != 4 || w.size(2) != w.size(3) || x.size(1) != w.size(1)) {
            throw new IllegalArgumentException("conv2d: input " + Arrays.toString(x.shape())
                    + " does not fit weight " + Arrays.toString(w.shape()));
        }
    }

    @Override
    public Tensor deconv2x2(Tensor xt, Tensor wt) {
        INDArray x = arr(xt), w = arr(wt);
        long n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3), o = w.size(1);
        if (w.size(0) != c || w.size(2) != 2 || w.size(3) != 2) {
            throw new IllegalArgumentException("deconv2x2: input " + Arrays.toString(x.shape())
                    + " does not fit weight " + Arrays.toString(w.shape()));
        }
        // rows (n, i, j) × columns (o, a, b): one GEMM, then a strided copy into NCHW; both temporaries are scratch
        DataType dt = x.dataType();
        INDArray x2 = scratch(dt, 0, n, h, wd, c);
        x2.assign(x.permute(0, 2, 3, 1));
        INDArray y2 = scratch(dt, 1, n * h * wd, o * 4);
        x2.reshape(n * h * wd, c).mmul(w.reshape(c, o * 4), y2);   // mmul, not gemm: the same rounding as before
        INDArray y = pooledArray(dt, n, o, 2 * h, 2 * wd);
        y.reshape(n, o, h, 2, wd, 2).assign(y2.reshape(n, h, wd, o, 2, 2).permute(0, 3, 1, 4, 2, 5));
        return wrapPooled(y);
    }

    /**
     * The transposed convolution per sample as one GEMM on the buffers, Y'[(o, a, b), (i, j)] = Wᵀ[(o, a, b), c] ·
     * X[c, (i, j)] ({@link Blas}: x's own rows, no permuted copy), then each row of Y' written to its pixels
     * (2i + a, 2j + b) of the output plane o. float32 only (float64 keeps {@link #deconv2x2}); the sum over c is the
     * same but OpenBLAS's SGEMM rounds it differently from ND4J's {@code mmul}, so only scoring takes it.
     */
    @Override
    public Tensor deconv2x2Inference(Tensor xt, Tensor wt) {
        INDArray x = arr(xt), w = arr(wt);
        DataType dt = x.dataType();
        if (!direct(x, w) || dt != DataType.FLOAT) return deconv2x2(xt, wt);
        long n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3), o = w.size(1);
        if (w.size(0) != c || w.size(2) != 2 || w.size(3) != 2) return deconv2x2(xt, wt);   // its error message
        long hw = h * wd, rows = o * 4;
        if (rows * hw > Integer.MAX_VALUE || n * o * 4 * hw > Integer.MAX_VALUE) return deconv2x2(xt, wt);
        x = dense(x);
        w = dense(w);
        INDArray y = pooledArray(dt, n, o, 2 * h, 2 * wd);
        org.nd4j.linalg.api.buffer.DataBuffer t = scratchBuffer(dt, 1, rows * hw);
        int H = (int) h, W = (int) wd, oW = 2 * W, plane = 4 * H * W, len = (int) (rows * hw);
        float[] rowsF = wideF(1, len), out = wideF(2, (int) o * plane);
        for (long s = 0; s < n; s++) {
            Blas.gemm(true, false, rows, hw, c, 1.0, w.data(), 0, rows, x.data(), s * c * hw, hw, 0.0, t, 0, hw);
            NativeMemory.read(t, 0, rowsF, 0, len);
            for (int oc = 0; oc < o; oc++) {
                int r00 = (4 * oc) * H * W, r01 = r00 + H * W, r10 = r01 + H * W, r11 = r10 + H * W, base = oc * plane;
                for (int i = 0; i < H; i++) {
                    int top = base + 2 * i * oW, bottom = top + oW, in = i * W;
                    for (int j = 0; j < W; j++) {
                        out[top + 2 * j] = rowsF[r00 + in + j];
                        out[top + 2 * j + 1] = rowsF[r01 + in + j];
                        out[bottom + 2 * j] = rowsF[r10 + in + j];
                        out[bottom + 2 * j + 1] = rowsF[r11 + in + j];
                    }
                }
            }
            NativeMemory.write(y.data(), s * o * plane, out, 0, (int) o * plane);
        }
        return wrapPooled(y);
    }

    private static INDArray deconvGradRows(INDArray gy) {
        long n = gy.size(0), o = gy.size(1), h = gy.size(2) / 2, wd = gy.size(3) / 2;
        return gy.reshape(n, o, h, 2, wd, 2).permute(0, 2, 4, 1, 3, 5).dup('c').reshape(n * h * wd, o * 4);
    }

    @Override
    public Tensor deconv2x2BackwardData(Tensor gyt, Tensor wt) {
        INDArray gy = arr(gyt), w = arr(wt);
        long n = gy.size(0), h = gy.size(2) / 2, wd = gy.size(3) / 2, c = w.size(0);
        INDArray dx2 = deconvGradRows(gy).mmul(w.reshape(c, w.length() / c).transpose());
        return wrap(dx2.reshape(n, h, wd, c).permute(0, 3, 1, 2).dup('c'));
    }

    @Override
    public Tensor deconv2x2BackwardFilter(Tensor xt, Tensor gyt) {
        INDArray x = arr(xt), gy = arr(gyt);
        long n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3), o = gy.size(1);
        INDArray x2 = x.permute(0, 2, 3, 1).dup('c').reshape(n * h * wd, c);
        return wrap(x2.transpose().mmul(deconvGradRows(gy)).reshape(c, o, 2, 2));
    }

    // ---- batch norm --------------------------------------------------------------------------------------------

    private static INDArray perChannel(INDArray v) { return v.reshape(1, v.length(), 1, 1); }

    @Override
    public BatchNormForward batchNormTrain(Tensor xt, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                           double momentum, double eps) {
        INDArray x = arr(xt);
        DataType dt = x.dataType();
        long count = x.length() / x.size(1);
        if (count < 2) {
            throw new IllegalArgumentException("batch norm in training mode needs more than one value per channel, got input "
                    + Arrays.toString(x.shape()));
        }
        if (dt != DataType.FLOAT && dt != DataType.DOUBLE) return batchNormTrainOps(xt, gamma, beta, runningMean, runningVar, momentum, eps);
        x = dense(x);
        int n = (int) x.size(0), c = (int) x.size(1), hw = (int) (x.length() / ((long) n * c));
        double[] g = vector(arr(gamma)), b = vector(arr(beta));
        double[] mean = new double[c], invStd = new double[c], var = new double[c];
        INDArray out = pooledArray(dt, x.shape());
        double[] v = channelScratch(0, n * hw);
        for (int ch = 0; ch < c; ch++) {
            readChannel(x, ch, n, c, hw, v);
            // the mean, then the mean of the squared deviations (the biased variance normalises), in float64 (§1)
            double sum = 0;
            for (int i = 0; i < n * hw; i++) sum += v[i];
            double mu = sum / count;
            double sq = 0;
            for (int i = 0; i < n * hw; i++) {
                double d = v[i] - mu;
                sq += d * d;
            }
            double va = sq / count, is = Math.pow(va + eps, -0.5), scale = is * g[ch], shift = b[ch];
            for (int i = 0; i < n * hw; i++) v[i] = (v[i] - mu) * scale + shift;
            writeChannel(out, ch, n, c, hw, v);
            mean[ch] = mu;
            var[ch] = va;
            invStd[ch] = is;
        }
        INDArray rm = arr(runningMean), rv = arr(runningVar);
        changed(runningMean);
        changed(runningVar);
        double unbias = (double) count / (count - 1);
        double[] rmv = vector(rm), rvv = vector(rv);
        for (int ch = 0; ch < c; ch++) {
            rmv[ch] = rmv[ch] * (1 - momentum) + mean[ch] * momentum;
            rvv[ch] = rvv[ch] * (1 - momentum) + var[ch] * unbias * momentum;
        }
        store(rm, rmv);
        store(rv, rvv);
        return new BatchNormForward(wrapPooled(out), wrap(fromDoubles(mean, DataType.DOUBLE, c)), wrap(fromDoubles(invStd, DataType.DOUBLE, c)));
    }

    /**
     * Training-mode batch norm as ND4J operations (dtypes other than float32/float64): the same float64 maths as
     * {@link #batchNormTrain}, op by op.
     */
    private BatchNormForward batchNormTrainOps(Tensor xt, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                               double momentum, double eps) {
        INDArray x = arr(xt);
        DataType dt = x.dataType();
        INDArray xd = x.castTo(DataType.DOUBLE);
        long count = x.length() / x.size(1);
        INDArray mean = xd.mean(0, 2, 3);
        INDArray centred = xd.sub(perChannel(mean));
        INDArray var = centred.mul(centred).mean(0, 2, 3);
        INDArray invStd = Transforms.pow(var.add(eps), -0.5, true);
        INDArray g = arr(gamma).castTo(DataType.DOUBLE), b = arr(beta).castTo(DataType.DOUBLE);
        INDArray out = centred.muli(perChannel(invStd.mul(g))).addi(perChannel(b)).castTo(dt);

        INDArray rm = arr(runningMean), rv = arr(runningVar);
        changed(runningMean);
        changed(runningVar);
        INDArray unbiased = var.mul((double) count / (count - 1));
        rm.assign(rm.castTo(DataType.DOUBLE).muli(1 - momentum).addi(mean.mul(momentum)).castTo(rm.dataType()));
        rv.assign(rv.castTo(DataType.DOUBLE).muli(1 - momentum).addi(unbiased.muli(momentum)).castTo(rv.dataType()));
        return new BatchNormForward(wrap(out), wrap(mean), wrap(invStd));
    }

    /** x itself when it is a dense C-order array from offset 0, else a dense copy. */
    private static INDArray dense(INDArray x) {
        return x.isView() || x.ordering() != 'c' || x.offset() != 0 ? x.dup('c') : x;
    }

    /** Per-thread float64 scratch rows for the batch-norm passes (grow-only; slot 0, 1). */
    private static final ThreadLocal<double[][]> CHANNEL = ThreadLocal.withInitial(() -> new double[][]{new double[0], new double[0]});
    private static final ThreadLocal<float[]> CHANNEL_F = ThreadLocal.withInitial(() -> new float[0]);

    /** A scratch array of at least {@code len} doubles for this thread (contents undefined; grow-only). */
    private static double[] channelScratch(int slot, int len) {
        double[][] t = CHANNEL.get();
        if (t[slot].length < len) t[slot] = new double[len];
        return t[slot];
    }

    private static float[] floatScratch(int len) {
        float[] f = CHANNEL_F.get();
        if (f.length < len) {
            f = new float[len];
            CHANNEL_F.set(f);
        }
        return f;
    }

    /** Channel {@code ch} of a dense [N, C, …] float32/float64 array, sample after sample, as float64 into {@code v}. */
    private static void readChannel(INDArray a, int ch, int n, int c, int hw, double[] v) {
        if (a.dataType() == DataType.DOUBLE) {
            for (int s = 0; s < n; s++) NativeMemory.read(a.data(), (long) (s * c + ch) * hw, v, s * hw, hw);
        } else {
            float[] t = floatScratch(hw);
            for (int s = 0; s < n; s++) {
                NativeMemory.read(a.data(), (long) (s * c + ch) * hw, t, 0, hw);
                for (int i = 0, o = s * hw; i < hw; i++) v[o + i] = t[i];
            }
        }
    }

    /** Writes {@code v} (rounded to float32 for a float32 array) into channel {@code ch} of a dense [N, C, …] array. */
    private static void writeChannel(INDArray a, int ch, int n, int c, int hw, double[] v) {
        if (a.dataType() == DataType.DOUBLE) {
            for (int s = 0; s < n; s++) NativeMemory.write(a.data(), (long) (s * c + ch) * hw, v, s * hw, hw);
        } else {
            float[] t = floatScratch(hw);
            for (int s = 0; s < n; s++) {
                for (int i = 0, o = s * hw; i < hw; i++) t[i] = (float) v[o + i];
                NativeMemory.write(a.data(), (long) (s * c + ch) * hw, t, 0, hw);
            }
        }
    }

    /**
     * Per-thread, grow-only heap scratch for whole-array passes written in Java (slots 0–5 for float64, 0–2 for
     * float32; contents undefined). Reading an array element by element ({@code DataBuffer.asDouble}) and creating
     * one from a Java array ({@code Nd4j.create(double[])}, which stores element by element) were 7% of a tiny
     * training step and allocated a full-size heap copy per call (2026-12-01 profile); these reads and writes are
     * bulk copies into reused arrays, with the same values (float32 widened exactly; float64 rounded to float32 to
     * nearest, as {@code castTo} does).
     */
    private static final ThreadLocal<double[][]> WIDE = ThreadLocal.withInitial(() -> new double[6][0]);
    private static final int ADD_BLOCK = 4096;
    private static final ThreadLocal<float[][]> WIDE_F = ThreadLocal.withInitial(() -> new float[3][0]);

    private static double[] wide(int slot, int len) {
        double[][] t = WIDE.get();
        if (t[slot].length < len) t[slot] = new double[len];
        return t[slot];
    }

    private static float[] wideF(int slot, int len) {
        float[][] t = WIDE_F.get();
        if (t[slot].length < len) t[slot] = new float[len];
        return t[slot];
    }

    /** The elements of {@code a} (C order) as float64 in scratch slot {@code slot}; its first {@code a.length()} are valid. */
    private static double[] readAll(INDArray a, int slot) {
        a = dense(a);
        int len = Math.toIntExact(a.length());
        double[] v = wide(slot, len);
        if (a.dataType() == DataType.DOUBLE) {
            NativeMemory.read(a.data(), 0, v, 0, len);
        } else if (a.dataType() == DataType.FLOAT) {
            float[] f = wideF(0, len);
            NativeMemory.read(a.data(), 0, f, 0, len);
            for (int i = 0; i < len; i++) v[i] = f[i];
        } else {
            double[] d = a.castTo(DataType.DOUBLE).data().asDouble();
            System.arraycopy(d, 0, v, 0, len);
        }
        return v;
    }

    /** A new pooled C-order array of dtype dt and the given shape holding {@code v[0 .. numel)} rounded to dt. */
    private static INDArray fromDoubles(double[] v, DataType dt, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        int len = Math.toIntExact(n);
        if (dt != DataType.FLOAT && dt != DataType.DOUBLE) {
            return Nd4j.create(java.util.Arrays.copyOf(v, len), shape, 'c').castTo(dt);
        }
        INDArray a = pooledArray(dt, shape);
        if (dt == DataType.DOUBLE) {
            NativeMemory.write(a.data(), 0, v, 0, len);
        } else {
            float[] f = wideF(0, len);
            for (int i = 0; i < len; i++) f[i] = (float) v[i];
            NativeMemory.write(a.data(), 0, f, 0, len);
        }
        return a;
    }

    /** The elements of a small vector-like array as a new float64 array (exact). */
    private static double[] vector(INDArray a) {
        return java.util.Arrays.copyOf(readAll(a, 5), (int) a.length());
    }

    /** Overwrites the dense array {@code a} with {@code v} rounded to its dtype (what {@code assign} of a cast gives). */
    private static void store(INDArray a, double[] v) {
        if (a.isView() || a.ordering() != 'c' || a.offset() != 0 || (a.dataType() != DataType.FLOAT && a.dataType() != DataType.DOUBLE)) {
            a.assign(Nd4j.createFromArray(v).castTo(a.dataType()).reshape(a.shape()));
            return;
        }
        int len = (int) a.length();
        if (a.dataType() == DataType.DOUBLE) {
            NativeMemory.write(a.data(), 0, v, 0, len);
        } else {
            float[] f = wideF(0, len);
            for (int i = 0; i < len; i++) f[i] = (float) v[i];
            NativeMemory.write(a.data(), 0, f, 0, len);
        }
    }

    /** Marks tensor t as written in place (see {@code Nd4jTensor.version}). */
    private static void changed(Tensor t) {
        if (t instanceof Nd4jTensor nt) nt.version++;
    }

    /**
     * Eval-mode batch norm's per-channel coefficients, [1,C,1,1] α and shift in the activation dtype, with the tensors
     * and their versions they were derived from. Computing them is 8 small ND4J ops, 42% of a tiny-preset forward
     * pass (2026-12-01 profile), for values that change only when the weights do, so they are cached on γ's tensor.
     * The cache is valid while γ, β, mean and var are the same tensor objects with the same versions, eps and dtype
     * are the same: loading weights makes new tensors, and every op of this backend that writes a tensor in place
     * (adamStep, addInPlace, batchNormTrain's running statistics, batchNormEvalInPlace) bumps its version.
     */
    private record BatchNormCoefficients(Nd4jTensor beta, Nd4jTensor mean, Nd4jTensor var, long gammaVersion,
                                         long betaVersion, long meanVersion, long varVersion, double eps, DataType dt,
                                         INDArray alpha, INDArray shift, double[] alphaValues, double[] shiftValues) {
        boolean validFor(Nd4jTensor g, Nd4jTensor b, Nd4jTensor m, Nd4jTensor v, double e, DataType d) {
            return beta == b && mean == m && var == v && gammaVersion == g.version && betaVersion == b.version
                    && meanVersion == m.version && varVersion == v.version && eps == e && dt == d;
        }

        void close() {
            if (alpha.closeable()) alpha.close();
            if (shift.closeable()) shift.close();
        }
    }

    /** Eval-mode batch norm as the per-channel map y = α·x + shift: α = γ/√(var+eps), shift = β − mean·α, in float64. */
    private static INDArray[] batchNormEvalCoefficients(Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                                        double eps, DataType dt) {
        BatchNormCoefficients c = coefficients(gamma, beta, runningMean, runningVar, eps, dt);
        return new INDArray[]{c.alpha(), c.shift()};
    }

    /** The cached coefficients (made anew when stale), also as float64 vectors for the one-pass epilogue. */
    private static BatchNormCoefficients coefficients(Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                                      double eps, DataType dt) {
        arr(gamma); // each one this backend's, and open
        arr(beta);
        arr(runningMean);
        arr(runningVar);
        Nd4jTensor g = (Nd4jTensor) gamma, b = (Nd4jTensor) beta, m = (Nd4jTensor) runningMean, v = (Nd4jTensor) runningVar;
        synchronized (g) {
            BatchNormCoefficients c = g.bnCache;
            if (c != null && c.validFor(g, b, m, v, eps, dt)) return c;
            INDArray alpha = Transforms.pow(arr(v).castTo(DataType.DOUBLE).add(eps), -0.5, true)
                    .muli(arr(g).castTo(DataType.DOUBLE));
            INDArray shift = arr(b).castTo(DataType.DOUBLE).sub(arr(m).castTo(DataType.DOUBLE).mul(alpha));
            INDArray a = perChannel(alpha.castTo(dt)).dup('c'), sh = perChannel(shift.castTo(dt)).dup('c');
            if (c != null) c.close();
            g.bnCache = new BatchNormCoefficients(b, m, v, g.version, b.version, m.version, v.version, eps, dt, a, sh,
                    vector(a), vector(sh));
            return g.bnCache;
        }
    }

    @Override
    public Tensor batchNormEval(Tensor xt, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps) {
        INDArray x = arr(xt);
        INDArray[] c = batchNormEvalCoefficients(gamma, beta, runningMean, runningVar, eps, x.dataType());
        return wrap(x.mul(c[0]).addi(c[1]));
    }

    /**
     * The same multiply and add as {@link #batchNormEval}, then the same add as {@link #add} and the same ReLU as
     * {@link #relu}, each in place: bit-identical to that sequence (OpsParityTest), without its three allocations.
     */
    @Override
    public void batchNormEvalInPlace(Tensor yt, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                     double eps, Tensor residual, boolean relu) {
        INDArray y = arr(yt);
        changed(yt);
        BatchNormCoefficients c = coefficients(gamma, beta, runningMean, runningVar, eps, y.dataType());
        if (residual != null) requireSameShape(yt, residual);
        INDArray r = residual == null ? null : arr(residual);
        if (y.dataType() == DataType.FLOAT && y.rank() == 4 && denseFrom0(y) && (r == null || (r.dataType() == DataType.FLOAT && denseFrom0(r)))) {
            epilogueFloat(y, c.alphaValues(), c.shiftValues(), r, relu);
            return;
        }
        y.muli(c.alpha()).addi(c.shift());
        if (r != null) y.addi(r);
        if (relu) Transforms.relu(y, false);
    }

    private static boolean denseFrom0(INDArray a) {
        return !a.isView() && a.ordering() == 'c' && a.offset() == 0;
    }

    /**
     * The four passes of the float32 epilogue in one, plane by plane: t = y·α_c, t = t + β_c, t = t + r, then ND4J's
     * ReLU (t < 0 ? 0 : t, which keeps −0 and NaN), each a float32 operation rounded on its own as the separate ops
     * round it (Java never fuses a multiply and an add), so the bits are those of the op sequence
     * (BatchNormEpilogueTest); one read and one write of y instead of four of each, and no op calls.
     */
    private static void epilogueFloat(INDArray y, double[] alpha, double[] shift, INDArray r, boolean relu) {
        int n = (int) y.size(0), ch = (int) y.size(1), hw = (int) (y.size(2) * y.size(3));
        org.nd4j.linalg.api.buffer.DataBuffer yb = y.data(), rb = r == null ? null : r.data();
        float[] v = wideF(1, hw), q = r == null ? null : wideF(2, hw);
        for (int s = 0; s < n; s++) {
            for (int k = 0; k < ch; k++) {
                int at = (s * ch + k) * hw;
                float a = (float) alpha[k], b = (float) shift[k];
                NativeMemory.read(yb, at, v, 0, hw);
                if (q != null) NativeMemory.read(rb, at, q, 0, hw);
                // branch-free loops the JIT vectorises: a branch on the sign of each value mispredicted about half
                // the time on real activations (7.6 ns per element against 0.9–1.2 here, 2026-12-01)
                if (q != null) {
                    for (int i = 0; i < hw; i++) {
                        float t = v[i] * a;
                        t = t + b;
                        v[i] = t + q[i];
                    }
                } else {
                    for (int i = 0; i < hw; i++) {
                        float t = v[i] * a;
                        v[i] = t + b;
                    }
                }
                if (relu) reluInPlace(v, hw);
                NativeMemory.write(yb, at, v, 0, hw);
            }
        }
    }

    /**
     * ND4J's ReLU, t &lt; 0 ? +0 : t (−0 and NaN kept, payload included), on the first {@code len} elements, without a
     * branch: on the raw bits x, t &lt; 0 exactly when x lies in (0x80000000, 0xFF800000] as a signed int, i.e. when
     * both x + 0x7FFFFF and x − 1 are negative (the first is not for a negative NaN, the second wraps for −0), so
     * the sign of their AND is the mask that clears x ({@code BatchNormEpilogueTest} feeds −0, NaN and ±∞).
     */
    /**
     * y &gt; 0 ? 1f : 0f without a branch: on the raw bits b, y &gt; 0 exactly when b − 1 lies in [0, 0x7F800000) as a
     * signed int (b = 0 gives −1, −0 wraps to MAX, a positive NaN lands at or above 0x7F800000); ReluBitsTest.
     */
    static float positiveAsOne(float y) {
        int x = Float.floatToRawIntBits(y) - 1;
        int mask = ~(x >> 31) & ((x - 0x7F800000) >> 31);
        return Float.intBitsToFloat(0x3F800000 & mask);
    }

    static void reluInPlace(float[] v, int len) {
        for (int i = 0; i < len; i++) {
            int x = Float.floatToRawIntBits(v[i]);
            int clear = ((x + 0x7FFFFF) & (x - 1)) >> 31;
            v[i] = Float.intBitsToFloat(x & ~clear);
        }
    }

    /**
     * Training-mode batch norm's backward pass in float64: x̂ = (x − mean)·invstd, dβ = Σgy, dγ = Σgy·x̂,
     * dx = γ·invstd/M · (M·gy − dβ − x̂·dγ), one channel at a time over plain arrays (the op-by-op form was 12% of a
     * tiny training step, mostly ND4J op overhead and float64 temporaries; 2026-12-01 profile).
     */
    @Override
    public BatchNormGrads batchNormBackward(Tensor xt, Tensor gyt, Tensor gamma, BatchNormForward saved) {
        INDArray x0 = arr(xt), gy0 = arr(gyt);
        DataType dt = gy0.dataType(), pt = arr(gamma).dataType();
        if ((dt != DataType.FLOAT && dt != DataType.DOUBLE) || x0.dataType() != dt) return batchNormBackwardOps(xt, gyt, gamma, saved);
        requireSameShape(xt, gyt);
        INDArray x = dense(x0), gy = dense(gy0);
        int n = (int) x.size(0), c = (int) x.size(1), hw = (int) (x.length() / ((long) n * c));
        long m = (long) n * hw;
        double[] mean = vector(arr(saved.mean()));
        double[] invStd = vector(arr(saved.invStd()));
        double[] g = vector(arr(gamma));
        double[] dbeta = new double[c], dgamma = new double[c];
        INDArray dx = pooledArray(dt, x.shape());
        int len = n * hw;
        double[] xv = channelScratch(0, len), gv = channelScratch(1, len);
        for (int ch = 0; ch < c; ch++) {
            readChannel(x, ch, n, c, hw, xv);
            readChannel(gy, ch, n, c, hw, gv);
            double mu = mean[ch], is = invStd[ch], sb = 0, sg = 0;
            for (int i = 0; i < len; i++) {
                xv[i] = (xv[i] - mu) * is; // x̂
                sb += gv[i];
                sg += gv[i] * xv[i];
            }
            double k = g[ch] * is / m;
            for (int i = 0; i < len; i++) gv[i] = (gv[i] * m - sb - xv[i] * sg) * k;
            writeChannel(dx, ch, n, c, hw, gv);
            dbeta[ch] = sb;
            dgamma[ch] = sg;
        }
        return new BatchNormGrads(wrapPooled(dx), wrap(fromDoubles(dgamma, pt, c)), wrap(fromDoubles(dbeta, pt, c)));
    }

    /** {@link #batchNormBackward} as ND4J operations (other dtypes). */
    private BatchNormGrads batchNormBackwardOps(Tensor xt, Tensor gyt, Tensor gamma, BatchNormForward saved) {
        INDArray x = arr(xt).castTo(DataType.DOUBLE), gy = arr(gyt).castTo(DataType.DOUBLE);
        DataType dt = arr(gyt).dataType();
        INDArray mean = arr(saved.mean()), invStd = arr(saved.invStd());
        long m = x.length() / x.size(1);
        INDArray xhat = x.sub(perChannel(mean)).muli(perChannel(invStd));
        INDArray dbeta = gy.sum(0, 2, 3);
        INDArray dgamma = gy.mul(xhat).sum(0, 2, 3);
        INDArray g = arr(gamma).castTo(DataType.DOUBLE);
        INDArray dx = gy.mul(m).subi(perChannel(dbeta)).subi(xhat.muli(perChannel(dgamma)))
                .muli(perChannel(g.mul(invStd).divi(m)));
        DataType pt = arr(gamma).dataType();
        return new BatchNormGrads(wrap(dx.castTo(dt)), wrap(dgamma.castTo(pt)), wrap(dbeta.castTo(pt)));
    }

    // ---- pooling, resampling -----------------------------------------------------------------------------------

    @Override
    public Tensor maxPool3x3s2p1(Tensor xt) {
        INDArray x = arr(xt);
        int n = (int) x.size(0), c = (int) x.size(1), h = (int) x.size(2), w = (int) x.size(3);
        int oh = (int) outSize(h, 3, 2, 1), ow = (int) outSize(w, 3, 2, 1);
        double[] in = readAll(x, 0);
        double[] out = wide(1, n * c * oh * ow);
        for (int p = 0; p < n * c; p++) {
            int base = p * h * w, ob = p * oh * ow;
            for (int i = 0; i < oh; i++) {
                for (int j = 0; j < ow; j++) {
                    double m = Double.NEGATIVE_INFINITY;
                    for (int dy = -1; dy <= 1; dy++) {
                        int y = 2 * i + dy;
                        if (y < 0 || y >= h) continue;
                        for (int dx = -1; dx <= 1; dx++) {
                            int xx = 2 * j + dx;
                            if (xx < 0 || xx >= w) continue;
                            double v = in[base + y * w + xx];
                            if (v > m || Double.isNaN(v)) m = v;
                        }
                    }
                    out[ob + i * ow + j] = m;
                }
            }
        }
        return wrapPooled(fromDoubles(out, x.dataType(), n, c, oh, ow));
    }

    @Override
    public Tensor upsampleBilinearAlignCorners(Tensor xt, int outH, int outW) {
        INDArray x = arr(xt);
        int n = (int) x.size(0), c = (int) x.size(1), h = (int) x.size(2), w = (int) x.size(3);
        boolean single = x.dataType() == DataType.FLOAT;
        double[] in = readAll(x, 0);
        double[] out = wide(1, n * c * outH * outW);
        // PyTorch computes the scale and source coordinates in the input's precision (float for float32).
        double sh = outH > 1 ? (double) (h - 1) / (outH - 1) : 0, sw = outW > 1 ? (double) (w - 1) / (outW - 1) : 0;
        if (single) { sh = (float) sh; sw = (float) sw; }
        for (int p = 0; p < n * c; p++) {
            int base = p * h * w, ob = p * outH * outW;
            for (int i = 0; i < outH; i++) {
                double src = single ? (float) ((float) sh * i) : sh * i;
                int y0 = (int) src;
                int y1 = y0 + (y0 < h - 1 ? 1 : 0);
                double ly = single ? (float) (src - y0) : src - y0;
                double ly0 = single ? (float) (1 - ly) : 1 - ly;
                for (int j = 0; j < outW; j++) {
                    double srcx = single ? (float) ((float) sw * j) : sw * j;
                    int x0 = (int) srcx;
                    int x1 = x0 + (x0 < w - 1 ? 1 : 0);
                    double lx = single ? (float) (srcx - x0) : srcx - x0;
                    double lx0 = single ? (float) (1 - lx) : 1 - lx;
                    double top = lx0 * in[base + y0 * w + x0] + lx * in[base + y0 * w + x1];
                    double bottom = lx0 * in[base + y1 * w + x0] + lx * in[base + y1 * w + x1];
                    if (single) { top = (float) (float) top; bottom = (float) bottom; }
                    double v = ly0 * top + ly * bottom;
                    out[ob + i * outW + j] = single ? (float) v : v;
                }
            }
        }
        return wrapPooled(fromDoubles(out, x.dataType(), n, c, outH, outW));
    }

    // ---- CRD specific ------------------------------------------------------------------------------------------

    static final double COS_EPS = 1e-8;

    @Override
    public CosineLoss cosineLoss(Tensor st, Tensor tt, boolean withGrad) {
        requireSameShape(st, tt);
        INDArray s = arr(st);
        int n = (int) s.size(0);
        int d = (int) (s.length() / n);
        double[] sv = readAll(s, 0), tv = readAll(arr(tt), 1);
        double[] grad = withGrad ? wide(2, (int) s.length()) : null;
        double loss = 0;
        for (int b = 0; b < n; b++) {
            int o = b * d;
            double ss = 0, tq = 0, st2 = 0;
            for (int i = 0; i < d; i++) {
                ss += sv[o + i] * sv[o + i];
                tq += tv[o + i] * tv[o + i];
                st2 += sv[o + i] * tv[o + i];
            }
            double sn = Math.sqrt(ss), tn = Math.sqrt(tq);
            double ns = Math.max(sn, COS_EPS), nt = Math.max(tn, COS_EPS);
            double cos = st2 / (ns * nt);
            loss += 1 - cos;
            if (withGrad) {
                // d(1 − cos)/ds: −(t̂ − cos·ŝ)/‖s‖ when ‖s‖ > eps; when the norm is clamped only −t̂/eps remains.
                double scale = -1.0 / n;
                for (int i = 0; i < d; i++) {
                    double that = tv[o + i] / nt;
                    double dc = sn > COS_EPS ? (that - cos * sv[o + i] / sn) / sn : that / COS_EPS;
                    grad[o + i] = scale * dc;
                }
            }
        }
        Tensor g = withGrad ? wrapPooled(fromDoubles(grad, s.dataType(), s.shape())) : null;
        return new CosineLoss(loss / n, g);
    }

    @Override
    public Tensor cosineDistanceMap(Tensor st, Tensor tt) {
        requireSameShape(st, tt);
        INDArray s = arr(st);
        int n = (int) s.size(0), c = (int) s.size(1), hw = (int) (s.size(2) * s.size(3));
        double[] sv = readAll(s, 0), tv = readAll(arr(tt), 1);
        double[] ss = wide(2, n * hw), tq = wide(3, n * hw), dot = wide(4, n * hw);
        java.util.Arrays.fill(ss, 0, n * hw, 0.0);
        java.util.Arrays.fill(tq, 0, n * hw, 0.0);
        java.util.Arrays.fill(dot, 0, n * hw, 0.0);
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < c; ch++) {
                int o = (b * c + ch) * hw, q = b * hw;
                for (int p = 0; p < hw; p++) {
                    double a = sv[o + p], t = tv[o + p];
                    ss[q + p] += a * a;
                    tq[q + p] += t * t;
                    dot[q + p] += a * t;
                }
            }
        }
        double[] out = ss;   // each element is read before it is overwritten
        for (int i = 0; i < n * hw; i++) {
            out[i] = 1 - dot[i] / (Math.max(Math.sqrt(ss[i]), COS_EPS) * Math.max(Math.sqrt(tq[i]), COS_EPS));
        }
        return wrapPooled(fromDoubles(out, s.dataType(), n, 1, s.size(2), s.size(3)));
    }

    @Override
    public void adamStep(Tensor pt, Tensor gt, Tensor mt, Tensor vt, double lr, double beta1, double beta2, double eps, long step) {
        INDArray p = arr(pt), g = arr(gt), m = arr(mt), v = arr(vt);
        changed(pt);
        changed(mt);
        changed(vt);
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        if (p.dataType() == DataType.FLOAT && g.dataType() == DataType.FLOAT && m.dataType() == DataType.FLOAT
                && v.dataType() == DataType.FLOAT) {
            // One pass over the native buffers instead of ~10 ND4J ops per parameter (Adam was 19% of a tiny-preset
            // training step, almost all of it op overhead). Every operation is the float32 operation the op-by-op
            // form performs, in the same order, with the scalars rounded to float as ND4J rounds them, so the
            // result is bit-identical (checked by OpsParityTest's Adam case and the resume tests).
            java.nio.FloatBuffer pb = p.data().asNioFloat(), gb = g.data().asNioFloat(), mb = m.data().asNioFloat(),
                    vb = v.data().asNioFloat();
            float oneMinusB1 = (float) (1 - beta1), b2 = (float) beta2, oneMinusB2 = (float) (1 - beta2);
            float sqrtBc2 = (float) Math.sqrt(bc2), epsF = (float) eps, stepSize = (float) (lr / bc1);
            int n = (int) p.length();
            float[] pa = new float[n], ga = new float[n], ma = new float[n], va = new float[n];
            pb.get(0, pa);
            gb.get(0, ga);
            mb.get(0, ma);
            vb.get(0, va);
            for (int i = 0; i < n; i++) {
                float gi = ga[i], mi = ma[i];
                mi = mi + (gi - mi) * oneMinusB1;
                float vi = va[i] * b2 + (gi * gi) * oneMinusB2;
                float denom = (float) Math.sqrt(vi) / sqrtBc2 + epsF;
                pa[i] = pa[i] - (mi / denom) * stepSize;
                ma[i] = mi;
                va[i] = vi;
            }
            pb.put(0, pa);
            mb.put(0, ma);
            vb.put(0, va);
            return;
        }
        adamStepOps(pt, gt, mt, vt, lr, beta1, beta2, eps, step);
    }

    /** The op-by-op Adam step: float64 and mixed dtypes, and the form the float32 pass above equals bit for bit. */
    void adamStepOps(Tensor pt, Tensor gt, Tensor mt, Tensor vt, double lr, double beta1, double beta2, double eps, long step) {
        INDArray p = arr(pt), g = arr(gt), m = arr(mt), v = arr(vt);
        changed(pt);
        changed(mt);
        changed(vt);
        m.addi(g.sub(m).muli(1 - beta1));
        v.muli(beta2).addi(g.mul(g).muli(1 - beta2));
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        INDArray denom = Transforms.sqrt(v, true).divi(Math.sqrt(bc2)).addi(eps);
        p.subi(m.div(denom).muli(lr / bc1));
    }

    private static void requireSameShape(Tensor a, Tensor b) {
        if (!Arrays.equals(a.shape(), b.shape())) {
            throw new IllegalArgumentException("shape mismatch: " + Arrays.toString(a.shape()) + " vs " + Arrays.toString(b.shape()));
        }
    }

}
