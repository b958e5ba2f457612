package dev.panamax.runtime.gpu;

import dev.panamax.cuda.Cuda;

import java.lang.foreign.MemorySegment;

/**
 * Page-locked host memory in fixed slots into which copies to the host are queued on the stream
 * without waiting for the work before them ({@link GpuDevice#downloadLater}): a slot is taken by
 * one copy, an event recorded behind the copy marks when its bytes have arrived, and the slot is
 * free again once its reader has closed it. A copy that does not fit a slot, or finds none free,
 * is left to the caller.
 */
final class ReadbackSlots implements AutoCloseable {
    private final MemorySegment pinned;
    private final long slotBytes;
    private final Cuda.Event[] arrived;
    private final boolean[] taken;
    private boolean closed;

    ReadbackSlots(int slots, long slotBytes) {
        this.slotBytes = slotBytes;
        this.pinned = Cuda.hostAlloc(slots * slotBytes);
        this.arrived = new Cuda.Event[slots];
        this.taken = new boolean[slots];
        try {
            for (int i = 0; i < slots; i++) arrived[i] = Cuda.Event.create();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Queues a copy of {@code bytes} at {@code src} into a free slot on {@code stream} and records
     * the slot's event behind it; -1 (nothing done) when they do not fit a slot or none is free.
     */
    synchronized int queue(long src, long bytes, Cuda.Stream stream) {
        if (closed) throw new IllegalStateException("read-back slots closed");
        if (bytes > slotBytes) return -1;
        for (int i = 0; i < taken.length; i++) {
            if (taken[i]) continue;
            Cuda.copyToHost(pinned.asSlice(i * slotBytes, bytes), src, bytes, stream);
            arrived[i].record(stream);
            taken[i] = true;
            return i;
        }
        return -1;
    }

    /** Waits for slot {@code i}'s copy, then copies its first {@code bytes} into {@code dst}. */
    void read(int i, MemorySegment dst, long bytes) {
        Cuda.Event e;
        synchronized (this) {
            check(i);
            e = arrived[i];
        }
        e.synchronize();   // outside the lock: other slots stay usable meanwhile
        MemorySegment.copy(pinned, i * slotBytes, dst, 0, bytes);
    }

    /** Frees slot {@code i} once its copy has arrived (the copy still writes into it until then). */
    void free(int i) {
        Cuda.Event e;
        synchronized (this) {
            check(i);
            e = arrived[i];
        }
        e.synchronize();
        synchronized (this) {
            taken[i] = false;
        }
    }

    private void check(int i) {
        if (closed) throw new IllegalStateException("read-back slots closed");
        if (!taken[i]) throw new IllegalStateException("read-back slot " + i + " is not taken");
    }

    /** Slots taken and not yet freed. */
    synchronized int taken() {
        int n = 0;
        for (boolean t : taken) if (t) n++;
        return n;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (int i = 0; i < arrived.length; i++) {
            if (arrived[i] == null) continue;
            if (taken[i]) arrived[i].synchronize();
            arrived[i].close();
        }
        Cuda.freeHost(pinned);
    }
}
