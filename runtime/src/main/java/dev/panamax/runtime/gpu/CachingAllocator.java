package dev.panamax.runtime.gpu;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A caching allocator for device memory, in the manner of PyTorch's: a freed block goes back to a
 * pool keyed by its rounded size instead of to {@code cuMemFree}, and a later request reuses the
 * smallest free block that fits it well (best fit: at most twice its size class below 1 MiB, at
 * most a quarter more above), so that steady-state work (a training step, a decode step) makes no
 * driver allocation at all, even when its sizes vary from step to step (rollouts of different
 * lengths). Sizes round up to 512 bytes below 1 MiB and to 2 MiB multiples above. When the driver
 * reports out-of-memory the allocator releases every cached block and retries once. Thread-safe.
 *
 * <p>CUDA graphs: a captured graph writes, every time it runs, the blocks its capture was handed.
 * Between {@link #beginCapture()} and {@link #endCapture()} the allocator notes every block it
 * hands out; the {@link Reservation} that {@code endCapture} returns keeps them from anyone else
 * (a noted block that is freed, during the capture's scope or later, is held by the reservation
 * rather than pooled) until the reservation is {@linkplain #release(Reservation) released}.
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
    private final Map<Long, Reservation> reserved = new HashMap<>();   // block -> the live reservation that keeps it
    private Set<Long> capturing;   // blocks handed out since beginCapture, or null
    private long cachedBytes, liveBytes, heldBytes, driverAllocations;

    /**
     * The blocks of one captured graph: those it was handed while it was captured. A freed one is
     * held here, out of the pools, until {@link #release(Reservation)}.
     */
    public static final class Reservation {
        private final Set<Long> blocks;
        private final List<long[]> held = new ArrayList<>();   // {pointer, size} of freed blocks
        private boolean released;

        private Reservation(Set<Long> blocks) {
            this.blocks = blocks;
        }

        /** How many blocks the graph was handed. */
        public int blocks() {
            return blocks.size();
        }
    }

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
        if (capturing != null) capturing.add(p);
        return p;
    }

    /** Returns a block to its pool (or to the reservation that keeps it for a graph). */
    public synchronized void release(long pointer) {
        Long size = live.remove(pointer);
        if (size == null) throw new IllegalArgumentException("pointer 0x" + Long.toHexString(pointer) + " was not allocated here or was released twice");
        liveBytes -= size;
        Reservation r = reserved.get(pointer);
        if (r != null) {
            r.held.add(new long[]{pointer, size});
            heldBytes += size;
            return;
        }
        pool(pointer, size);
    }

    private void pool(long pointer, long size) {
        cachedBytes += size;
        pools.computeIfAbsent(size, s -> new ArrayDeque<>()).push(pointer);
    }

    /**
     * Starts noting the blocks handed out, for a graph being captured.
     *
     * @throws IllegalStateException when a capture is already open
     */
    public synchronized void beginCapture() {
        if (capturing != null) throw new IllegalStateException("a graph capture is already open on this allocator");
        capturing = new HashSet<>();
    }

    /**
     * Ends the capture that {@link #beginCapture()} opened: the blocks handed out since are
     * reserved for its graph, those already freed taken out of the pools.
     *
     * @throws IllegalStateException when no capture is open
     */
    public synchronized Reservation endCapture() {
        if (capturing == null) throw new IllegalStateException("no graph capture is open on this allocator");
        Reservation r = new Reservation(capturing);
        capturing = null;
        for (long p : r.blocks) {
            reserved.put(p, r);
            if (live.containsKey(p)) continue;
            for (Map.Entry<Long, ArrayDeque<Long>> e : pools.entrySet()) {
                if (!e.getValue().remove(p)) continue;
                long size = e.getKey();
                if (e.getValue().isEmpty()) pools.remove(size);
                cachedBytes -= size;
                r.held.add(new long[]{p, size});
                heldBytes += size;
                break;
            }
        }
        return r;
    }

    /** Gives a graph's blocks back: the freed ones to the pools, the others when they are freed. Idempotent. */
    public synchronized void release(Reservation r) {
        if (r.released) return;
        r.released = true;
        for (long p : r.blocks) reserved.remove(p, r);
        for (long[] b : r.held) {
            heldBytes -= b[1];
            pool(b[0], b[1]);
        }
        r.held.clear();
    }

    /**
     * Frees every cached (not live) block to the backend, except, while a capture is open, those
     * it has been handed (its graph will use them).
     */
    public synchronized void emptyCache() {
        for (var it = pools.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Long, ArrayDeque<Long>> e = it.next();
            for (var p = e.getValue().iterator(); p.hasNext(); ) {
                long block = p.next();
                if (capturing != null && capturing.contains(block)) continue;
                backend.free(block);
                p.remove();
                cachedBytes -= e.getKey();
            }
            if (e.getValue().isEmpty()) it.remove();
        }
    }

    /** Bytes handed out and not yet released. */
    public synchronized long liveBytes() {
        return liveBytes;
    }

    /** Bytes of freed blocks that reservations keep for their graphs (neither live nor pooled). */
    public synchronized long heldBytes() {
        return heldBytes;
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
