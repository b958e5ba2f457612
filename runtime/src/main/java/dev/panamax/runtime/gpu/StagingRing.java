package dev.panamax.runtime.gpu;

import dev.panamax.cuda.Cuda;

import java.lang.foreign.MemorySegment;

/**
 * Page-locked host memory in fixed slots, through which small host-to-device copies (indices,
 * positions, masks) are queued on the stream without waiting for the work before them: the source
 * is copied into a slot, the slot is copied to the device in stream order, and an event marks when
 * the slot may be written again. A copy that does not fit a slot is left to the caller.
 */
final class StagingRing implements AutoCloseable {
    private final MemorySegment pinned;
    private final long slotBytes;
    private final Cuda.Event[] done;
    private final boolean[] queued;
    private int next;
    private boolean closed;

    StagingRing(int slots, long slotBytes) {
        this.slotBytes = slotBytes;
        this.pinned = Cuda.hostAlloc(slots * slotBytes);
        this.done = new Cuda.Event[slots];
        this.queued = new boolean[slots];
        try {
            for (int i = 0; i < slots; i++) done[i] = Cuda.Event.create();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The largest copy a slot takes. */
    long slotBytes() {
        return slotBytes;
    }

    /**
     * Queues {@code bytes} of {@code src} for {@code dst} on {@code stream}; false (nothing done)
     * when they do not fit a slot. Waits only when the slot's previous copy is still queued.
     */
    synchronized boolean upload(MemorySegment src, long dst, long bytes, Cuda.Stream stream) {
        if (closed) throw new IllegalStateException("staging ring closed");
        if (bytes > slotBytes) return false;
        int i = next;
        next = (next + 1) % done.length;
        if (queued[i]) done[i].synchronize();
        MemorySegment slot = pinned.asSlice(i * slotBytes, bytes);
        MemorySegment.copy(src, 0, slot, 0, bytes);
        Cuda.copyToDevice(dst, slot, bytes, stream);
        done[i].record(stream);
        queued[i] = true;
        return true;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (int i = 0; i < done.length; i++) {
            if (done[i] == null) continue;
            if (queued[i]) done[i].synchronize();
            done[i].close();
        }
        Cuda.freeHost(pinned);
    }
}
