package crd4j.tensor;

/** Element types crd4j reads and writes. Compute happens in FLOAT32 (FLOAT64 for gradient checks). */
public enum DType {
    FLOAT32(4, "F32", "<f4"),
    FLOAT64(8, "F64", "<f8"),
    INT64(8, "I64", "<i8"),
    INT32(4, "I32", "<i4"),
    UINT8(1, "U8", "|u1");

    private final int bytes;
    private final String safetensorsName;
    private final String numpyDescr;

    DType(int bytes, String safetensorsName, String numpyDescr) {
        this.bytes = bytes;
        this.safetensorsName = safetensorsName;
        this.numpyDescr = numpyDescr;
    }

    public int bytes() { return bytes; }
    public String safetensorsName() { return safetensorsName; }
    public String numpyDescr() { return numpyDescr; }
    public boolean isFloating() { return this == FLOAT32 || this == FLOAT64; }
}
