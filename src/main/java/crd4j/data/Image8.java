package crd4j.data;

/**
 * An 8-bit image in PIL mode {@code L} (1 channel) or {@code RGB} (3 channels), interleaved row-major (HWC) bytes,
 * read as unsigned.
 */
public record Image8(int width, int height, int channels, byte[] data) {
    public Image8 {
        if (channels != 1 && channels != 3) throw new IllegalArgumentException("channels must be 1 (L) or 3 (RGB): " + channels);
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("bad size " + width + "x" + height);
        if (data.length != (long) width * height * channels) {
            throw new IllegalArgumentException(width + "x" + height + "x" + channels + " needs "
                    + (long) width * height * channels + " bytes, got " + data.length);
        }
    }

    /** Unsigned sample at (x, y, channel). */
    public int get(int x, int y, int c) { return data[(y * width + x) * channels + c] & 0xff; }

    /** Pillow {@code resize((w, h), BILINEAR)}, bit-exact. */
    public Image8 resize(int outWidth, int outHeight) {
        return new Image8(outWidth, outHeight, channels,
                PillowResize.resize(data, width, height, channels, outWidth, outHeight));
    }

    /**
     * PIL {@code convert('L')}: an RGB image becomes {@code (R·19595 + G·38470 + B·7471 + 0x8000) >> 16} (ITU-R 601-2
     * luma in Pillow's 16-bit fixed point); an L image is returned as is.
     */
    public Image8 toL() {
        if (channels == 1) return this;
        int n = width * height;
        byte[] out = new byte[n];
        for (int i = 0; i < n; i++) {
            int r = data[3 * i] & 0xff, g = data[3 * i + 1] & 0xff, b = data[3 * i + 2] & 0xff;
            out[i] = (byte) ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
        }
        return new Image8(width, height, 1, out);
    }

    /** PIL {@code convert('RGB')}: an L image is replicated to 3 channels; an RGB image is returned as is. */
    public Image8 toRgb() {
        if (channels == 3) return this;
        int n = width * height;
        byte[] out = new byte[3 * n];
        for (int i = 0; i < n; i++) {
            out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = data[i];
        }
        return new Image8(width, height, 3, out);
    }
}
