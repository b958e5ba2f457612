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
final class ReadbackSlots extends PinnedSlots {
    ReadbackSlots(int slots, long slotBytes) {
        super(slots, slotBytes);
    }

    /**
     * Queues a copy of {@code bytes} at {@code src} into a free slot on {@code stream} and records
     * the slot's event behind it; -1 (nothing done) when they do not fit a slot or none is free.
     */
    synchronized int queue(long src, long bytes, Cuda.Stream stream) {
        if (closed) throw new IllegalStateException("read-back slots closed");
        if (bytes > slotBytes) return -1;
        for (int i = 0; i < busy.length; i++) {
            if (busy[i]) continue;
            Cuda.copyToHost(slot(i, bytes), src, bytes, stream);
            events[i].record(stream);
            busy[i] = true;
            return i;
        }
        return -1;
    }

    /** Waits for slot {@code i}'s copy, then copies its first {@code bytes} into {@code dst}. */
    void read(int i, MemorySegment dst, long bytes) {
        arrived(i);
        MemorySegment.copy(slot(i, bytes), 0, dst, 0, bytes);
    }

    /** Frees slot {@code i} once its copy has arrived (the copy still writes into it until then). */
    void free(int i) {
        arrived(i);
        synchronized (this) {
            busy[i] = false;
        }
    }

    /** Waits for slot {@code i}'s copy, outside the lock: other slots stay usable meanwhile. */
    private void arrived(int i) {
        Cuda.Event e;
        synchronized (this) {
            if (closed) throw new IllegalStateException("read-back slots closed");
            if (!busy[i]) throw new IllegalStateException("read-back slot " + i + " is not taken");
            e = events[i];
        }
        e.synchronize();
    }

    /** Slots taken and not yet freed. */
    synchronized int taken() {
        int n = 0;
        for (boolean t : busy) if (t) n++;
        return n;
    }
}
