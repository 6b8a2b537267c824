package crd4j.backend.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The arena's size buckets (pure arithmetic; no GPU): small blocks in 512 B steps, large ones within 12.5 %. */
class DeviceArenaTest {
    @Test
    void smallSizesRoundUpTo512Bytes() {
        assertEquals(512, DeviceArena.bucket(1));
        assertEquals(512, DeviceArena.bucket(512));
        assertEquals(1024, DeviceArena.bucket(513));
        assertEquals(1 << 20, DeviceArena.bucket(1 << 20));
    }

    @Test
    void largeSizesWasteAtMostAnEighth() {
        for (long b = (1 << 20) + 1; b < (1L << 34); b = b * 3 / 2 + 7) {
            long k = DeviceArena.bucket(b);
            assertTrue(k >= b && k - b <= b / 8 + 1, b + " -> " + k);
            assertEquals(k, DeviceArena.bucket(k), "a bucket size is its own bucket");
        }
    }

    @Test
    void similarActivationSizesShareABucket() {
        // two tensors of 1 % different sizes reuse each other's blocks
        assertEquals(DeviceArena.bucket(64L << 20), DeviceArena.bucket((64L << 20) - (64L << 20) / 100));
    }
}
