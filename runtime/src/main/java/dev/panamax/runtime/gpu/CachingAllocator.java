package dev.panamax.runtime.gpu;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A caching allocator for device memory, in the manner of PyTorch's: a freed block goes back to a
 * pool keyed by its rounded size instead of to {@code cuMemFree}, and a later request reuses the
 * smallest free block that fits it well (best fit: at most twice its size class below 1 MiB, at
 * most a quarter more above), so that steady-state work (a training step, a decode step) makes no
 * driver allocation at all, even when its sizes vary from step to step (rollouts of different
 * lengths). Sizes round up to 512 bytes below 1 MiB and to 2 MiB multiples above. When the driver
 * reports out-of-memory the allocator releases every cached block and retries once. Thread-safe.
 */
public final class CachingAllocator {
    /** Where memory really comes from ({@code cuMemAlloc}/{@code cuMemFree} on a GPU). */
    public interface Backend {
        /** Allocates {@code bytes}; throws on failure. */
        long allocate(long bytes);

        /** Frees a pointer from {@link #allocate}. */
        void free(long pointer);

        /** Whether a failure of {@link #allocate} means out of memory (worth emptying the cache and retrying). */
        boolean isOutOfMemory(RuntimeException e);
    }

    private final Backend backend;
    private final TreeMap<Long, ArrayDeque<Long>> pools = new TreeMap<>();   // only non-empty pools
    private final Map<Long, Long> live = new HashMap<>();
    private long cachedBytes, liveBytes, driverAllocations;

    /** An allocator over {@code backend}. */
    public CachingAllocator(Backend backend) {
        this.backend = backend;
    }

    /** The size class of a request. */
    public static long roundUp(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("negative allocation size " + bytes);
        long b = Math.max(bytes, 1);
        if (b < (1 << 20)) return (b + 511) / 512 * 512;
        long mb2 = 2L << 20;
        return (b + mb2 - 1) / mb2 * mb2;
    }

    /** The largest cached block that a request of size class {@code size} may take. */
    static long fitLimit(long size) {
        return size < (1 << 20) ? 2 * size : size + size / 4;
    }

    /** A block of at least {@code bytes}: the smallest free one that fits well, else a new one. */
    public synchronized long allocate(long bytes) {
        long size = roundUp(bytes);
        Map.Entry<Long, ArrayDeque<Long>> fit = pools.ceilingEntry(size);
        long p;
        if (fit != null && fit.getKey() <= fitLimit(size)) {
            size = fit.getKey();
            p = fit.getValue().pop();
            if (fit.getValue().isEmpty()) pools.remove(size);
            cachedBytes -= size;
        } else {
            try {
                p = backend.allocate(size);
            } catch (RuntimeException e) {
                if (!backend.isOutOfMemory(e) || cachedBytes == 0) throw e;
                emptyCache();
                p = backend.allocate(size);
            }
            driverAllocations++;
        }
        live.put(p, size);
        liveBytes += size;
        return p;
    }

    /** Returns a block to its pool. */
    public synchronized void release(long pointer) {
        Long size = live.remove(pointer);
        if (size == null) throw new IllegalArgumentException("pointer 0x" + Long.toHexString(pointer) + " was not allocated here or was released twice");
        liveBytes -= size;
        cachedBytes += size;
        pools.computeIfAbsent(size, s -> new ArrayDeque<>()).push(pointer);
    }

    /** Frees every cached (not live) block to the backend. */
    public synchronized void emptyCache() {
        for (ArrayDeque<Long> pool : pools.values()) {
            while (!pool.isEmpty()) backend.free(pool.pop());
        }
        pools.clear();
        cachedBytes = 0;
    }

    /** Bytes handed out and not yet released. */
    public synchronized long liveBytes() {
        return liveBytes;
    }

    /** Bytes held in the pools. */
    public synchronized long cachedBytes() {
        return cachedBytes;
    }

    /** How many times the backend was asked for memory. */
    public synchronized long driverAllocations() {
        return driverAllocations;
    }
}
