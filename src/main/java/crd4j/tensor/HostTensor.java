package crd4j.tensor;

import java.util.Arrays;

/**
 * A dense, row-major (C order) tensor in host memory, independent of any compute backend.
 * It is the currency between file formats (npy, pth, safetensors), the model's parameter store and the
 * backends. Exactly one backing array is non-null, chosen by {@link #dtype()}:
 * FLOAT32 → float[], FLOAT64 → double[], INT64 → long[], INT32 → int[], UINT8 → byte[].
 */
public final class HostTensor {
    private final DType dtype;
    private final long[] shape;
    private final float[] f32;
    private final double[] f64;
    private final long[] i64;
    private final int[] i32;
    private final byte[] u8;

    private HostTensor(DType dtype, long[] shape, float[] f32, double[] f64, long[] i64, int[] i32, byte[] u8) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.f32 = f32;
        this.f64 = f64;
        this.i64 = i64;
        this.i32 = i32;
        this.u8 = u8;
        long n = numel(shape);
        long have = switch (dtype) {
            case FLOAT32 -> f32.length;
            case FLOAT64 -> f64.length;
            case INT64 -> i64.length;
            case INT32 -> i32.length;
            case UINT8 -> u8.length;
        };
        if (n != have) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n + " elements, got " + have);
        }
    }

    public static HostTensor of(float[] data, long... shape) { return new HostTensor(DType.FLOAT32, shape, data, null, null, null, null); }
    public static HostTensor of(double[] data, long... shape) { return new HostTensor(DType.FLOAT64, shape, null, data, null, null, null); }
    public static HostTensor of(long[] data, long... shape) { return new HostTensor(DType.INT64, shape, null, null, data, null, null); }
    public static HostTensor of(int[] data, long... shape) { return new HostTensor(DType.INT32, shape, null, null, null, data, null); }
    public static HostTensor of(byte[] data, long... shape) { return new HostTensor(DType.UINT8, shape, null, null, null, null, data); }

    public static HostTensor zeros(DType dtype, long... shape) {
        int n = Math.toIntExact(numel(shape));
        return switch (dtype) {
            case FLOAT32 -> of(new float[n], shape);
            case FLOAT64 -> of(new double[n], shape);
            case INT64 -> of(new long[n], shape);
            case INT32 -> of(new int[n], shape);
            case UINT8 -> of(new byte[n], shape);
        };
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long s : shape) {
            if (s < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n = Math.multiplyExact(n, s);
        }
        return n;
    }

    public DType dtype() { return dtype; }
    public long[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }
    public long dim(int i) { return shape[i]; }
    public long numel() { return numel(shape); }

    /** The backing array, not a copy. */
    public float[] floats() { require(DType.FLOAT32); return f32; }
    public double[] doubles() { require(DType.FLOAT64); return f64; }
    public long[] longs() { require(DType.INT64); return i64; }
    public int[] ints() { require(DType.INT32); return i32; }
    public byte[] bytes() { require(DType.UINT8); return u8; }

    public double getDouble(long i) {
        int k = Math.toIntExact(i);
        return switch (dtype) {
            case FLOAT32 -> f32[k];
            case FLOAT64 -> f64[k];
            case INT64 -> i64[k];
            case INT32 -> i32[k];
            case UINT8 -> u8[k] & 0xff;
        };
    }

    /** A FLOAT32 copy (or this tensor when it already is FLOAT32). */
    public HostTensor toFloat32() {
        if (dtype == DType.FLOAT32) return this;
        float[] out = new float[Math.toIntExact(numel())];
        for (int i = 0; i < out.length; i++) out[i] = (float) getDouble(i);
        return of(out, shape);
    }

    /** A FLOAT64 copy (or this tensor when it already is FLOAT64). */
    public HostTensor toFloat64() {
        if (dtype == DType.FLOAT64) return this;
        double[] out = new double[Math.toIntExact(numel())];
        for (int i = 0; i < out.length; i++) out[i] = getDouble(i);
        return of(out, shape);
    }

    /** Same data, another shape with the same element count. */
    public HostTensor reshape(long... newShape) {
        if (numel(newShape) != numel()) {
            throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        }
        return new HostTensor(dtype, newShape, f32, f64, i64, i32, u8);
    }

    private void require(DType want) {
        if (dtype != want) throw new IllegalStateException("tensor is " + dtype + ", not " + want);
    }

    @Override
    public String toString() { return "HostTensor" + Arrays.toString(shape) + " " + dtype; }
}
